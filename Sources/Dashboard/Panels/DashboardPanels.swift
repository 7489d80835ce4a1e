import Telemetry

// DashboardPanels: the talk's flowcharts, live — the single entry point of the panels.
//
// The shell (Shell.swift) owns the header, footer and overlays; the body between them is
// `DashboardPanels.draw`. It is a pure function of
//   (snapshot, history, view, code listings, rect) → cells in the grid,
// and changes nothing but the grid (GUIDE habit 10: collect, update, draw apart). The app
// loop appends each snapshot to a `PanelHistory`, the reducer changes a `PanelView`, and the
// frame calls `draw`.
//
// What goes where is `PanelPlan.make` (compact below 120×36, rich above). The flowchart is the
// model's: `FiberChart` for virtual/green threads, `LoopChart` for the event loop and loop per
// thread, `ThreadsChart` for plain OS threads. Around it, every model has lag (`LagPanel`), slow callbacks / blocking regions
// (`SlowPanel`, which also shows "dropped: N"), task kinds (`TasksPanel`), busy per worker
// (`BusyPanel`, rich), fibers by state (fiber models) and the legend. `c` swaps in the code
// pane (`CodePane`), Enter the details view of the selected worker or loop (`DetailsPanel`).
//
// Options considered and rejected:
// - Panels as objects keeping their own state between frames (scroll offsets, last values):
//   every frame would depend on the previous ones, which breaks replay and snapshot tests.
//   What needs the past lives in `PanelHistory`, an explicit value.
// - A retained widget tree with measure/arrange passes: more code than the handful of fixed
//   layouts here need; `Rect.split` plus one plan per density is enough and testable.
// - Colors alone for states: unreadable without color and under `--ascii`; every state is also
//   a word (RUN, spin, idle, PINNED, HANDOFF) or a number.

/// Draws the panels for one snapshot.
public enum DashboardPanels {
    /// Draws every panel of `snapshot` into `rect` of `grid` (clipped to `rect`). Pure: callable from any
    /// thread; reads its arguments and writes only `grid`.
    ///
    /// - `history`: recent snapshots (sparklines, slow list, details events); the app loop appends.
    /// - `view`: selection, code pane and details toggles; the reducer owns it.
    /// - `code`: the sync/async bodies of the current workload's task kinds for the code pane.
    public static func draw(
        into grid: inout Grid, rect: Rect, snapshot: Snapshot, history: PanelHistory, view: PanelView = PanelView(),
        code: [CodeListing] = []
    ) {
        grid.clipped(to: rect) { g in
            let plan = PanelPlan.make(for: rect, snapshot: snapshot, view: view)
            if !plan.banner.isEmpty, let limit = snapshot.memory?.limit {
                MemoryPanel.drawBanner(into: &g, rect: plan.banner, limit: limit)
            }
            if !plan.details.isEmpty {
                DetailsPanel.draw(into: &g, rect: plan.details, snapshot: snapshot, history: history, view: view)
                return
            }
            if !plan.flow.isEmpty {
                drawFlow(into: &g, rect: plan.flow, snapshot: snapshot, history: history, view: view, plan: plan)
            }
            if !plan.lag.isEmpty { LagPanel.draw(into: &g, rect: plan.lag, snapshot: snapshot, history: history) }
            if !plan.slow.isEmpty { SlowPanel.draw(into: &g, rect: plan.slow, snapshot: snapshot, history: history) }
            if !plan.tasks.isEmpty { TasksPanel.draw(into: &g, rect: plan.tasks, snapshot: snapshot, history: history) }
            if !plan.busy.isEmpty {
                BusyPanel.draw(into: &g, rect: plan.busy, snapshot: snapshot, history: history, view: view)
            }
            if !plan.fibers.isEmpty { FiberCountsPanel.draw(into: &g, rect: plan.fibers, counts: snapshot.fibers) }
            if !plan.taskCensus.isEmpty, let c = snapshot.taskCensus {
                TaskCensusPanel.draw(into: &g, rect: plan.taskCensus, census: c)
            }
            if !plan.events.isEmpty {
                EventsPanel.draw(into: &g, rect: plan.events, snapshot: snapshot, history: history)
            }
            if !plan.legend.isEmpty { LegendPanel.draw(into: &g, rect: plan.legend) }
            if !plan.memory.isEmpty, let m = snapshot.memory {
                MemoryPanel.draw(into: &g, rect: plan.memory, memory: m)
            }

            if !plan.code.isEmpty { CodePane.draw(into: &g, rect: plan.code, listings: code, view: view) }
            if snapshot.droppedEvents > 0 && plan.slow.isEmpty {
                // The slow list carries "dropped: N" in its last row; without it, the last row of the body does.
                let text = " dropped: \(Fmt.count(snapshot.droppedEvents)) "
                g.text(
                    at: Point(rect.maxX - DisplayWidth.of(text) - 1, rect.maxY - 1), text, style: PanelPalette.blocked)
            }
        }
    }

    static func drawFlow(
        into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory, view: PanelView,
        plan: PanelPlan
    ) {
        switch s.model {
        case .virtualThreads, .greenThreads:
            FiberChart.draw(
                into: &grid, rect: rect, snapshot: s, history: history, view: view, withFibers: plan.fibers.isEmpty)
        case .eventLoop:
            LoopChart.drawEventLoop(into: &grid, rect: rect, snapshot: s, view: view)
        case .loopPerThread:
            LoopChart.drawLoopGroup(into: &grid, rect: rect, snapshot: s, view: view)
        case .asyncioMN:
            MNLoopChart.draw(into: &grid, rect: rect, snapshot: s)
        case .threads:
            ThreadsChart.draw(into: &grid, rect: rect, snapshot: s)
        }
    }

    /// The worker (fiber models) or loop (loop models) index drawn at `point`, for mouse selection; nil when
    /// the point is on no worker or loop.
    public static func hitTest(_ point: Point, rect: Rect, snapshot s: Snapshot, view: PanelView) -> Int? {
        let plan = PanelPlan.make(for: rect, snapshot: s, view: view)
        guard !plan.flow.isEmpty, plan.flow.contains(point) else { return nil }
        switch s.model {
        case .virtualThreads, .greenThreads:
            let layout = FiberChartLayout.make(plan.flow, carriers: s.workers.count, withFibers: plan.fibers.isEmpty)
            if let map = layout.heatMap { return map.index(at: point) }
            return layout.carriers.firstIndex { $0.contains(point) }
        case .eventLoop:
            return EventLoopLayout.make(plan.flow, poolThreads: s.pool?.threadStates?.count, pool: s.pool != nil).loop
                .contains(point) ? 0 : nil
        case .loopPerThread:
            let layout = LoopGroupLayout.make(plan.flow, loops: s.loops.count, sharedPool: s.pool?.shared ?? false)
            for (i, (l, t)) in zip(layout.loops, layout.threads).enumerated()
            where l.contains(point) || t.contains(point) {
                return i
            }
            return nil
        case .asyncioMN:
            // The single loop's box selects loop 0 (the M:N threads are not loops).
            let layout = MNLoopLayout.make(plan.flow, threads: s.mnLoop?.threads.count ?? 0)
            return layout.loop.contains(point) ? 0 : nil
        case .threads:
            return nil  // threads come and go: there is no worker to select
        }
    }

    /// The legend lines for the help overlay: (style, text), one per color meaning.
    public static var legend: [(style: Style, text: String)] { PanelPalette.legend }
}
