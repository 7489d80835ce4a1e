import Foundation
import Telemetry
import Testing

@testable import Recording

/// Seeded mutation fuzzing of the reader: thousands of damaged inputs, none may crash, hang or
/// allocate without bound (a trap fails the whole test process). Two layers: raw byte
/// mutations (mostly caught by the CRC), and payload mutations with the CRC recomputed so the
/// payload decoders themselves see garbage.
@Suite struct FuzzTests {
    /// Short in CI; `QVTOP_FUZZ_ITERATIONS=200000 swift test --filter FuzzTests` for a long hunt.
    static let iterations = ProcessInfo.processInfo.environment["QVTOP_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 4000
    static let seedOffset = ProcessInfo.processInfo.environment["QVTOP_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0

    @Test func byteMutationsNeverCrash() {
        let (bytes, _) = Synthetic.small()
        var rng = SeededRandom(seed: 0xF022 &+ Self.seedOffset)
        var outcomes = [0, 0, 0]  // error, whole, damaged
        for _ in 0..<Self.iterations {
            let input = mutate(bytes, &rng)
            do {
                let r = try RecordingReader.decode(input, name: "fuzz")
                outcomes[r.damage == nil ? 1 : 2] += 1
                #expect(r.frames.count <= input.count)
            } catch {
                outcomes[0] += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(outcomes.reduce(0, +) == Self.iterations)
        #expect(outcomes[2] > 0)
    }

    @Test func payloadMutationsWithValidChecksumsNeverCrash() {
        let (bytes, _) = Synthetic.small()
        // Split into records.
        var records: [(kind: UInt8, payload: [UInt8])] = []
        var offset = RecordingFormat.headerSize
        while case .frame(let f) = RecordingReader.nextFrame(bytes, at: offset) {
            records.append((f.kind, Array(f.payload)))
            offset = f.next
        }
        var rng = SeededRandom(seed: 0xBEEF &+ Self.seedOffset)
        var decodedSome = 0
        for _ in 0..<Self.iterations {
            var out = Framing.fileHeader()
            let victim = Int(rng.next() % UInt64(records.count))
            for (i, rec) in records.enumerated() {
                let payload = i == victim || rng.next() % 16 == 0 ? mutate(rec.payload, &rng) : rec.payload
                let kind = rng.next() % 64 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : rec.kind
                var w = ByteWriter()
                w.u8(kind)
                w.u32(UInt32(payload.count))
                w.u32(CRC32.checksum(kind: kind, payload: payload[...]))
                out += w.bytes + payload
            }
            if let r = try? RecordingReader.decode(out, name: "fuzz") {
                decodedSome += 1
                guard decodedSome % 8 == 0 else { continue }
                // Replaying and exporting whatever decoded must not crash either.
                let replayer = Replayer(recording: r, clock: { 0 }, paused: true)
                replayer.seekToEnd()
                _ = replayer.poll()
                _ = ChromeTraceExport.export(r)
                _ = AsciicastExport.export(r, width: 40, height: 10)
            }
        }
        #expect(decodedSome > 0)
    }

    /// Corrupt length fields must be capped, not trusted.
    @Test func hugeLengthsAndCountsAreRefused() throws {
        var bytes = Synthetic.small().bytes
        // Metadata length → 4 GiB - 1.
        bytes.replaceSubrange(13..<17, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: RecordingReadError.self) { try RecordingReader.decode(bytes, name: "huge") }
        // A snapshot claiming 2^62 workers, with a valid checksum.
        var w = ByteWriter()
        w.u8(0)  // time: same
        w.svarint(1)  // sequence
        w.varint(0)  // preset nil
        w.varint(0)  // title nil
        w.u8(2)  // model
        w.varint(1 << 62)  // workers
        var encoder = RecordEncoder()
        var file = encoder.start(Synthetic.metadata)
        Framing.appendRecord(kind: .snapshot, payload: w.bytes, to: &file)
        let r = try RecordingReader.decode(file, name: "count")
        #expect(r.frames.isEmpty)
        #expect(r.damage?.reason.contains("exceeds the payload") == true)
    }

    private func mutate(_ input: [UInt8], _ rng: inout SeededRandom) -> [UInt8] {
        var b = input
        let n = 1 + Int(rng.next() % 4)
        for _ in 0..<n {
            let pos = b.isEmpty ? 0 : Int(rng.next() % UInt64(b.count))
            switch rng.next() % 8 {
            case 0 where !b.isEmpty: b[pos] ^= UInt8(1 << (rng.next() % 8))
            case 1 where !b.isEmpty: b[pos] = UInt8(truncatingIfNeeded: rng.next())
            case 2: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: pos)
            case 3 where !b.isEmpty: b.remove(at: pos)
            case 4: b = Array(b.prefix(pos))
            case 5 where !b.isEmpty:
                let len = min(b.count - pos, 1 + Int(rng.next() % 32))
                b.insert(contentsOf: b[pos..<pos + len], at: Int(rng.next() % UInt64(b.count)))
            case 6 where b.count >= pos + 4:
                let v: [UInt8] = [[0xFF, 0xFF, 0xFF, 0x7F], [0, 0, 0, 0], [0x80, 0x80, 0x80, 0x80]][Int(rng.next() % 3)]
                b.replaceSubrange(pos..<pos + 4, with: v)
            default:
                if !b.isEmpty { b[pos] = [0, 1, 2, 0x7F, 0x80, 0xFF][Int(rng.next() % 6)] }
            }
        }
        return b
    }
}
