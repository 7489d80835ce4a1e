import Foundation
import Telemetry
import Testing

@testable import Recording

/// Memory per parked task (issue 15): `Snapshot.memory` survives a recording, and recordings made before it
/// (the golden files) decode it as nil: "n/a", never 0.
@Suite struct MemorySectionTests {
    @Test func memoryFiguresRoundTripWithAndWithoutTaskKindFigures() throws {
        var frames = Synthetic.busyFrames(count: 60, seed: 7)
        for i in frames.indices {
            // Some frames with figures, some with none at all, some partly measured, one with a limit; half of them
            // without task-kind figures, so the forced empty task-kind extension is exercised too.
            if i % 5 == 4 { continue }
            if i % 2 == 0 {
                for k in frames[i].taskKinds.indices {
                    frames[i].taskKinds[k].dropped = nil
                    frames[i].taskKinds[k].errors = nil
                }
            }
            frames[i].memory = MemorySnapshot(
                rssBytes: 100_000_000 + UInt64(i) * 4096, baselineRSSBytes: 29_000_000,
                parkedTasks: i % 3 == 0 ? nil : 10_000 + i, bytesPerParked: i % 3 == 0 ? nil : 8656.8 + Double(i),
                stackResidentBytesPerStack: 8192, stacksMeasured: 256, stacksMapped: 10_022 + i, parkTarget: 10_000,
                limit: i == 30 ? "file descriptors: RLIMIT_NOFILE 300 reached" : nil)
        }
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in frames { enc.snapshot(f, into: &bytes) }
        let decoded = try RecordingReader.decode(bytes, name: "memory")
        #expect(decoded.frames == frames)
    }

    @Test(arguments: [UInt16(1), 2])
    func recordingsMadeBeforeItDecodeMemoryAsNil(_ version: UInt16) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/small-v\(version).qvrec")
        let decoded = try RecordingReader.decode(try [UInt8](Data(contentsOf: url)), name: url.path)
        #expect(!decoded.frames.isEmpty)
        #expect(decoded.frames.allSatisfy { $0.memory == nil })
    }
}

extension MemorySectionTests {
    /// The kernel-side figures (threads-parked: page tables and kernel stacks per parked task) survive a recording
    /// in their own section; frames without them (every frame of a recording made before them) decode them as nil.
    @Test func kernelSideFiguresRoundTripAndAreNilWithout() throws {
        var frames = Synthetic.busyFrames(count: 30, seed: 11)
        for i in frames.indices {
            frames[i].memory = MemorySnapshot(
                rssBytes: 120_000_000, baselineRSSBytes: 29_000_000, parkedTasks: 10_000, bytesPerParked: 9979.5)
            if i % 3 != 0 { frames[i].memory?.pageTablesPerParked = 4152.3 + Double(i) }
            if i % 4 != 0 { frames[i].memory?.kernelStacksPerParked = i == 5 ? -14.2 : 16_384 }
        }
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in frames { enc.snapshot(f, into: &bytes) }
        let decoded = try RecordingReader.decode(bytes, name: "memory kernel")
        #expect(decoded.frames == frames)
        #expect(decoded.frames[0].memory?.pageTablesPerParked == nil)
        #expect(decoded.frames[0].memory?.kernelStacksPerParked == nil)
        #expect(decoded.frames[5].memory?.kernelStacksPerParked == -14.2)
    }
}
