import Foundation
import Telemetry
import Testing

@testable import Recording

/// The asyncio invariant (issue 15): the M:N loop's snapshot section round-trips, and recordings made
/// before it decode with it nil (the panel's "n/a").
@Suite struct MNLoopSectionTests {
    static func frame(_ i: Int, section: Bool) -> Snapshot {
        var s = Snapshot(
            time: Double(i) / 10, sequence: UInt64(i), preset: "asyncio-mn", presetTitle: "invariant",
            model: .asyncioMN, loops: [LoopSnapshot(id: 0, jobsRun: UInt64(100 * i), busyRatio: 0.1)],
            taskKinds: i % 3 == 0 ? [TaskKindStats(kind: "k", started: 3, dropped: UInt64(i))] : [])
        guard section else { return s }
        let n = UInt64(i)
        var threads: [MNThreadSnapshot] = []
        for t in 0..<4 {
            let u = UInt64(t)
            var x = MNThreadSnapshot(id: t, state: MNThreadState.allCases[(i + t) % 4])
            x.runs = 1000 * n + u
            x.runsInInterval = i == 0 ? nil : 10 + u
            x.stealOps = n * u
            x.stolenIn = 3 * n * u
            x.stolenOut = 2 * n
            x.parks = n
            x.queueDepth = (i + t) % 5
            x.queuePeak = (i + t) % 7
            x.maxQueueDepth = 9
            x.busyRatio = Double(t) / 7
            x.topVictim = t == 0 ? nil : (t + 1) % 4
            x.topVictimJobs = n * u
            threads.append(x)
        }
        let mn = InvariantSnapshot(
            runtime: "mn-loop", threads: 4, rounds: n, increments: 200 * n, lostUpdates: 17 * n, cacheFills: 33 * n,
            duplicateFills: n / 2)
        let one = InvariantSnapshot(runtime: "loop", threads: 1, rounds: n, increments: 200 * n, cacheFills: 32 * n)
        s.mnLoop = MNLoopSnapshot(
            threads: threads, injectorDepth: i % 2, tasksAlive: 9 - i % 3, invariant: [mn, one])
        return s
    }

    @Test func theSectionRoundTripsFrameByFrame() throws {
        // A frame without the section in the middle: deltas restart from a default section after it.
        let frames = (0..<12).map { Self.frame($0, section: $0 != 5) }
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in frames { enc.snapshot(f, into: &bytes) }
        let decoded = try RecordingReader.decode(bytes, name: "mn")
        #expect(decoded.frames == frames)
        #expect(decoded.frames[5].mnLoop == nil)
        #expect(decoded.frames[11].mnLoop?.invariant[0].lostUpdates == 187)
    }

    @Test(arguments: [UInt16(1), 2])
    func recordingsFromBeforeTheSectionDecodeItAsNil(_ version: UInt16) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/small-v\(version).qvrec")
        let decoded = try RecordingReader.decode(try [UInt8](Data(contentsOf: url)), name: url.path)
        #expect(!decoded.frames.isEmpty)
        #expect(decoded.frames.allSatisfy { $0.mnLoop == nil && $0.model != .asyncioMN })
    }
}
