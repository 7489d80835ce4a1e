// RecordingReader: validates a file and decodes it into a `Recording`.
//
// Input is untrusted (a file from a bug report). The reader never traps, loops at most once
// per input byte, and allocates at most in proportion to the input: record lengths are capped
// (`RecordingFormat.maxRecordPayload`), element counts are checked against the bytes left in
// the payload, and every read is bounds-checked (ByteReader). Whole-file problems (empty,
// not a recording, newer version, no metadata) are a `RecordingReadError`; a problem after
// the metadata ends the readable part and becomes `Recording.damage`, so a truncated or
// partly corrupt file still replays up to its last good record.
import Foundation
import Telemetry

/// Why a file cannot be replayed at all. `description` is one line naming the file.
public enum RecordingReadError: Error, Equatable, CustomStringConvertible {
    /// The file could not be opened or read.
    case unreadable(path: String, reason: String)
    /// Zero bytes.
    case empty(path: String)
    /// Does not start with the magic; `looksLike` names what it seems to be, when recognisable.
    case notARecording(path: String, looksLike: String?)
    /// Written by a newer qvtop.
    case newerVersion(path: String, found: Int, supported: Int)
    /// Starts like a recording but the header or the metadata record is cut or damaged.
    case damagedHeader(path: String, reason: String)
    /// Larger than the reader accepts.
    case tooLarge(path: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .empty(let path): "\(path): empty file, not a qvtop recording"
        case .notARecording(let path, let looksLike?): "\(path): not a qvtop recording (looks like \(looksLike))"
        case .notARecording(let path, nil): "\(path): not a qvtop recording (no QVTOPREC header)"
        case .newerVersion(let path, let found, let supported):
            "\(path): recording format version \(found) is newer than this qvtop reads (\(supported)); upgrade qvtop"
        case .damagedHeader(let path, let reason): "\(path): damaged qvtop recording: \(reason)"
        case .tooLarge(let path, let bytes, let limit): "\(path): \(bytes) bytes is larger than the \(limit)-byte limit"
        }
    }
}

public enum RecordingReader {
    /// Files larger than this are refused (about 10 hours of a busy preset).
    public static let maxFileSize = 1 << 30

    /// Reads and decodes the file at `path`.
    public static func read(path: String) throws(RecordingReadError) -> Recording {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw .unreadable(path: path, reason: "is a directory")
        }
        let size: Int
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw .unreadable(path: path, reason: Self.reason(error))
        }
        guard size <= maxFileSize else { throw .tooLarge(path: path, bytes: size, limit: maxFileSize) }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .unreadable(path: path, reason: Self.reason(error))
        }
        return try decode([UInt8](data), name: path)
    }

    private static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError || ns.code == 260 {
            return "no such file"
        }
        return ns.localizedDescription
    }

    /// Decodes a whole recording held in memory. `name` is used in error messages.
    public static func decode(_ bytes: [UInt8], name: String) throws(RecordingReadError) -> Recording {
        guard !bytes.isEmpty else { throw .empty(path: name) }
        let magic = RecordingFormat.magic
        let prefix = bytes.prefix(magic.count)
        guard prefix.elementsEqual(magic.prefix(prefix.count)) else {
            throw .notARecording(path: name, looksLike: sniff(bytes))
        }
        guard bytes.count >= RecordingFormat.headerSize else {
            throw .damagedHeader(path: name, reason: "file ends after \(bytes.count) bytes, inside the header")
        }
        var header = ByteReader(bytes[magic.count..<RecordingFormat.headerSize])
        let version = (try? header.u16()) ?? 0
        guard version != 0 else { throw .damagedHeader(path: name, reason: "format version 0") }
        guard version <= RecordingFormat.version else {
            throw .newerVersion(path: name, found: Int(version), supported: Int(RecordingFormat.version))
        }

        var offset = RecordingFormat.headerSize
        // The metadata record must come first and be whole.
        let first: Frame
        switch nextFrame(bytes, at: offset) {
        case .frame(let f): first = f
        case .end: throw .damagedHeader(path: name, reason: "no metadata record")
        case .truncated: throw .damagedHeader(path: name, reason: "file ends inside the metadata record")
        case .bad(let why): throw .damagedHeader(path: name, reason: why)
        }
        guard first.kind == RecordKind.metadata.rawValue else {
            throw .damagedHeader(path: name, reason: "first record is kind \(first.kind), not metadata")
        }
        var metadata: RecordingMetadata
        do {
            metadata = try RecordDecoder.metadata(first.payload)
        } catch {
            throw .damagedHeader(path: name, reason: "metadata: \(error.reason)")
        }
        metadata.formatVersion = Int(version)
        offset = first.next

        var recording = Recording(metadata: metadata)
        var decoder = RecordDecoder(version: version)
        loop: while true {
            let frame: Frame
            switch nextFrame(bytes, at: offset) {
            case .end: break loop
            case .frame(let f): frame = f
            case .truncated:
                recording.damage = RecordingDamage(
                    offset: offset, bytesCut: bytes.count - offset, truncated: true, reason: "file ends inside a record"
                )
                break loop
            case .bad(let why):
                recording.damage = RecordingDamage(
                    offset: offset, bytesCut: bytes.count - offset, truncated: false, reason: why)
                break loop
            }
            do throws(DecodeError) {
                switch RecordKind(rawValue: frame.kind) {
                case .snapshot: recording.frames.append(try decoder.snapshot(frame.payload))
                case .events:
                    guard let last = recording.frames.indices.last else {
                        throw DecodeError(reason: "events record before any snapshot")
                    }
                    let events = try decoder.events(frame.payload, frameTime: recording.frames[last].time)
                    recording.frames[last].events.append(contentsOf: events)
                case .presetSwitch: recording.presetSwitches.append(try RecordDecoder.presetSwitch(frame.payload))
                case .bookmark: recording.bookmarks.append(try RecordDecoder.bookmark(frame.payload))
                case .end: recording.end = try RecordDecoder.end(frame.payload)
                case .metadata: throw DecodeError(reason: "a second metadata record")
                case nil: recording.skippedRecords += 1
                }
            } catch {
                recording.damage = RecordingDamage(
                    offset: offset, bytesCut: bytes.count - offset, truncated: false,
                    reason: "record kind \(frame.kind): \(error.reason)")
                break loop
            }
            offset = frame.next
        }
        return recording
    }

    /// A short guess at what a foreign file is, for the error line.
    static func sniff(_ bytes: [UInt8]) -> String? {
        let head = bytes.prefix(16)
        func starts(_ s: [UInt8]) -> Bool { head.starts(with: s) }
        if starts([0x1F, 0x8B]) { return "gzip data" }
        if starts(Array("PK\u{3}\u{4}".utf8)) { return "a zip archive" }
        if starts([0x7F, 0x45, 0x4C, 0x46]) { return "an ELF executable" }
        if starts(Array("SQLite format".utf8)) { return "an SQLite database" }
        let text = String(decoding: bytes.prefix(256), as: UTF8.self)
        let trimmed = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        if trimmed.hasPrefix("{\"version\": 2") || trimmed.hasPrefix("{\"version\":2") {
            return "an asciicast file"
        }
        if trimmed.contains("traceEvents") { return "a Chrome trace" }
        if trimmed.hasPrefix("{") { return "JSON" }
        if trimmed.contains(" = ") { return "text (a preset file?)" }
        if trimmed.hasPrefix("[") { return "JSON" }
        // Text: no control bytes but tab/CR/LF, and valid UTF-8 (a cut multi-byte tail is fine).
        let head256 = Array(bytes.prefix(256))
        let controlFree = head256.allSatisfy { $0 >= 0x20 && $0 != 0x7F || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        let validUTF8 = String(decoding: head256, as: UTF8.self).unicodeScalars.count { $0 == "\u{FFFD}" } <= 1
        if controlFree && validUTF8 { return "plain text" }
        return nil
    }

    // MARK: framing

    struct Frame {
        var kind: UInt8
        var payload: ArraySlice<UInt8>
        var next: Int
    }

    enum FrameResult {
        case frame(Frame)
        /// Exactly at the end of the input.
        case end
        /// The input ends inside this record.
        case truncated
        /// Bad length or checksum.
        case bad(String)
    }

    static func nextFrame(_ bytes: [UInt8], at offset: Int) -> FrameResult {
        if offset == bytes.count { return .end }
        guard bytes.count - offset >= RecordingFormat.frameHeaderSize else { return .truncated }
        var h = ByteReader(bytes[offset..<offset + RecordingFormat.frameHeaderSize])
        // The slice holds exactly frameHeaderSize bytes, so these reads cannot fail.
        guard let kind = try? h.u8(), let length = try? h.u32(), let crc = try? h.u32() else { return .truncated }
        guard kind != 0 else { return .bad("record kind 0 (zeroed or overwritten bytes)") }
        guard length <= RecordingFormat.maxRecordPayload else {
            return .bad("record length \(length) exceeds the \(RecordingFormat.maxRecordPayload)-byte cap")
        }
        let start = offset + RecordingFormat.frameHeaderSize
        let end = start + Int(length)
        guard end <= bytes.count else { return .truncated }
        let payload = bytes[start..<end]
        guard CRC32.checksum(kind: kind, payload: payload) == crc else { return .bad("checksum mismatch") }
        return .frame(Frame(kind: kind, payload: payload, next: end))
    }
}
