import Telemetry

// The body between header and footer.
//
// Without a snapshot it says why (no runtime attached, or waiting for the first snapshot).
// With one, it draws a plain overview of the snapshot (workers or loops with busy bars and
// queue depths, fibers by state, lag with a sparkline). The live panels of the talk's
// flowcharts (issue 7) replace `drawOverview`; everything else in the shell stays.

public enum Body {
    public static func draw(into grid: inout Grid, in rect: Rect, data: ViewData, state: UIState) {
        guard let s = data.snapshot else {
            let lines =
                data.sourceAttached
                ? ["waiting for the first snapshot"]
                : ["no runtime attached", "press ? for the keys, q to quit"]
            let top = rect.y + max(0, (rect.height - lines.count) / 2)
            for (i, line) in lines.enumerated() {
                grid.text(
                    at: Point(rect.x, top + i), line, style: i == 0 ? .bold : .dim, maxWidth: rect.width,
                    align: .center)
            }
            return
        }
        drawOverview(into: &grid, in: rect, snapshot: s, data: data)
    }

    /// A plain overview of one snapshot; stands in for the flowchart panels.
    static func drawOverview(into grid: inout Grid, in rect: Rect, snapshot s: Snapshot, data: ViewData) {
        let parts = rect.split(.horizontal, [.percent(60), .fill])
        let left = grid.box(parts[0], title: s.model.usesFibers ? "carriers" : "event loops")
        var y = left.y
        if s.model.usesFibers {
            for w in s.workers where y < left.maxY {
                let label = "W\(w.id) \(w.state.rawValue)"
                let value = "q \(w.queueDepth)/\(w.queueCapacity)  \(Int((w.busyRatio * 100).rounded()))%"
                grid.bar(
                    at: Point(left.x + 1, y), width: left.width - 2, fraction: w.busyRatio, label: label,
                    value: value, labelWidth: 13, valueWidth: 16, style: Style(fg: .green))
                y += 1
            }
            if y < left.maxY {
                grid.text(
                    at: Point(left.x + 1, y), "injector \(s.injectorDepth)", style: .dim, maxWidth: left.width - 2)
            }
        } else {
            for l in s.loops where y < left.maxY {
                let label = "L\(l.id)"
                let value = "ready \(l.readyDepth)  timers \(l.timersPending)  \(Int((l.busyRatio * 100).rounded()))%"
                grid.bar(
                    at: Point(left.x + 1, y), width: left.width - 2, fraction: l.busyRatio, label: label,
                    value: value, labelWidth: 4, valueWidth: 26, style: Style(fg: .green))
                y += 1
            }
            if let p = s.pool, y < left.maxY {
                grid.text(
                    at: Point(left.x + 1, y), "pool \(p.busy)/\(p.threads) busy, queue \(p.queueDepth)",
                    style: .dim, maxWidth: left.width - 2)
            }
        }
        let right = parts[1].split(.vertical, [.fixed(8), .fill])
        let fib = grid.box(right[0], title: s.model.usesFibers ? "fibers" : "tasks")
        let f = s.fibers
        let rows = [
            "total \(f.total)", "running \(f.running)  runnable \(f.runnable)",
            "parked \(f.parked) (sleep \(f.parkedSleep) io \(f.parkedIO) chan \(f.parkedChannel))",
            "blocked \(f.blocked)",
        ]
        for (i, r) in rows.enumerated() where fib.y + i < fib.maxY {
            grid.text(at: Point(fib.x + 1, fib.y + i), r, maxWidth: fib.width - 2)
        }
        if s.droppedEvents > 0, fib.y + rows.count < fib.maxY {
            grid.text(
                at: Point(fib.x + 1, fib.y + rows.count), "dropped: \(s.droppedEvents)", style: Style(fg: .red),
                maxWidth: fib.width - 2)
        }
        let lagBox = grid.box(right[1], title: s.model.usesFibers ? "scheduling delay" : "loop lag")
        if lagBox.height > 0 {
            let l = s.lag
            grid.text(
                at: Point(lagBox.x + 1, lagBox.y),
                "p50 \(ms(l.p50Ms))  p99 \(ms(l.p99Ms))  max \(ms(l.maxMs))", maxWidth: lagBox.width - 2)
            if lagBox.height > 1 {
                grid.sparkline(
                    at: Point(lagBox.x + 1, lagBox.y + 1), width: lagBox.width - 2, values: data.lagHistory,
                    style: Style(fg: .yellow))
            }
        }
    }

    static func ms(_ v: Double) -> String {
        guard v.isFinite else { return "-" }
        if v >= 100 { return "\(Int(v.rounded())) ms" }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) ms"
    }
}
