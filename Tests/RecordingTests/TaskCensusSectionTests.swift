import Foundation
import Telemetry
import Testing

@testable import Recording

/// A CPython program's task census (issue 16): `Snapshot.taskCensus` survives a recording in its tagged section,
/// frames without one write none, and recordings made before it (the golden files) decode it as nil.
@Suite struct TaskCensusSectionTests {
    static func frames() -> [Snapshot] {
        (0..<10).map { i in
            var s = Snapshot(
                time: 1 + Double(i) / 10, sequence: UInt64(i), preset: "py-asyncio", presetTitle: "CPython asyncio",
                model: .eventLoop)
            s.loops = [LoopSnapshot(id: 0, readyDepth: i, tasksAlive: 6)]
            if i != 3 {  // one frame without a census, between two that have one
                s.taskCensus = TaskCensus(
                    running: i % 2, ready: i, sleep: 4 - i % 3, socket: 1, future: i / 4, lock: i == 5 ? 1 : 0,
                    queue: 9 - i, toThread: i % 3)
            }
            return s
        }
    }

    static func encode(_ frames: [Snapshot]) -> [UInt8] {
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in frames { enc.snapshot(f, into: &bytes) }
        return bytes
    }

    @Test func theCensusRoundTrips() throws {
        let frames = Self.frames()
        let decoded = try RecordingReader.decode(Self.encode(frames), name: "census")
        #expect(decoded.frames == frames)
        #expect(decoded.frames[3].taskCensus == nil)
        #expect(decoded.frames[5].taskCensus?.lock == 1)
        #expect(decoded.frames[9].taskCensus?.queue == 0)
    }

    @Test func framesWithoutACensusWriteNoSection() throws {
        var plain = Self.frames()
        for i in plain.indices { plain[i].taskCensus = nil }
        #expect(Self.encode(plain).count < Self.encode(Self.frames()).count)
        #expect(try RecordingReader.decode(Self.encode(plain), name: "plain").frames == plain)
    }

    @Test(arguments: [UInt16(1), 2])
    func recordingsMadeBeforeItDecodeTheCensusAsNil(_ version: UInt16) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/small-v\(version).qvrec")
        let decoded = try RecordingReader.decode(try [UInt8](Data(contentsOf: url)), name: url.path)
        #expect(!decoded.frames.isEmpty)
        #expect(decoded.frames.allSatisfy { $0.taskCensus == nil })
    }
}
