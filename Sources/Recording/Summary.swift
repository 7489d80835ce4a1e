// RecordingSummary: what `qvtop replay FILE --info [--json]` prints: facts about the file.
//
// (`replay --headless` prints Telemetry's `RunSummary` of the recorded frames instead, the same
// summary a headless live run prints.)
import Telemetry

public struct RecordingSummary: Codable, Sendable, Equatable {
    public var file: String
    public var formatVersion: Int
    public var qvtopVersion: String
    public var startTime: Double
    public var columns: Int
    public var rows: Int
    public var cores: Int
    public var frames: Int
    public var durationSeconds: Double
    public var events: Int
    public var eventsByKind: [String: Int]
    public var presets: [String]
    public var bookmarks: Int
    /// True when the recorder stopped cleanly (the end record is present).
    public var complete: Bool
    /// Snapshots the recorder dropped (from the end record; nil when it is missing).
    public var framesDropped: UInt64?
    /// "N bytes cut …" or the corruption found, nil when the file is whole.
    public var damage: String?
    /// Final counters of the last frame, for a quick comparison with a live run.
    public var lastFrame: LastFrame?

    public struct LastFrame: Codable, Sendable, Equatable {
        public var preset: String
        public var model: String
        public var time: Double
        public var runs: UInt64
        public var steals: UInt64
        public var parks: UInt64
        public var completed: UInt64
        public var lagP99Ms: Double
        public var lagMaxMs: Double
    }

    public init(_ r: Recording, file: String) {
        self.file = file
        formatVersion = r.metadata.formatVersion
        qvtopVersion = r.metadata.qvtopVersion
        startTime = r.metadata.startTime
        columns = r.metadata.columns
        rows = r.metadata.rows
        cores = r.metadata.cores
        frames = r.frames.count
        durationSeconds = r.duration
        var byKind: [String: Int] = [:]
        for f in r.frames { for e in f.events { byKind[e.kind.rawValue, default: 0] += 1 } }
        events = byKind.values.reduce(0, +)
        eventsByKind = byKind
        var presets: [String] = []
        for p in r.presetSwitches.map(\.name) + r.frames.map(\.preset) where !p.isEmpty && !presets.contains(p) {
            presets.append(p)
        }
        self.presets = presets
        bookmarks = r.bookmarks.count
        complete = r.end != nil && r.damage == nil
        framesDropped = r.end?.framesDropped
        damage = r.damage?.description
        lastFrame = r.frames.last.map { f in
            LastFrame(
                preset: f.preset, model: f.model.rawValue, time: f.time,
                runs: f.workers.reduce(0) { $0 &+ $1.runs } &+ f.loops.reduce(0) { $0 &+ ($1.jobsRun ?? 0) },
                steals: f.workers.reduce(0) { $0 &+ $1.stolenIn }, parks: f.workers.reduce(0) { $0 &+ $1.parks },
                completed: f.taskKinds.reduce(0) { $0 &+ $1.completed }, lagP99Ms: f.lag.p99Ms, lagMaxMs: f.lag.maxMs)
        }
    }
}
