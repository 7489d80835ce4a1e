import Foundation
import Testing

@testable import Telemetry

@Suite struct SnapshotTests {
    @Test func roundTripsThroughJSON() throws {
        var s = Snapshot(time: 1.5, sequence: 3, preset: "vt", presetTitle: "Virtual threads", model: .virtualThreads)
        s.workers = [WorkerSnapshot(id: 0, runs: 10, queueDepth: 2)]
        s.events = [RuntimeEvent(time: 1.4, kind: .steal, worker: 1, other: 0, count: 3)]
        let data = try JSONEncoder().encode(s)
        let back = try JSONDecoder().decode(Snapshot.self, from: data)
        #expect(back == s)
        #expect(SchedulerModel.virtualThreads.usesFibers)
        #expect(!SchedulerModel.eventLoop.usesFibers)
    }
}
