import Telemetry
import Testing

@testable import Recording

/// A clock the test moves by hand.
final class ManualClock {
    var now = 0.0
    func advance(_ s: Double) { now += s }
}

@Suite struct ReplayerTests {
    /// 101 frames at 10 Hz, t = 0…10 s, one event per frame, a bookmark and a preset switch.
    private func recording() -> Recording {
        let frames = (0...100).map { i in
            Snapshot(
                time: Double(i) / 10, sequence: UInt64(i),
                events: [RuntimeEvent(time: Double(i) / 10, kind: .spawnBatch, count: i)])
        }
        return Recording(
            metadata: Synthetic.metadata, frames: frames,
            presetSwitches: [PresetSwitch(time: 5, name: "asyncio", text: "")],
            bookmarks: [Bookmark(time: 2.5, label: "b1")])
    }

    @Test func playsAtTheClockAndPausesAtTheEnd() {
        let clock = ManualClock()
        let r = Replayer(recording: recording(), clock: { clock.now })
        #expect(r.poll()?.sequence == 0)
        #expect(r.poll() == nil, "no new frame without time passing")
        clock.advance(0.1)
        #expect(r.poll()?.sequence == 1)
        clock.advance(0.35)
        let s = r.poll()
        #expect(s?.sequence == 4)
        // Skipped frames' events are carried along, oldest first.
        #expect(s?.events.map(\.count) == [2, 3, 4])
        clock.advance(100)
        #expect(r.poll()?.sequence == 100)
        #expect(r.isPaused)
        #expect(r.timeline.atEnd)
        #expect(r.timeline.fraction == 1)
        // Play at the end restarts.
        r.play()
        #expect(r.poll()?.sequence == 0)
    }

    @Test func pauseStepAndSeek() {
        let clock = ManualClock()
        let r = Replayer(recording: recording(), clock: { clock.now })
        clock.advance(1)
        #expect(r.poll()?.sequence == 10)
        r.togglePause()
        clock.advance(5)
        #expect(r.poll() == nil)
        #expect(r.timeline.position == 1)
        #expect(!r.lastPollJumped)
        r.step(1)
        let stepped = r.poll()
        #expect(stepped?.sequence == 11)
        #expect(stepped?.events.count == 1)
        #expect(!r.lastPollJumped, "one step forward continues the history")
        r.step(-2)
        #expect(r.poll()?.sequence == 9)
        #expect(r.lastPollJumped)
        r.step(-50)
        #expect(r.poll()?.sequence == 0)
        r.seek(by: Replayer.seekStep)
        #expect(r.poll()?.sequence == 100)
        r.seek(by: -Replayer.seekStep / 4)
        let back = r.poll()
        #expect(back?.sequence == 75)
        #expect(back?.events.count == 1, "a seek carries only the frame's own events")
        r.seekToStart()
        #expect(r.poll()?.sequence == 0)
        r.seekToEnd()
        #expect(r.poll()?.sequence == 100)
        #expect(r.isPaused)
        r.seek(to: .nan)
        #expect(r.timeline.frameIndex == 100)
    }

    @Test func speedStepsFromQuarterTo16x() {
        let clock = ManualClock()
        let r = Replayer(recording: recording(), clock: { clock.now })
        for _ in 0..<10 { r.faster() }
        #expect(r.speed == 16)
        clock.advance(0.5)
        #expect(r.poll()?.sequence == 80)
        for _ in 0..<10 { r.slower() }
        #expect(r.speed == 0.25)
        clock.advance(0.4)
        #expect(r.poll()?.sequence == 81)
        r.setSpeed(1000)
        #expect(r.speed == 16)
        r.setSpeed(2)
        #expect(r.speed == 2)
    }

    @Test func timelineHasMarkersInTimeOrder() {
        let clock = ManualClock()
        let r = Replayer(recording: recording(), clock: { clock.now }, paused: true)
        let t = r.timeline
        #expect(t.start == 0)
        #expect(t.end == 10)
        #expect(t.duration == 10)
        #expect(t.frameCount == 101)
        #expect(t.paused)
        #expect(
            t.markers == [
                TimelineMarker(time: 2.5, kind: .bookmark, label: "b1"),
                TimelineMarker(time: 5, kind: .presetSwitch, label: "asyncio"),
            ])
        clock.advance(3)
        #expect(r.poll()?.sequence == 0, "paused")
    }

    @Test func controlsAsValuesAndTheTimelineBar() {
        let clock = ManualClock()
        let r = Replayer(recording: recording(), clock: { clock.now }, paused: true)
        #expect(r.timeline.bar(width: 11) == "●──◆─▲─────")
        #expect(r.currentPreset?.name == "asyncio", "before the first switch: the first preset")
        r.apply(.seek(6))
        #expect(r.poll()?.sequence == 60)
        #expect(r.currentPreset?.name == "asyncio")
        #expect(r.timeline.bar(width: 11) == "━━━◆━▲●────")
        r.apply(.step(-1))
        #expect(r.poll()?.sequence == 59)
        r.apply(.end)
        #expect(r.timeline.bar(width: 11) == "━━━◆━▲━━━━●")
        r.apply(.start)
        r.apply(.faster)
        #expect(r.speed == 2)
        r.apply(.slower)
        r.apply(.slower)
        #expect(r.speed == 0.5)
        r.apply(.togglePause)
        clock.advance(2)
        #expect(r.poll()?.sequence == 10)
        #expect(r.timeline.bar(width: 0) == "")
        #expect(r.timeline.bar(width: 1) == "●")
    }

    @Test func emptyAndStoppedSourcesReturnNil() {
        let empty = Replayer(recording: Recording(metadata: Synthetic.metadata), clock: { 0 })
        #expect(empty.poll() == nil)
        empty.step(1)
        empty.seek(by: 10)
        empty.faster()
        #expect(empty.timeline.frameCount == 0)
        #expect(empty.current == nil)
        let r = Replayer(recording: recording(), clock: { 0 })
        r.stop()
        #expect(r.poll() == nil)
    }

    /// Record → replay: every frame the recorder wrote comes back out of the replayer.
    @Test func recordedFramesReplayEqual() throws {
        let (bytes, expected) = Synthetic.small()
        let rec = try RecordingReader.decode(bytes, name: "small")
        let r = Replayer(recording: rec, clock: { 0 }, paused: true)
        var out: [Snapshot] = []
        if let first = r.poll() { out.append(first) }
        for _ in 1..<expected.frames.count {
            r.step(1)
            if let s = r.poll() { out.append(s) }
        }
        #expect(out == expected.frames)
    }
}
