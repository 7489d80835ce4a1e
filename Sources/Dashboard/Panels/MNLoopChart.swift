import Telemetry

// The asyncio invariant (issue 15): the asyncio-mn model's flowchart — the M:N event loop's threads beside
// the single-threaded loop, each with the lost-updates figure of the same asyncio code.
//
//   ┌─ M:N Event Loop · 4 threads ───────────┐ ┌─ Event Loop · 1 thread ─────────────┐
//   │ thr state queue     stole  from   busy │ │ lost updates 0 of 96,000            │
//   │ T1  RUN   q 3 ▮▮▮   120/98 ←T3 41  43% │ │ duplicate fills 0 of 1,280          │
//   │ T2  idle  q 0       87/130 ←T1 60  38% │ │ 120 rounds                          │
//   │ …                                      │ │ RUN rmw  busy 12%  hb lag 0.3ms     │
//   │ lost updates 1,234 of 96,000 (1.3%)    │ └─────────────────────────────────────┘
//   │ duplicate fills 57 of 1,337 · 120 rnds │
//   │ hb lag now 1.3ms  p99 2.1ms  max 9.8ms │
//   └────────────────────────────────────────┘
//
// Side by side when the flow is wide enough, stacked otherwise. Threads past what fits fold into one
// "+N more" row. Every figure is the snapshot's (`Snapshot.mnLoop`); a snapshot without the section (a
// recording made before it) shows "n/a". The M:N box's last row is its own heartbeat lag (`MNLoopSnapshot.lag`:
// a heartbeat task on the M:N loop), beside the single loop's `hb lag`; "n/a" in a recording made before it.

/// Where the two boxes go. Pure; tested through the snapshots.
struct MNLoopLayout: Equatable {
    var mn: Rect
    var loop: Rect

    /// Rows of the single loop's box (borders + three figure rows + the loop's own row).
    static let loopHeight = 6
    /// Widths below this stack the boxes.
    static let besideWidth = 90

    /// Rows of the M:N box besides one per thread: borders, the header, lost updates, duplicate fills, hb lag.
    static let mnExtraRows = 6

    static func make(_ rect: Rect, threads: Int) -> MNLoopLayout {
        let mnHeight = min(rect.height, threads + mnExtraRows)
        if rect.width >= besideWidth {
            let mnWidth = rect.width * 3 / 5
            return MNLoopLayout(
                mn: Rect(rect.x, rect.y, mnWidth, mnHeight),
                loop: Rect(rect.x + mnWidth + 1, rect.y, rect.width - mnWidth - 1, min(rect.height, loopHeight)))
        }
        let mn = Rect(rect.x, rect.y, rect.width, min(mnHeight, max(4, rect.height - loopHeight)))
        return MNLoopLayout(
            mn: mn, loop: Rect(rect.x, mn.maxY, rect.width, max(0, min(loopHeight, rect.maxY - mn.maxY))))
    }

    /// Rows the chart wants at `width` for `threads` threads.
    static func preferredHeight(threads: Int, width: Int) -> Int {
        width >= besideWidth ? max(threads + mnExtraRows, loopHeight) : threads + mnExtraRows + loopHeight
    }
}

enum MNLoopChart {
    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot) {
        let mn = s.mnLoop
        let layout = MNLoopLayout.make(rect, threads: mn?.threads.count ?? 0)
        drawMN(into: &grid, box: layout.mn, mn: mn)
        if !layout.loop.isEmpty {
            drawLoop(
                into: &grid, box: layout.loop, loop: s.loops.first,
                invariant: mn?.invariant.first { $0.runtime == "loop" })
        }
    }

    static func drawMN(into grid: inout Grid, box: Rect, mn: MNLoopSnapshot?) {
        let sep = Character(grid.glyphs.separator)
        let title = mn.map { "M:N Event Loop \(sep) \($0.threads.count) threads" } ?? "M:N Event Loop"
        let inner = grid.box(box, title: title, style: PanelPalette.frame, titleStyle: PanelPalette.title)
        let r = inner.inset(dx: 1, dy: 0)
        guard r.width > 0, r.height > 0 else { return }
        guard let mn else {
            grid.line(r, 0, "n/a: no M:N loop in this snapshot", style: .dim)
            return
        }
        // Rows: header, threads (folded), two invariant rows, the heartbeat lag row.
        let figureRows = min(3, max(0, r.height - 1))
        let threadRows = max(0, r.height - 1 - figureRows)
        drawHeader(into: &grid, r)
        let shown = mn.threads.count <= threadRows ? mn.threads.count : max(0, threadRows - 1)
        for (row, t) in mn.threads.prefix(shown).enumerated() {
            drawThread(into: &grid, r, row + 1, t)
        }
        if shown < mn.threads.count && threadRows > 0 {
            let rest = mn.threads.dropFirst(shown)
            let stole = rest.reduce(UInt64(0)) { $0 + $1.stolenIn }
            grid.line(
                r, shown + 1,
                "+\(rest.count) more \(sep) queued \(rest.reduce(0) { $0 + $1.queueDepth }) \(sep) stole \(Fmt.count(stole))",
                style: .dim)
        }
        let inv = mn.invariant.first { $0.runtime == "mn-loop" }
        drawFigures(into: &grid, r, 1 + threadRows, inv, rows: min(2, figureRows))
        if figureRows > 2 { drawLag(into: &grid, r, 1 + threadRows + 2, mn.lag) }
    }

    /// The M:N loop's heartbeat lag: now (the worst tick of the interval), p99 and max over the run.
    static func drawLag(into grid: inout Grid, _ r: Rect, _ row: Int, _ lag: LagSummary?) {
        guard let l = lag else {
            grid.spans(r, row, [("hb lag ", .plain), ("n/a", .dim)])
            return
        }
        grid.spans(
            r, row,
            [
                ("hb lag ", .plain), ("now ", .dim), (Fmt.ms(l.recentMs), PanelPalette.lag(l.recentMs)),
                ("  p99 ", .dim), (Fmt.ms(l.p99Ms), PanelPalette.lag(l.p99Ms)),
                ("  max ", .dim), (Fmt.ms(l.maxMs), PanelPalette.lag(l.maxMs)),
            ])
    }

    /// Columns of a thread row (and of the header): id, state, queue and its bar, jobs stolen in/out, the top
    /// victim; busy is right-aligned.
    static let stateColumn = 4
    static let queueColumn = 10
    static let stealColumn = 21
    static let victimColumn = 31

    static func drawHeader(into grid: inout Grid, _ r: Rect) {
        for (text, x) in [("thr", 0), ("state", stateColumn), ("queue", queueColumn), ("in/out", stealColumn)] {
            grid.line(r, 0, text, style: .dim, x: x)
        }
        grid.line(r, 0, "from", style: .dim, x: victimColumn)
        grid.text(at: r.origin, "busy", style: .dim, maxWidth: r.width, align: .right)
    }

    static func drawThread(into grid: inout Grid, _ r: Rect, _ row: Int, _ t: MNThreadSnapshot) {
        let (word, style): (String, Style) =
            switch t.state {
            case .running: ("RUN", PanelPalette.running.with(.bold))
            case .searching: ("srch", PanelPalette.steal)
            case .parked: ("idle", PanelPalette.parked)
            case .stopped: ("stop", .dim)
            }
        grid.line(r, row, "T\(t.id + 1)", style: .bold)
        grid.line(r, row, word, style: style, x: stateColumn)
        let q = grid.line(r, row, "q \(t.queueDepth)", style: PanelPalette.runnable, x: queueColumn)
        grid.countBar(
            r, row, x: queueColumn + q, count: t.queueDepth, peak: t.queuePeak,
            maxCells: stealColumn - queueColumn - q - 3, style: PanelPalette.runnable)
        grid.line(
            r, row, "\(Fmt.count(t.stolenIn))/\(Fmt.count(t.stolenOut))",
            style: t.stolenIn > 0 ? PanelPalette.stealHeld : .dim, x: stealColumn)
        if let v = t.topVictim {
            grid.line(
                r, row, "\(Character(grid.glyphs.arrowLeft))T\(v + 1) \(Fmt.count(t.topVictimJobs))",
                style: PanelPalette.steal, x: victimColumn)
        }
        grid.text(at: Point(r.x, r.y + row), Fmt.pct(t.busyRatio), maxWidth: r.width, align: .right)
    }

    /// The invariant figures of one runtime: lost updates, duplicate fills (and rounds on a third row).
    static func drawFigures(into grid: inout Grid, _ r: Rect, _ row: Int, _ inv: InvariantSnapshot?, rows: Int) {
        guard rows > 0 else { return }
        guard let inv else {
            grid.spans(r, row, [("lost updates ", .bold), ("n/a", .dim)])
            if rows > 1 { grid.spans(r, row + 1, [("duplicate fills ", .plain), ("n/a", .dim)]) }
            return
        }
        let lostStyle = inv.lostUpdates > 0 ? PanelPalette.blocked : PanelPalette.running.with(.bold)
        var lost: [(String, Style)] = [
            // Exact, never abbreviated: the figure of the claim.
            ("lost updates ", .bold), ("\(inv.lostUpdates)", lostStyle),
            (" of \(Fmt.count(inv.increments))", .dim),
        ]
        if inv.increments > 0 && inv.lostUpdates > 0 {
            lost.append((" (\(Fmt.pct(Double(inv.lostUpdates) / Double(inv.increments))))", lostStyle))
        }
        grid.spans(r, row, lost)
        guard rows > 1 else { return }
        let dupStyle = inv.duplicateFills > 0 ? PanelPalette.blocked : PanelPalette.running.with(.bold)
        var dup: [(String, Style)] = [
            ("duplicate fills ", .plain), ("\(inv.duplicateFills)", dupStyle),
            (" of \(Fmt.count(inv.cacheFills))", .dim),
        ]
        if rows == 2 { dup.append((" \(Character(grid.glyphs.separator)) \(Fmt.count(inv.rounds)) rounds", .dim)) }
        grid.spans(r, row + 1, dup)
        if rows > 2 { grid.line(r, row + 2, "\(Fmt.count(inv.rounds)) rounds", style: .dim) }
    }

    static func drawLoop(into grid: inout Grid, box: Rect, loop l: LoopSnapshot?, invariant: InvariantSnapshot?) {
        let inner = grid.box(
            box, title: "Event Loop \(Character(grid.glyphs.separator)) 1 thread", style: PanelPalette.frame,
            titleStyle: PanelPalette.title)
        let r = inner.inset(dx: 1, dy: 0)
        guard r.width > 0, r.height > 0 else { return }
        let figureRows = min(3, max(1, r.height - 1))
        drawFigures(into: &grid, r, 0, invariant, rows: figureRows)
        guard r.height > figureRows, let l else { return }
        let row = figureRows
        let x: Int
        if let c = l.current {
            x = grid.spans(r, row, [("RUN ", PanelPalette.running.with(.bold)), (c, PanelPalette.running)])
        } else {
            x = grid.line(r, row, "idle", style: PanelPalette.parked)
        }
        grid.spans(
            r, row,
            [
                ("  busy \(Fmt.na(l.busyRatio, Fmt.pct))", .plain),
                ("  hb lag \(Fmt.ms(l.lag.recentMs))", PanelPalette.lag(l.lag.recentMs)),
            ],
            x: x)
    }

}
