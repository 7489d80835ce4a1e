import Telemetry
import Testing

@testable import Recording

/// Two recordings on one timeline: lined up by time since their first frame, the shorter holding its
/// last frame, every replay control moving both.
@Suite struct ComparePlayerTests {
    /// Frames at 10 Hz for `seconds`, starting at session time `start`.
    static func recording(seconds: Int, start: Double) -> Recording {
        let frames = (0...(seconds * 10)).map { i in Snapshot(time: start + Double(i) / 10, sequence: UInt64(i)) }
        return Recording(metadata: Synthetic.metadata, frames: frames)
    }

    static func elapsed(_ r: Replayer) -> Double {
        let t = r.timeline
        return ((t.position - t.start) * 100).rounded() / 100
    }

    @Test func sidesLineUpByTimeSinceStartAndTheShorterHoldsItsLastFrame() {
        let clock = ManualClock()
        // A: 4 s starting at session time 0.3; B: 2 s starting at 7.0 (another session's clock).
        let p = ComparePlayer(
            a: Self.recording(seconds: 4, start: 0.3), b: Self.recording(seconds: 2, start: 7), clock: { clock.now })
        #expect(p.leader === p.a)
        #expect(p.a.poll()?.sequence == 0 && p.b.poll()?.sequence == 0)
        clock.advance(1)
        #expect(p.a.poll()?.sequence == 10 && p.b.poll()?.sequence == 10)
        clock.advance(2)
        #expect(p.a.poll()?.sequence == 30)
        #expect(p.b.poll()?.sequence == 20, "B holds its last frame")
        #expect(p.isHeld(p.b) && !p.isHeld(p.a))
        #expect(Self.elapsed(p.a) == 3 && p.timeline.frameCount == 41)
    }

    @Test func everyControlMovesBothSides() {
        let clock = ManualClock()
        let p = ComparePlayer(
            a: Self.recording(seconds: 2, start: 0), b: Self.recording(seconds: 5, start: 1), clock: { clock.now })
        #expect(p.leader === p.b, "the longer recording leads")
        clock.advance(1)
        p.apply(.togglePause)
        #expect(p.a.isPaused && p.b.isPaused)
        #expect(Self.elapsed(p.a) == 1 && Self.elapsed(p.b) == 1)
        p.apply(.step(5))
        #expect(Self.elapsed(p.a) == 1.5 && Self.elapsed(p.b) == 1.5, "\(Self.elapsed(p.a)) \(Self.elapsed(p.b))")
        p.apply(.seek(10))  // past A's end: A holds its last frame
        #expect(Self.elapsed(p.b) == 5 && Self.elapsed(p.a) == 2 && p.isHeld(p.a))
        p.apply(.start)
        #expect(Self.elapsed(p.a) == 0 && Self.elapsed(p.b) == 0)
        p.apply(.faster)
        #expect(p.a.speed == 2 && p.b.speed == 2)
        p.apply(.togglePause)  // play at 2×
        #expect(!p.a.isPaused && !p.b.isPaused)
        clock.advance(0.5)
        #expect(Self.elapsed(p.a) == 1 && Self.elapsed(p.b) == 1)
        p.apply(.end)
        #expect(Self.elapsed(p.b) == 5 && Self.elapsed(p.a) == 2)
    }
}
