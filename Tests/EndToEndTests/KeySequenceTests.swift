import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 17, keys that survive a mismatched terminal: under tmux a terminfo and the terminal can disagree
/// on what Home, End and F1 send (tmux sends End as `ESC [ 4 ~`, which xterm-256color's terminfo calls
/// nothing, so curses would hand over Esc, `[`, `4`, `~`, and End in a replay would seek back). Each
/// common alternate is typed into the pane under TERM=xterm-256color and TERM=screen, and must do what
/// help says: Home/End jump to the replay's start/end, F1 opens and closes the help.
@Suite(.enabled(if: E2E.enabled, "tmux is not installed (required under CI=true)"), .timeLimit(.minutes(3)))
struct KeySequenceTests {
    static let home = ["\u{1B}[1~", "\u{1B}[7~", "\u{1B}[H", "\u{1B}OH"]
    static let end = ["\u{1B}[4~", "\u{1B}[8~", "\u{1B}[F", "\u{1B}OF"]
    static let f1 = ["\u{1B}OP", "\u{1B}[11~", "\u{1B}[[A"]

    /// A 3-second headless recording, made once for the suite.
    static let recording: Result<String, HarnessErrorText> = {
        do {
            let dir = try RecordReplayTests.folder()
            let file = dir.appendingPathComponent("keys.qvrec").path
            let r = try E2E.run([try E2E.binary(), "run", "--headless", "--duration", "3", "--record", file])
            return r.status == 0 ? .success(file) : .failure(HarnessErrorText(text: r.err))
        } catch {
            return .failure(HarnessErrorText(text: "\(error)"))
        }
    }()

    struct HarnessErrorText: Error { var text: String }

    static func visible(_ s: String) -> String { s.replacingOccurrences(of: "\u{1B}", with: "ESC") }

    @Test(arguments: ["xterm-256color", "screen"]) func homeEndAndF1AlternatesWork(term: String) throws {
        guard let tmux = E2E.requireTmux() else { return }
        let file = try Self.recording.get()
        let pane = try TmuxPane(tmux: tmux, args: ["replay", file], width: 100, height: 30, env: ["TERM": term])
        defer { pane.close() }
        #expect(pane.waitFor("REPLAY"), "\(pane.capture())")
        try pane.send(" ")  // pause: the playhead then moves only by the keys under test
        #expect(E2E.waitUntil { RecordReplayTests.timeline(pane).hasPrefix(" ⏸") }, "\(pane.capture())")
        // "⏸ 0s / 3s  1×": the duration as the bar writes it.
        let label = RecordReplayTests.timeline(pane)
        let duration = try #require(label.split(separator: "/").dropFirst().first?.split(separator: " ").first)
        for (h, e) in zip(Self.home, Self.end) {
            try pane.tmuxCommand(["send-keys", "-t", "qv", "-l", e])
            #expect(
                E2E.waitUntil(timeout: 3) {
                    RecordReplayTests.timeline(pane).hasPrefix(" ⏸ \(duration) / \(duration)")
                },
                "End as \(Self.visible(e)) under \(term): \(RecordReplayTests.timeline(pane))")
            try pane.tmuxCommand(["send-keys", "-t", "qv", "-l", h])
            #expect(
                E2E.waitUntil(timeout: 3) { RecordReplayTests.timeline(pane).hasPrefix(" ⏸ 0s / \(duration)") },
                "Home as \(Self.visible(h)) under \(term): \(RecordReplayTests.timeline(pane))")
        }
        for f in Self.f1 {
            try pane.tmuxCommand(["send-keys", "-t", "qv", "-l", f])
            #expect(pane.waitFor("─ Keys ─", timeout: 3), "F1 as \(Self.visible(f)) under \(term): \(pane.capture())")
            try pane.tmuxCommand(["send-keys", "-t", "qv", "-l", f])
            #expect(pane.waitFor("─ Keys ─", absent: true, timeout: 3), "F1 as \(Self.visible(f)) closes help")
        }
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
    }
}
