import Foundation
import Telemetry
import Testing

@testable import Recording

@Suite struct FormatTests {
    @Test func varintsAndZigzagRoundTrip() throws {
        let values: [Int64] = [0, 1, -1, 63, -64, 64, 300, -300, .max, .min, 1 << 40, -(1 << 40)]
        var w = ByteWriter()
        for v in values { w.svarint(v) }
        w.varint(.max)
        var r = ByteReader(w.bytes[...])
        for v in values { #expect(try r.svarint() == v) }
        #expect(try r.varint() == .max)
        #expect(r.atEnd)
        // An 11-byte varint is rejected, not wrapped.
        var long = ByteReader(Array(repeating: 0xFF, count: 11)[...] + [0x01])
        #expect(throws: DecodeError.self) { try long.varint() }
    }

    @Test func crcMatchesTheStandardCheckValue() {
        // CRC-32/ISO-HDLC of "123456789" is 0xCBF43926.
        #expect(CRC32.update(0, Array("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func recordThenDecodeGivesEqualSnapshots() throws {
        let (bytes, expected) = Synthetic.small()
        let decoded = try RecordingReader.decode(bytes, name: "small")
        #expect(decoded == expected)
        #expect(decoded.damage == nil)
        #expect(decoded.frames.count == 10)
        #expect(decoded.presetSwitches[0].text == Synthetic.presetText)
    }

    @Test func busyRoundTripKeepsEveryValue() throws {
        let frames = Synthetic.busyFrames(count: 200, seed: 42)
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in frames { enc.snapshot(f, into: &bytes) }
        let decoded = try RecordingReader.decode(bytes, name: "busy")
        #expect(decoded.frames == frames)
    }

    @Test func edgeValuesRoundTrip() throws {
        var s = Snapshot(time: -0.0, sequence: .max, preset: "", presetTitle: "é ü 日本 🚀", model: .greenThreads)
        s.workers = [
            WorkerSnapshot(
                id: -5, state: .handedOff, runs: .max, stealOps: 0, queueDepth: .min, queueCapacity: .max,
                busyNanos: .max, busyRatio: .infinity, currentFiber: "", currentKind: "x"),
            WorkerSnapshot(id: 1 << 40, state: .stopped, busyRatio: -.infinity),
        ]
        s.lag = LagSummary(
            p50Ms: .leastNonzeroMagnitude, p99Ms: .greatestFiniteMagnitude, maxMs: 1e300, buckets: [.max, 0])
        s.pool = PoolSnapshot(threads: 0, busy: -1, shared: true)
        s.events = [RuntimeEvent(time: .infinity, kind: .bookmark, worker: .min, other: .max, count: -1, name: "\0\n")]
        var t = s
        t.time = 1
        t.workers.removeLast()
        t.pool = nil
        t.events = []
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        enc.snapshot(s, into: &bytes)
        enc.snapshot(t, into: &bytes)
        enc.snapshot(s, into: &bytes)
        let decoded = try RecordingReader.decode(bytes, name: "edge")
        #expect(decoded.frames == [s, t, s])
        #expect(decoded.frames[0].time.sign == .minus)
    }

    /// Issue 8: one minute of a busy preset at 10 Hz must take ≤ 2 MB.
    @Test func oneBusyMinuteAt10HzFitsIn2MB() throws {
        let frames = Synthetic.busyFrames(count: 600, seed: 3)
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        enc.presetSwitch(PresetSwitch(time: 0, name: "vt-busy", text: Synthetic.presetText), into: &bytes)
        for f in frames { enc.snapshot(f, into: &bytes) }
        let json = try JSONEncoder().encode(frames).count
        let events = frames.reduce(0) { $0 + $1.events.count }
        print(
            "recording size: one busy minute at 10 Hz (8 carriers, \(events) events) = \(bytes.count) bytes; JSON would be \(json) bytes"
        )
        #expect(bytes.count <= 2_000_000)
        #expect(bytes.count * 4 < json)
        #expect(try RecordingReader.decode(bytes, name: "minute").frames == frames)
    }

    /// The committed golden files (one per format version) must decode to the synthetic recording, and this
    /// build must write each byte for byte. A format-1 file decodes with the later figures nil (shown "n/a").
    /// A deliberate format change bumps the version and records a new file with
    /// QVTOP_RECORD_GOLDEN=1 swift test --filter FormatTests.
    @Test(arguments: [UInt16(1), 2])
    func goldenFileOfEachVersion(_ version: UInt16) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/small-v\(version).qvrec")
        let (bytes, expected) = Synthetic.small(version: version)
        if ProcessInfo.processInfo.environment["QVTOP_RECORD_GOLDEN"] == "1" {
            try Data(bytes).write(to: url)
        }
        let golden = try [UInt8](Data(contentsOf: url))
        let decoded = try RecordingReader.decode(golden, name: url.path)
        #expect(decoded == expected)
        #expect(golden == bytes, "the encoder no longer writes the v\(version) golden file byte for byte")
        #expect(Array(golden.prefix(8)) == Array("QVTOPREC".utf8))
        #expect(decoded.metadata.formatVersion == Int(version))
        let fibers = decoded.frames.filter { $0.model.usesFibers }
        if version == 1 {
            // Recorded before these figures existed: they are unknown, not zero.
            #expect(fibers.allSatisfy { $0.readyDelay == nil && $0.busyWindowSeconds == nil })
            #expect(fibers.allSatisfy { $0.workers.allSatisfy { $0.stolenInInterval == nil && $0.queuePeak == nil } })
        } else {
            #expect(fibers.allSatisfy { $0.readyDelay?.log2Buckets?.isEmpty == false })
            #expect(decoded.frames.contains { $0.pool?.threadStates?.isEmpty == false })
        }
    }

    @Test func truncationAtEveryByteOffset() throws {
        let (bytes, expected) = Synthetic.small()
        // Where each complete record ends, to know how many frames a prefix must hold.
        var ends: [(end: Int, frames: Int)] = []
        var offset = RecordingFormat.headerSize
        var frames = 0
        while case .frame(let f) = RecordingReader.nextFrame(bytes, at: offset) {
            if f.kind == RecordKind.snapshot.rawValue { frames += 1 }
            ends.append((f.next, frames))
            offset = f.next
        }
        #expect(offset == bytes.count)
        let metadataEnd = ends[0].end
        for cut in 0..<bytes.count {
            let prefix = Array(bytes[..<cut])
            if cut < metadataEnd {
                #expect(throws: RecordingReadError.self) { try RecordingReader.decode(prefix, name: "cut") }
                continue
            }
            let r = try RecordingReader.decode(prefix, name: "cut")
            let complete = ends.last { $0.end <= cut }!
            #expect(r.frames.count == complete.frames, "cut at \(cut)")
            if cut == complete.end {
                #expect(r.damage == nil)
            } else {
                #expect(r.damage?.truncated == true)
                #expect(r.damage?.bytesCut == cut - complete.end)
                #expect(r.damage?.offset == complete.end)
            }
            // Every frame before the last is whole; the last may still miss its events record.
            for i in 0..<max(0, r.frames.count - 1) { #expect(r.frames[i] == expected.frames[i]) }
            if var last = r.frames.last {
                last.events = expected.frames[r.frames.count - 1].events
                #expect(last == expected.frames[r.frames.count - 1])
            }
        }
        let message = try RecordingReader.decode(Array(bytes.dropLast(3)), name: "f").damage?.description
        #expect(message?.hasPrefix("6 bytes cut") == true || message?.contains("bytes cut") == true)
    }

    @Test func corruptionStopsAtTheDamagedRecord() throws {
        let (bytes, expected) = Synthetic.small()
        var damaged = bytes
        // Flip a byte inside the payload of the 5th record (the 3rd snapshot region).
        var offset = RecordingFormat.headerSize
        for _ in 0..<4 {
            guard case .frame(let f) = RecordingReader.nextFrame(bytes, at: offset) else {
                Issue.record()
                return
            }
            offset = f.next
        }
        damaged[offset + RecordingFormat.frameHeaderSize + 2] ^= 0x55
        let r = try RecordingReader.decode(damaged, name: "d")
        #expect(r.damage?.truncated == false)
        #expect(r.damage?.offset == offset)
        #expect(r.damage?.reason == "checksum mismatch")
        #expect(Array(r.frames) == Array(expected.frames.prefix(r.frames.count)))
    }

    @Test func badInputsGetOneClearTypedError() throws {
        let header = Framing.fileHeader()
        let cases: [([UInt8], RecordingReadError)] = [
            ([], .empty(path: "x.qvrec")),
            (Array("hello world\n".utf8), .notARecording(path: "x.qvrec", looksLike: "plain text")),
            (Array("{\"traceEvents\":[]}".utf8), .notARecording(path: "x.qvrec", looksLike: "a Chrome trace")),
            ([0x1F, 0x8B, 8, 0], .notARecording(path: "x.qvrec", looksLike: "gzip data")),
            ([0, 1, 2, 0xFF, 0xFE], .notARecording(path: "x.qvrec", looksLike: nil)),
            (
                Framing.fileHeader(version: RecordingFormat.version + 1),
                .newerVersion(
                    path: "x.qvrec", found: Int(RecordingFormat.version) + 1, supported: Int(RecordingFormat.version))
            ),
            (Framing.fileHeader(version: 0), .damagedHeader(path: "x.qvrec", reason: "format version 0")),
            (
                Array("QVTOP".utf8),
                .damagedHeader(path: "x.qvrec", reason: "file ends after 5 bytes, inside the header")
            ),
            (header, .damagedHeader(path: "x.qvrec", reason: "no metadata record")),
        ]
        for (input, expected) in cases {
            #expect(throws: expected) { try RecordingReader.decode(input, name: "x.qvrec") }
            #expect(expected.description.hasPrefix("x.qvrec: "))
            #expect(!expected.description.contains("\n"))
        }
        // A snapshot record where the metadata must be.
        var noMeta = header
        Framing.appendRecord(kind: .snapshot, payload: [0], to: &noMeta)
        #expect(throws: RecordingReadError.damagedHeader(path: "m", reason: "first record is kind 2, not metadata")) {
            try RecordingReader.decode(noMeta, name: "m")
        }
        #expect(throws: RecordingReadError.self) { try RecordingReader.read(path: "/nonexistent/file.qvrec") }
        let desc = RecordingReadError.newerVersion(path: "a.qvrec", found: 9, supported: 1).description
        #expect(desc == "a.qvrec: recording format version 9 is newer than this qvtop reads (1); upgrade qvtop")
    }

    @Test func unknownRecordKindsAreSkipped() throws {
        var (bytes, expected) = Synthetic.small()
        var w = ByteWriter()
        w.u8(200)
        w.u32(3)
        w.u32(CRC32.checksum(kind: 200, payload: [1, 2, 3][...]))
        bytes += w.bytes + [1, 2, 3]
        let r = try RecordingReader.decode(bytes, name: "u")
        #expect(r.skippedRecords == 1)
        #expect(r.frames == expected.frames)
        #expect(r.damage == nil)
    }
}

extension FormatTests {
    /// A format-1 file cannot hold errors or drops per task kind: compared with a format-2 file of the same
    /// run, its side is null (never 0) and so is B − A, while the format-2 side keeps its counts.
    @Test func aFormat1RecordingComparesWithNullErrorsAndDrops() throws {
        let frames = Synthetic.busyFrames(count: 6, seed: 7, workers: 2).enumerated().map { i, f in
            var s = f
            for k in s.taskKinds.indices {
                s.taskKinds[k].errors = TaskErrorCounts(reset: UInt64(i), timeout: 1)
                s.taskKinds[k].dropped = UInt64(2 * i)
            }
            return s
        }
        func roundTrip(_ version: UInt16) throws -> RunSummary {
            var enc = RecordEncoder(version: version)
            var meta = Synthetic.metadata
            meta.formatVersion = Int(version)
            var bytes = enc.start(meta)
            for f in frames { enc.snapshot(f, into: &bytes) }
            enc.end(RecordingEnd(framesWritten: UInt64(frames.count), framesDropped: 0), into: &bytes)
            return try #require(RunSummary(try RecordingReader.decode(bytes, name: "v\(version)").frames))
        }
        let c = RunComparison(a: try roundTrip(1), b: try roundTrip(2))
        for k in ["http", "db", "cpu", "timer"] {
            let errors = try #require(c.figure("\(k) errors"))
            #expect(errors.a == nil && errors.b == 6 && errors.difference == nil, "\(errors)")
            #expect(errors.byKind?["reset"]?.b == 5 && errors.byKind?["reset"]?.a == nil)
            let dropped = try #require(c.figure("\(k) dropped"))
            #expect(dropped.a == nil && dropped.b == 10 && dropped.difference == nil, "\(dropped)")
        }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(c.jsonText.utf8)) as? [String: Any])
        let figures = try #require(object["figures"] as? [[String: Any]])
        let httpErrors = try #require(figures.first { $0["name"] as? String == "http errors" })
        #expect(httpErrors["a"] is NSNull && httpErrors["b"] as? Double == 6)
    }
}

/// Figures a real Python loop does not expose (issue 16) stay nil through a recording, in a tagged
/// section; frames whose loops have every figure write no section (the golden files stay byte for byte).
@Suite struct AbsentLoopFiguresRecordingTests {
    @Test func absentLoopFiguresRoundTripAsNil() throws {
        var s = Snapshot(time: 1, sequence: 1, preset: "py-uvloop", presetTitle: "uvloop", model: .loopPerThread)
        s.loops = [
            LoopSnapshot(
                id: 0, readyDepth: nil, maxReadyDepth: nil, timersPending: nil, tasksAlive: nil, jobsRun: nil,
                slowCallbacks: 2, busyRatio: nil),
            LoopSnapshot(
                id: 1, readyDepth: 3, maxReadyDepth: 9, timersPending: 4, tasksAlive: 5, jobsRun: 6, busyRatio: 0.5),
        ]
        s.taskKinds = [TaskKindStats(kind: "web", completed: 3)]
        var t = s
        t.time = 2
        t.loops[0].readyDepth = 7  // present again: decoded against a nil previous value
        t.loops[1].busyRatio = nil
        var u = t
        u.time = 3
        u.loops = u.loops.map {
            var l = $0
            l.busyRatio = 0.25
            return l
        }
        var enc = RecordEncoder()
        var bytes = enc.start(Synthetic.metadata)
        for f in [s, t, u] { enc.snapshot(f, into: &bytes) }
        let decoded = try RecordingReader.decode(bytes, name: "absent")
        #expect(decoded.frames == [s, t, u])
        #expect(decoded.frames[0].loops[0].readyDepth == nil)
        #expect(decoded.frames[1].loops[0].readyDepth == 7)
    }
}
