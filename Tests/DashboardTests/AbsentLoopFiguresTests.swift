import Telemetry
import Testing

@testable import Dashboard

/// A real Python loop may not expose a figure (uvloop has no ready queue or timers, and its busy share
/// and jobs are not measured; gevent's hub has no task census): the screen says "n/a", never 0.
@Suite struct AbsentLoopFiguresTests {
    static func uvloopLike() -> Snapshot {
        var s = PanelFixtures.eventLoop(5, pool: false)
        s.loops[0].readyDepth = nil
        s.loops[0].maxReadyDepth = nil
        s.loops[0].readyPeak = nil
        s.loops[0].timersPending = nil
        s.loops[0].tasksAlive = nil
        s.loops[0].jobsRun = nil
        s.loops[0].busyRatio = nil
        return s
    }

    @Test(arguments: [Size(80, 24), Size(160, 50)])
    func aLoopWithoutAReadyQueueShowsNAForEachMissingFigure(size: Size) throws {
        let text = FigureLabelTests.render(Self.uvloopLike(), size).text
        let lines = text.split(separator: "\n").map(String.init)
        // The loop box's ready bar: the cell of a row that starts with "ready " (not "ready → running").
        let ready = lines.flatMap { $0.split(separator: "│").map(String.init) }.filter {
            $0.hasPrefix(" ready ") && !$0.contains("→")
        }
        #expect(!ready.isEmpty, "\(text)")
        for l in ready { #expect(l.contains("n/a") && !l.contains(" 0 "), "\(l)") }
        let timers = lines.filter { $0.contains("timers ") }
        #expect(!timers.isEmpty, "\(text)")
        for l in timers { #expect(l.contains("timers n/a") && !l.contains("tasks 0"), "\(l)") }
        #expect(lines.contains { $0.contains("busy n/a") }, "\(text)")
        #expect(!lines.contains { $0.contains("jobs 0") }, "\(text)")
        if size.width >= 160 { #expect(lines.contains { $0.contains("jobs n/a") }, "\(text)") }
    }

    @Test func theDetailsPanelSaysNAForEachMissingLoopFigure() {
        let rows = DetailsPanel.loopCounters(Self.uvloopLike().loops[0], arrow: "→")
        let values = Dictionary(rows.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        for label in ["busy", "ready queue", "timers pending", "tasks alive", "jobs run"] {
            #expect(values[label] == "n/a", "\(label): \(values[label] ?? "missing")")
        }
    }
}
