import Telemetry

// The panels' own view state and their layout plan.
//
// `PanelView` is what the user toggles (code pane, details view) and selects (a worker or
// loop); the UI reducer owns one and changes it on keys and clicks, drawing only reads it.
// `PanelPlan.make` decides which panel goes where for a body rectangle: a pure function, so
// layout decisions are unit-tested without drawing.

/// The user's choices for the panels. Owned by the UI state (reducer); read-only while drawing.
public struct PanelView: Hashable, Sendable {
    /// Index of the selected worker (fiber models) or loop (loop models); clamped when drawing.
    public var selected: Int
    /// Code pane (`c`): the sync and async bodies side by side.
    public var showCode: Bool
    /// Details view (Enter on a selection; Esc back).
    public var showDetails: Bool
    /// Which code listing the pane shows (index into the listings, wrapped around).
    public var codeIndex: Int

    public init(selected: Int = 0, showCode: Bool = false, showDetails: Bool = false, codeIndex: Int = 0) {
        self.selected = selected
        self.showCode = showCode
        self.showDetails = showDetails
        self.codeIndex = codeIndex
    }

    /// Moves the selection by `delta` within `count` items, wrapping around.
    public mutating func moveSelection(by delta: Int, count: Int) {
        guard count > 0 else {
            selected = 0
            return
        }
        selected = ((selected + delta) % count + count) % count
    }

    /// The selection clamped to `count` items (nil when there are none).
    public func selection(count: Int) -> Int? { count > 0 ? max(0, min(selected, count - 1)) : nil }

    /// What the panel keys ask for (the reducer maps keys and clicks to these).
    public enum Action: Hashable, Sendable {
        /// `c`: show or hide the code pane.
        case toggleCode
        /// In the code pane: the next / previous task kind's listing.
        case nextListing, previousListing
        /// Arrows: select the previous / next worker or loop.
        case selectPrevious, selectNext
        /// A click on worker or loop `index` (see `DashboardPanels.hitTest`).
        case select(Int)
        /// Enter: open the details view of the selection.
        case openDetails
        /// Esc: close the details view, else the code pane. `apply` returns false when neither was open,
        /// so the shell can close its own overlay instead.
        case back
    }

    /// Applies `action` for a snapshot with `itemCount` workers (fiber models) or loops (loop models) and
    /// `listingCount` code listings. Returns true when the view changed. Pure.
    @discardableResult
    public mutating func apply(_ action: Action, itemCount: Int, listingCount: Int = 0) -> Bool {
        let before = self
        switch action {
        case .toggleCode:
            showCode.toggle()
            if showCode { showDetails = false }
        case .nextListing:
            if listingCount > 0 { codeIndex = (codeIndex + 1) % listingCount }
        case .previousListing:
            if listingCount > 0 { codeIndex = (codeIndex + listingCount - 1) % listingCount }
        case .selectPrevious:
            moveSelection(by: -1, count: itemCount)
        case .selectNext:
            moveSelection(by: 1, count: itemCount)
        case .select(let i):
            if i >= 0 && i < itemCount { selected = i }
        case .openDetails:
            if itemCount > 0 {
                selected = selection(count: itemCount) ?? 0
                showDetails = true
            }
        case .back:
            if showDetails {
                showDetails = false
            } else if showCode {
                showCode = false
            }
        }
        return self != before
    }
}

/// One task kind's body in both colors, for the code pane. The presets side provides the texts.
public struct CodeListing: Hashable, Sendable {
    /// Task kind (`web`, `hash`, `disk`).
    public var kind: String
    /// The body as a fiber runs it: plain blocking calls.
    public var sync: String
    /// The same body as an event-loop task: `async def`, `await`.
    public var async: String
    // Function colouring (the `http` kind): a sync body that more than one model runs says so in its title.
    /// The sync column's title; nil: "sync: as a fiber runs it".
    public var syncTitle: String? = nil
    /// The async column's title; nil: "async: as a loop task".
    public var asyncTitle: String? = nil
    // The asyncio invariant's listings (asyncio-mn): the same code on both loops, not two colours of it.
    /// The pane's footer; nil: the function-colouring note ("async / await spread to every caller …").
    public var note: String? = nil

    public init(
        kind: String, sync: String, async: String, syncTitle: String? = nil, asyncTitle: String? = nil,
        note: String? = nil
    ) {
        self.kind = kind
        self.sync = sync
        self.async = async
        self.syncTitle = syncTitle
        self.asyncTitle = asyncTitle
        self.note = note
    }
}

/// Where each panel goes in the body. Empty rectangles are not drawn.
public struct PanelPlan: Hashable, Sendable {
    public enum Density: Hashable, Sendable {
        /// Up to about 120×36: flowchart and a side column; numbers inside the boxes.
        case compact
        /// Larger: flowchart over a lag chart and the slow list; side column with busy, fibers, task kinds,
        /// recent events, legend.
        case rich
    }

    public var density: Density
    /// The model's flowchart (Scheduler → carriers, Event Loop → pool, Single Process).
    public var flow = Rect(0, 0, 0, 0)
    /// Lag or scheduling delay: stats, sparkline, histogram.
    public var lag = Rect(0, 0, 0, 0)
    /// Latest slow callbacks / long blocking regions.
    public var slow = Rect(0, 0, 0, 0)
    /// Throughput and latency per task kind.
    public var tasks = Rect(0, 0, 0, 0)
    /// Busy % per worker or loop (rich only; compact shows it inside the flowchart boxes).
    public var busy = Rect(0, 0, 0, 0)
    /// Fibers by state and parked reason (fiber models, rich; compact draws it under the flowchart).
    public var fibers = Rect(0, 0, 0, 0)
    /// Recent runtime events, newest first (rich).
    public var events = Rect(0, 0, 0, 0)
    /// Color legend (rich, when room is left).
    public var legend = Rect(0, 0, 0, 0)
    /// Code pane, when shown.
    public var code = Rect(0, 0, 0, 0)
    /// Details view, when shown (it takes the whole body).
    public var details = Rect(0, 0, 0, 0)
    // Memory per parked task (issue 15): both only when the snapshot has memory figures / a limit.
    /// RSS and bytes per parked task.
    public var memory = Rect(0, 0, 0, 0)
    /// One row above everything else: the system limit that stopped a preset's parking.
    public var banner = Rect(0, 0, 0, 0)
    // A CPython program's task census (issue 16).
    /// Tasks by state and by what they await (rich, when the snapshot has a census).
    public var taskCensus = Rect(0, 0, 0, 0)

    /// Smallest size drawn rich.
    public static let richMinimum = Size(120, 36)

    /// The plan for a body rectangle and the snapshot to draw in it.
    public static func make(for whole: Rect, snapshot s: Snapshot, view: PanelView) -> PanelPlan {
        let rich = whole.size.covers(richMinimum)
        var p = PanelPlan(density: rich ? .rich : .compact)
        var rect = whole
        if s.memory?.limit != nil, whole.height > 1 {
            (p.banner, rect) = whole.splitTop(1)
        }
        if view.showDetails {
            p.details = rect
            return p
        }
        if !rich {
            if view.showCode {
                p.code = rect
                return p
            }
            let sideWidth = max(30, min(40, rect.width * 2 / 5))
            let (flow, side) = (rect.splitLeft(rect.width - sideWidth))
            p.flow = flow
            let kinds = min(6, max(1, s.taskKinds.count) + 3)
            if s.memory != nil {
                let parts = side.split(
                    .vertical, [.fixed(6), .fixed(kinds), .fixed(MemoryPanel.height), .fill(weight: 1, min: 4)])
                p.lag = parts[0]
                p.tasks = parts[1]
                p.memory = parts[2]
                p.slow = parts[3]
                return p
            }
            let parts = side.split(.vertical, [.fixed(6), .fixed(kinds), .fill(weight: 1, min: 4)])
            p.lag = parts[0]
            p.tasks = parts[1]
            p.slow = parts[2]
            return p
        }
        let sideWidth = min(56, max(44, rect.width / 4))
        let (main, side) = rect.splitLeft(rect.width - sideWidth)
        let flowHeight = min(
            preferredFlowHeight(s, width: main.width, maxHeight: max(0, main.height - 12)), max(0, main.height - 12))
        if view.showCode {
            let parts = main.split(.vertical, [.fixed(flowHeight), .fill(weight: 1, min: 14), .fixed(6)])
            p.flow = parts[0]
            p.code = parts[1]
            p.lag = parts[2]
        } else {
            // The lag chart is capped so a tall terminal gives the rest to the slow list, not to a giant chart.
            let parts = main.split(.vertical, [.fixed(flowHeight), .fixed(13), .fill(weight: 1, min: 4)])
            p.flow = parts[0]
            p.lag = parts[1]
            p.slow = parts[2]
        }
        let count =
            s.model == .threads
            ? min(BusyPanel.threadRows, s.threads?.list.count ?? 0)
            : s.model.usesFibers ? s.workers.count : s.loops.count
        // Borders, the definition row ("busy = …"), one row per carrier or loop, the pool.
        let busyHeight = min(count + (s.pool == nil ? 3 : 4), 13)
        var parts: [Layout] = [.fixed(busyHeight)]
        if s.model.usesFibers { parts.append(.fixed(6)) }
        let census = !s.model.usesFibers && s.taskCensus != nil
        if census { parts.append(.fixed(6)) }
        if s.memory != nil { parts.append(.fixed(MemoryPanel.height)) }
        parts.append(.fixed(min(13, max(1, s.taskKinds.count) + 4)))
        parts.append(.fill(weight: 1, min: 3))
        parts.append(.fixed(PanelPalette.legend.count + 2))
        var rects = side.split(.vertical, parts)
        p.busy = rects.removeFirst()
        if s.model.usesFibers { p.fibers = rects.removeFirst() }
        if census { p.taskCensus = rects.removeFirst() }
        if s.memory != nil { p.memory = rects.removeFirst() }
        p.tasks = rects.removeFirst()
        p.events = rects.removeFirst()
        p.legend = rects.removeFirst()
        return p
    }

    /// Rows the model's flowchart uses at its richest (the rest of the height goes to the lag chart).
    /// `maxHeight`: the most the plan can give (a table of carriers that does not fit turns into heat-maps).
    static func preferredFlowHeight(_ s: Snapshot, width: Int, maxHeight: Int = .max) -> Int {
        switch s.model {
        case .virtualThreads, .greenThreads:
            return FiberChartLayout.preferredHeight(
                width: width, carriers: max(1, s.workers.count), maxHeight: maxHeight)
        case .eventLoop:
            // A gevent hub's two lines of its own go between its box and the "no to_thread pool" line.
            guard let pool = s.pool else { return 7 + (GeventHubLines.isHub(s) ? GeventHubLines.unavailable.count : 0) }
            return (width - (pool.threads - 1)) / max(1, pool.threads) >= 10 ? 6 + 3 + 4 + 1 : 6 + 2 + 4
        case .loopPerThread:
            // Boxes of 4 rows per loop when they fit, else one row per loop (LoopGroupLayout).
            let below = s.pool?.shared == true && width < LoopGroupLayout.poolBesideWidth ? 5 : 0
            let boxes = 2 + 4 * max(1, s.loops.count) + below
            return boxes <= maxHeight ? boxes : 2 + max(1, s.loops.count) + below
        case .asyncioMN:
            return MNLoopLayout.preferredHeight(threads: s.mnLoop?.threads.count ?? 0, width: width)
        case .threads:
            // As many rows of boxes as the threads need (the lag chart and the slow list keep their minimum).
            return ThreadsChartLayout.preferredHeight(threads: s.threads?.list.count ?? 0, width: width)
        }
    }
}
