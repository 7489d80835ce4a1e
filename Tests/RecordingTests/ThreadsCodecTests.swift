import Foundation
import Telemetry
import Testing

@testable import Recording

/// The threads model's snapshot section: round trip, deltas against a frame without it, and old frames.
@Suite struct ThreadsCodecTests {
    static func frame(_ i: Int, threads: Bool) -> Snapshot {
        var s = Snapshot(time: Double(i) / 10, sequence: UInt64(i), preset: "threads", model: .threads)
        s.taskKinds = [TaskKindStats(kind: "web", started: UInt64(10 * i), completed: UInt64(9 * i))]
        guard threads else { return s }
        let states = ThreadState.allCases
        var list: [ThreadSnapshot] = []
        for k in 0..<(3 + i % 4) {
            let state: ThreadState = states[(k + i) % states.count]
            let kind: String? = k % 2 == 0 ? "web" : nil
            let busy: Double? = i == 0 ? nil : 0.25
            let ms: Double = Double(k) * 1.5 + Double(i)
            list.append(ThreadSnapshot(id: k * 2, state: state, kind: kind, stateMs: ms, busyRatio: busy))
        }
        s.threads = ThreadsSnapshot(
            mode: i % 5 == 0 ? "pool" : "per-task", capacity: 2000, alive: list.count + 100, peakRecent: 120 + i,
            peak: 300, created: UInt64(1000 * i), createdPerSecond: i == 0 ? nil : 412.5, createFailed: UInt64(i / 3),
            lastCreateError: i >= 3 ? 11 : nil, refusedAtCap: UInt64(i), running: 2, idle: i % 5 == 0 ? 1 : 0,
            blocked: list.count - 2,
            blockedByState: i % 2 == 0 ? ["sleep": 1 + i % 3] : ["sleep": 1 + i % 3, "read": 1],
            queueDepth: i % 5 == 0 ? i : nil,
            busyThreads: i == 0 ? nil : 1.75, list: list)
        return s
    }

    @Test func threadsFramesRoundTripAmongFramesWithout() throws {
        // Frames with and without the section, interleaved, so deltas run against an absent previous section too.
        let frames = (0..<30).map { Self.frame($0, threads: $0 % 7 != 3) }
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in frames { enc.snapshot(f, into: &bytes) }
        let decoded = try RecordingReader.decode(bytes, name: "threads")
        #expect(decoded.frames == frames)
        #expect(decoded.frames[3].threads == nil && decoded.frames[4].threads?.list.count == 3 + 4 % 4)
    }

    /// A frame without the section encodes exactly as before it existed (old readers and golden files agree).
    @Test func aFrameWithoutThreadsHasNoNewBytes() {
        var a = RecordEncoder()
        var b = RecordEncoder()
        var withNil = a.start(Synthetic.metadata)
        var plain = b.start(Synthetic.metadata)
        let s = Self.frame(1, threads: false)
        a.snapshot(s, into: &withNil)
        var copy = s
        copy.threads = nil
        b.snapshot(copy, into: &plain)
        #expect(withNil == plain)
        #expect(!s.taskKinds.isEmpty)
    }
}
