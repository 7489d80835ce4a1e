// Recording: the recording file format, the recorder, the replayer and the exports.
//
// Files in this module:
// - Format.swift         bytes on disk: header, framing, varints, CRC (design essay there)
// - SnapshotCodec.swift  compact delta encoding of `Snapshot` and its events
// - Recorder.swift       background writer: bounded buffer, drops counted, flush ≤ 1 s
// - RecordingReader.swift validation, typed errors, truncation/corruption as a damage note
// - Replayer.swift       a `SnapshotSource` over a recording with an injected clock
// - ChromeTrace.swift    Chrome Trace Event JSON export (Perfetto, chrome://tracing)
// - Asciicast.swift      asciicast v2 export with a pluggable frame renderer
import Foundation
import Telemetry

/// What a recording says about the session that made it. Written once, first record.
public struct RecordingMetadata: Sendable, Equatable, Codable {
    /// `qvtop --version` of the writer.
    public var qvtopVersion: String
    /// The format version of the file (filled in by the reader; the writer writes its own).
    public var formatVersion: Int
    /// Terminal size when recording started (0 × 0 for headless runs).
    public var columns: Int
    public var rows: Int
    /// CPU cores the machine had.
    public var cores: Int
    /// Wall-clock start, seconds since 1970 (UTC).
    public var startTime: Double
    /// Snapshot rate the session sampled at.
    public var sampleHz: Double
    /// Free-form extras (host, command line…); readers ignore keys they do not know.
    public var extra: [String: String]

    public init(
        qvtopVersion: String, formatVersion: Int = Int(RecordingFormat.version), columns: Int = 0, rows: Int = 0,
        cores: Int = 0, startTime: Double = 0, sampleHz: Double = 10, extra: [String: String] = [:]
    ) {
        self.qvtopVersion = qvtopVersion
        self.formatVersion = formatVersion
        self.columns = columns
        self.rows = rows
        self.cores = cores
        self.startTime = startTime
        self.sampleHz = sampleHz
        self.extra = extra
    }
}

extension RecordingMetadata {
    /// Metadata for a recording that starts now on this machine.
    public static func now(
        qvtopVersion: String, columns: Int = 0, rows: Int = 0, sampleHz: Double = 10, extra: [String: String] = [:]
    ) -> RecordingMetadata {
        RecordingMetadata(
            qvtopVersion: qvtopVersion, columns: columns, rows: rows,
            cores: ProcessInfo.processInfo.activeProcessorCount,
            startTime: Date().timeIntervalSince1970, sampleHz: sampleHz, extra: extra)
    }
}

/// The user switched preset (or the session started one): the full preset text, so a replay
/// or a bug report shows exactly what ran.
public struct PresetSwitch: Sendable, Equatable, Codable {
    /// Session seconds (the clock of `Snapshot.time`).
    public var time: Double
    public var name: String
    public var title: String
    /// The preset file's full contents (TOML).
    public var text: String

    public init(time: Double, name: String, title: String = "", text: String) {
        self.time = time
        self.name = name
        self.title = title
        self.text = text
    }
}

/// A mark the user dropped with `b`.
public struct Bookmark: Sendable, Equatable, Codable {
    /// Session seconds.
    public var time: Double
    public var label: String

    public init(time: Double, label: String = "") {
        self.time = time
        self.label = label
    }
}

/// The closing record a recorder writes when it stops cleanly. Absent after a crash or SIGKILL.
public struct RecordingEnd: Sendable, Equatable, Codable {
    public var framesWritten: UInt64
    /// Snapshots the recorder dropped because its buffer was full.
    public var framesDropped: UInt64
    public init(framesWritten: UInt64, framesDropped: UInt64) {
        self.framesWritten = framesWritten
        self.framesDropped = framesDropped
    }
}

/// Where the readable part of a file ends early, and why.
public struct RecordingDamage: Sendable, Equatable, CustomStringConvertible {
    /// Byte offset of the first record that could not be read.
    public var offset: Int
    /// Bytes from `offset` to the end of the file that were not read.
    public var bytesCut: Int
    /// True when the file simply ends inside a record (a killed session); false for a bad checksum
    /// or an undecodable payload.
    public var truncated: Bool
    public var reason: String

    public var description: String {
        truncated
            ? "\(bytesCut) bytes cut (file ends inside a record at offset \(offset))"
            : "\(bytesCut) bytes unreadable from offset \(offset): \(reason)"
    }
}

/// A decoded recording: everything needed to replay it.
public struct Recording: Sendable, Equatable {
    public var metadata: RecordingMetadata
    /// Snapshots in order, events attached.
    public var frames: [Snapshot]
    public var presetSwitches: [PresetSwitch]
    public var bookmarks: [Bookmark]
    /// Present when the recorder stopped cleanly.
    public var end: RecordingEnd?
    /// Present when the file is truncated or corrupt after some point.
    public var damage: RecordingDamage?
    /// Records of kinds this build does not know (written by a newer minor writer), skipped.
    public var skippedRecords: Int

    public init(
        metadata: RecordingMetadata, frames: [Snapshot] = [], presetSwitches: [PresetSwitch] = [],
        bookmarks: [Bookmark] = [], end: RecordingEnd? = nil, damage: RecordingDamage? = nil, skippedRecords: Int = 0
    ) {
        self.metadata = metadata
        self.frames = frames
        self.presetSwitches = presetSwitches
        self.bookmarks = bookmarks
        self.end = end
        self.damage = damage
        self.skippedRecords = skippedRecords
    }

    /// Session seconds of the first and last frame (0 when empty).
    public var startTime: Double { frames.first?.time ?? 0 }
    public var endTime: Double { frames.last?.time ?? 0 }
    public var duration: Double { max(0, endTime - startTime) }
    public var eventCount: Int { frames.reduce(0) { $0 + $1.events.count } }
}

extension Recording {
    /// Index of the frame on screen at session time `t`: the last frame at or before it, the first
    /// when `t` is before the start; nil for an empty recording. Frame times that step back (a damaged
    /// file) count as the latest time before them, as the replayer plays them.
    public func frameIndex(atSessionTime t: Double) -> Int? {
        guard !frames.isEmpty else { return nil }
        return Self.lastIndex(in: playTimes, atOrBefore: t)
    }

    /// Each frame's time as played: non-decreasing (a time that steps back, or is not finite, counts
    /// as the latest before it; 0 before any).
    var playTimes: [Double] {
        var running = -Double.infinity
        return frames.map { f in
            if f.time.isFinite { running = max(running, f.time) }
            return running.isFinite ? running : 0
        }
    }

    /// Last index of the non-decreasing `times` with a value ≤ `t` (0 when `t` is before them all).
    /// Binary search; the replayer's playhead and `frameIndex(atSessionTime:)` share it.
    static func lastIndex(in times: [Double], atOrBefore t: Double) -> Int {
        var lo = 0
        var hi = times.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if times[mid] <= t { lo = mid + 1 } else { hi = mid }
        }
        return max(0, lo - 1)
    }
}
