import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real binary in tmux: keys, signals, resize, terminal restored (see Harness.swift).
///
/// Every test that checks what the dashboard shows runs the real runtime (the default preset,
/// vt-steal) and first waits for measured numbers (`waitForLive`). Only the error banner for a
/// preset key beyond the menu uses `--synthetic` (three made-up presets): every shipped key 1-9 is valid.
@Suite(.enabled(if: E2E.enabled, "tmux is not installed (required under CI=true)"), .timeLimit(.minutes(2)))
struct EndToEndTests {
    /// The default preset's title (vt-steal, `PresetCatalog.defaultName`).
    static let defaultTitle = "Virtual threads: 2 carriers, work stealing"

    @Test func helpPauseAndQuitRestoreTheTerminal() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux)
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        let first = pane.capture()
        #expect(first.hasPrefix(" qvtop"))
        #expect(first.contains(Self.defaultTitle), "\(first)")
        #expect(first.contains("? help"))
        #expect(!first.contains("no runtime attached"))
        try pane.send("?")
        #expect(pane.waitFor("show or hide this help"), "\(pane.capture())")
        #expect(pane.capture().contains("Keys"))
        try pane.send("?")
        #expect(pane.waitFor("show or hide this help", absent: true))
        try pane.send("Space")
        #expect(pane.waitFor("PAUSED"), "\(pane.capture())")
        try pane.send("Space")
        #expect(pane.waitFor("PAUSED", absent: true))
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func liveNumbersFlowAndPauseFreezesTheView() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux)
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        #expect(pane.capture().contains("Carrier 1"))
        // Live: the runtime's clock and the measured figures move on by themselves.
        let before = pane.capture()
        #expect(E2E.waitUntil { pane.capture() != before }, "\(before)")
        try pane.send("Space")
        #expect(pane.waitFor("PAUSED"))
        usleep(300_000)  // a frame already being drawn lands first
        let frozen = pane.capture()
        usleep(2_200_000)  // the runtime's t=Ns and every figure would have moved on by now
        #expect(pane.capture() == frozen, "\(frozen)")
        try pane.send("Space")
        func header() -> String { String(pane.capture().prefix { $0 != "\n" }) }
        #expect(E2E.waitUntil { header().contains("LIVE") && pane.capture() != frozen }, "\(header())")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func selectionDetailsAndCodePane() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux)
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        try pane.send("Right", "Enter")
        #expect(pane.waitFor("details"), "\(pane.capture())")
        try pane.send("Escape")
        #expect(pane.waitFor("details", absent: true), "\(pane.capture())")
        try pane.send("c")
        #expect(pane.waitFor("Code"), "\(pane.capture())")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
    }

    /// Issue 7: every shipped preset by key on the real runtime, each with its title and a label only
    /// its model draws; Tab wraps; the picker switches too; help opens; quit restores the terminal.
    @Test func everyShippedPresetLiveByKeyTabAndPicker() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux)
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        // Key, the title's start (the header clips long titles), labels only that model draws.
        let presets: [(key: String, title: String, labels: [String])] = [
            ("1", "asyncio: one event loop", ["Event Loop", "no to_thread pool", "Slow callbacks"]),
            ("2", "asyncio + to_thread", ["Event Loop", "to_thread queue", "Thread 4"]),
            ("3", "Free-threading: one event loop per thread", ["Single Process", "Event Loop 2", "Thread 2"]),
            ("4", "Loops per thread + a shared to_thread pool", ["Single Process", "Worker Threadpool"]),
            ("5", "gevent-like: green threads on one carrier", ["green threads", "Carrier 0", "nothing to steal"]),
            ("6", "Virtual threads: 2 carriers, work stealing", ["virtual threads", "Carrier 1", "Blocking regions"]),
            ("7", "Virtual threads: 2 carriers, no stealing", ["virtual threads", "Carrier 1", "0 so far"]),
            ("8", "Virtual threads: blocking calls pin the carrier", ["Carrier 1", "disk"]),
            ("9", "Virtual threads: blocking calls hand off the carrier", ["Carrier 1", "disk"]),
        ]
        for p in presets {
            try pane.send(p.key)
            #expect(pane.waitFor(p.title), "key \(p.key): \(pane.capture())")
            for label in p.labels { #expect(pane.waitFor(label), "key \(p.key), \(label): \(pane.capture())") }
            #expect(pane.waitForLive(), "key \(p.key): \(pane.capture())")
        }
        // Past the ninth: the parking presets (no digit key), then Tab wraps to the first.
        for title in [
            "10,000 fibers parked on timers", "9,000 fibers parked reading sockets", "1,000,000 fibers parked",
        ] {
            try pane.send("Tab")
            #expect(pane.waitFor(title), "\(pane.capture())")
        }
        try pane.send("Tab")  // wraps from the last to the first
        #expect(pane.waitFor("asyncio: one event loop"), "\(pane.capture())")
        try pane.send("Tab")
        #expect(pane.waitFor("asyncio + to_thread"), "\(pane.capture())")
        try pane.send("p")
        #expect(pane.waitFor("Presets"), "\(pane.capture())")
        try pane.send("Down", "Enter")
        #expect(pane.waitFor("Free-threading: one event loop per thread"), "\(pane.capture())")
        #expect(pane.waitFor("Single Process"), "\(pane.capture())")
        try pane.send("?")
        #expect(pane.waitFor("switch to preset 1 to 9"), "\(pane.capture())")
        try pane.send("Escape")
        #expect(pane.waitFor("show or hide this help", absent: true))
        #expect(pane.waitForLive(), "\(pane.capture())")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    /// A preset key beyond the menu shows a banner and the current preset keeps running. Synthetic: its menu
    /// has three presets, while every key 1-9 is a shipped preset.
    @Test func aKeyBeyondTheMenuShowsABanner() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux, args: ["--synthetic"])
        defer { pane.close() }
        #expect(pane.waitFor("synthetic: virtual threads"), "\(pane.capture())")
        try pane.send("9")
        #expect(pane.waitFor("no preset 9"), "\(pane.capture())")
        #expect(pane.capture().contains("synthetic: virtual threads"))
        try pane.send("Escape")
        #expect(pane.waitFor("no preset 9", absent: true), "\(pane.capture())")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func mouseClicksOnHintsAndCarriers() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux)
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        #expect(pane.waitFor("Carrier 1"), "\(pane.capture())")
        let hint = try #require(pane.locate("? help"))
        try pane.click(x: hint.x + 2, y: hint.y)
        #expect(pane.waitFor("show or hide this help"), "\(pane.capture())")
        try pane.send("Escape")
        #expect(pane.waitFor("show or hide this help", absent: true))
        let carrier = try #require(pane.locate("Carrier 1"))
        try pane.click(x: carrier.x + 2, y: carrier.y + 2)
        try pane.send("Enter")
        #expect(pane.waitFor("Carrier 1 · details"), "\(pane.capture())")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
    }

    @Test func escapeRateRepaintAndF10() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux, args: ["--rate", "5"])
        defer { pane.close() }
        #expect(pane.waitFor("5 Hz"), "\(pane.capture())")
        #expect(pane.waitForLive(), "\(pane.capture())")
        try pane.send("F1")
        #expect(pane.waitFor("show or hide this help"))
        try pane.send("Escape")
        #expect(pane.waitFor("show or hide this help", absent: true))
        try pane.send("+")
        #expect(pane.waitFor("10 Hz"), "\(pane.capture())")
        try pane.send("-", "-")
        #expect(pane.waitFor("2 Hz"), "\(pane.capture())")
        try pane.send("C-l")
        #expect(pane.waitForLive(), "\(pane.capture())")
        try pane.send("F10")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test(arguments: [(SIGTERM, Int32(143)), (SIGHUP, Int32(129)), (SIGINT, Int32(130))])
    func signalsRestoreTheTerminal(signal: Int32, status: Int32) throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux)
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        let pid = try #require(pane.pid())
        #expect(kill(pid, signal) == 0)
        #expect(pane.exitStatus() == status)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func aCrashStillRestoresTheTerminal() throws {
        guard let tmux = E2E.requireTmux() else { return }
        // Swift's backtracer would wait for a key on a TTY; the test wants the bare crash.
        let pane = try TmuxPane(tmux: tmux, env: ["SWIFT_BACKTRACE": "enable=no"])
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        let pid = try #require(pane.pid())
        #expect(kill(pid, SIGSEGV) == 0)
        #expect(pane.exitStatus() == 128 + SIGSEGV)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func ctrlCTypedAtTheKeyboardExits130() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux)
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        try pane.send("C-c")
        #expect(pane.exitStatus() == 130)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func resizeToTooSmallAndBack() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux)
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        try pane.resize(40, 10)
        #expect(pane.waitFor("Terminal too small"), "\(pane.capture())")
        #expect(pane.capture().contains("80"))
        try pane.resize(120, 40)
        #expect(pane.waitForLive(), "\(pane.capture())")
        #expect(!pane.capture().contains("too small"))
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func asciiModeDrawsOnlyASCII() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux, args: ["--ascii"])
        defer { pane.close() }
        #expect(pane.waitForLive(), "\(pane.capture())")
        try pane.send("?")
        #expect(pane.waitFor("+- Keys "), "\(pane.capture())")
        #expect(pane.capture().unicodeScalars.allSatisfy { $0.isASCII }, "\(pane.capture())")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
    }

    @Test func noColorDrawsWithoutColors() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let colored = try TmuxPane(tmux: tmux)
        defer { colored.close() }
        let plain = try TmuxPane(tmux: tmux, env: ["NO_COLOR": "1"])
        defer { plain.close() }
        #expect(colored.waitForLive() && plain.waitForLive(), "\(colored.capture())\n\(plain.capture())")
        // The header is black on cyan with colors, reverse video without. Only the SGR sequences count: the
        // live figures hold text such as "1.46ms".
        let withColor = colored.capture(escapes: true)
        let withoutColor = plain.capture(escapes: true)
        #expect(
            Self.sgrParameters(withColor).contains { $0.contains(46) || $0.starts(with: [48, 5]) },
            "\(withColor.prefix(200))\n\(colored.paneEnvironment)")
        let colorParameters = Set([38, 48] + Array(30...37) + Array(40...47) + Array(90...97) + Array(100...107))
        #expect(
            !Self.sgrParameters(withoutColor).contains { !colorParameters.isDisjoint(with: $0) },
            "\(withoutColor.prefix(200))")
        #expect(withoutColor.contains("\u{1B}[7m"), "\(withoutColor.prefix(200))")
    }

    /// The parameters of every SGR sequence (ESC [ p;p;… m) in `text`.
    static func sgrParameters(_ text: String) -> [[Int]] {
        var out: [[Int]] = []
        var rest = text[...]
        while let r = rest.range(of: #"\x1B\[[0-9;]*m"#, options: .regularExpression) {
            let body = rest[r].dropFirst(2).dropLast()
            out.append(body.split(separator: ";", omittingEmptySubsequences: false).map { Int($0) ?? 0 })
            rest = rest[r.upperBound...]
        }
        return out
    }

    @Test func dumbOrMissingTermExits2NamingHeadless() throws {
        guard let tmux = E2E.requireTmux() else { return }
        for env: [String: String?] in [["TERM": "dumb"], ["TERM": nil]] {
            let pane = try TmuxPane(tmux: tmux, env: env)
            defer { pane.close() }
            #expect(pane.exitStatus() == 2)
            #expect(pane.waitFor("--headless"), "\(pane.capture())")
            #expect(pane.terminalRestored)
        }
    }
}

/// Without a terminal at all (no tmux needed).
@Suite struct NoTerminalTests {
    @Test func noTTYExits2NamingHeadless() throws {
        let r = try E2E.run([try E2E.binary()])
        #expect(r.status == 2)
        #expect(r.err.contains("--headless"), "\(r.err)")
        #expect(r.err.contains("not a TTY"), "\(r.err)")
        #expect(r.err.split(separator: "\n").count == 1)
    }

    @Test func headlessPrintsOneJSONSummaryAndBadPresetsExit2() throws {
        let r = try E2E.run([
            try E2E.binary(), "run", "--headless", "--preset", "asyncio", "--duration", "0.5", "--json",
        ])
        #expect(r.status == 0)
        #expect(r.out.hasPrefix("{\"droppedEvents\":") && r.out.contains("\"preset\":\"asyncio\""))
        let bad = try E2E.run([try E2E.binary(), "run", "--headless", "--preset", "no-such-preset"])
        #expect(bad.status == 2)
        #expect(bad.err.split(separator: "\n").count == 1)
    }

    @Test func versionAndHelp() throws {
        let v = try E2E.run([try E2E.binary(), "--version"])
        #expect(v.status == 0)
        #expect(!v.out.isEmpty)
        let h = try E2E.run([try E2E.binary(), "--help"])
        #expect(h.status == 0)
        for sub in ["run", "replay", "export", "bench", "presets"] { #expect(h.out.contains(sub), "\(sub)") }
        let r = try E2E.run([try E2E.binary(), "run", "--help"])
        for opt in ["--headless", "--preset", "--ascii", "--rate"] { #expect(r.out.contains(opt), "\(opt)") }
    }

    @Test func rateOutOfRangeIsRejected() throws {
        let r = try E2E.run([try E2E.binary(), "run", "--rate", "0"])
        #expect(r.status != 0)
        #expect(r.err.contains("--rate"), "\(r.err)")
    }
}
