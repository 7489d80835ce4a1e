import Telemetry

// Panels every model has: lag, slow callbacks / blocking regions, task kinds, busy per worker,
// and the color legend. Each is `draw(into:rect:…)`, a pure function of its inputs.

/// Two figures, each under its own name (docs/figures.md):
/// - heartbeat lag: how late a periodic heartbeat ran (each loop's own heartbeat, worst loop; the fiber
///   models' heartbeat fiber): p50/p99/max/slot p99, a chart over recent snapshots (preset switches
///   marked) and a histogram of `LagSummary.buckets`;
/// - ready → running: the true delay from runnable to running (`Snapshot.readyDelay`: the scheduler's
///   sampled delays, or every loop job's queue delay), p50/p99/max and, with room, its log2 histogram;
///   "n/a" when the source has none.
enum LagPanel {
    /// The panel's title. Beside an M:N loop (asyncio-mn), whose own lag is in its panel, the title names the loop
    /// these figures are of: the single-threaded one.
    static func title(_ grid: Grid, snapshot s: Snapshot) -> String {
        let sep = Character(grid.glyphs.separator)
        let base = "Heartbeat lag \(sep) \(readyLabel(grid))"
        return s.mnLoop == nil ? base : "\(base) \(sep) Event Loop, 1 thread"
    }

    /// "ready → running" ("ready -> running" under ASCII glyphs).
    static func readyLabel(_ grid: Grid) -> String { "ready \(Character(grid.glyphs.arrowRight)) running" }

    /// Short labels of the bucket upper bounds: "0.1", "0.5", "1", … "100", "inf".
    static func bucketLabels(ascii: Bool) -> [String] {
        LagSummary.bucketBoundsMs.map { b in
            b.isFinite ? (b < 1 ? Fmt.fixed(b, 1) : "\(Int(b))") : (ascii ? ">100" : ">100")
        }
    }

    /// Display bins of the ready → running log2 histogram: (label, first log2 bucket, last log2 bucket).
    /// Bucket i holds [2^i, 2^(i+1)) ns; each bin joins two buckets, the first and last are open-ended.
    static let delayBins: [(label: String, first: Int, last: Int)] = [
        ("1us", 0, 9), ("4us", 10, 11), ("16us", 12, 13), ("66us", 14, 15), (".26ms", 16, 17), ("1ms", 18, 19),
        ("4ms", 20, 21), ("17ms", 22, 23), ("67ms", 24, 25), (">67", 26, Int.max),
    ]

    static func delayBinCounts(_ buckets: [UInt64]) -> [UInt64] {
        delayBins.map { bin in
            var n: UInt64 = 0
            for (i, c) in buckets.enumerated() where i >= bin.first && i <= bin.last { n &+= c }
            return n
        }
    }

    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory) {
        let l = s.lag
        let lagging = l.recentMs >= PanelPalette.lagWarnMs
        let frame = lagging ? PanelPalette.blocked : PanelPalette.frame
        let inner = grid.box(rect, title: title(grid, snapshot: s), style: frame, titleStyle: frame.with(.bold))
        let r = inner.inset(dx: 1, dy: 0)
        guard r.width > 0, r.height > 0 else { return }
        let d = s.readyDelay
        if r.width >= 60 {
            // "now" (the worst tick of the interval) when there is room for every figure.
            let now: [(String, Style)] =
                r.width >= 76 ? [("now ", .dim), (Fmt.ms(l.recentMs) + "  ", PanelPalette.lag(l.recentMs))] : []
            grid.spans(
                r, 0,
                [("heartbeat lag  ", .bold)] + now + [
                    ("p50 ", .dim), (Fmt.ms(l.p50Ms), PanelPalette.lag(l.p50Ms)),
                    ("  p99 ", .dim), (Fmt.ms(l.p99Ms), PanelPalette.lag(l.p99Ms)),
                    ("  max ", .dim), (Fmt.ms(l.maxMs), PanelPalette.lag(l.maxMs)),
                    ("  slot p99 ", .dim), (Fmt.ms(l.slotP99Ms), PanelPalette.lag(l.slotP99Ms)),
                ])
        } else if r.width >= 36 {
            // Narrow: the tail first, numbers only, one unit at the end ("p99 6.8 max 24 ms").
            grid.spans(
                r, 0,
                [
                    ("heartbeat lag ", .bold), ("p99 ", .dim), (Fmt.msNumber(l.p99Ms), PanelPalette.lag(l.p99Ms)),
                    (" max ", .dim), (Fmt.msNumber(l.maxMs), PanelPalette.lag(l.maxMs)), (" ms", .dim),
                ])
        } else {
            grid.spans(
                r, 0,
                [
                    ("heartbeat ", .bold), ("p99 ", .dim), (Fmt.ms(l.p99Ms), PanelPalette.lag(l.p99Ms)),
                    (" max ", .dim), (Fmt.ms(l.maxMs), PanelPalette.lag(l.maxMs)),
                ])
        }
        guard r.height > 1 else { return }
        if let d {
            let sampled = d.sampling > 1 ? "  1 in \(d.sampling) sampled" : "  every job"
            grid.spans(
                r, 1,
                r.width >= 60
                    ? [
                        (readyLabel(grid) + "  ", .bold), ("p50 ", .dim),
                        (Fmt.delayMs(d.p50Ms), PanelPalette.lag(d.p50Ms)),
                        ("  p99 ", .dim), (Fmt.delayMs(d.p99Ms), PanelPalette.lag(d.p99Ms)),
                        ("  max ", .dim), (Fmt.delayMs(d.maxMs), PanelPalette.lag(d.maxMs)), (sampled, .dim),
                    ]
                    : [
                        (readyLabel(grid) + " ", .bold), ("p99 ", .dim),
                        (Fmt.delayMs(d.p99Ms), PanelPalette.lag(d.p99Ms)),
                        (r.width >= 36 ? " max " : "", .dim),
                        (r.width >= 36 ? Fmt.delayMs(d.maxMs) : "", PanelPalette.lag(d.maxMs)),
                    ])
        } else {
            grid.spans(r, 1, [(readyLabel(grid) + "  ", .bold), ("n/a", .dim)])
        }
        guard r.height > 2 else { return }
        let body = Rect(r.x, r.y + 2, r.width, r.height - 2)
        if body.height >= 6 && body.width >= 50 {
            // Rich: the heartbeat chart on the left, then its histogram, then ready → running's when it fits.
            let delayBuckets = d?.log2Buckets
            let withDelay = delayBuckets != nil && body.width >= 100
            let histWidth = min(30, body.width / (withDelay ? 4 : 3))
            let cols =
                withDelay
                ? body.split(.horizontal, [.fill, .fixed(histWidth), .fixed(histWidth)], gap: 2)
                : body.split(.horizontal, [.fill, .fixed(histWidth)], gap: 2)
            drawChart(into: &grid, rect: cols[0], history: history, lagging: lagging)
            drawHistogramBars(
                into: &grid, rect: cols[1], labels: bucketLabels(ascii: grid.glyphs.isASCII), buckets: l.buckets)
            if withDelay, let b = delayBuckets {
                drawHistogramBars(
                    into: &grid, rect: cols[2], labels: delayBins.map(\.label), buckets: delayBinCounts(b))
            }
        } else {
            let chartRows = max(1, body.height - 2)
            drawChart(
                into: &grid, rect: Rect(body.x, body.y, body.width, chartRows), history: history, lagging: lagging)
            if body.height >= 3 {
                drawHistogramRow(into: &grid, rect: Rect(body.x, body.maxY - 2, body.width, 2), buckets: l.buckets)
            }
        }
    }

    static func drawChart(into grid: inout Grid, rect: Rect, history: PanelHistory, lagging: Bool) {
        var area = rect
        var top: Double? = nil
        if rect.height >= 3 && rect.width >= 30 {
            // A scale on the left: the top of the chart in ms, and 0 at the bottom.
            // Scaled to the current preset: after a switch, the previous preset's peaks (drawn clipped) would
            // flatten it (vt-handoff's 10 ms under vt-no-steal's 200 ms).
            let shown = history.series(rect.width - 8) { $0.lagMs }
            let start = history.switchMarks(rect.width - 8).lastIndex(of: true) ?? 0
            let peak = shown[min(start, shown.count)...].filter(\.isFinite).max() ?? 0
            top = peak > 0 ? peak : nil
            grid.text(at: Point(rect.x, rect.y), Fmt.ms(peak), style: .dim, maxWidth: 7, align: .right)
            grid.text(at: Point(rect.x, rect.maxY - 1), "0", style: .dim, maxWidth: 7, align: .right)
            area = rect.inset(left: 8)
        }
        let values = history.series(area.width) { $0.lagMs }
        let marks = history.switchMarks(area.width)
        let style = lagging ? PanelPalette.blocked : PanelPalette.runnable
        // Columns before the latest switch belong to another preset: drawn dim, on their own scale, so that
        // neither preset flattens the other (the scale on the left is the current preset's).
        let start = marks.lastIndex(of: true) ?? 0
        let x0 = area.x + area.width - values.count
        if start > 0 {
            grid.chart(
                Rect(x0, area.y, start, area.height), values: Array(values[..<start]), marks: Array(marks[..<start]),
                style: .dim)
        }
        grid.chart(
            Rect(x0 + start, area.y, values.count - start, area.height), values: Array(values[start...]),
            marks: Array(marks[start...]), max: top, style: style)
        if values.isEmpty { grid.line(area, 0, "no history yet", style: .dim) }
    }

    /// One spark per bucket with the bounds under it: "▁▃█▅▂▁" / "0.1 … >100ms".
    static func drawHistogramRow(into grid: inout Grid, rect: Rect, buckets: [UInt64]) {
        guard !buckets.isEmpty else {
            grid.line(rect, 0, "histogram: no samples", style: .dim)
            return
        }
        let total = buckets.reduce(0, +)
        let top = Double(buckets.max() ?? 0)
        var x = grid.line(rect, 0, "hist ", style: .dim)
        let cell = max(1, min(3, (rect.width - x) / max(1, buckets.count)))
        for (i, b) in buckets.enumerated() {
            let r = top > 0 ? Double(b) / top : 0
            let level = b == 0 ? 0 : max(1, Int((r * Double(grid.glyphs.sparks.count - 1)).rounded()))
            let st = i >= 5 ? PanelPalette.blocked : PanelPalette.runnable
            for k in 0..<cell where x + k < rect.width {
                grid.put(grid.glyphs.sparks[level], x: rect.x + x + k, y: rect.y, style: b == 0 ? .dim : st)
            }
            x += cell
        }
        let n = " n=\(Fmt.count(total))"
        if x + DisplayWidth.of(n) <= rect.width { grid.line(rect, 0, n, style: .dim, x: x) }
        if rect.height > 1 {
            let labels = bucketLabels(ascii: grid.glyphs.isASCII)
            grid.line(rect, 1, "ms   \(labels[0])", style: .dim)
            let end = "\(labels[labels.count - 1])"
            grid.line(rect, 1, end, style: .dim, x: max(0, 5 + cell * buckets.count - DisplayWidth.of(end)))
        }
    }

    /// One bar per bucket: "0.1 ████ 1234" (labels are the buckets' upper bounds).
    static func drawHistogramBars(into grid: inout Grid, rect: Rect, labels: [String], buckets: [UInt64]) {
        let top = Double(buckets.max() ?? 0)
        for (i, label) in labels.enumerated() where i < rect.height {
            let b = i < buckets.count ? buckets[i] : 0
            let st = i >= 5 ? PanelPalette.blocked : PanelPalette.runnable
            grid.bar(
                at: Point(rect.x, rect.y + i), width: rect.width, fraction: top > 0 ? Double(b) / top : 0,
                label: label, value: Fmt.count(b), labelWidth: 5, valueWidth: 6, style: st)
        }
    }
}

/// The latest slow callbacks (loop models) or long blocking regions (fiber models), newest first, with the
/// culprit, the duration, the worker or loop, and when. Plain threads have neither: the kernel preempts, so a long
/// CPU section or blocking call holds only its own thread; the panel says so ("n/a"), never an empty list.
enum SlowPanel {
    static func title(_ model: SchedulerModel) -> String {
        model.usesFibers || model == .threads ? "Blocking regions" : "Slow callbacks"
    }

    /// The threads model's lines in this panel's place (the label first, on one line where it fits).
    static let threadsLabel = "n/a on threads: the kernel preempts"
    static let threadsWhy = "a long CPU section or blocking call holds only its own thread; the others run"

    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory) {
        let inner = grid.box(rect, title: title(s.model))
        var r = inner.inset(dx: 1, dy: 0)
        guard r.width > 0, r.height > 0 else { return }
        if s.droppedEvents > 0 {
            // Telemetry never blocks the runtime: a full ring drops events and says so here.
            let bottom = r.splitBottom(1)
            grid.line(bottom.bottom, 0, "dropped: \(Fmt.count(s.droppedEvents)) events", style: PanelPalette.blocked)
            r = bottom.rest
        }
        if s.model == .threads {
            var row = 0
            if DisplayWidth.of(threadsLabel) <= r.width {
                grid.line(r, 0, threadsLabel, style: .bold)
            } else {
                grid.line(r, 0, "n/a on threads:", style: .bold)
                if r.height > 1 { grid.line(r, 1, "the kernel preempts", style: .bold) }
                row = 1
            }
            if r.height > row + 1 { grid.line(r, row + 1, threadsWhy, style: .dim) }
            return
        }
        let events = history.notable.elements.reversed()
        if events.isEmpty {
            grid.line(
                r, 0, s.model.usesFibers ? "no blocking call yet" : "none over the threshold", style: .dim)
            return
        }
        let fibers = s.model.usesFibers
        let who = fibers ? "C" : "L"
        for (row, e) in events.prefix(r.height).enumerated() {
            let dur = Fmt.ms(e.durationMs)
            let culprit = e.name ?? "?"
            // Carriers are numbered from 0 like their ids; loops from 1 like "Event Loop k".
            let tag = e.worker >= 0 ? "\(who)\(e.worker + (fibers ? 0 : 1))" : ""
            var x = 0
            x += grid.line(r, row, pad(dur, 7), style: PanelPalette.lag(e.durationMs))
            x += grid.line(r, row, " " + pad(tag, 4), style: .dim, x: x)
            let when = " " + Fmt.seconds(e.time)
            let room = r.width - x - DisplayWidth.of(when) - 1
            grid.line(r, row, culprit, style: .bold, x: x + 1)
            if room > 8 { grid.text(at: Point(r.x, r.y + row), when, style: .dim, maxWidth: r.width, align: .right) }
        }
    }

    static func pad(_ s: String, _ n: Int) -> String {
        let w = DisplayWidth.of(s)
        return w >= n ? s : String(repeating: " ", count: n - w) + s
    }
}

/// Throughput and latency per task kind; with a spare row, total throughput over recent snapshots.
enum TasksPanel {
    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory) {
        let inner = grid.box(rect, title: "Task kinds").inset(dx: 1, dy: 0)
        guard inner.width > 0, inner.height > 0 else { return }
        guard !s.taskKinds.isEmpty else {
            grid.line(inner, 0, "no task kinds", style: .dim)
            return
        }
        let wide = inner.width >= 44
        // Columns: kind, done/s, p50, p99, (in flight, done).
        let cols: [(String, Int)] =
            wide
            ? [("kind", 0), ("/s", 7), ("p50", 8), ("p99", 8), ("now", 6), ("done", 7)]
            : [("kind", 0), ("/s", 6), ("p50", 7), ("p99", 7)]
        let fixed = cols.dropFirst().reduce(0) { $0 + $1.1 }
        let kindWidth = max(4, inner.width - fixed)
        func row(_ y: Int, _ cells: [(String, Style)]) {
            var x = 0
            for (i, (text, st)) in cells.enumerated() where i < cols.count {
                let w = i == 0 ? kindWidth : cols[i].1
                if i == 0 {
                    grid.text(at: Point(inner.x, inner.y + y), text, style: st, maxWidth: w - 1)
                } else {
                    grid.text(at: Point(inner.x + x, inner.y + y), text, style: st, maxWidth: w, align: .right)
                }
                x += w
            }
        }
        row(0, cols.map { ($0.0, Style.dim) })
        for (i, k) in s.taskKinds.enumerated() where i + 1 < inner.height {
            row(
                i + 1,
                [
                    ("", .plain), (Fmt.rate(k.throughput), .plain), (Fmt.ms(k.p50Ms), .plain),
                    (Fmt.ms(k.p99Ms), PanelPalette.lag(k.p99Ms)), ("\(k.inFlight)", PanelPalette.runnable),
                    (Fmt.count(k.completed), .dim),
                ])
            // The label, then what went wrong, only when something did: failed tasks (by error kind
            // when they differ) and drops at the in-flight cap.
            var pieces: [(String, Style)] = [(k.kind, .bold)]
            if let e = k.errors, e.total > 0 {
                let kinds = TaskErrorKind.allCases.filter { e[$0] > 0 }
                let detail = kinds.count == 1 ? " \(kinds[0].rawValue)" : ""
                pieces.append((" err \(Fmt.count(e.total))\(detail)", PanelPalette.blocked))
            }
            if let d = k.dropped, d > 0 { pieces.append((" dropped \(Fmt.count(d))", PanelPalette.blocked)) }
            _ = grid.spans(Rect(x: inner.x, y: inner.y, width: kindWidth - 1, height: inner.height), i + 1, pieces)
        }
        let spare = inner.height - 1 - s.taskKinds.count
        if spare >= 1 {
            let total = s.taskKinds.reduce(0) { $0 + $1.throughput }
            let y = inner.height - 1
            let x = grid.spans(inner, y, [("all ", .dim), (Fmt.rate(total) + "/s ", .bold)])
            let width = inner.width - x
            grid.sparkline(
                at: Point(inner.x + x, inner.y + y), width: width, values: history.series(width) { $0.throughput },
                style: PanelPalette.running)
        }
    }
}

/// Busy share per worker (fiber models) or loop (loop models), plus the pool, with a sparkline of history.
/// One definition (docs/figures.md, the sampler's BusyWindow): the share of the trailing window spent busy,
/// the title saying what busy means for the source and over which window; searching/spinning apart.
enum BusyPanel {
    /// "Busy per carrier · last 1s", "Busy per loop · window n/a" (a format-1 recording).
    static func title(_ s: Snapshot, separator: Unicode.Scalar) -> String {
        let window =
            s.busyWindowSeconds.map { w in
                "last " + (w == w.rounded() ? "\(Int(w))s" : Fmt.fixed(w, 1) + "s")
            } ?? "window n/a"
        let unit = s.model == .threads ? "thread" : s.model.usesFibers ? "carrier" : "loop"
        return "Busy per \(unit) \(Character(separator)) \(window)"
    }

    /// What busy means for this source, shown on the panel's first row.
    static func definition(_ s: Snapshot, separator: Unicode.Scalar) -> String {
        let sep = Character(separator)
        if s.model == .threads { return "busy = on a CPU (thread CPU clock) \(sep) busiest first" }
        guard s.model.usesFibers else { return "busy = running jobs" }
        // Until the runtime splits searching from running, a carrier's busy time is all its time not parked.
        return s.workers.contains { $0.spinRatio != nil }
            ? "busy = running fibers \(sep) spin apart" : "busy = not parked \(sep) spin n/a"
    }

    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory, view: PanelView) {
        let fibers = s.model.usesFibers
        let inner = grid.box(rect, title: title(s, separator: grid.glyphs.separator)).inset(dx: 1, dy: 0)
        guard inner.width > 0, inner.height > 0 else { return }
        // Plain OS threads: the busiest listed threads (nil shares, on the model's first sample, read as 0).
        let busiest = (s.threads?.list ?? []).sorted { ($0.busyRatio ?? 0, -$0.id) > ($1.busyRatio ?? 0, -$1.id) }
            .prefix(threadRows)
        let ratios: [Double?] =
            s.model == .threads
            ? busiest.map { $0.busyRatio ?? 0 } : fibers ? s.workers.map(\.busyRatio) : s.loops.map(\.busyRatio)
        let spins: [Double?] = fibers ? s.workers.map(\.spinRatio) : []
        let withSpin = spins.contains { $0 != nil }
        grid.line(inner, 0, definition(s, separator: grid.glyphs.separator), style: .dim)
        let selected = view.selection(count: ratios.count)
        let rowsForWorkers = inner.height - 1 - (s.pool == nil ? 0 : 1)
        if ratios.count > rowsForWorkers && rowsForWorkers > 0 {
            // Many workers: folded into columns of bars, or past that the spread of busy shares.
            let cols = (ratios.count + rowsForWorkers - 1) / rowsForWorkers
            let colWidth = (inner.width - 2 * (cols - 1)) / cols
            if colWidth >= 14 {
                drawFolded(
                    into: &grid, inner: inner, ratios: ratios, snapshot: s, selected: selected, rows: rowsForWorkers,
                    columns: cols)
            } else {
                drawSpread(into: &grid, inner: inner, ratios: ratios, snapshot: s, selected: selected)
            }
            if let p = s.pool {
                grid.bar(
                    at: Point(inner.x, inner.maxY - 1), width: inner.width,
                    fraction: Double(p.busy) / Double(max(1, p.threads)), label: "pool",
                    value: "\(p.busy)/\(p.threads)",
                    labelWidth: 4, valueWidth: 5, style: PanelPalette.running)
            }
            return
        }
        let sparkWidth = inner.width >= 36 ? min(16, inner.width / 3) : 0
        var row = 1
        for (i, r) in ratios.enumerated() where row < inner.height {
            let label =
                s.model == .threads
                ? "T\(Array(busiest)[i].id + 1)" : fibers ? "C\(s.workers[i].id)" : "L\(i + 1)"
            let y = inner.y + row
            let spin = withSpin && i < spins.count ? " spin \(Fmt.na(spins[i], Fmt.pct))" : ""
            grid.bar(
                at: Point(inner.x, y), width: inner.width - (sparkWidth > 0 ? sparkWidth + 1 : 0), fraction: r ?? 0,
                label: label, value: Fmt.na(r, Fmt.pct) + spin, labelWidth: 3, valueWidth: withSpin ? 13 : 4,
                style: PanelPalette.running, labelStyle: i == selected ? .reverse : nil)
            if sparkWidth > 0 && s.model != .threads {  // a thread's slot changes hands: no history per thread
                let values = history.series(sparkWidth) { i < $0.busy.count ? $0.busy[i] : .nan }
                grid.sparkline(
                    at: Point(inner.maxX - sparkWidth, y), width: sparkWidth, values: values, max: 1,
                    style: PanelPalette.running)
            }
            row += 1
        }
        if let p = s.pool, row < inner.height {
            grid.bar(
                at: Point(inner.x, inner.y + row), width: inner.width - (sparkWidth > 0 ? sparkWidth + 1 : 0),
                fraction: Double(p.busy) / Double(max(1, p.threads)), label: "pool",
                value: "\(p.busy)/\(p.threads)", labelWidth: 4, valueWidth: 5, style: PanelPalette.running)
        }
    }
}

extension BusyPanel {
    static func label(_ s: Snapshot, _ i: Int) -> String { s.model.usesFibers ? "C\(s.workers[i].id)" : "L\(i + 1)" }

    /// Bars in `columns` columns of `rows` rows, no sparklines (16 loops, 16–32 carriers in the side column).
    static func drawFolded(
        into grid: inout Grid, inner: Rect, ratios: [Double?], snapshot s: Snapshot, selected: Int?, rows: Int,
        columns: Int
    ) {
        let colWidth = (inner.width - 2 * (columns - 1)) / columns
        let labelWidth = label(s, max(0, ratios.count - 1)).count
        for (i, r) in ratios.enumerated() {
            let c = i / rows
            grid.bar(
                at: Point(inner.x + c * (colWidth + 2), inner.y + 1 + i % rows), width: colWidth, fraction: r ?? 0,
                label: label(s, i), value: Fmt.na(r, Fmt.pct), labelWidth: labelWidth, valueWidth: 4,
                style: PanelPalette.running, labelStyle: i == selected ? .reverse : nil)
        }
    }

    /// How many workers are in each busy band (the heat-map's shades), and the selected one's share.
    static func drawSpread(
        into grid: inout Grid, inner: Rect, ratios all: [Double?], snapshot s: Snapshot, selected: Int?
    ) {
        // Workers without a busy figure (n/a) are left out of the bands and the mean.
        let ratios = all.compactMap { $0 }
        var bands = [Int](repeating: 0, count: HeatShade.busyBounds.count + 1)
        for r in ratios { bands[HeatShade.busyLevel(r)] += 1 }
        let edges = [0] + HeatShade.busyBounds.map { Int(($0 * 100).rounded()) } + [101]
        let who = s.model.usesFibers ? "carriers" : "loops"
        var row = 1
        for level in stride(from: bands.count - 1, through: 0, by: -1) where row < inner.height {
            let range = "\(edges[level])-\(edges[level + 1] - 1)%"
            grid.bar(
                at: Point(inner.x, inner.y + row), width: inner.width,
                fraction: Double(bands[level]) / Double(max(1, ratios.count)), label: range,
                value: "\(bands[level]) \(who)", labelWidth: 7, valueWidth: 12, style: PanelPalette.running)
            row += 1
        }
        if let i = selected, row < inner.height {
            let mean = ratios.reduce(0, +) / Double(max(1, ratios.count))
            grid.spans(
                inner, row,
                [
                    (label(s, i), .reverse), (" \(Fmt.na(all[i], Fmt.pct))", PanelPalette.running),
                    ("  mean \(Fmt.pct(mean)) of \(ratios.count)", .dim),
                ])
        }
    }
    /// Plain OS threads: how many of the busiest threads get a bar.
    static let threadRows = 8
}

/// The color legend (also the help's legend text: `PanelPalette.legend`).
enum LegendPanel {
    static func draw(into grid: inout Grid, rect: Rect) {
        let inner = grid.box(rect, title: "Legend").inset(dx: 1, dy: 0)
        for (i, item) in PanelPalette.legend.enumerated() where i < inner.height {
            grid.put(grid.glyphs.barFull, x: inner.x, y: inner.y + i, style: item.style)
            grid.line(inner, i, item.text, x: 2)
        }
    }
}

/// Recent runtime events (steals, pins, handoffs, slow callbacks, lag spikes, switches), newest first;
/// carrier parks/unparks are left out (see `PanelHistory.events`).
enum EventsPanel {
    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory) {
        let inner = grid.box(rect, title: "Recent events").inset(dx: 1, dy: 0)
        guard inner.width > 0, inner.height > 0 else { return }
        let fibers = s.model.usesFibers
        let events = history.events.elements.reversed().prefix(inner.height)
        if events.isEmpty { grid.line(inner, 0, "none yet", style: .dim) }
        let who = fibers ? "C" : "L"
        for (row, e) in events.enumerated() {
            let actor = e.worker >= 0 ? "\(who)\(e.worker + (fibers ? 0 : 1)) " : ""
            let (text, st) = DetailsPanel.describe(e, self: e.worker, fibers: fibers, glyphs: grid.glyphs)
            var x = grid.line(inner, row, SlowPanel.pad(Fmt.seconds(e.time), 6) + " ", style: .dim)
            x += grid.line(inner, row, actor, style: .bold, x: x)
            grid.line(inner, row, text, style: st, x: x)
        }
    }
}
