import Foundation
import Telemetry
import Testing

@testable import Recording

/// gevent hub figures (issue 16): `LoopSnapshot.gevent` and `Snapshot.tasksUncounted` survive a recording in
/// their tagged section, and recordings made before it (the golden files) decode them as nil: "n/a", never 0.
@Suite struct GeventHubSectionTests {
    static func hubFrames() -> [Snapshot] {
        (0..<12).map { i in
            var s = Snapshot(
                time: 1 + Double(i) / 10, sequence: UInt64(i), preset: "py-gevent", presetTitle: "gevent",
                model: .eventLoop)
            var hub = LoopSnapshot(
                id: 0, readyDepth: 2, maxReadyDepth: 5, timersPending: nil, tasksAlive: nil, jobsRun: nil,
                slowCallbacks: UInt64(i / 3), busyRatio: nil)
            if i != 4 {  // one frame whose hub figures are missing, between two that have them
                hub.gevent = GeventHubSnapshot(
                    switches: UInt64(400 * i), switchesPerSecond: i == 0 ? nil : 4000 + Double(i) * 0.5,
                    monitorReports: i < 6 ? nil : UInt64(i - 6),
                    lastReport: i < 8
                        ? nil
                        : GeventBlockingReport(
                            time: 1.7 + Double(i / 10), name: i < 10 ? "disk (py-gevent.py:69)" : "hash (x.py:1)",
                            atLeastMs: 20))
            }
            // An asyncio loop beside it: no hub figures of its own.
            s.loops = [hub, LoopSnapshot(id: 1)]
            if i % 3 != 2 { s.tasksUncounted = true }
            if i == 11 { s.tasksUncounted = false }
            s.taskKinds = [TaskKindStats(kind: "web", completed: UInt64(i))]
            return s
        }
    }

    @Test func geventHubFiguresRoundTrip() throws {
        let frames = Self.hubFrames()
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in frames { enc.snapshot(f, into: &bytes) }
        let decoded = try RecordingReader.decode(bytes, name: "gevent")
        #expect(decoded.frames == frames)
        #expect(decoded.frames[4].loops[0].gevent == nil)
        #expect(decoded.frames[9].loops[0].gevent?.lastReport?.name == "disk (py-gevent.py:69)")
        #expect(decoded.frames[0].taskCounts == nil)
        #expect(decoded.frames[2].taskCounts != nil)
    }

    @Test func framesWithoutAHubWriteNoSection() throws {
        var plain = Self.hubFrames()
        for i in plain.indices {
            plain[i].tasksUncounted = nil
            plain[i].loops[0].gevent = nil
        }
        func size(_ frames: [Snapshot]) -> Int {
            var enc = RecordEncoder()
            var bytes = enc.start(Synthetic.metadata)
            for f in frames { enc.snapshot(f, into: &bytes) }
            return bytes.count
        }
        #expect(size(plain) < size(Self.hubFrames()))
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in plain { enc.snapshot(f, into: &bytes) }
        #expect(try RecordingReader.decode(bytes, name: "plain").frames == plain)
    }

    @Test(arguments: [UInt16(1), 2])
    func recordingsMadeBeforeItDecodeHubFiguresAsNil(_ version: UInt16) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/small-v\(version).qvrec")
        let decoded = try RecordingReader.decode(try [UInt8](Data(contentsOf: url)), name: url.path)
        #expect(!decoded.frames.isEmpty)
        #expect(decoded.frames.allSatisfy { $0.tasksUncounted == nil && $0.loops.allSatisfy { $0.gevent == nil } })
    }
}
