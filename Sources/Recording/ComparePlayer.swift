// ComparePlayer: two recordings on one timeline (`qvtop compare A B`).
//
// Two `Replayer`s on the same injected clock. The timelines line up by time since each recording's
// first frame: the longer recording leads (its timeline is the one the bar draws and the keys move),
// the other follows at the same elapsed time, and holds its last frame once the leader is past its end.
// Every control goes to the leader; the follower is then put at the leader's elapsed time with the
// leader's speed and pause state. Between controls both advance on the same clock at the same speed,
// so they stay together without a seek per frame (a seek would restart the follower's histories).
//
// Options rejected: one merged frame list (two snapshot streams at different rates would need
// resampling, and each side's histories want every frame of its own); re-seeking the follower every
// frame (it would mark every poll a jump).
//
// Ownership: UI thread only, like `Replayer`.
import Telemetry

public final class ComparePlayer {
    public let a: Replayer
    public let b: Replayer

    /// `clock` returns seconds on a monotonic clock, shared by both sides.
    public init(a: Recording, b: Recording, clock: @escaping () -> Double, paused: Bool = false) {
        self.a = Replayer(recording: a, clock: clock, paused: paused)
        self.b = Replayer(recording: b, clock: clock, paused: paused)
    }

    /// The side whose timeline is the bar's: the longer recording (A on a tie).
    public var leader: Replayer { b.recording.duration > a.recording.duration ? b : a }
    private var follower: Replayer { leader === a ? b : a }

    /// Seconds since the first frame of the leader.
    public var elapsed: Double {
        let t = leader.timeline
        return t.position - t.start
    }

    /// The leader's timeline (what the bar draws).
    public var timeline: Timeline { leader.timeline }

    /// True when `side` has no frame at the current elapsed time any more and shows its last one.
    public func isHeld(_ side: Replayer) -> Bool {
        side !== leader && elapsed > side.recording.duration
    }

    /// Applies one control to the leader and puts the follower beside it.
    public func apply(_ control: ReplayControl) {
        leader.apply(control)
        synchronize()
    }

    /// Puts the follower at the leader's elapsed time (clamped to its own end), speed and pause state.
    public func synchronize() {
        let lead = leader.timeline
        let f = follower
        let own = f.timeline
        f.setSpeed(lead.speed)
        let e = lead.position - lead.start
        if e >= own.duration {
            f.seek(to: own.end)
            f.pause()
            return
        }
        f.pause()
        // Seek only when apart by more than a frame (a pause alone must not restart the follower's histories).
        if abs(own.position - (own.start + e)) > 0.05 { f.seek(to: own.start + e) }
        if !lead.paused { f.play() }
    }
}
