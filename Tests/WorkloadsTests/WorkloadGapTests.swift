import Foundation
import Telemetry
import Testing

@testable import Workloads

/// Issue 13's workload gaps, each on every model that runs a workload, against a real runtime.
extension HeadlessTests {
    @Suite(.timeLimit(.minutes(3))) struct WorkloadGapTests {
        static func preset(_ model: SchedulerModel, _ tasks: String, scheduler: String = "") throws -> Preset {
            try Preset.parse(
                """
                name = "gap"
                title = "gap"
                explain = "gap"
                [scheduler]
                model = "\(model.rawValue)"
                \(scheduler)
                \(tasks)
                """, file: "gap.toml")
        }

        /// Gap 3: above the in-flight cap arrivals are dropped, and every one is counted.
        @Test(arguments: SchedulerModel.allCases) func arrivalsPastTheCapAreCountedAsDropped(model: SchedulerModel)
            throws
        {
            let p = try Self.preset(
                model,
                """
                [task.slow]
                kind = "io"
                rate = 1000
                duration_ms = 20000
                max_in_flight = 20
                """)
            let s = try #require(try HeadlessRun.summary(preset: p, seconds: 1))
            let k = try #require(s.taskKinds.first)
            // 1000 arrivals a second for about a second; only 20 fit, none completes (20 s sleeps).
            #expect(k.started == 20, "\(k)")
            let dropped = try #require(k.dropped)
            #expect(dropped >= 500 && dropped + k.started <= 1200, "dropped \(dropped)")
        }

        /// Gap 4: a population task is due the moment its predecessor finished, so the wait behind the
        /// others in the run queue counts. One thread, a 1 ms task behind a 20 ms one: each `quick`
        /// replacement waits ~20 ms for `hog` before it runs.
        @Test(arguments: [SchedulerModel.eventLoop, .greenThreads])
        func populationLatencyCountsTheRequeueWait(model: SchedulerModel) throws {
            let p = try Self.preset(
                model,
                """
                [task.quick]
                kind = "cpu"
                population = 1
                duration_ms = 1
                [task.hog]
                kind = "cpu"
                population = 1
                duration_ms = 20
                """)
            let s = try #require(try HeadlessRun.summary(preset: p, seconds: 1))
            let quick = try #require(s.taskKinds.first { $0.kind == "quick" })
            #expect(quick.completed >= 10, "\(quick)")
            // Counted from the start of its run it would read ~1 ms.
            #expect(quick.p50Ms >= 15, "quick p50 \(quick.p50Ms) ms")
        }
    }
}
