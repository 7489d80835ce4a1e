import Telemetry
import Testing

@testable import Dashboard

/// What went wrong with a task kind shows next to its label, in the alarm colour, only when it did.
@Suite struct TaskKindsPanelTests {
    static func draw(_ kinds: [TaskKindStats]) -> Grid {
        var g = Grid(size: Size(60, 8))
        var s = Snapshot(time: 1, sequence: 1, preset: "p", presetTitle: "P", model: .eventLoop)
        s.taskKinds = kinds
        TasksPanel.draw(into: &g, rect: g.bounds, snapshot: s, history: PanelHistory())
        return g
    }

    @Test func droppedArrivalsShowInRed() {
        let g = Self.draw([
            TaskKindStats(kind: "web", started: 20, completed: 0, inFlight: 20, dropped: 950),
            TaskKindStats(kind: "disk", started: 5, completed: 5, dropped: 0),
        ])
        let lines = g.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.contains { $0.contains("web dropped 950") }, "\(g.text)")
        #expect(!lines.contains { $0.contains("disk dropped") }, "\(g.text)")
        #expect(g.cells.contains { $0.style == PanelPalette.blocked })
    }

    @Test func failedTasksShowInRedByKindWhenOneKind() {
        let g = Self.draw([
            TaskKindStats(kind: "web", started: 30, completed: 10, errors: TaskErrorCounts(reset: 12, timeout: 8)),
            TaskKindStats(kind: "api", started: 30, completed: 10, errors: TaskErrorCounts(timeout: 20)),
            TaskKindStats(kind: "disk", started: 5, completed: 5, errors: TaskErrorCounts()),
        ])
        let lines = g.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.contains { $0.contains("web err 20 ") }, "\(g.text)")
        #expect(lines.contains { $0.contains("api err 20 timeout") }, "\(g.text)")
        #expect(!lines.contains { $0.contains("disk err") }, "\(g.text)")
        #expect(g.cells.contains { $0.style == PanelPalette.blocked })
    }
}
