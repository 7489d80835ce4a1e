import Telemetry

// The fiber models' flowchart (virtual threads, green threads): the talk's "Event Loop →
// Thread 1, 2, 3" picture that asyncio cannot draw, done by an M:N scheduler.
//
//   ┌─ Scheduler · virtual-threads · 4 carriers ────────────────────────────┐
//   │ injector 7 ███████                                                      │
//   └──────┬─────────────────┬─────────────────┬─────────────────┬──────────┘
//          ↓                 ↓                 ↓                 ↓
//   ┌─ Carrier 0 ──┐  ┌─ Carrier 1 ──┐  ┌─ Carrier 2 ──┐  ┌─ Carrier 3 ──┐
//   │ RUN      92% │  │ RUN      55% │  │ spin     10% │  │ idle      0% │
//   │ q ███░░░  12 │  │ q █░░░░░   3 │  │ ...
//   │ handler-0    │  │ handler-1    │
//   │ request      │  │ request      │
//   └──────┬───────┘  └──↑───────────┘
//          └───── 4 ─────┘                 steal lanes: victim ┬ … ↑ thief, cyan when active
//
// Each carrier box: state word (RUN spin idle PINNED HANDOFF) and busy %, its local run queue
// as a bar (depth against capacity) with the depth, the fiber it runs now and that fiber's
// task kind, and a busy bar when there is room. Steal lanes come from the snapshot's steal
// events (thief ← victim, count); without events, the carriers' `stolenIn` deltas mark the
// thieves. Too many carriers for boxes (or too little height) switches to one row per carrier.

/// Where the parts of the fiber flowchart go. Pure; tested.
struct FiberChartLayout: Equatable {
    var scheduler: Rect
    /// Carrier boxes (or rows, in table mode), by worker index; empty in heat-map mode (cells: `heatMap`).
    var carriers: [Rect]
    /// One row per carrier instead of boxes.
    var table: Bool
    /// Rows for steal lanes (box mode).
    var lanes: Rect
    /// Fibers-by-state box (compact only; empty when the plan has a separate fibers panel).
    var fibers: Rect
    /// The heat-maps, when not even one row per carrier fits (ManyWorkers.swift); nil otherwise.
    var heatMap: HeatMapLayout? = nil
    /// The steals matrix or top pairs (table and heat-map modes; ManyWorkers.swift); empty without room.
    var steals = Rect(0, 0, 0, 0)

    static let minBoxWidth = 11
    static let maxBoxWidth = 48
    /// Flowcharts at least this wide put the steals beside the table or the maps, not under them.
    static let stealsBesideWidth = 100

    /// Rows of the fibers-by-state box for a flowchart `width` wide.
    static func fibersHeight(width: Int) -> Int {
        let cols = max(1, (width - 4) / 22)
        return (8 + cols - 1) / cols + 2
    }

    /// Columns the steals get beside the table or the maps in a flowchart `width` wide (0: under them).
    static func stealsWidth(_ width: Int) -> Int { width >= stealsBesideWidth ? max(36, min(56, width * 2 / 5)) : 0 }

    /// Whether one row of boxes fits `n` carriers in `width` columns.
    static func boxesFit(width: Int, carriers n: Int) -> Bool {
        let count = max(1, n)
        let gap = (width - 2 * (count - 1)) / count >= 16 ? 2 : 1
        return (width - gap * (count - 1)) / count >= minBoxWidth
    }

    static func make(_ rect: Rect, carriers n: Int, withFibers: Bool) -> FiberChartLayout {
        let schedHeight = rect.height >= 30 ? 4 : 3
        let (sched, rest0) = rect.splitTop(schedHeight)
        var rest = rest0
        let noFibers = Rect(rect.x, rect.maxY, rect.width, 0)
        var fibers = noFibers
        if withFibers && rest.height >= 15 {
            let split = rest.splitBottom(fibersHeight(width: rect.width))
            rest = split.rest
            fibers = split.bottom
        }
        let count = max(1, n)
        let gap = (rect.width - 2 * (count - 1)) / count >= 16 ? 2 : 1
        let boxWidth = (rect.width - gap * (count - 1)) / count
        let boxesFit = boxWidth >= minBoxWidth && rest.height >= 1 + 5 + 1
        if !boxesFit {
            // Table: one row per carrier below a one-row gap for the bus, when every row fits (with the fibers
            // box, else without it); past that, the heat-maps.
            if n + 1 > rest.height && n + 1 <= rest0.height {
                rest = rest0
                fibers = noFibers
            }
            if n + 1 <= rest.height || HeatMapLayout.make(rest0, carriers: n) == nil {
                return table(sched: sched, rest: rest, carriers: n, fibers: fibers)
            }
            return heat(sched: sched, rest: rest0, carriers: n, withFibers: withFibers, width: rect.width)
        }
        let available = rest.height - 1  // the arrow row
        let boxHeight = max(5, min(available - 1, rect.height >= 40 ? 9 : 7))
        let laneRows = max(0, min(3, available - boxHeight))
        // Boxes wider than `maxBoxWidth` only add empty space: cap them and centre the row under the scheduler.
        let width = boxWidth > maxBoxWidth ? count * maxBoxWidth + gap * (count - 1) : rest.width
        let row = Rect(rest.x + (rest.width - width) / 2, rest.y + 1, width, boxHeight)
        let cols = row.columns(count, gap: gap)
        let lanes = Rect(rest.x, rest.y + 1 + boxHeight, rest.width, laneRows)
        return FiberChartLayout(
            scheduler: sched, carriers: Array(cols.prefix(n)), table: false, lanes: lanes, fibers: fibers)
    }

    static func table(sched: Rect, rest: Rect, carriers n: Int, fibers: Rect) -> FiberChartLayout {
        let beside = stealsWidth(rest.width)
        let body = Rect(rest.x, rest.y, rest.width - (beside > 0 ? beside + 2 : 0), rest.height)
        let rows = (0..<n).map { i in Rect(body.x + 5, body.y + 1 + i, max(0, body.width - 5), 1) }
            .map { $0.intersection(body) }
        let end = min(rest.maxY, rest.y + 1 + n)
        let steals =
            beside > 0
            ? Rect(rest.maxX - beside, rest.y, beside, rest.height)
            : Rect(rest.x + 1, end, rest.width - 1, rest.maxY - end)
        return FiberChartLayout(
            scheduler: sched, carriers: rows, table: true, lanes: Rect(rest.x, rest.maxY, rest.width, 0),
            fibers: fibers, steals: steals)
    }

    static func heat(sched: Rect, rest: Rect, carriers n: Int, withFibers: Bool, width: Int) -> FiberChartLayout {
        let beside = stealsWidth(rest.width)
        let left = Rect(rest.x + 1, rest.y, rest.width - 1 - (beside > 0 ? beside + 2 : 0), rest.height)
        let map = HeatMapLayout.make(left, carriers: n, spare: beside > 0 ? 0 : 1)
        let used = max(map?.selection.maxY ?? rest.y, map?.busy.maxY ?? rest.y)
        var bottom = rest.maxY
        var fibers = Rect(rest.x, rest.maxY, rest.width, 0)
        let fibersRows = fibersHeight(width: width)
        // The fibers box only when the steals keep at least two rows under the maps.
        if withFibers && bottom - used >= fibersRows + (beside > 0 ? 0 : 2) {
            fibers = Rect(rest.x, rest.maxY - fibersRows, rest.width, fibersRows)
            bottom = fibers.y
        }
        let steals =
            beside > 0
            ? Rect(rest.maxX - beside, rest.y, beside, bottom - rest.y)
            : Rect(rest.x + 1, used, rest.width - 1, max(0, bottom - used))
        return FiberChartLayout(
            scheduler: sched, carriers: [], table: false, lanes: Rect(rest.x, rest.maxY, rest.width, 0),
            fibers: fibers, heatMap: map, steals: steals)
    }

    /// Rows the flowchart of `n` carriers uses at its richest in `width` columns, at most `maxHeight` (the rich
    /// plan's flow row; its scheduler box is 4 rows there).
    static func preferredHeight(width: Int, carriers n: Int, maxHeight: Int) -> Int {
        if boxesFit(width: width, carriers: n) { return 4 + 1 + 9 + 3 }
        let beside = stealsWidth(width) > 0
        let table = 4 + 1 + n + (beside ? 1 : 4)
        if table <= maxHeight { return table }
        let rows = (n + 15) / 16
        return beside ? max(4 + 1 + rows + 1, 4 + 12) : 4 + 1 + rows + 1 + 6
    }
}

/// A steal flow: fibers `thief` took from `victim` (in one interval, or over `PanelHistory.stealHold`).
struct StealFlow: Equatable {
    var thief: Int
    var victim: Int
    var count: Int
}

enum FiberChart {
    /// Steal flows of the snapshot's events, summed per (thief, victim), largest first, ties by thief then victim.
    static func steals(_ s: Snapshot) -> [StealFlow] { steals(s.events, carriers: s.workers.count) }

    /// Steal flows of `events` between carriers 0..<n, summed per (thief, victim), largest first.
    static func steals(_ events: [RuntimeEvent], carriers n: Int) -> [StealFlow] {
        var sums: [Int: Int] = [:]
        for e in events where e.kind == .steal && e.worker >= 0 && e.other >= 0 && e.worker < n && e.other < n {
            sums[e.worker * n + e.other, default: 0] += max(1, e.count)
        }
        return sums.map { StealFlow(thief: $0.key / max(1, n), victim: $0.key % max(1, n), count: $0.value) }
            .sorted { ($0.count, -$0.thief, -$0.victim) > ($1.count, -$1.thief, -$1.victim) }
    }

    static func draw(
        into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory, view: PanelView,
        withFibers: Bool
    ) {
        let layout = FiberChartLayout.make(rect, carriers: s.workers.count, withFibers: withFibers)
        let selected = view.selection(count: s.workers.count)
        drawScheduler(into: &grid, layout: layout, snapshot: s)
        if let map = layout.heatMap {
            CarrierHeatMap.draw(into: &grid, layout: map, snapshot: s, selected: selected)
            StealsView.draw(into: &grid, rect: layout.steals, snapshot: s, history: history)
        } else if layout.table {
            drawTable(into: &grid, layout: layout, snapshot: s, history: history, selected: selected)
            StealsView.draw(into: &grid, rect: layout.steals, snapshot: s, history: history)
        } else {
            for (i, w) in s.workers.enumerated() where i < layout.carriers.count {
                let box = layout.carriers[i]
                grid.polyline([Point(box.centerColumn, layout.scheduler.maxY - 1), Point(box.centerColumn, box.y - 1)])
                drawCarrier(into: &grid, box: box, worker: w, selected: i == selected, wide: s.workers.count > 1)
            }
            drawLanes(into: &grid, layout: layout, snapshot: s, history: history)
        }
        if !layout.fibers.isEmpty { FiberCountsPanel.draw(into: &grid, rect: layout.fibers, counts: s.fibers) }
    }

    static func drawScheduler(into grid: inout Grid, layout: FiberChartLayout, snapshot s: Snapshot) {
        let n = s.workers.count
        let what = s.model == .greenThreads ? "green threads" : "virtual threads"
        let title =
            "Scheduler \(Character(grid.glyphs.separator)) \(what) \(Character(grid.glyphs.separator)) \(n) carrier\(n == 1 ? "" : "s")"
        let inner = grid.box(layout.scheduler, title: title)
        let r = inner.inset(dx: 1, dy: 0)
        // Table and heat-map: carriers by state on the first row, when they fit (the maps' red has its words here).
        let states = layout.table || layout.heatMap != nil ? CarrierHeatMap.stateCounts(s) : []
        let statesWidth = states.reduce(0) { $0 + DisplayWidth.of($1.0) }
        var x = grid.spans(r, 0, [("injector ", .plain), ("\(s.injectorDepth)", PanelPalette.runnable.with(.bold))])
        // The injector's bar gives up cells for the states only when both do not fit whole.
        let fullBar = min(40, max(s.injectorDepth, s.injectorPeak ?? 0)) + 1
        let showStates = !states.isEmpty && x + min(fullBar, 13) + 2 + statesWidth <= r.width
        x += grid.countBar(
            r, 0, x: x, count: s.injectorDepth, peak: s.injectorPeak,
            maxCells: showStates && x + fullBar + 2 + statesWidth > r.width ? 12 : 40, style: PanelPalette.runnable)
        let f = s.fibers
        let sep = "  "
        let counts: [(String, Style)] = [
            ("fibers \(Fmt.count(f.total))", .plain), (sep, .plain),
            ("run \(f.running)", PanelPalette.running), (sep, .plain),
            ("ready \(f.runnable)", PanelPalette.runnable), (sep, .plain),
            ("parked \(Fmt.count(f.parked))", PanelPalette.parked), (sep, .plain),
            ("blocked \(f.blocked)", f.blocked > 0 ? PanelPalette.blocked : .plain),
        ]
        let width = counts.reduce(0) { $0 + DisplayWidth.of($1.0) }
        if r.height >= 2 {
            grid.spans(r, 1, counts)
        } else if states.isEmpty && x + 4 + width <= r.width {
            grid.spans(r, 0, counts, x: r.width - width)
        }
        if showStates && x + 2 + statesWidth <= r.width {
            grid.spans(r, 0, states, x: r.width - statesWidth)
        }
    }

    static func drawCarrier(into grid: inout Grid, box: Rect, worker w: WorkerSnapshot, selected: Bool, wide: Bool) {
        let (word, stateStyle) = PanelPalette.state(w.state)
        let blocked = w.state == .pinned || w.state == .handedOff
        let frame = blocked ? PanelPalette.blocked : selected ? Style.bold : PanelPalette.frame
        let title = box.width >= 16 ? "Carrier \(w.id)" : "C\(w.id)"
        // The selection shows as a reversed title: visible without color and under ASCII.
        let inner = grid.box(box, title: title, style: frame, titleStyle: selected ? .reverse : frame.with(.bold))
        let r = inner.inset(dx: 1, dy: 0)
        guard r.width > 0 else { return }
        grid.line(r, 0, word, style: stateStyle.with(.bold))
        let busy = Fmt.pct(w.busyRatio)
        if DisplayWidth.of(word) + 1 + DisplayWidth.of(busy) <= r.width {
            grid.text(at: Point(r.x, r.y), busy, maxWidth: r.width, align: .right)
        }
        if r.height > 1 {
            grid.bar(
                at: Point(r.x, r.y + 1), width: r.width,
                fraction: Double(w.queueDepth) / Double(max(1, w.queueCapacity)),
                label: "q", value: "\(w.queueDepth)", style: PanelPalette.runnable,
                peak: w.queuePeak.map { Double($0) / Double(max(1, w.queueCapacity)) })
        }
        if r.height > 2 {
            let (text, style) = whatRan(w)
            grid.line(r, 2, text, style: style)
        }
        if r.height > 3, let kind = w.currentKind ?? w.lastKind { grid.line(r, 3, kind, style: .dim) }
        if r.height > 4 {
            grid.bar(
                at: Point(r.x, r.y + 4), width: r.width, fraction: w.busyRatio, label: "busy",
                style: PanelPalette.running)
        }
        if r.height > 5 { grid.line(r, 5, "runs \(Fmt.count(w.runs))", style: .dim) }
        if r.height > 6 {
            grid.line(r, 6, "stole \(Fmt.count(w.stolenIn)) lost \(Fmt.count(w.stolenOut))", style: .dim)
        }
    }

    /// What a carrier runs: the fiber running now, else the last one that ran in the interval ("ran …"), else
    /// "none ran" when the interval's run count is known to be 0, else "no fiber" (nothing now, interval unknown).
    static func whatRan(_ w: WorkerSnapshot) -> (String, Style) {
        if let name = w.currentFiber { return (name, PanelPalette.running) }
        if let last = w.lastFiber { return ("ran " + last, PanelPalette.running.with(.dim)) }
        if w.runsInInterval == 0 { return ("none ran", .dim) }
        return ("no fiber", .dim)
    }

    static func drawLanes(into grid: inout Grid, layout: FiberChartLayout, snapshot s: Snapshot, history: PanelHistory)
    {
        let lanes = layout.lanes
        guard lanes.height > 0, !layout.carriers.isEmpty else { return }
        let boxBottom = layout.carriers[0].maxY - 1
        if s.workers.count < 2 {
            grid.line(lanes, 0, "one carrier: nothing to steal from", style: .dim, x: 1)
            return
        }
        // Lanes for every flow of the last second (held, dim), cyan where a steal happened this interval; the
        // busiest flows get the lanes, drawn in a fixed order so they do not swap places from frame to frame.
        let n = s.workers.count
        let active = Set(steals(s).map { $0.thief * n + $0.victim })
        let held = steals(history.recentSteals, carriers: n)
        let flows = held.prefix(lanes.height).sorted { ($0.victim, $0.thief) < ($1.victim, $1.thief) }
        let totalStolen = s.workers.reduce(UInt64(0)) { $0 + $1.stolenIn }
        if flows.isEmpty {
            let deltas = history.stolenInDelta
            var any = false
            for (i, d) in deltas.enumerated() where d > 0 && i < layout.carriers.count {
                any = true
                let b = layout.carriers[i]
                grid.put(grid.glyphs.arrowUp, x: b.centerColumn, y: boxBottom, style: PanelPalette.steal)
                grid.line(lanes, 0, "stole \(d)", style: PanelPalette.steal, x: b.centerColumn - lanes.x)
            }
            if !any {
                grid.line(
                    lanes, 0,
                    "steals: none this interval \(Character(grid.glyphs.separator)) \(Fmt.count(totalStolen)) so far",
                    style: .dim, x: 1)
            }
            return
        }
        for (lane, f) in flows.enumerated() {
            let style = active.contains(f.thief * n + f.victim) ? PanelPalette.steal : PanelPalette.stealHeld
            let victim = layout.carriers[f.victim]
            let thief = layout.carriers[f.thief]
            let vx = min(victim.maxX - 2, victim.centerColumn + 1 + lane)
            let tx = max(thief.x + 1, thief.centerColumn - 1 - lane)
            let y = lanes.y + lane
            grid.polyline(
                [Point(vx, boxBottom), Point(vx, y), Point(tx, y), Point(tx, boxBottom)], style: style)
            let withRate = " \(f.count) stolen in 1s "
            let long = abs(vx - tx) > DisplayWidth.of(withRate) + 2 ? withRate : " \(f.count) stolen "
            let label = abs(vx - tx) > DisplayWidth.of(long) + 2 ? long : " \(f.count) "
            let mid = (vx + tx) / 2 - DisplayWidth.of(label) / 2
            if abs(vx - tx) > DisplayWidth.of(label) + 2 {
                grid.text(at: Point(mid, y), label, style: style)
            } else {
                grid.text(at: Point(max(vx, tx) + 2, y), "\(f.count)", style: style)
            }
        }
        if held.count > lanes.height {
            let more = held.dropFirst(lanes.height).reduce(0) { $0 + $1.count }
            grid.text(
                at: Point(lanes.maxX - 14, lanes.maxY - 1), "+\(more) more", style: PanelPalette.steal, maxWidth: 14,
                align: .right)
        }
    }

    static func drawTable(
        into grid: inout Grid, layout: FiberChartLayout, snapshot s: Snapshot, history: PanelHistory, selected: Int?
    ) {
        let busX = layout.scheduler.x + 2
        let flows = steals(s)
        let shown = layout.carriers.filter { !$0.isEmpty }.count
        if shown < s.workers.count, let last = layout.carriers.last(where: { !$0.isEmpty }) {
            // No room for every carrier: the last row says how many are left out (arrows and Enter reach each one).
            grid.line(last, 0, "+\(s.workers.count - shown + 1) more carriers", style: .dim)
        }
        let drawn = shown < s.workers.count ? max(0, shown - 1) : shown
        let labelWidth = 1 + String(max(0, s.workers.count - 1)).count
        for (i, w) in s.workers.enumerated() where i < drawn {
            let row = layout.carriers[i]
            grid.polyline([Point(busX, layout.scheduler.maxY - 1), Point(busX, row.y), Point(row.x - 1, row.y)])
            let (word, st) = PanelPalette.state(w.state)
            let stolen = flows.filter { $0.thief == i }.reduce(0) { $0 + $1.count }
            let delta = stolen > 0 ? stolen : (i < history.stolenInDelta.count ? history.stolenInDelta[i] : 0)
            var x = grid.spans(
                row, 0,
                [
                    ("C\(w.id) ", i == selected ? Style.reverse : .bold), (word, st.with(.bold)),
                ])
            // Columns line up after the widest label ("C255 ") and state word ("HANDOFF").
            x = max(x + 1, labelWidth + 1 + 7 + 1)
            let barWidth = min(16, max(6, row.width / 4))
            grid.bar(
                at: Point(row.x + x, row.y), width: barWidth,
                fraction: Double(w.queueDepth) / Double(max(1, w.queueCapacity)), label: "q",
                value: "\(w.queueDepth)", valueWidth: 4, style: PanelPalette.runnable,
                peak: w.queuePeak.map { Double($0) / Double(max(1, w.queueCapacity)) })
            x += barWidth + 1
            x += grid.line(row, 0, Fmt.pct(w.busyRatio), x: x) + 1
            if delta > 0 {
                x += grid.line(row, 0, "\(Character(grid.glyphs.arrowUp))\(delta)", style: PanelPalette.steal, x: x) + 1
            }
            if w.currentFiber != nil || w.lastFiber != nil {
                let (text, style) = whatRan(w)
                x += grid.line(row, 0, text, style: style, x: x) + 1
                if let k = w.currentKind ?? w.lastKind { grid.line(row, 0, k, style: .dim, x: x) }
            }
        }
    }
}

/// Fibers by state and parked reason: counts and a small bar each (share of all fibers).
enum FiberCountsPanel {
    static func items(_ f: FiberCounts) -> [(String, Int, Style)] {
        [
            ("run", f.running, PanelPalette.running), ("ready", f.runnable, PanelPalette.runnable),
            ("sleep", f.parkedSleep, PanelPalette.parked), ("io", f.parkedIO, PanelPalette.parked),
            ("chan", f.parkedChannel, PanelPalette.parked), ("mutex", f.parkedMutex, PanelPalette.parked),
            ("join", f.parkedJoin, PanelPalette.parked),
            ("blocked", f.blocked, f.blocked > 0 ? PanelPalette.blocked : .plain),
        ]
    }

    static func draw(into grid: inout Grid, rect: Rect, counts f: FiberCounts) {
        drawCounts(into: &grid, rect: rect, title: "Fibers \(Fmt.count(f.total))", items: items(f), total: f.total)
    }

    /// Bars of counts against `total`, in as many columns as the box needs. Shared with `TaskCensusPanel`.
    static func drawCounts(
        into grid: inout Grid, rect: Rect, title: String, items: [(String, Int, Style)], total: Int,
        labelWidth: Int = 7
    ) {
        let inner = grid.box(rect, title: title).inset(dx: 1, dy: 0)
        guard inner.width > 0, inner.height > 0 else { return }
        // As many columns as fit at 22 cells, or more (narrower bars) when the height cannot hold every row.
        let byWidth = max(1, min(4, (inner.width + 2) / 22))
        let byHeight = (items.count + inner.height - 1) / inner.height
        let cols = max(1, min(4, max(byWidth, byHeight)))
        let colRects = inner.columns(cols, gap: 2)
        let rows = (items.count + cols - 1) / cols
        let all = Double(max(1, total))
        for (i, item) in items.enumerated() {
            let c = i / rows
            let r = i % rows
            guard c < colRects.count, r < inner.height else { continue }
            let cell = colRects[c]
            grid.bar(
                at: Point(cell.x, cell.y + r), width: cell.width, fraction: Double(item.1) / all, label: item.0,
                value: Fmt.count(item.1), labelWidth: labelWidth, valueWidth: 5, style: item.2)
        }
    }
}

/// A CPython program's tasks by state and by what they await (`Snapshot.taskCensus`, the agent's census of
/// `asyncio.all_tasks`): the loop's current task, the ready ones, and the waiting ones by what they wait on.
enum TaskCensusPanel {
    static func title(_ c: TaskCensus, _ grid: Grid) -> String {
        "Tasks \(Fmt.count(c.total)) \(Character(grid.glyphs.separator)) by what they await"
    }

    static func items(_ c: TaskCensus) -> [(String, Int, Style)] {
        c.states.map { state in
            let style =
                state.label == "running"
                ? PanelPalette.running : state.label == "ready" ? PanelPalette.runnable : PanelPalette.parked
            return (state.label, state.count, style)
        }
    }

    static func draw(into grid: inout Grid, rect: Rect, census c: TaskCensus) {
        FiberCountsPanel.drawCounts(
            into: &grid, rect: rect, title: title(c, grid), items: items(c), total: c.total, labelWidth: 9)
    }
}
