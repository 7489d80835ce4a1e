import Foundation
import Synchronization
import Telemetry
import Testing

@testable import Recording

@Suite struct RecorderTests {
    private func tempPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qvtop-rec-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("\(name)-\(UInt32.random(in: 0...UInt32.max)).qvrec").path
        try? FileManager.default.removeItem(atPath: path)
        return path
    }

    /// Polls `condition` every 10 ms, at most `seconds`.
    private func eventually(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    @Test func recordsAndReadsBackEqualValues() throws {
        let path = tempPath("roundtrip")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let frames = Synthetic.busyFrames(count: 50, seed: 9)
        let recorder = try Recorder(path: path, metadata: Synthetic.metadata, capacity: 1000)
        recorder.presetSwitch(PresetSwitch(time: 0, name: "vt-busy", text: Synthetic.presetText))
        for (i, f) in frames.enumerated() {
            #expect(recorder.append(f))
            if i == 10 { recorder.bookmark(Bookmark(time: f.time, label: "here")) }
        }
        let status = recorder.stop()
        #expect(status.state == .stopped)
        #expect(status.framesWritten == 50)
        #expect(status.framesDropped == 0)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(status.bytesWritten == size)
        let r = try RecordingReader.read(path: path)
        #expect(r.frames == frames)
        #expect(r.bookmarks == [Bookmark(time: frames[10].time, label: "here")])
        #expect(r.presetSwitches.first?.text == Synthetic.presetText)
        #expect(r.end == RecordingEnd(framesWritten: 50, framesDropped: 0))
        #expect(r.metadata == Synthetic.metadata)
        // A recorded run replays to the same headless figures.
        let live = try #require(RunSummary(frames))
        #expect(RunSummary(r.frames) == live)
        #expect(RunSummary(r.frames)?.jsonText == live.jsonText)
        // Stopped: further appends are refused.
        #expect(!recorder.append(frames[0]))
        #expect(recorder.stop().state == .stopped)
    }

    @Test func neverOverwritesWithoutForce() throws {
        let path = tempPath("exists")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: RecordingWriteError.fileExists(path: path)) {
            try Recorder(path: path, metadata: Synthetic.metadata)
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
        let recorder = try Recorder(path: path, metadata: Synthetic.metadata, force: true)
        recorder.append(Snapshot(time: 1))
        #expect(recorder.stop().state == .stopped)
        #expect(try RecordingReader.read(path: path).frames == [Snapshot(time: 1)])
        #expect(throws: RecordingWriteError.self) {
            try Recorder(path: "/nonexistent-dir/x.qvrec", metadata: Synthetic.metadata)
        }
    }

    /// Skipped (reported as such, not passed) on a system without `/dev/full`.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "needs /dev/full"))
    func writeErrorStopsRecordingAndIsReported() throws {
        let recorder = try Recorder(path: "/dev/full", metadata: Synthetic.metadata, force: true)
        for f in Synthetic.busyFrames(count: 5) { recorder.append(f) }
        #expect(eventually { !recorder.status.isRecording })
        guard case .failed(let error) = recorder.status.state else {
            Issue.record("expected a failure, got \(recorder.status.state)")
            return
        }
        #expect(error == .writeFailed(path: "/dev/full", reason: String(cString: strerror(ENOSPC))))
        #expect(error.description.hasPrefix("recording stopped: writing /dev/full failed"))
        #expect(!recorder.append(Snapshot()))
        if case .failed = recorder.stop().state {} else { Issue.record("stop() must keep the failure") }
    }

    @Test func fullQueueDropsAndCountsWithoutBlocking() throws {
        let path = tempPath("drops")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try Recorder(
            path: path, metadata: Synthetic.metadata, force: false, capacity: 8, flushInterval: 0.05,
            startWriter: false)
        let frames = Synthetic.busyFrames(count: 20)
        let accepted = frames.map { recorder.append($0) }
        #expect(accepted == Array(repeating: true, count: 20))
        #expect(recorder.status.framesDropped == 12)
        #expect(recorder.status.eventsDropped == 0)
        #expect(recorder.status.queued == 8)
        recorder.startWriter()
        let status = recorder.stop()
        #expect(status.framesWritten == 8)
        let r = try RecordingReader.read(path: path)
        // Frames 0…6 as they were; the last slot holds frame 19 with the events of 7…19.
        #expect(Array(r.frames.prefix(7)) == Array(frames.prefix(7)))
        var last = frames[19]
        last.events = frames[7...].flatMap(\.events)
        #expect(r.frames.last == last)
        #expect(r.eventCount == frames.reduce(0) { $0 + $1.events.count })
        #expect(r.end == RecordingEnd(framesWritten: 8, framesDropped: 12))
    }

    /// Several threads append at once into a small queue while the writer drains it: every
    /// snapshot is either written or counted as dropped, and the file holds exactly the written
    /// ones, each once, in each thread's order.
    @Test func concurrentAppendersLoseNothingUncounted() throws {
        let path = tempPath("concurrent")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try Recorder(path: path, metadata: Synthetic.metadata, capacity: 16, flushInterval: 0.01)
        let threads = 4
        let perThread = 500
        let bookmarks = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            for i in 0..<perThread {
                recorder.append(Snapshot(time: Double(i), sequence: UInt64(t * perThread + i), preset: "t\(t)"))
                if i % 64 == 0, recorder.bookmark(Bookmark(time: Double(i), label: "t\(t)")) {
                    bookmarks.add(1, ordering: .relaxed)  // a plain counter, read after the join
                }
            }
        }
        let status = recorder.stop()
        #expect(status.state == .stopped)
        #expect(status.framesWritten + status.framesDropped == UInt64(threads * perThread))
        let r = try RecordingReader.read(path: path)
        #expect(UInt64(r.frames.count) == status.framesWritten)
        #expect(r.end == RecordingEnd(framesWritten: status.framesWritten, framesDropped: status.framesDropped))
        #expect(Set(r.frames.map(\.sequence)).count == r.frames.count)
        for t in 0..<threads {
            let mine = r.frames.filter { $0.preset == "t\(t)" }.map(\.sequence)
            #expect(mine == mine.sorted())
        }
        #expect(r.bookmarks.count == bookmarks.load(ordering: .relaxed))
        #expect(r.bookmarks.count > 0)
    }

    @Test func droppingTheRecorderFinishesTheFile() throws {
        let path = tempPath("dropped")
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let recorder = try Recorder(path: path, metadata: Synthetic.metadata)
            recorder.append(Snapshot(time: 1))
        }
        #expect(eventually { (try? RecordingReader.read(path: path))?.end != nil })
        #expect(try RecordingReader.read(path: path).frames == [Snapshot(time: 1)])
    }

    /// A session killed with SIGKILL replays up to its last flush: the file is readable while
    /// the recorder is still running, without stop() or a clean end.
    @Test func fileIsReplayableWhileStillRecording() throws {
        let path = tempPath("live")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try Recorder(path: path, metadata: Synthetic.metadata, flushInterval: 0.1)
        let frames = Synthetic.busyFrames(count: 30)
        for f in frames { recorder.append(f) }
        var seen: Recording?
        let flushed = eventually {
            seen = try? RecordingReader.read(path: path)
            return seen?.frames.count == 30
        }
        #expect(flushed, "frames did not reach the file within 10 s while recording")
        #expect(seen?.frames == frames)
        #expect(seen?.end == nil)
        #expect(seen?.damage == nil)
        #expect(recorder.status.isRecording)
        recorder.stop()
    }

    /// What a kill mid-write leaves: no end record and a partial record at the tail.
    @Test func killedMidWriteReplaysUpToTheLastCompleteRecord() throws {
        let path = tempPath("killed")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let recorder = try Recorder(path: path, metadata: Synthetic.metadata, flushInterval: 0.1)
        let frames = Synthetic.busyFrames(count: 10)
        for f in frames { recorder.append(f) }
        #expect(eventually { (try? RecordingReader.read(path: path))?.frames.count == 10 })
        recorder.stop()
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        // Cut the end record away, then append a partial record.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes.removeLast(RecordingFormat.frameHeaderSize + 2)  // the end record: header + 2 varints
        bytes += [RecordKind.snapshot.rawValue, 200, 0, 0]
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: bytes)
        try handle.close()
        let r = try RecordingReader.read(path: path)
        #expect(r.frames == frames)
        #expect(r.end == nil)
        #expect(r.damage?.truncated == true)
        #expect(r.damage?.bytesCut == 4)
    }
}
