import Foundation
import Runtime
import Telemetry
import Testing

@testable import Workloads

/// asyncio-mn's gaps on screen (issue 15, wave 3): the M:N loop's own heartbeat lag, and the code pane's listings
/// of the read-modify-write both loops run.
@Suite(.timeLimit(.minutes(2))) struct MNLoopGapsTests {
    /// The M:N loop's heartbeat task ticks the lag recorder about once per `heartbeat_ms` (1 ms): after 0.6 s of
    /// the shipped preset its lag summary holds many ticks, measured on the M:N loop (its own recorder,
    /// not a copy of the single loop's).
    @Test func theMNLoopHasAHeartbeatOfItsOwn() throws {
        let preset = try Shipped.preset("asyncio-mn")
        let model = try InvariantModel(preset: preset, sessionStart: Monotonic.now())
        try model.start()
        var last: Snapshot? = nil
        let start = Monotonic.now()
        var seq: UInt64 = 0
        while Monotonic.now() - start < 600_000_000 {
            Work.sleepThread(nanos: 50_000_000)
            last = model.sample(time: Double(Monotonic.now() - start) / 1e9, sequence: seq)
            seq += 1
        }
        let direct = model.mnHeartbeat.summary(resetRecent: false)
        model.stop()
        let s = try #require(last)
        let lag = try #require(s.mnLoop?.lag, "the M:N section has no heartbeat lag")
        let ticks = lag.buckets.reduce(0, +)
        // ~600 slots; a loaded machine (2 cores, other builds) delays ticks, and a late tick skips slots: > 50.
        #expect(ticks > 50, "the M:N heartbeat ticked \(ticks) times in 0.6 s at a 1 ms period")
        // It is the M:N heartbeat's recorder, not the single loop's (which `Snapshot.lag` carries).
        #expect(direct.ticks >= ticks && direct.ticks > 0)
    }

    /// The code pane's listings of asyncio-mn are the real steps and task. Regenerate InvariantSource.swift after
    /// changing one: the `// BEGIN invariant NAME` … `// END invariant NAME` sections of InvariantModel.swift,
    /// de-indented by four spaces.
    @Test(arguments: ["counter", "cache", "task"]) func theListingsAreTheRealSource(name: String) throws {
        let section = try #require(TaskSourceTests.section("Models/InvariantModel.swift", "invariant", name))
        let listing = [
            "counter": InvariantSource.counter, "cache": InvariantSource.cache, "task": InvariantSource.task,
        ]
        #expect(listing[name] == section)
        // The steps have no await between their read and write; the task awaits between steps.
        let code = section.split(separator: "\n").map { $0.components(separatedBy: "//")[0] }.joined(separator: "\n")
        #expect(name == "task" ? code.contains("await runtime.yieldNow()") : !code.contains("await"))
    }
}
