// Replay and recording in the dashboard: the values the app loop hands the shell (where the
// playhead is, what is being recorded), the replay key map, and the timeline bar.
//
// The Dashboard module knows nothing of the Recording module: the app loop turns the replayer's
// timeline into a `ReplayStatus` and the recorder's status into a `RecordingBadge` once per frame
// (`ViewData.replay`, `ViewData.recording`), and turns `Effect.replay(cmd)` back into a replayer
// control. In replay mode (`UIState.replaying`) the replay keys come first: Space pauses the
// replayer itself (not the view: the replayer's clock would run on and resuming would jump),
// ← → step one frame, `[` `]` seek ∓10 s, Home/End, `<` `>` speed; the other keys keep their
// live meaning (help, code pane, details, quit). Ownership: values only; UI thread.

/// A replay control, as the reducer hands it to the app loop (mirrors `Recording.ReplayControl`).
public enum ReplayCommand: Hashable, Sendable {
    case togglePause
    /// Pause and move this many frames (negative: back).
    case step(Int)
    /// Move the playhead by seconds (negative: back).
    case seek(Double)
    case start, end
    case slower, faster
}

/// A mark on the timeline bar.
public struct ReplayMarker: Hashable, Sendable {
    /// Session seconds.
    public var time: Double
    /// True for a bookmark (`b`), false for a preset switch.
    public var isBookmark: Bool
    public var label: String

    public init(time: Double, isBookmark: Bool, label: String) {
        self.time = time
        self.isBookmark = isBookmark
        self.label = label
    }
}

/// Where a replay is: what the header and the timeline bar draw.
public struct ReplayStatus: Hashable, Sendable {
    /// Session seconds of the first and last frame, and of the playhead.
    public var start: Double
    public var end: Double
    public var position: Double
    public var frameIndex: Int
    public var frameCount: Int
    public var speed: Double
    public var paused: Bool
    public var markers: [ReplayMarker]

    public init(
        start: Double, end: Double, position: Double, frameIndex: Int, frameCount: Int, speed: Double,
        paused: Bool, markers: [ReplayMarker] = []
    ) {
        self.start = start
        self.end = end
        self.position = position
        self.frameIndex = frameIndex
        self.frameCount = frameCount
        self.speed = speed
        self.paused = paused
        self.markers = markers
    }

    public var duration: Double { max(0, end - start) }
    /// Seconds since the first frame.
    public var elapsed: Double { max(0, min(duration, position - start)) }

    /// `12s / 1m30s  2×` (speed as `0.25×`, `1×`, `16×`).
    public func label(times: Character = "×") -> String {
        let s = speed == speed.rounded() ? String(Int(speed)) : String(speed)
        return "\(Shell.formatSeconds(elapsed)) / \(Shell.formatSeconds(duration))  \(s)\(times)"
    }
}

/// A recording in progress, for the header's REC marker.
public struct RecordingBadge: Hashable, Sendable {
    /// The file's name (the last path component).
    public var file: String
    public var bytes: Int
    /// Frames the recorder dropped (queue full); shown when not zero.
    public var framesDropped: UInt64

    public init(file: String, bytes: Int, framesDropped: UInt64 = 0) {
        self.file = file
        self.bytes = bytes
        self.framesDropped = framesDropped
    }

    /// `REC name 1.2 MB` (+ `, 3 dropped`).
    public var label: String {
        var s = "REC \(file) \(Self.size(bytes))"
        if framesDropped > 0 { s += ", \(framesDropped) dropped" }
        return s
    }

    /// `812 B`, `12 KB`, `1.2 MB`.
    public static func size(_ bytes: Int) -> String {
        if bytes < 1000 { return "\(max(0, bytes)) B" }
        if bytes < 1_000_000 { return "\(bytes / 1000) KB" }
        let tenths = bytes / 100_000
        return "\(tenths / 10).\(tenths % 10) MB"
    }
}

extension KeyMap {
    /// The keys that mean something else in a replay, in help order. They come before `bindings`.
    public static let replayBindings: [KeyBinding] = [
        KeyBinding(keys: [.char(" ")], help: "pause / play the replay", intent: .replay(.togglePause), hint: "pause"),
        KeyBinding(
            keys: [.left, .right], help: "step one frame back / forward (pauses)", intent: .replay(.step(-1)),
            helpKeys: "Left, Right"),
        KeyBinding(keys: [.right], help: "step one frame forward", intent: .replay(.step(1)), inHelp: false),
        KeyBinding(
            keys: [.char("[")], help: "seek 10 s back / forward; the start / end", intent: .replay(.seek(-10)),
            hint: "seek", helpKeys: "[ ], Home, End"),
        KeyBinding(keys: [.char("]")], help: "seek 10 s forward", intent: .replay(.seek(10)), inHelp: false),
        KeyBinding(keys: [.home], help: "go to the start", intent: .replay(.start), inHelp: false),
        KeyBinding(keys: [.end], help: "go to the end", intent: .replay(.end), inHelp: false),
        KeyBinding(
            keys: [.char("<")], help: "play slower / faster (0.25x to 16x)", intent: .replay(.slower),
            hint: "speed", helpKeys: "<, >"),
        KeyBinding(keys: [.char(">")], help: "play faster", intent: .replay(.faster), inHelp: false),
    ]

    /// Bindings that mean nothing in a replay (recording, preset switching, the view freeze).
    static func liveOnly(_ b: KeyBinding) -> Bool {
        switch b.intent {
        case .togglePause, .toggleRecording, .bookmark, .choosePreset, .cyclePreset, .togglePicker: return true
        default: return false
        }
    }

    /// The bindings in effect: in a replay, the replay keys then the live keys that still apply.
    public static func activeBindings(replaying: Bool) -> [KeyBinding] {
        replaying ? replayBindings + bindings.filter { !liveOnly($0) } : bindings
    }

    /// The replay meaning of `key`, if it has one.
    static func replayIntent(for key: Key) -> Intent? {
        if key == .right { return .replay(.step(1)) }  // shares a help line with ←
        return replayBindings.first { $0.keys.contains(key) }?.intent
    }
}

extension Shell {
    /// The timeline bar of a replay: `▶ 12s / 1m30s 1×` then a bar with `━` played, `─` to come,
    /// `●` the playhead, `▲` preset switches and `◆` bookmarks (ASCII: `= - O ^ *`).
    static func drawTimeline(into grid: inout Grid, in rect: Rect, replay: ReplayStatus) {
        guard rect.width > 0, rect.height > 0 else { return }
        let ascii = grid.glyphs.isASCII
        grid.fill(rect, style: .plain)
        let icon = replay.paused ? (ascii ? "||" : "⏸") : (ascii ? ">" : "▶")
        let label = " \(icon) " + replay.label(times: ascii ? "x" : "×") + " "
        let used = grid.text(at: Point(rect.x, rect.y), label, style: .bold, maxWidth: rect.width)
        let width = rect.width - used - 1
        guard width > 2 else { return }
        let x0 = rect.x + used
        func column(_ t: Double) -> Int {
            guard replay.duration > 0, t.isFinite else { return 0 }
            return min(width - 1, max(0, Int(((t - replay.start) / replay.duration * Double(width - 1)).rounded())))
        }
        let head = column(replay.position)
        let played = Style(fg: .cyan, .bold)
        for i in 0..<width {
            let c = i < head ? (ascii ? "=" : "━") : (ascii ? "-" : "─")
            grid.text(at: Point(x0 + i, rect.y), c, style: i < head ? played : .dim)
        }
        for m in replay.markers {
            let c = m.isBookmark ? (ascii ? "*" : "◆") : (ascii ? "^" : "▲")
            grid.text(
                at: Point(x0 + column(m.time), rect.y), c, style: Style(fg: m.isBookmark ? .yellow : .magenta, .bold))
        }
        grid.text(at: Point(x0 + head, rect.y), ascii ? "O" : "●", style: .bold)
    }
}
