import Foundation
import Runtime
import Telemetry
import Testing

@testable import Workloads

// Issue 14, defect 0: the shared statistics (`KindStats`, the heartbeat's lag recorder) are written
// by fibers that migrate between carriers across every park and read by a sampler thread. Before the
// fix they sat behind `Synchronization.Mutex`, whose owner tid the optimizer read through a
// thread-local address computed before `Scheduler.sleep` and reused after it, on another carrier; a
// contended unlock then trapped ("Call to unlock Mutex on a thread which hasn't acquired the lock").
// The first test crashed the test process on that code in a release build (`swift test -c release
// -Xswiftc -enable-testing`; only the optimizer hoists the address) — by chance, as the crash needs a
// migration and a sampler queued in the kernel at once. The second checks every count arrives.
extension HeadlessTests {
    @Suite(.timeLimit(.minutes(2))) struct FiberSafeStatisticsTests {
        /// The reported preset: 64 carriers, a fan-out of 64 one-millisecond CPU children 20 times a
        /// second; sampled at 100 Hz (the sampler contends for every lock). The heartbeat ticks every
        /// 0.1 ms (the reported 1 ms crashed the old code in one of two 5 s headless runs on a loaded machine; at
        /// 0.1 ms ten times as many ticks meet the sampler: one of four 3 s runs crashed in a quiet one).
        static let manyCarriers = """
            name = "vt64"
            title = "64 carriers"
            explain = "issue 14, defect 0"

            [scheduler]
            model = "virtual-threads"
            carriers = 64
            steal = "half"
            heartbeat_ms = 0.1

            [task.burst]
            kind = "fanout"
            rate = 20
            children = 64
            child = "cpu"
            duration_ms = 1
            """

        @Test func sixtyFourCarriersSampledAtHundredHertzRunToTheEnd() throws {
            let preset = try Preset.parse(Self.manyCarriers, file: "vt64.toml")
            let snapshots = try HeadlessRun.collect(preset: preset, seconds: 3, rate: 100)
            let last = try #require(snapshots.last)
            let burst = try #require(last.taskKinds.first { $0.kind == "burst" })
            #expect(burst.completed > 0, "the fan-out ran")
            #expect(last.lag.buckets.reduce(0, +) > 100, "the heartbeat recorded its ticks")
        }

        /// The statistics alone: 64 carriers, 256 fibers that park (and so migrate) between every
        /// record, a plain thread reading at 100 Hz. Every begin/end and every tick must be counted.
        @Test func statisticsSurviveMigratingWritersAndASampler() throws {
            let scheduler = try Scheduler(.init(carriers: 64))
            defer { scheduler.shutdown() }
            let stats = KindStats(name: "k", kind: .io)
            let lag = SharedLagRecorder(period: .microseconds(100))
            lag.start(at: Monotonic.now())
            let fibers = 256
            let rounds = 60
            let stop = StopFlag()
            let sampler = Thread {
                while !stop.isSet {
                    _ = stats.snapshot(now: Double(Monotonic.now()) / 1e9)
                    _ = lag.summary(resetRecent: true)
                    Thread.sleep(forTimeInterval: 0.01)
                }
            }
            sampler.start()
            let handles = (0..<fibers).map { i in
                scheduler.spawn(name: "w\(i)") {
                    for r in 0..<rounds {
                        stats.begin()
                        Scheduler.sleep(nanoseconds: UInt64(50_000 + (i * 7 + r * 13) % 200_000))
                        stats.end(latencyNanos: 1_000_000)
                        lag.tick(now: Monotonic.now())
                        Scheduler.yield()
                    }
                }
            }
            for h in handles { h.join() }
            stop.set()
            while !sampler.isFinished { Thread.sleep(forTimeInterval: 0.005) }
            #expect(stats.started == UInt64(fibers * rounds))
            #expect(stats.completed == UInt64(fibers * rounds))
            #expect(lag.summary(resetRecent: false).ticks == UInt64(fibers * rounds))
        }
    }
}
