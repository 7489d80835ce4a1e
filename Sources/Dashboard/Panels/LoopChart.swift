import Telemetry

// The loop models' flowcharts.
//
// Event loop (one loop, one thread), with `to_thread` when the preset has a pool — the talk's
// first picture, "Event Loop → Thread 1, 2, 3", which for asyncio only exists as offloading:
//
//   ┌─ Event Loop ─────────────────────────────┐
//   │ RUN web-17                          63%  │   running task, busy share
//   │ ready █████░░░░░░░░░ 12   max 40         │   ready queue (against its high-water mark)
//   │ timers 34  tasks 210  slow 5  lag 2.1ms  │
//   └───────────┬──────────────────────────────┘
//               │ to_thread queue 3 ███
//      ┌────────┼─────────┬─────────┐
//      ↓        ↓         ↓         ↓
//   ┌Thread 1┐┌Thread 2┐┌Thread 3┐┌Thread 4┐      the pool reports how many threads are busy,
//   │ busy   ││ busy   ││ idle   ││ idle   │      not which: the first `busy` are drawn busy
//   └────────┘└────────┘└────────┘└────────┘
//
// Loop per thread: a "Single Process" frame with one "Event Loop k → Thread k" pair per loop
// (queue, lag, busy, running task), and with a shared pool, arrows from every thread to one
// "Worker Threadpool" box. Pairs are boxes when there is height, one row each otherwise.

/// Where the parts of the event-loop flowchart go. Pure; tested.
struct EventLoopLayout: Equatable {
    var loop: Rect
    /// Row for the pool queue label (between the loop and the bus).
    var queueRow: Rect
    /// Thread boxes (empty when there is no pool or no room for them).
    var threads: [Rect]
    /// A single pool box when threads do not fit one by one.
    var poolBox: Rect

    /// `poolThreads`: one box per thread when the snapshot reports each thread (`PoolSnapshot.threadStates`),
    /// else nil for a single pool box (when there is a pool) — boxes never stand for a busy count.
    static func make(_ rect: Rect, poolThreads: Int?, pool: Bool = true) -> EventLoopLayout {
        let loopHeight = min(rect.height, 6)
        let loop = Rect(rect.x, rect.y, min(rect.width, max(44, rect.width * 2 / 3)), loopHeight)
        let empty = Rect(rect.x, rect.maxY, 0, 0)
        guard pool else { return EventLoopLayout(loop: loop, queueRow: empty, threads: [], poolBox: empty) }
        let below = Rect(rect.x, loop.maxY, rect.width, rect.height - loopHeight)
        let queueRow = Rect(rect.x, below.y, rect.width, below.height >= 1 ? 1 : 0)
        guard let n = poolThreads, n > 0 else {
            let boxRect = Rect(rect.x, below.y + 2, min(rect.width, 44), min(4, max(0, rect.maxY - below.y - 2)))
            return EventLoopLayout(loop: loop, queueRow: queueRow, threads: [], poolBox: boxRect)
        }
        // Rows: queue label, bus, arrowheads, then boxes of 3–4 rows.
        let boxTop = below.y + 3
        // 18 columns carry "Thread k" in the title and "blocking 12ms" inside.
        let rowWidth = min(rect.width, n * 18 + (n - 1))
        let boxWidth = (rowWidth - (n - 1)) / n
        // Boxes of 14 columns carry "Thread k" in their title (3 rows); narrower ones on a line inside (4 rows).
        let needed = boxWidth >= 14 ? 3 : 4
        if rect.maxY - boxTop >= needed && boxWidth >= 10 {
            let row = Rect(rect.x, boxTop, rowWidth, needed)
            return EventLoopLayout(loop: loop, queueRow: queueRow, threads: row.columns(n, gap: 1), poolBox: empty)
        }
        let boxRect = Rect(rect.x, below.y + 2, min(rect.width, 44), min(4, max(0, rect.maxY - below.y - 2)))
        return EventLoopLayout(loop: loop, queueRow: queueRow, threads: [], poolBox: boxRect)
    }
}

/// Where the parts of the loop-per-thread flowchart go. Pure; tested.
struct LoopGroupLayout: Equatable {
    var frame: Rect
    /// Per loop: the "Event Loop k" part and the "Thread k" part (boxes, or one row halves).
    var loops: [Rect]
    var threads: [Rect]
    /// True when each pair is one row instead of two boxes.
    var rows: Bool
    /// Columns of rows when one column of rows does not fit (many loops: "L12→T12 ready 4 …" in each); 1
    /// otherwise. Folded rows have the whole pair in `loops` and an empty rect in `threads`.
    var folded = 1
    /// The shared pool box (empty without a shared pool).
    var pool: Rect

    /// Frames narrower than this put the shared pool under the pairs instead of beside them.
    static let poolBesideWidth = 80

    static func make(_ rect: Rect, loops n: Int, sharedPool: Bool) -> LoopGroupLayout {
        let inner = rect.inset(dx: 2, dy: 1)
        let beside = sharedPool && rect.width >= poolBesideWidth
        let below = sharedPool && !beside
        let poolWidth = beside ? min(24, max(18, inner.width / 4)) : 0
        // Beside: pairs, 6 columns of arrows, the pool. Below: pairs, a 2-column bus on the right, the pool under.
        let pairsWidth = inner.width - (beside ? poolWidth + 6 : below ? 3 : 0)
        let pairsArea = Rect(inner.x, inner.y, pairsWidth, inner.height - (below ? 5 : 0))
        let count = max(1, n)
        let boxHeight = 4
        let boxes = count * boxHeight <= pairsArea.height && pairsArea.width >= 36
        var loops: [Rect] = []
        var threads: [Rect] = []
        let arrowGap = pairsArea.width >= 60 ? 6 : 4
        let half = (pairsArea.width - arrowGap) / 2
        // Rows that do not fit one column fold into columns of 20 or more cells ("L12→T12 ready 4 0.4ms 55%").
        // Folded rows draw no arrow per loop, so the bus column of a pool below is theirs too.
        let fold =
            boxes || n <= pairsArea.height || pairsArea.height < 1 ? 1 : (n + pairsArea.height - 1) / pairsArea.height
        let foldWidth = below ? inner.width : pairsArea.width
        let colWidth = fold > 1 ? (foldWidth - 2 * (fold - 1)) / fold : 0
        if fold > 1 && colWidth >= 20 {
            let perColumn = (n + fold - 1) / fold  // balanced: 16 loops in two columns of 8, not 15 and 1
            for i in 0..<n {
                let c = i / perColumn
                loops.append(Rect(pairsArea.x + c * (colWidth + 2), pairsArea.y + i % perColumn, colWidth, 1))
                threads.append(Rect(loops[i].maxX, loops[i].y, 0, 1))
            }
        } else {
            for i in 0..<n {
                let y = pairsArea.y + (boxes ? i * boxHeight : i)
                let h = boxes ? boxHeight : 1
                guard y + h <= pairsArea.maxY else { break }
                loops.append(Rect(pairsArea.x, y, half, h))
                threads.append(Rect(pairsArea.x + half + arrowGap, y, pairsArea.width - half - arrowGap, h))
            }
        }
        let folded = fold > 1 && colWidth >= 20 ? fold : 1
        var pool = Rect(rect.maxX, rect.y, 0, 0)
        let pairsBottom = threads.map(\.maxY).max() ?? pairsArea.y
        if beside, let first = threads.first {
            let top = first.y
            let bottom = max(pairsBottom, top + 4)
            pool = Rect(inner.maxX - poolWidth, top, poolWidth, min(bottom, inner.maxY) - top)
        } else if below, !threads.isEmpty {
            let width = min(pairsArea.width, 34)
            pool = Rect(pairsArea.maxX - width, pairsBottom + 1, width, min(4, max(0, inner.maxY - pairsBottom - 1)))
        }
        return LoopGroupLayout(frame: rect, loops: loops, threads: threads, rows: !boxes, folded: folded, pool: pool)
    }
}

enum LoopChart {
    // MARK: - Event loop

    static func drawEventLoop(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, view: PanelView) {
        guard let loop = s.loops.first else {
            grid.line(rect, 0, "no event loop in this snapshot", style: .dim)
            return
        }
        let layout = EventLoopLayout.make(rect, poolThreads: s.pool?.threadStates?.count, pool: s.pool != nil)
        let hub = GeventHubLines.isHub(s)
        let title = hub ? "gevent hub" : "Event Loop"
        drawLoopBox(into: &grid, box: layout.loop, loop: loop, title: title, selected: false, detailed: true)
        guard let pool = s.pool else {
            var row = layout.loop.maxY - rect.y
            // gevent hub figures (issue 16): switches and gevent's monitor under the hub's box.
            if hub { row += GeventHubLines.draw(into: &grid, rect: rect, row: row, hub: loop.gevent) }
            if row < rect.height {
                grid.line(rect, row, "no to_thread pool: blocking calls run on the loop", style: .dim, x: 1)
            }
            return
        }
        let cx = layout.loop.x + min(12, layout.loop.width / 4)
        // Queue label beside the trunk.
        if !layout.queueRow.isEmpty {
            grid.vline(at: Point(cx, layout.queueRow.y), length: 1)
            let q = layout.queueRow
            var x = cx + 2 - q.x
            x += grid.spans(q, 0, [("to_thread ", .dim), ("queue \(pool.queueDepth)", PanelPalette.runnable)], x: x)
            grid.countBar(
                q, 0, x: x, count: pool.queueDepth, peak: pool.queuePeak, maxCells: 30, style: PanelPalette.runnable)
        }
        if !layout.threads.isEmpty, let states = pool.threadStates {
            // One box per real pool thread, in thread order: idle, or the task kind it runs and for how long.
            for (i, t) in layout.threads.enumerated() where i < states.count {
                let st = states[i]
                let tx = t.centerColumn
                grid.polyline(
                    [Point(cx, layout.loop.maxY - 1), Point(cx, t.y - 2), Point(tx, t.y - 2), Point(tx, t.y - 1)])
                let busy = st.kind != nil
                let frame = busy ? PanelPalette.running : PanelPalette.frame
                let titled = t.width >= 14
                let inner = grid.box(
                    t, title: titled ? "Thread \(st.id + 1)" : nil, style: frame, titleStyle: frame.with(.bold))
                if !titled { grid.line(inner, 0, "Thread \(st.id + 1)", style: .bold, x: 1) }
                grid.line(
                    inner, titled ? 0 : 1, st.kind.map { "\($0) \(Fmt.ms(st.runningMs))" } ?? "idle",
                    style: busy ? PanelPalette.running.with(.bold) : .dim,
                    x: 1)
            }
            let last = layout.threads[layout.threads.count - 1]
            let under = Rect(rect.x, last.maxY, rect.width, rect.maxY - last.maxY)
            grid.line(
                under, 0,
                "pool \(pool.busy)/\(pool.threads) busy \(Character(grid.glyphs.separator)) \(Fmt.count(pool.completed)) done",
                style: .dim, x: 1)
        } else if !layout.poolBox.isEmpty {
            let b = layout.poolBox
            grid.polyline([Point(cx, layout.loop.maxY - 1), Point(cx, b.y - 1)])
            drawPoolBox(into: &grid, box: b, pool: pool)
        }
    }

    /// One loop as a box: running task and busy, ready queue bar, timers/tasks/slow/lag.
    static func drawLoopBox(
        into grid: inout Grid, box: Rect, loop l: LoopSnapshot, title: String, selected: Bool, detailed: Bool
    ) {
        let lagging = l.lag.recentMs >= PanelPalette.lagWarnMs
        let frame = lagging ? PanelPalette.blocked : selected ? Style.bold : PanelPalette.frame
        let inner = grid.box(box, title: title, style: frame, titleStyle: selected ? .reverse : frame.with(.bold))
        let r = inner.inset(dx: 1, dy: 0)
        guard r.width > 0, r.height > 0 else { return }
        var row = 0
        if detailed || r.height >= 3 {
            if let c = l.current {
                grid.spans(r, row, [("RUN ", PanelPalette.running.with(.bold)), (c, PanelPalette.running)])
            } else if let last = l.lastTask {
                grid.spans(r, row, [("idle ", PanelPalette.parked), ("ran " + last, PanelPalette.running.with(.dim))])
            } else {
                grid.line(r, row, l.jobsInInterval == 0 ? "idle, none ran" : "idle", style: PanelPalette.parked)
            }
            grid.text(
                at: Point(r.x, r.y + row), "busy \(Fmt.na(l.busyRatio, Fmt.pct))", maxWidth: r.width, align: .right)
            row += 1
        }
        if row < r.height {
            // A loop that does not expose its ready queue (uvloop): an empty bar that says "n/a".
            let depth = l.readyDepth
            let maxDepth = max(l.maxReadyDepth ?? 0, depth ?? 0, l.readyPeak ?? 0, 1)
            let shown = Fmt.na(depth) { "\($0)" }
            let value = detailed ? "\(shown) max \(Fmt.na(l.maxReadyDepth) { "\($0)" })" : shown
            grid.bar(
                at: Point(r.x, r.y + row), width: r.width, fraction: Double(depth ?? 0) / Double(maxDepth),
                label: "ready", value: value, style: PanelPalette.runnable,
                peak: l.readyPeak.map { Double($0) / Double(maxDepth) })
            row += 1
        }
        if row < r.height {
            grid.spans(
                r, row,
                [
                    (
                        "\(detailed ? "heartbeat lag" : "hb lag") \(Fmt.ms(l.lag.recentMs))",
                        PanelPalette.lag(l.lag.recentMs)
                    ),
                    ("  slow \(l.slowCallbacks)", l.slowCallbacks > 0 ? PanelPalette.blocked : .plain),
                    (
                        "  timers \(Fmt.na(l.timersPending) { "\($0)" })  tasks \(Fmt.na(l.tasksAlive, Fmt.count))",
                        .plain
                    ),
                ])
            row += 1
        }
        if row < r.height {
            grid.spans(
                r, row,
                [
                    ("heartbeat p99 \(Fmt.ms(l.lag.p99Ms))", PanelPalette.lag(l.lag.p99Ms)),
                    ("  max \(Fmt.ms(l.lag.maxMs))", PanelPalette.lag(l.lag.maxMs)),
                    ("  jobs \(Fmt.na(l.jobsRun, Fmt.count))", .dim),
                ])
        }
    }

    static func drawPoolBox(into grid: inout Grid, box: Rect, pool: PoolSnapshot) {
        let inner = grid.box(box, title: "Worker Threadpool").inset(dx: 1, dy: 0)
        guard inner.height > 0 else { return }
        grid.bar(
            at: inner.origin, width: inner.width, fraction: Double(pool.busy) / Double(max(1, pool.threads)),
            label: "busy", value: "\(pool.busy)/\(pool.threads)", style: PanelPalette.running)
        if inner.height > 1 {
            grid.spans(
                inner, 1,
                [
                    ("queue \(pool.queueDepth)", PanelPalette.runnable),
                    (" peak \(Fmt.na(pool.queuePeak) { "\($0)" })", .dim),
                    ("  done \(Fmt.count(pool.completed))", .dim),
                ])
        }
    }

    // MARK: - Loop per thread

    static func drawLoopGroup(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, view: PanelView) {
        // One pool shared by every loop gets the talk's picture (arrows into one box); per-loop pools are
        // reported summed, so they get one line of totals instead of a box that would suggest sharing.
        let shared = s.pool?.shared ?? false
        let layout = LoopGroupLayout.make(rect, loops: s.loops.count, sharedPool: shared)
        grid.box(
            rect,
            title:
                "Single Process \(Character(grid.glyphs.separator)) \(s.loops.count) loops on \(s.loops.count) threads")
        let selected = view.selection(count: s.loops.count)
        for (i, l) in s.loops.enumerated() where i < layout.loops.count {
            let lr = layout.loops[i]
            let tr = layout.threads[i]
            let sel = i == selected
            if layout.folded > 1 {
                // Folded rows: the whole pair on one row, "L12→T12" for "Event Loop 12 → Thread 12".
                let lagStyle = PanelPalette.lag(l.lag.recentMs)
                grid.spans(
                    lr, 0,
                    [
                        ("L\(i + 1)\(Character(grid.glyphs.arrowRight))T\(i + 1)", sel ? Style.reverse : .bold),
                        (" " + Fmt.na(l.busyRatio, Fmt.pct), .plain), (" lag \(Fmt.ms(l.lag.recentMs))", lagStyle),
                        (" ready \(Fmt.na(l.readyDepth, String.init))", PanelPalette.runnable),
                        (" " + (l.current ?? "idle"), l.current == nil ? PanelPalette.parked : PanelPalette.running),
                    ])
                continue
            }
            if layout.rows {
                let lagStyle = PanelPalette.lag(l.lag.recentMs)
                grid.spans(
                    lr, 0,
                    [
                        ("Event Loop \(i + 1) ", sel ? Style.reverse : .bold),
                        ("ready \(Fmt.na(l.readyDepth) { "\($0)" }) ", PanelPalette.runnable),
                        ("hb lag \(Fmt.ms(l.lag.recentMs))", lagStyle),
                    ])
                grid.arrow(from: Point(lr.maxX + 1, lr.y), .right, length: tr.x - lr.maxX - 1)
                grid.spans(
                    tr, 0,
                    [
                        ("Thread \(i + 1) ", .bold), (Fmt.na(l.busyRatio, Fmt.pct) + " ", .plain),
                        (l.current ?? "idle", l.current == nil ? PanelPalette.parked : PanelPalette.running),
                    ])
            } else {
                drawLoopBox(into: &grid, box: lr, loop: l, title: "Event Loop \(i + 1)", selected: sel, detailed: false)
                grid.arrow(from: Point(lr.maxX + 1, lr.y + 1), .right, length: tr.x - lr.maxX - 1)
                let frame = (l.busyRatio ?? 0) > 0 ? PanelPalette.running : PanelPalette.frame
                let inner = grid.box(tr, title: "Thread \(i + 1)", style: frame, titleStyle: frame.with(.bold))
                let r = inner.inset(dx: 1, dy: 0)
                grid.bar(
                    at: r.origin, width: r.width, fraction: l.busyRatio ?? 0, label: "busy",
                    value: Fmt.na(l.busyRatio, Fmt.pct),
                    style: PanelPalette.running)
                if r.height > 1 {
                    grid.spans(
                        r, 1,
                        [
                            ("hb lag p99 \(Fmt.ms(l.lag.p99Ms))", PanelPalette.lag(l.lag.p99Ms)),
                            ("  jobs \(Fmt.na(l.jobsRun, Fmt.count))", .dim),
                        ])
                }
            }
            if shared, !layout.pool.isEmpty, layout.folded == 1 {
                let from = Point(tr.maxX, layout.rows ? tr.y : tr.y + 1)
                if layout.pool.x > tr.maxX {
                    // Pool beside: right, down or up to the pool's middle row, right into it.
                    let to = Point(layout.pool.x - 1, layout.pool.centerRow)
                    grid.polyline([from, Point(from.x + 2, from.y), Point(from.x + 2, to.y), to])
                } else {
                    // Pool below: right to the bus, down past the pool's top, left into its right edge.
                    let bus = tr.maxX + 1
                    let to = Point(layout.pool.maxX, layout.pool.y + 1)
                    grid.polyline([from, Point(bus, from.y), Point(bus, to.y), to])
                }
            }
        }
        if let pool = s.pool, shared, !layout.pool.isEmpty {
            if layout.folded > 1 {
                // Folded columns have no room for an arrow per loop: one line says every loop feeds the pool.
                let text = "all \(s.loops.count) loops \(Character(grid.glyphs.arrowDown)) one pool"
                grid.text(
                    at: Point(layout.pool.x, layout.pool.y - 1), text, style: .dim, maxWidth: layout.pool.width)
            }
            drawPoolBox(into: &grid, box: layout.pool, pool: pool)
        }
        if let pool = s.pool, !shared, rect.height > 2 {
            let sep = Character(grid.glyphs.separator)
            let text =
                " to_thread pools, one per loop: \(pool.busy)/\(pool.threads) busy \(sep) queue \(pool.queueDepth) \(sep) \(Fmt.count(pool.completed)) done "
            grid.text(at: Point(rect.x + 2, rect.maxY - 1), text, style: PanelPalette.running, maxWidth: rect.width - 4)
        }
        if s.loops.count > layout.loops.count {
            grid.text(
                at: Point(rect.x + 2, rect.maxY - 1), " +\(s.loops.count - layout.loops.count) loops not shown ",
                style: .dim)
        }
    }
}
