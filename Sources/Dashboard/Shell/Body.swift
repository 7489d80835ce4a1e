import Telemetry

// The body between header and footer.
//
// Without a snapshot it says why (no runtime attached, or waiting for the first snapshot).
// With one, it draws the panels (Panels/DashboardPanels.swift): the talk's flowchart for the
// snapshot's model, lag, slow callbacks, task kinds, and the code pane / details view that
// `state.panel` asks for.

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
        DashboardPanels.draw(
            into: &grid, rect: rect, snapshot: s, history: data.history, view: state.panel, code: data.code)
    }
}
