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
        // The M:N loop's heartbeat lag: absent in some frames (a section without it decodes it as nil).
        if i % 4 != 3 {
            s.mnLoop?.lag = LagSummary(
                p50Ms: 0.1 * Double(i), p99Ms: 1.5 + Double(i), maxMs: 9 + Double(i), slotP99Ms: 2,
                recentMs: Double(i % 3),
                buckets: i % 2 == 0 ? [n, 2 * n, 3, 0, 0, 0, 0, 0, 0, 1] : [])
        }
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
        // The M:N loop's heartbeat lag rides in its own section: present where it was, nil where it was not.
        #expect(decoded.frames[10].mnLoop?.lag?.p99Ms == 11.5)
        #expect(decoded.frames[3].mnLoop != nil && decoded.frames[3].mnLoop?.lag == nil)
    }

    /// A frame written before the lag section existed (the M:N section alone) decodes the lag as nil.
    @Test func aFrameWithoutTheLagSectionDecodesItAsNil() throws {
        var f = Self.frame(2, section: true)
        f.mnLoop?.lag = nil
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        enc.snapshot(f, into: &bytes)
        let decoded = try RecordingReader.decode(bytes, name: "mn-old")
        let mn = try #require(decoded.frames.first?.mnLoop)
        #expect(mn.lag == nil && mn.invariant.count == 2)
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
