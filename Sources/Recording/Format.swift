// Recording format: bytes on disk. (The full layout, field by field, is in docs/recording-format.md.)
//
// # Design essay
//
// A recording must replay every frame exactly as it was shown, survive a SIGKILL at any
// instant, be small (a busy preset for one minute at 10 Hz in ≤ 2 MB), and be safe to open
// when it comes from someone else (a bug report, a talk): no input may crash, hang or make
// the reader allocate without bound.
//
// Layout: a 12-byte file header (magic `QVTOPREC`, format version, flags), then a sequence
// of framed records. Each record is `kind (1 byte) · payload length (u32 LE) · CRC-32 of
// kind + payload (u32 LE) · payload`. The first record is the metadata. A reader walks the
// frames; the first frame that is incomplete (truncation) or fails its checksum (corruption)
// ends the readable part, and everything before it is intact. Lengths are capped
// (`maxRecordPayload`), so a corrupt length cannot make the reader allocate gigabytes.
//
// Snapshot payloads are a compact binary encoding (SnapshotCodec.swift): LEB128 varints,
// integers as zigzag deltas against the same field of the previous frame (cumulative
// counters grow by small steps), doubles as "same as before" (1 byte) or 8 raw bytes, and
// strings through a per-file string table (a fiber or task-kind name costs 1–2 bytes after
// its first use). Events are their own record, right after the snapshot they belong to.
//
// Rejected options:
// - Foundation JSON per frame: ~4–6 KB per busy frame, 3 MB+ per minute, and a reader that
//   trusts nesting depth and sizes of foreign input.
// - JSON lines + gzip: compact, but a stream compressor cannot be flushed every second and
//   stay compact, and a SIGKILL leaves a tail no decoder can resync on.
// - Keyframes with random access: the reader decodes the whole file up front instead (ten
//   busy minutes, 6 000 frames, 4.7 MB: 0.27 s and 49 MB RSS in a release build, so about
//   1.6 s for an hour), and seeking is a binary search over decoded frames. Simpler format.
//   Keyframes can be added later as a new record kind without a version bump (readers skip
//   unknown kinds whose checksum is valid).

/// Constants of the on-disk format.
public enum RecordingFormat {
    /// First 8 bytes of every recording.
    public static let magic: [UInt8] = Array("QVTOPREC".utf8)
    /// The format version this build writes and the newest it reads. 2 added the figures of
    /// docs/figures.md that format 1 lacks (ready → running delay, peaks, per-interval counts, pool threads);
    /// format-1 files still read, those figures nil ("n/a").
    public static let version: UInt16 = 2
    /// Magic + version (u16 LE) + flags (u16 LE, zero).
    public static let headerSize = 12
    /// Kind + length + CRC.
    public static let frameHeaderSize = 9
    /// No record may be larger (a snapshot is a few KB; a preset a few KB).
    public static let maxRecordPayload = 4 << 20
    /// No string may be longer (preset texts included).
    public static let maxStringLength = 1 << 20
    /// The string table stops growing here; later new strings are written inline every time.
    public static let maxStringTable = 1 << 16
    /// File name extension used in docs and examples.
    public static let fileExtension = "qvrec"
    /// Memory per parked task (issue 15): the tag of a snapshot's memory section (SnapshotCodec), on disk:
    /// 'M'. Later sections take other tags after it.
    static let memorySectionTag: UInt8 = 0x4D
}

/// Record kinds. Values are on disk: never renumber.
enum RecordKind: UInt8 {
    case metadata = 1
    case snapshot = 2
    case events = 3
    case presetSwitch = 4
    case bookmark = 5
    case end = 6
}

// MARK: - Bytes

/// Appends little-endian and LEB128 values. Owned by one encoder at a time.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    mutating func u32(_ v: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    mutating func u64(_ v: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }

    /// Unsigned LEB128: 7 bits per byte, high bit = more.
    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zigzag then LEB128, so small negative numbers stay small.
    mutating func svarint(_ v: Int64) {
        varint(UInt64(bitPattern: (v << 1) ^ (v >> 63)))
    }

    mutating func f64(_ v: Double) { u64(v.bitPattern) }

    /// Length-prefixed UTF-8, inline (no string table).
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        varint(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

/// Why a payload could not be decoded. Internal: the reader turns it into a damage note.
struct DecodeError: Error, Equatable {
    var reason: String
}

/// Reads what `ByteWriter` wrote, from a borrowed byte range. Never traps on bad input:
/// every read is bounds-checked and throws.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - index }
    var atEnd: Bool { index >= bytes.endIndex }

    mutating func u8() throws(DecodeError) -> UInt8 {
        guard index < bytes.endIndex else { throw DecodeError(reason: "payload ends early") }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func u16() throws(DecodeError) -> UInt16 {
        let lo = UInt16(try u8())
        let hi = UInt16(try u8())
        return lo | hi << 8
    }

    mutating func u32() throws(DecodeError) -> UInt32 {
        var v: UInt32 = 0
        for shift in stride(from: 0, to: 32, by: 8) { v |= UInt32(try u8()) << UInt32(shift) }
        return v
    }

    mutating func u64() throws(DecodeError) -> UInt64 {
        var v: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 8) { v |= UInt64(try u8()) << UInt64(shift) }
        return v
    }

    mutating func varint() throws(DecodeError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            guard shift < 64 else { throw DecodeError(reason: "varint longer than 64 bits") }
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    mutating func svarint() throws(DecodeError) -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    mutating func f64() throws(DecodeError) -> Double { Double(bitPattern: try u64()) }

    /// A count of elements that each take at least one byte: bounded by what is left, so a
    /// corrupt count cannot make the caller reserve more memory than the input justifies.
    mutating func count(_ what: String) throws(DecodeError) -> Int {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw DecodeError(reason: "\(what) count \(n) exceeds the payload") }
        return Int(n)
    }

    /// An optional count written as `varint` 0 (nil) or n + 1 (format 2's optional arrays).
    mutating func optionalCount(_ what: String) throws(DecodeError) -> Int? {
        let v = try varint()
        guard v > 0 else { return nil }
        guard v - 1 <= UInt64(remaining) else {
            throw DecodeError(reason: "\(what) count \(v - 1) exceeds the payload")
        }
        return Int(v - 1)
    }

    mutating func rawBytes(_ n: Int) throws(DecodeError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw DecodeError(reason: "payload ends early") }
        defer { index += n }
        return bytes[index..<index + n]
    }

    /// Inline string (see `ByteWriter.string`).
    mutating func string() throws(DecodeError) -> String {
        let n = try varint()
        guard n <= UInt64(RecordingFormat.maxStringLength) else { throw DecodeError(reason: "string too long") }
        let raw = try rawBytes(Int(n))
        return String(decoding: raw, as: UTF8.self)
    }
}

// MARK: - CRC-32 (IEEE 802.3, reflected, the one zlib and PNG use)

enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func update(_ crc: UInt32, _ bytes: some Sequence<UInt8>) -> UInt32 {
        var c = ~crc
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    static func checksum(kind: UInt8, payload: ArraySlice<UInt8>) -> UInt32 {
        update(update(0, CollectionOfOne(kind)), payload)
    }
}

// MARK: - Framing

enum Framing {
    /// The file header: magic, version, flags.
    static func fileHeader(version: UInt16 = RecordingFormat.version) -> [UInt8] {
        var w = ByteWriter()
        w.bytes = RecordingFormat.magic
        w.u16(version)
        w.u16(0)
        return w.bytes
    }

    /// Appends one framed record to `out`.
    static func appendRecord(kind: RecordKind, payload: [UInt8], to out: inout [UInt8]) {
        var w = ByteWriter()
        w.u8(kind.rawValue)
        w.u32(UInt32(payload.count))
        w.u32(CRC32.checksum(kind: kind.rawValue, payload: payload[...]))
        out.append(contentsOf: w.bytes)
        out.append(contentsOf: payload)
    }
}
