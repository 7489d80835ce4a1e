import Foundation
import Telemetry
import Testing

/// gevent hub figures (issue 16) in the headless JSON: numbers for a hub, `null` for every other loop.
@Suite struct GeventHubSummaryTests {
    static func run(hub: Bool) -> [Snapshot] {
        (0...10).map { i in
            var loop = LoopSnapshot(
                id: 0, readyDepth: 1, maxReadyDepth: 3, timersPending: nil, tasksAlive: nil, jobsRun: nil,
                busyRatio: nil)
            if hub {
                loop.gevent = GeventHubSnapshot(
                    switches: 1000 + 300 * UInt64(i), switchesPerSecond: i == 0 ? nil : 3000,
                    monitorReports: UInt64(i / 4),
                    lastReport: i < 4
                        ? nil : GeventBlockingReport(time: 0.4, name: "disk (py-gevent.py:69)", atLeastMs: 20))
            }
            return Snapshot(
                time: Double(i) / 10, sequence: UInt64(i), preset: "py-gevent", presetTitle: "gevent",
                model: .eventLoop,
                loops: [loop])
        }
    }

    @Test func aHubsSwitchesAndMonitorReportsAreInTheJSON() throws {
        let summary = try #require(RunSummary(Self.run(hub: true)))
        let loop = try #require(summary.loops.first)
        #expect(loop.greenletSwitches == 4000)
        #expect(loop.greenletSwitchesPerSecond == 3000)  // 3000 switches over the run's 1 s
        #expect(loop.geventMonitorReports == 2)
        #expect(loop.geventMonitorLastCulprit == "disk (py-gevent.py:69)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(summary.jsonText.utf8)) as? [String: Any])
        let json = try #require((object["loops"] as? [[String: Any]])?.first)
        #expect(json["greenletSwitches"] as? Int == 4000)
        #expect(json["geventMonitorReports"] as? Int == 2)
    }

    @Test func otherLoopsHaveNullHubFigures() throws {
        let json = try #require(RunSummary(Self.run(hub: false))).jsonText
        for key in [
            "greenletSwitches", "greenletSwitchesPerSecond", "geventMonitorReports", "geventMonitorLastCulprit",
        ] {
            #expect(json.contains("\"\(key)\":null"), "\(key): \(json)")
        }
    }
}
