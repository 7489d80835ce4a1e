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
// These tests crash the test process on that code (in a release build: `swift test -c release`);
// on the fixed code they also check every count arrived.
extension HeadlessTests {
    @Suite(.timeLimit(.minutes(2))) struct FiberSafeStatisticsTests {
        /// The reported preset: 64 carriers, a fan-out of 64 one-millisecond CPU children 20 times a
        /// second, a 1 ms heartbeat; sampled at 100 Hz (the sampler contends for every lock).
        static let manyCarriers = """
            name = "vt64"
            title = "64 carriers"
            explain = "issue 14, defect 0"

            [scheduler]
            model = "virtual-threads"
            carriers = 64
            steal = "half"
            heartbeat_ms = 1

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
            let lag = HeartbeatLag(periodNanos: 100_000)
            let fibers = 256
            let rounds = 200
            let stop = StopFlag()
            let sampler = Thread {
                while !stop.isSet {
                    _ = stats.snapshot(now: Double(Monotonic.now()) / 1e9)
                    _ = lag.summary()
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
                        let t = Monotonic.now()
                        lag.record(dueNanos: t, nowNanos: t)
                        Scheduler.yield()
                    }
                }
            }
            for h in handles { h.join() }
            stop.set()
            while !sampler.isFinished { Thread.sleep(forTimeInterval: 0.005) }
            #expect(stats.started == UInt64(fibers * rounds))
            #expect(stats.completed == UInt64(fibers * rounds))
            #expect(lag.summary().buckets.reduce(0, +) == UInt64(fibers * rounds))
        }
    }
}
