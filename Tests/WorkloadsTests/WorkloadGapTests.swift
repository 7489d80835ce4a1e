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
        @Test(arguments: SchedulerModel.allCases.filter(\.runsTaskSpecs)) func arrivalsPastTheCapAreCountedAsDropped(
            model: SchedulerModel
        )
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
            let hog = try #require(s.taskKinds.first { $0.kind == "hog" })
            #expect(quick.completed >= 10, "\(quick)")
            #expect(hog.completed >= 5 && hog.completed * 20 >= quick.completed, "\(hog) \(quick)")
            // Counted from the start of its run every figure would read ~1 ms.
            #expect(quick.p99Ms >= 15, "quick p99 \(quick.p99Ms) ms")
            if model == .eventLoop { #expect(quick.p50Ms >= 15, "quick p50 \(quick.p50Ms) ms") }
        }

        /// Gap 2: real socket failures are failures. The loopback server resets every other `flaky`
        /// connection (SO_LINGER 0: a real ECONNRESET) and answers `slow` after 30 ms, past its
        /// client's 5 ms timeout. No failure is a completion or a latency sample, none stays in flight.
        // Plain OS threads are left out: socket io is not available on model threads (the preset rejects it).
        @Test(arguments: SchedulerModel.allCases.filter { $0.runsTaskSpecs && $0 != .threads })
        func socketFailuresAreCountedByKindNeverAsCompletions(
            model: SchedulerModel
        ) throws {
            let p = try Self.preset(
                model,
                """
                [task.flaky]
                kind = "io"
                io = "socket"
                rate = 100
                duration_ms = 1
                reset_share = 0.5
                [task.slow]
                kind = "io"
                io = "socket"
                rate = 50
                duration_ms = 30
                timeout_ms = 5
                """)
            let s = try #require(try HeadlessRun.summary(preset: p, seconds: 1.5))
            let flaky = try #require(s.taskKinds.first { $0.kind == "flaky" })
            let slow = try #require(s.taskKinds.first { $0.kind == "slow" })
            let fe = try #require(flaky.errors)
            let se = try #require(slow.errors)
            // Every other request is reset: about as many resets as completions, nothing else failing.
            #expect(fe.reset >= 20 && flaky.completed >= 20, "flaky \(flaky)")
            #expect(fe.timeout == 0 && fe.other == 0, "flaky \(fe)")
            #expect(Double(fe.reset) >= 0.7 * Double(flaky.completed), "flaky \(flaky)")
            // Every slow request times out: none completes, none is left in flight for long.
            #expect(slow.completed == 0 && slow.p99Ms == 0, "slow \(slow)")
            #expect(se.timeout >= 20 && se.reset == 0 && se.other == 0, "slow \(se)")
            // Started = completed + failed + the few still in flight at the last sample.
            for k in [flaky, slow] {
                let failed = k.errors?.total ?? 0
                #expect(k.started >= k.completed + failed && k.started - k.completed - failed <= 10, "\(k)")
            }
        }

        @Test func failureFieldsNeedASocket() {
            #expect(
                throws: PresetError(
                    file: "gap.toml", line: 10,
                    message: #"task.nap.reset_share needs io = "socket" (only the loopback server can fail)"#)
            ) {
                try Self.preset(.eventLoop, "[task.nap]\nkind = \"io\"\nrate = 1\nreset_share = 0.5")
            }
            #expect(
                throws: PresetError(
                    file: "gap.toml", line: 11, message: "task.nap.timeout_ms must be between 0.1 and 60000")
            ) {
                try Self.preset(.eventLoop, "[task.nap]\nkind = \"io\"\nio = \"socket\"\nrate = 1\ntimeout_ms = 0")
            }
        }

        /// Gap 9: `offload = ["cpu"]` moves every piece of cpu work to the pool, chatty consumers' too.
        @Test func offloadedCPUWorkOfChattyConsumersRunsInThePool() throws {
            let p = try Self.preset(
                .eventLoop,
                """
                [task.chat]
                kind = "chatty"
                rate = 20
                messages = 10
                duration_ms = 1
                """, scheduler: "pool = 2\noffload = [\"cpu\"]")
            let s = try #require(try HeadlessRun.summary(preset: p, seconds: 1))
            let chat = try #require(s.taskKinds.first)
            #expect(chat.completed >= 5, "\(chat)")
            // 10 messages per round, each consumed by one to_thread job.
            #expect(
                s.totals.poolCompleted >= 10 * chat.completed,
                "pool \(s.totals.poolCompleted), rounds \(chat.completed)")
        }
    }
}
