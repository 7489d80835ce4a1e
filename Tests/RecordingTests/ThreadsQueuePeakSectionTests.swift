import Foundation
import Telemetry
import Testing

@testable import Recording

/// The threads model's pool queue peak (issue 15, wave 3) rides in a tagged section of its own: it round-trips,
/// and a frame without it (per-task mode, or a recording made before it) decodes it as nil (n/a).
@Suite struct ThreadsQueuePeakSectionTests {
    static func frame(_ i: Int, peak: Int?) -> Snapshot {
        var t = ThreadsSnapshot(mode: "pool", capacity: 2, alive: 2, queueDepth: 3 * i)
        t.queuePeak = peak
        return Snapshot(time: Double(i) / 10, sequence: UInt64(i), preset: "p", model: .threads, threads: t)
    }

    @Test func thePeakRoundTripsAndItsAbsenceIsNil() throws {
        let frames = (0..<8).map { Self.frame($0, peak: $0 == 4 ? nil : 5 * $0 + 1) }
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in frames { enc.snapshot(f, into: &bytes) }
        let decoded = try RecordingReader.decode(bytes, name: "peak")
        #expect(decoded.frames == frames)
        #expect(decoded.frames[4].threads?.queuePeak == nil && decoded.frames[4].threads?.queueDepth == 12)
        #expect(decoded.frames[7].threads?.queuePeak == 36)
    }
}
