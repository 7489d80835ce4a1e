import Foundation
import Telemetry
import Testing

/// Headless JSON of a loop that lacks figures (a real uvloop): `null`, never 0.
@Suite struct AbsentLoopFiguresSummaryTests {
    static func uvloopRun() -> [Snapshot] {
        (0...10).map { i in
            Snapshot(
                time: Double(i) / 10, sequence: UInt64(i), preset: "py-uvloop", presetTitle: "uvloop",
                model: .eventLoop,
                loops: [
                    LoopSnapshot(
                        id: 0, readyDepth: nil, maxReadyDepth: nil, timersPending: nil, tasksAlive: 3, jobsRun: nil,
                        slowCallbacks: 1, busyRatio: nil)
                ])
        }
    }

    @Test func absentLoopFiguresAreNullInTheJSONSummary() throws {
        let summary = try #require(RunSummary(Self.uvloopRun()))
        let json = summary.jsonText
        for key in ["jobsRun", "busyRatio", "maxReadyDepth"] {
            #expect(json.contains("\"\(key)\":null"), "\(key): \(json)")
        }
        let loop = try #require(summary.loops.first)
        #expect(loop.jobsRun == nil && loop.busyRatio == nil && loop.maxReadyDepth == nil)
        #expect(summary.table.contains("n/a"), "\(summary.table)")
    }

    @Test func presentLoopFiguresStayNumbers() throws {
        var run = Self.uvloopRun()
        for i in run.indices {
            run[i].loops[0].readyDepth = 2
            run[i].loops[0].maxReadyDepth = 5
            run[i].loops[0].jobsRun = 40
            run[i].loops[0].busyRatio = 0.5
        }
        let loop = try #require(RunSummary(run)?.loops.first)
        #expect(loop.jobsRun == 40 && loop.busyRatio == 0.5 && loop.maxReadyDepth == 5)
    }
}
