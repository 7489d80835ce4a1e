import Testing

@testable import Dashboard

/// Replay keys, recording keys, the REPLAY/REC header and the timeline bar (ReplayKeys.swift).
@Suite struct ReplayKeysTests {
    static func replayState(_ size: Size = Size(120, 40)) -> UIState {
        var s = UIState(size: size)
        s.replaying = true
        return s
    }

    @Test func replayKeysBecomeReplayIntentsAndEffects() {
        var s = Self.replayState()
        let expected: [(Key, ReplayCommand)] = [
            (.char(" "), .togglePause), (.left, .step(-1)), (.right, .step(1)), (.char("["), .seek(-10)),
            (.char("]"), .seek(10)), (.home, .start), (.end, .end), (.char("<"), .slower), (.char(">"), .faster),
        ]
        for (key, command) in expected {
            let intent = KeyMap.intent(for: key, state: s)
            #expect(intent == .replay(command), "\(key)")
            if let intent { #expect(reduce(&s, intent) == .replay(command), "\(key)") }
        }
        // Space pauses the replayer, never the view (the replayer's clock would run on).
        #expect(!s.paused)
        // Keys that still mean what they mean live.
        #expect(KeyMap.intent(for: .char("q"), state: s) == .quit(status: 0))
        #expect(KeyMap.intent(for: .down, state: s) == .moveSelection(1))
        #expect(KeyMap.intent(for: .char("c"), state: s) == .toggleCode)
        // Live-only keys mean nothing in a replay.
        #expect(KeyMap.intent(for: .char("1"), state: s) == nil)
        #expect(KeyMap.intent(for: .char("r"), state: s) == nil)
        #expect(KeyMap.intent(for: .char("b"), state: s) == nil)
        #expect(KeyMap.intent(for: .char("p"), state: s) == nil)
        #expect(reduce(&s, .toggleRecording) == .none)
        #expect(reduce(&s, .bookmark) == .none)
    }

    @Test func liveKeysAreUnchangedAndRecordingKeysAreEffects() {
        var s = UIState()
        #expect(KeyMap.intent(for: .char(" "), state: s) == .togglePause)
        #expect(KeyMap.intent(for: .right, state: s) == .moveSelection(1))
        #expect(KeyMap.intent(for: .char("["), state: s) == nil)
        #expect(KeyMap.intent(for: .char("r"), state: s) == .toggleRecording)
        #expect(KeyMap.intent(for: .char("R"), state: s) == .toggleRecording)
        #expect(KeyMap.intent(for: .char("b"), state: s) == .bookmark)
        #expect(reduce(&s, .toggleRecording) == .toggleRecording)
        #expect(reduce(&s, .bookmark) == .bookmark)
        // A replay intent that reaches a live reducer does nothing.
        #expect(reduce(&s, .replay(.seek(10))) == .none)
        // A write error: a banner, the dashboard goes on.
        #expect(reduce(&s, .recordingFailed("recording stopped: writing /dev/full failed")) == .none)
        #expect(s.banner == "recording stopped: writing /dev/full failed")
        _ = reduce(&s, .closeOverlay)
        #expect(s.banner == nil)
    }

    @Test(arguments: [Size(80, 24), Size(120, 40)]) func helpListsTheReplayKeysInReplayMode(size: Size) {
        var s = Self.replayState(size)
        s.helpVisible = true
        var data = ViewData()
        data.replay = ReplayStatus(
            start: 0, end: 60, position: 12, frameIndex: 120, frameCount: 600, speed: 2, paused: false)
        let text = Shell.render(data: data, state: s).text
        for b in KeyMap.replayBindings where b.inHelp {
            #expect(text.contains(b.keyLabel), "\(b.keyLabel)")
            #expect(text.contains(b.help), "\(b.help)")
        }
        #expect(!text.contains("switch to preset"))
        #expect(!text.contains("record to a file"))
        // Live help lists recording, not the replay keys.
        var live = UIState(size: Size(120, 40))
        live.helpVisible = true
        let liveText = Shell.render(data: ViewData(), state: live).text
        #expect(liveText.contains("record to a file / stop; b bookmarks"))
        #expect(!liveText.contains("pause / play the replay"))
    }

    @Test func headerSaysReplayWithPositionAndSpeedAndTheTimelineShowsMarkers() {
        let s = Self.replayState()
        var data = ViewData()
        data.replay = ReplayStatus(
            start: 100, end: 190, position: 130, frameIndex: 300, frameCount: 900, speed: 0.25, paused: false,
            markers: [
                ReplayMarker(time: 100, isBookmark: false, label: "vt-steal"),
                ReplayMarker(time: 160, isBookmark: true, label: "bookmark 1"),
            ])
        let lines = Shell.render(data: data, state: s).text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0].contains("REPLAY"))
        #expect(!lines[0].contains("LIVE"))
        #expect(lines[0].contains("30s / 1m30s  0.25×"), "\(lines[0])")
        let bar = String(lines[38])
        #expect(bar.contains("▶ 30s / 1m30s  0.25×"), "\(bar)")
        #expect(bar.contains("▲"))
        #expect(bar.contains("◆"))
        #expect(bar.contains("●"))
        // The playhead a third of the way along; the bookmark two thirds.
        let track = bar.drop { $0 != "▲" }
        let head = track.distance(from: track.startIndex, to: track.firstIndex(of: "●")!)
        let mark = track.distance(from: track.startIndex, to: track.firstIndex(of: "◆")!)
        #expect(abs(Double(head) / Double(track.count) - 1.0 / 3) < 0.05, "\(bar)")
        #expect(abs(Double(mark) / Double(track.count) - 2.0 / 3) < 0.05, "\(bar)")
        // Paused: said in the header and the bar; ASCII has its own glyphs.
        data.replay?.paused = true
        let paused = Shell.render(data: data, state: s, glyphs: .ascii).text.split(
            separator: "\n", omittingEmptySubsequences: false)
        #expect(paused[0].contains("REPLAY PAUSED"))
        #expect(paused[38].contains("|| 30s / 1m30s  0.25x"), "\(paused[38])")
        #expect(paused[38].contains("*") && paused[38].contains("^") && paused[38].contains("O"))
    }

    @Test func recMarkerNamesTheFileAndItsSize() {
        var data = ViewData()
        data.recording = RecordingBadge(file: "talk.qvrec", bytes: 1_234_567, framesDropped: 3)
        let header = Shell.render(data: data, state: UIState(size: Size(120, 40))).text.prefix { $0 != "\n" }
        #expect(header.contains("REC talk.qvrec 1.2 MB, 3 dropped"), "\(header)")
        #expect(RecordingBadge.size(812) == "812 B")
        #expect(RecordingBadge.size(12_345) == "12 KB")
        #expect(RecordingBadge.size(2_050_000) == "2.0 MB")
    }
}
