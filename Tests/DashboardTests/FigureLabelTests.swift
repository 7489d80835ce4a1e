import Telemetry
import Testing

@testable import Dashboard

/// Each figure is shown under the name of what it measures (docs/figures.md).
@Suite struct FigureLabelTests {
    static func render(_ s: Snapshot, _ size: Size = Size(160, 50)) -> Grid {
        var h = PanelHistory()
        h.append(s)
        return PanelSnapshotTests.render(size, s, h)
    }

    /// The line of `text` that contains `label` (the first), or nil.
    static func line(_ text: String, containing label: String) -> String? {
        text.split(separator: "\n").map(String.init).first { $0.contains(label) }
    }

    /// "ready → running" shows the runtime's ready → running delay; the heartbeat's lateness is "heartbeat lag".
    @Test(arguments: [Size(80, 24), Size(160, 50)])
    func readyToRunningIsNotTheHeartbeat(size: Size) throws {
        for model in [SchedulerModel.virtualThreads, .eventLoop] {
            var s = model.usesFibers ? PanelFixtures.virtualThreads(5) : PanelFixtures.eventLoop(5, pool: false)
            s.lag = LagSummary(p50Ms: 4.25, p99Ms: 6.75, maxMs: 23.5, slotP99Ms: 7.25, recentMs: 5.5)
            s.readyDelay = DelaySummary(samples: 900, sampling: 64, p50Ms: 0.032, p99Ms: 0.51, maxMs: 1.75)
            if !s.loops.isEmpty { s.loops[0].lag = s.lag }
            let lines = Self.render(s, size).text.split(separator: "\n").map(String.init)
            // Figure lines, not the panel's title ("Heartbeat lag · ready → running").
            let ready = lines.filter { $0.contains("ready → running") && !$0.contains("Heartbeat lag ·") }
            #expect(!ready.isEmpty, "\(model) \(size)")
            for l in ready {
                #expect(l.contains("0.51") && !l.contains("6.8"), "\(model) \(size): \(l)")
            }
            let heartbeat = lines.filter { $0.contains("heartbeat") }
            #expect(heartbeat.contains { $0.contains("6.8") }, "\(model) \(size): \(heartbeat)")
            #expect(!heartbeat.contains { $0.contains("0.51") }, "\(model) \(size): \(heartbeat)")
        }
    }

    /// A source without the figure (a format-1 recording) shows "n/a", never a zero.
    @Test func readyToRunningWithoutDataIsNA() throws {
        var s = PanelFixtures.virtualThreads(5)
        s.readyDelay = nil
        let ready = try #require(Self.line(Self.render(s).text, containing: "ready → running  "))
        #expect(ready.contains("n/a"), "\(ready)")
    }
}
