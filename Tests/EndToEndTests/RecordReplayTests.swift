import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 8 end to end: record with `r` on the real runtime, replay the file in the dashboard
/// (seek, step, pause, speed), `--record` refusing to replace a file, a write error as a banner,
/// and a headless recording replaying to the same summary (see Harness.swift).
@Suite(.enabled(if: E2E.enabled, "tmux is not installed (required under CI=true)"), .timeLimit(.minutes(2)))
struct RecordReplayTests {
    /// A fresh folder for recordings, removed by the caller.
    static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qvtop-rec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func header(_ pane: TmuxPane) -> String { String(pane.capture().prefix { $0 != "\n" }) }

    /// The timeline bar's row: the one that starts with the play/pause sign.
    static func timeline(_ pane: TmuxPane) -> String {
        pane.capture().split(separator: "\n").first { $0.hasPrefix(" ▶") || $0.hasPrefix(" ⏸") }.map(String.init) ?? ""
    }

    @Test func recordWithRThenReplaySeekPauseAndQuit() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Record: r starts a dated file in --record-dir, b drops a bookmark, r stops, q quits.
        do {
            let pane = try TmuxPane(tmux: tmux, args: ["run", "--record-dir", dir.path])
            defer { pane.close() }
            #expect(pane.waitForLive(), "\(pane.capture())")
            #expect(!Self.header(pane).contains("REC "))
            try pane.send("r")
            #expect(pane.waitFor("REC qvtop-"), "\(pane.capture())")
            usleep(1_500_000)
            try pane.send("b")
            #expect(pane.waitFor("bookmark 1"), "\(Self.header(pane))")
            // The size in the header grows while the runtime runs.
            let size = Self.header(pane)
            #expect(E2E.waitUntil(timeout: 5) { Self.header(pane).contains(" KB") && Self.header(pane) != size })
            // A preset switch while recording: the file gets the new preset's full text.
            try pane.send("2")
            #expect(E2E.waitUntil { !Self.header(pane).contains(EndToEndTests.defaultTitle) }, "\(Self.header(pane))")
            usleep(1_500_000)
            try pane.send("r")
            #expect(E2E.waitUntil { !Self.header(pane).contains("REC ") }, "\(Self.header(pane))")
            try pane.send("q")
            #expect(pane.exitStatus() == 0)
            #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".qvrec") }
        #expect(files.count == 1, "\(files)")
        guard let name = files.first else { return }
        let file = dir.appendingPathComponent(name).path
        let qvtop = try E2E.binary()
        let info = try E2E.run([qvtop, "replay", file, "--info"])
        #expect(info.status == 0, "\(info.err)")
        #expect(info.out.contains("1 bookmarks"), "\(info.out)")
        #expect(info.out.contains("presets: vt-steal, "), "\(info.out)")
        // Both presets' full TOML text is in the file (the Chrome export puts it in the switch's args).
        let trace = dir.appendingPathComponent("trace.json").path
        let export = try E2E.run([qvtop, "export", file, "--format", "chrome", "-o", trace])
        #expect(export.status == 0, "\(export.err)")
        let json = (try? String(contentsOfFile: trace, encoding: .utf8)) ?? ""
        #expect(json.components(separatedBy: "[scheduler]").count - 1 >= 2, "preset texts in \(trace)")
        #expect(!info.out.contains("did not stop cleanly"), "\(info.out)")

        // Replay: REPLAY header, timeline bar; Space pauses the replay, Home/End/[ ]/arrows move it.
        let pane = try TmuxPane(tmux: tmux, args: ["replay", file])
        defer { pane.close() }
        #expect(pane.waitFor("REPLAY"), "\(pane.capture())")
        #expect(!Self.header(pane).contains("LIVE"))
        #expect(E2E.waitUntil { Self.timeline(pane).contains("◆") && Self.timeline(pane).contains("▲") })
        try pane.send("Space")
        #expect(E2E.waitUntil { Self.header(pane).contains("REPLAY PAUSED") }, "\(Self.header(pane))")
        usleep(300_000)
        let paused = Self.timeline(pane)
        usleep(1_200_000)
        #expect(Self.timeline(pane) == paused, "a paused replay does not move")
        try pane.send("End")
        #expect(E2E.waitUntil { Self.timeline(pane).hasSuffix("●") }, "\(Self.timeline(pane))")
        try pane.send("Home")
        #expect(E2E.waitUntil { Self.timeline(pane).contains(" 0s / ") }, "\(Self.timeline(pane))")
        try pane.send("]")  // seek +10 s: past the end of a 3 s recording, so at the end
        #expect(E2E.waitUntil { Self.timeline(pane).hasSuffix("●") }, "\(Self.timeline(pane))")
        try pane.send("[")
        #expect(E2E.waitUntil { Self.timeline(pane).contains(" 0s / ") }, "\(Self.timeline(pane))")
        try pane.send("Right", "Right")
        try pane.send(">", ">")
        #expect(E2E.waitUntil { Self.timeline(pane).contains("4×") }, "\(Self.timeline(pane))")
        try pane.send("?")
        #expect(pane.waitFor("pause / play the replay"), "\(pane.capture())")
        try pane.send("?")
        // The code pane shows the recorded preset's task bodies (parsed from its text in the file).
        try pane.send("c")
        #expect(pane.waitFor("Code · "), "\(pane.capture())")
        try pane.send("Space")  // play to the end at 4×: the replay pauses there
        #expect(E2E.waitUntil(timeout: 10) { Self.timeline(pane).hasSuffix("●") }, "\(Self.timeline(pane))")
        #expect(E2E.waitUntil { Self.header(pane).contains("REPLAY PAUSED") }, "\(Self.header(pane))")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func recordRefusesToReplaceAFileWithoutForce() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("taken.qvrec").path
        try Data("precious".utf8).write(to: URL(fileURLWithPath: file))
        let qvtop = try E2E.binary()
        for args in [["run", "--record", file], ["run", "--headless", "--duration", "0.2", "--record", file]] {
            let r = try E2E.run([qvtop] + args)
            #expect(r.status == 2, "\(args)")
            #expect(r.err == "qvtop: \(file) exists; use --force to overwrite it\n", "\(r.err)")
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "precious")
    }

    @Test func headlessRecordingReplaysToTheSameSummary() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("headless.qvrec").path
        let qvtop = try E2E.binary()
        let live = try E2E.run([qvtop, "run", "--headless", "--duration", "1.5", "--json", "--record", file])
        #expect(live.status == 0, "\(live.err)")
        let replayed = try E2E.run([qvtop, "replay", file, "--headless", "--json"])
        #expect(replayed.status == 0, "\(replayed.err)")
        #expect(!live.out.isEmpty)
        #expect(replayed.out == live.out)
        // --force replaces it.
        let again = try E2E.run([qvtop, "run", "--headless", "--duration", "0.3", "--record", file, "--force"])
        #expect(again.status == 0, "\(again.err)")
    }

    /// The dashboard's own thread refused by the system (here: a stack size limit no mapping can meet, so
    /// every new thread's stack fails) is one line and exit 2; it trapped in `OSThread.spawn` (SIGILL).
    @Test func aDashboardThreadTheSystemRefusesIsOneLineAndExit2() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("short.qvrec").path
        let qvtop = try E2E.binary()
        let rec = try E2E.run([qvtop, "run", "--headless", "--duration", "0.2", "--record", file])
        #expect(rec.status == 0, "\(rec.err)")
        // 200 TiB of stack per thread (in KiB): more than the 128 TiB user address space.
        let r = try E2E.run(["/bin/sh", "-c", "ulimit -s 214748364800 && exec \"$0\" replay \"$1\"", qvtop, file])
        #expect(r.status == 2, "\(r.err)")
        #expect(r.err.hasPrefix("qvtop: the system refused the dashboard's thread (pthread_create: "), "\(r.err)")
        #expect(r.err.split(separator: "\n").count == 1, "\(r.err)")
    }

    @Test func aWriteErrorShowsABannerAndTheDashboardGoesOn() throws {
        guard let tmux = E2E.requireTmux() else { return }
        guard FileManager.default.fileExists(atPath: "/dev/full") else { return }
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pane = try TmuxPane(tmux: tmux, args: ["run", "--record", "/dev/full", "--record-dir", dir.path])
        defer { pane.close() }
        #expect(pane.waitFor("recording stopped: writing /dev/full failed"), "\(pane.capture())")
        #expect(!Self.header(pane).contains("REC "))
        #expect(pane.waitForLive(), "\(pane.capture())")
        let before = pane.capture()
        #expect(E2E.waitUntil { pane.capture() != before }, "the dashboard keeps drawing")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }
}
