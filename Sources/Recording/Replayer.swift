// Replayer: a `SnapshotSource` that plays a decoded recording on an injected clock.
//
// The playhead is a session time (the clock of `Snapshot.time`). While playing it moves at
// `speed` × the injected clock from an anchor (position, clock reading) that every control
// resets, so changing speed or seeking never jumps. The frame shown is the last frame whose
// time is ≤ the playhead. Reaching the end pauses there; play at the end restarts.
//
// `poll()` returns a snapshot only when the frame changed since the previous poll, and when
// playback moved forward over frames the UI never saw (16× at a 10 Hz UI), it carries their
// events too, so steal counters and event logs in the UI miss nothing. After a seek or a
// step back it carries just that frame's events.
//
// Ownership: every method runs on the UI thread (the `SnapshotSource` contract).
import Telemetry

/// A mark on the replay timeline bar.
public struct TimelineMarker: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case bookmark
        case presetSwitch
    }
    /// Session seconds.
    public var time: Double
    public var kind: Kind
    /// Bookmark label or preset name.
    public var label: String
}

/// Everything a timeline bar draws.
public struct Timeline: Sendable, Equatable {
    /// Session seconds of the first and last frame.
    public var start: Double
    public var end: Double
    /// Session seconds of the playhead.
    public var position: Double
    /// Index of the frame shown, and how many frames there are.
    public var frameIndex: Int
    public var frameCount: Int
    public var paused: Bool
    public var speed: Double
    public var markers: [TimelineMarker]

    public var duration: Double { max(0, end - start) }
    /// Playhead as 0…1 of the duration (0 for an empty or one-frame recording).
    public var fraction: Double { duration > 0 ? min(1, max(0, (position - start) / duration)) : 0 }
    public var atEnd: Bool { frameCount == 0 || frameIndex == frameCount - 1 }
}

/// Replay controls as values, so the dashboard's reducer can turn keys into them and tests need
/// no terminal: Space → togglePause, ← → → step(∓1), `[` `]` → seek(∓10), Home/End → start/end,
/// `<` `>` → slower/faster.
public enum ReplayControl: Sendable, Equatable {
    case togglePause
    case step(Int)
    case seek(Double)
    case start
    case end
    case slower
    case faster
}

extension Timeline {
    /// A one-line timeline bar of `width` columns: `━` played, `─` to come, `●` the playhead,
    /// `▲` preset switches and `◆` bookmarks (the playhead wins a shared column).
    public func bar(width: Int) -> String {
        guard width > 0 else { return "" }
        var cells = [Character](repeating: "─", count: width)
        func column(_ t: Double) -> Int {
            guard duration > 0, t.isFinite else { return 0 }
            return min(width - 1, max(0, Int(((t - start) / duration * Double(width - 1)).rounded())))
        }
        let head = column(position)
        for i in 0..<head { cells[i] = "━" }
        for m in markers { cells[column(m.time)] = m.kind == .bookmark ? "◆" : "▲" }
        cells[head] = "●"
        return String(cells)
    }
}

public final class Replayer: SnapshotSource {
    /// The speeds `<` and `>` step through.
    public static let speeds: [Double] = [0.25, 0.5, 1, 2, 4, 8, 16]
    /// How far `[` and `]` seek.
    public static let seekStep: Double = 10

    public let recording: Recording
    /// Seconds on a monotonic clock; injected so tests never sleep.
    private let clock: () -> Double
    /// Frame times made non-decreasing (a damaged file could disorder them).
    private let times: [Double]
    private let markers: [TimelineMarker]

    public private(set) var speed: Double = 1
    public private(set) var isPaused: Bool
    private var anchorPosition: Double
    private var anchorClock: Double
    private var index: Int = 0
    /// Frame index handed out by the last `poll`, and whether the playhead moved
    /// discontinuously (seek/step/home/end) since.
    private var lastPolled: Int?
    private var jumped = false
    private var stopped = false

    /// `clock` returns seconds on a monotonic clock. Starts playing at the first frame unless
    /// `paused`.
    public init(recording: Recording, clock: @escaping () -> Double, paused: Bool = false) {
        self.recording = recording
        self.clock = clock
        self.times = recording.playTimes
        var markers = recording.bookmarks.map { TimelineMarker(time: $0.time, kind: .bookmark, label: $0.label) }
        markers += recording.presetSwitches.map { TimelineMarker(time: $0.time, kind: .presetSwitch, label: $0.name) }
        self.markers = markers.sorted { $0.time < $1.time }
        self.isPaused = paused
        self.anchorPosition = times.first ?? 0
        self.anchorClock = clock()
    }

    // MARK: SnapshotSource

    /// The current frame when it changed since the last poll (see the essay), else nil.
    public func poll() -> Snapshot? {
        guard !stopped, !recording.frames.isEmpty else { return nil }
        advance()
        guard index != lastPolled else { return nil }
        var snapshot = recording.frames[index]
        if !jumped, let last = lastPolled, last < index - 1 {
            var events: [RuntimeEvent] = []
            for i in (last + 1)..<index { events += recording.frames[i].events }
            snapshot.events = events + snapshot.events
        }
        lastPollJumped = jumped && !(lastPolled.map { index == $0 + 1 } ?? false)
        lastPolled = index
        jumped = false
        return snapshot
    }

    public func stop() { stopped = true }

    /// True when the snapshot the last `poll` returned does not follow the one before it (a seek,
    /// a step back, Home/End): the UI should restart histories such as sparklines.
    public private(set) var lastPollJumped = false

    /// The frame at the playhead (for a redraw without a new poll).
    public var current: Snapshot? {
        advance()
        return recording.frames.isEmpty ? nil : recording.frames[index]
    }

    // MARK: controls (keys: Space, ← →, [ ], Home End, < >)

    /// Applies one control (see `ReplayControl`).
    public func apply(_ control: ReplayControl) {
        switch control {
        case .togglePause: togglePause()
        case .step(let n): step(n)
        case .seek(let seconds): seek(by: seconds)
        case .start: seekToStart()
        case .end: seekToEnd()
        case .slower: slower()
        case .faster: faster()
        }
    }

    public func togglePause() { isPaused ? play() : pause() }

    public func play() {
        guard isPaused else { return }
        if timeline.atEnd { seek(to: start) }
        reanchor(position: position)
        isPaused = false
    }

    public func pause() {
        guard !isPaused else { return }
        advance()  // the frame at the playhead now, so a step right after counts from it
        let p = position
        isPaused = true
        reanchor(position: p)
    }

    /// Pauses and moves `frames` frames (negative: back).
    public func step(_ frames: Int) {
        advance()
        pause()
        guard !times.isEmpty else { return }
        index = min(max(0, index + max(-times.count, min(times.count, frames))), times.count - 1)
        jumped = true
        reanchor(position: times[index])
    }

    /// Moves the playhead by `seconds` (negative: back), keeping play/pause.
    public func seek(by seconds: Double) { seek(to: position + seconds) }

    public func seekToStart() { seek(to: start) }
    public func seekToEnd() { seek(to: end) }

    public func seek(to time: Double) {
        guard time.isFinite else { return }
        jumped = true
        reanchor(position: min(max(time, start), end))
        index = frameIndex(at: anchorPosition)
    }

    /// Next speed up / down in `speeds`.
    public func faster() { setSpeed(Self.speeds.first { $0 > speed } ?? Self.speeds.last!) }
    public func slower() { setSpeed(Self.speeds.last { $0 < speed } ?? Self.speeds.first!) }

    /// Sets the speed, clamped to 0.25…16.
    public func setSpeed(_ s: Double) {
        guard s.isFinite else { return }
        reanchor(position: position)
        speed = min(max(s, Self.speeds.first!), Self.speeds.last!)
    }

    /// The preset in effect at the playhead: the last preset-switch record at or before it, with
    /// the preset's full text (nil when the recording has none).
    public var currentPreset: PresetSwitch? {
        advance()
        let t = times.isEmpty ? 0 : times[index]
        return recording.presetSwitches.last { $0.time <= t } ?? recording.presetSwitches.first
    }

    public var timeline: Timeline {
        advance()
        return Timeline(
            start: start, end: end, position: position, frameIndex: index, frameCount: times.count, paused: isPaused,
            speed: speed, markers: markers)
    }

    // MARK: playhead

    private var start: Double { times.first ?? 0 }
    private var end: Double { times.last ?? 0 }

    /// Session seconds of the playhead, clamped to the recording.
    private var position: Double {
        guard !isPaused else { return anchorPosition }
        let p = anchorPosition + (clock() - anchorClock) * speed
        return min(max(p, start), end)
    }

    private func reanchor(position p: Double) {
        anchorPosition = p
        anchorClock = clock()
    }

    /// Moves `index` to the playhead; pauses at the end.
    private func advance() {
        guard !isPaused, !times.isEmpty else { return }
        let p = position
        index = frameIndex(at: p)
        if p >= end {
            index = times.count - 1
            isPaused = true
            anchorPosition = end
        }
    }

    /// Last frame with time ≤ `t` (the first frame when `t` is before it).
    private func frameIndex(at t: Double) -> Int { Recording.lastIndex(in: times, atOrBefore: t) }
}
