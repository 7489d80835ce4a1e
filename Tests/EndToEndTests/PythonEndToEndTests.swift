import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real `qvtop` binary on a real `python3` (see Harness.swift): `run --python` and the py-* presets,
/// headless JSON and the live dashboard in tmux. python3 missing: skipped, except under CI=true.
@Suite(
    .enabled(if: PythonE2E.python != nil || E2E.isCI, "python3 is not installed (required under CI=true)"),
    .timeLimit(.minutes(3)), .serialized)
struct PythonEndToEndTests {
    /// A program that stalls its loop with a 60 ms blocking call every 200 ms and writes its pid and argv.
    static let stalling = """
        import asyncio, json, os, sys, time
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "seen.json"), "w") as f:
            json.dump({"pid": os.getpid(), "argv": sys.argv[1:]}, f)
        def read_config():
            time.sleep(0.06)
        async def worker():
            while True:
                await asyncio.sleep(0.2)
                read_config()
        async def main():
            await asyncio.create_task(worker(), name="config")
        asyncio.run(main())
        """

    static func folder(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qvtop-pye2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return dir
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text)")
    }

    static func slowNames(_ summary: [String: Any]) -> [String] {
        let lag = summary["lag"] as? [String: Any]
        return (lag?["slowCallbacks"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    static func seenPid(_ dir: URL) -> pid_t? {
        guard let data = try? Data(contentsOf: dir.appendingPathComponent("seen.json")),
            let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return (obj["pid"] as? Int).map { pid_t($0) }
    }

    @Test func headlessPythonProgramPrintsTheSummarySchemaWithTheCulpritNamed() throws {
        guard PythonE2E.require() else { return }
        let dir = try Self.folder(["app.py": Self.stalling])
        let r = try E2E.run(
            [
                try E2E.binary(), "run", "--python", dir.appendingPathComponent("app.py").path, "one", "--two",
                "--headless", "--duration", "2", "--json",
            ], timeout: 60)
        #expect(r.status == 0, "\(r.err)")
        let s = try Self.json(r.out)
        #expect(s["model"] as? String == "event-loop")
        #expect(s["preset"] as? String == "python")
        #expect(s["readyDelay"] is NSNull, "the agent does not time jobs: n/a, not 0")
        let lag = try #require(s["lag"] as? [String: Any])
        let maxMs = try #require(lag["maxMs"] as? Double)
        #expect(maxMs > 55 && maxMs < 400, "a 60 ms call stalls the loop for about that long: \(maxMs)")
        #expect(
            Self.slowNames(s).contains { $0.hasPrefix("read_config (app.py:") && $0.hasSuffix("in task config") },
            "\(Self.slowNames(s))")
        let loops = try #require(s["loops"] as? [[String: Any]])
        #expect(loops.count == 1)
        #expect((loops.first?["jobsRun"] as? Int ?? 0) > 0)
        // The program's own arguments pass through; qvtop's options after them stay qvtop's.
        let seen = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("seen.json")))
        #expect((seen as? [String: Any])?["argv"] as? [String] == ["one", "--two"])
        let pid = try #require(Self.seenPid(dir))
        #expect(kill(pid, 0) != 0, "the program outlived qvtop")
    }

    @Test func aRecordedPythonRunReplaysToTheSameSummary() throws {
        guard PythonE2E.require() else { return }
        let dir = try Self.folder(["app.py": Self.stalling])
        let file = dir.appendingPathComponent("py.qvrec").path
        let binary = try E2E.binary()
        let live = try E2E.run(
            [
                binary, "run", "--python", dir.appendingPathComponent("app.py").path, "--headless", "--duration", "1.5",
                "--record", file, "--json",
            ], timeout: 60)
        #expect(live.status == 0, "\(live.err)")
        let replay = try E2E.run([binary, "replay", file, "--headless", "--json"])
        #expect(replay.status == 0, "\(replay.err)")
        #expect(replay.out == live.out)
        #expect(Self.slowNames(try Self.json(replay.out)).contains { $0.hasPrefix("read_config (app.py:") })
    }

    @Test func pyAsyncioAndPyToThreadShowTheTalksClaimOnRealCPython() throws {
        guard PythonE2E.require() else { return }
        let binary = try E2E.binary()
        let onLoop = try E2E.run(
            [binary, "run", "--preset", "py-asyncio", "--headless", "--duration", "3", "--json"], timeout: 60)
        #expect(onLoop.status == 0, "\(onLoop.err)")
        let a = try Self.json(onLoop.out)
        let aLag = try #require(a["lag"] as? [String: Any])
        // The 50 ms blocking call on the loop stalls it for about its length and is named.
        #expect((aLag["maxMs"] as? Double ?? 0) > 45, "\(aLag)")
        #expect(
            Self.slowNames(a).contains { $0.hasPrefix("disk_read (_workload.py:") && $0.hasSuffix("in task disk") },
            "\(Self.slowNames(a))")
        let kinds = (a["taskKinds"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(kinds == ["web", "hash", "disk"])
        // The claim's figure is slot p99 (the talk: < 5 ms; 20 leaves room for a loaded machine). Not lag max:
        // one CI run saw a single ~49 ms stall in py-to-thread that nothing named (6 s keeps one such stall
        // under 1 % of the slots). Two CI runs saw two or three ~50 ms stalls in one 6 s run, named "in the loop's
        // poll: woken late, or waiting for the GIL" and `_adjust_thread_count` (the executor starting a thread):
        // the CPython process descheduled or waiting for its GIL, not the offloaded call. So a run over the bound is
        // rerun once, as the claim tests do for latency on this shared machine (`Shipped.eventually`): the claim
        // must hold in one of two runs, and both runs' figures and slow callbacks are in the message.
        var t: [String: Any] = [:]
        var runs: [String] = []
        for _ in 0..<2 {
            let offloaded = try E2E.run(
                [binary, "run", "--preset", "py-to-thread", "--headless", "--duration", "6", "--json"], timeout: 60)
            #expect(offloaded.status == 0, "\(offloaded.err)")
            t = try Self.json(offloaded.out)
            let lag = try #require(t["lag"] as? [String: Any])
            runs.append("\(lag) slow: \(Self.slowNames(t))")
            if (lag["slotP99Ms"] as? Double ?? 999) < 20 { break }
        }
        // In to_thread the blocking call no longer stalls the loop (GIL handoffs still cost a few ms).
        #expect(!Self.slowNames(t).contains { $0.contains("disk_read") }, "\(Self.slowNames(t))")
        let tLag = try #require(t["lag"] as? [String: Any])
        #expect((tLag["slotP99Ms"] as? Double ?? 999) < 20, "\(runs)")
        let totals = try #require(t["totals"] as? [String: Any])
        #expect((totals["poolCompleted"] as? Int ?? 0) > 0)
    }

    @Test func startFaultsAreOneLineAndExit2() throws {
        guard PythonE2E.require() else { return }
        let dir = try Self.folder(["bad.py": "import json\njson.loads('{')\n"])
        let binary = try E2E.binary()
        let raised = try E2E.run([binary, "run", "--python", dir.appendingPathComponent("bad.py").path, "--headless"])
        #expect(raised.status == 2)
        #expect(raised.err.contains("Traceback (most recent call last):"), "\(raised.err)")
        #expect(raised.err.contains("qvtop: the script raised at start: JSONDecodeError"), "\(raised.err)")
        #expect(raised.out.isEmpty)
        let missing = try E2E.run([
            binary, "run", "--python", dir.appendingPathComponent("bad.py").path, "--python-bin",
            "/nonexistent/python3",
            "--headless",
        ])
        #expect(missing.status == 2)
        #expect(missing.err == "qvtop: /nonexistent/python3: not found\n")
        let stray = try E2E.run([binary, "run", "--headless", "stray-argument"])
        #expect(stray.status != 0)
        #expect(stray.err.contains("stray-argument"))
        let probe = try E2E.run([PythonE2E.python ?? "python3", "-c", "import uvloop"])
        if probe.status != 0 {
            let uv = try E2E.run([binary, "run", "--preset", "py-uvloop", "--headless"], timeout: 30)
            #expect(uv.status == 2)
            #expect(uv.err.contains("py-uvloop needs uvloop: pip install uvloop"), "\(uv.err)")
        }
    }

    @Test func liveDashboardDrawsTheProgramAndCtrlCEndsIt() throws {
        guard PythonE2E.require(), let tmux = E2E.requireTmux() else { return }
        let dir = try Self.folder(["app.py": Self.stalling])
        let pane = try TmuxPane(
            tmux: tmux, args: ["run", "--python", dir.appendingPathComponent("app.py").path],
            width: 160, height: 45)
        defer { pane.close() }
        #expect(pane.waitFor("read_config (app.py:", timeout: 20), "\(pane.capture())")
        let screen = pane.capture()
        #expect(screen.contains("LIVE"))
        #expect(screen.contains("Event Loop"), "\(screen)")
        #expect(screen.contains("in task config"))
        // Its two tasks by what they await: `main` awaits the config task (a future), which sleeps or runs.
        #expect(screen.contains("Tasks 2 · by what they await"), "\(screen)")
        let pid = try #require(Self.seenPid(dir))
        #expect(kill(pid, 0) == 0)
        try pane.send("C-c")
        #expect(pane.exitStatus() == 130)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
        #expect(E2E.waitUntil(timeout: 5) { kill(pid, 0) != 0 }, "the program outlived Ctrl-C")
    }

    @Test func headlessCtrlCEndsTheProgramAndAKilledQvtopLeavesNoOrphan() throws {
        guard PythonE2E.require(), let tmux = E2E.requireTmux() else { return }
        for signal in [SIGINT, SIGKILL] {
            let dir = try Self.folder(["app.py": Self.stalling])
            let pane = try TmuxPane(
                tmux: tmux,
                args: ["run", "--python", dir.appendingPathComponent("app.py").path, "--headless", "--duration", "60"])
            defer { pane.close() }
            var pid: pid_t?
            #expect(
                E2E.waitUntil(timeout: 20) {
                    pid = Self.seenPid(dir)
                    return pid != nil
                })
            let program = try #require(pid)
            let qvtop = try #require(pane.pid())
            usleep(300_000)
            kill(qvtop, signal)
            if signal == SIGINT { #expect(pane.exitStatus() == 130) }
            // SIGINT: qvtop ends the group; SIGKILL: the agent sees its parent gone and ends it.
            #expect(E2E.waitUntil(timeout: 5) { kill(program, 0) != 0 }, "signal \(signal): the program outlived qvtop")
        }
    }

    @Test func aProgramThatEndsMidSessionIsSaidAndItsLastFrameStays() throws {
        guard PythonE2E.require(), let tmux = E2E.requireTmux() else { return }
        let dir = try Self.folder([
            "app.py":
                "import asyncio, time\nasync def main():\n    await asyncio.sleep(1.5)\n    time.sleep(0.06)\n    await asyncio.sleep(0.3)\nasyncio.run(main())\n"
        ])
        let pane = try TmuxPane(
            tmux: tmux, args: ["run", "--python", dir.appendingPathComponent("app.py").path],
            width: 160, height: 45)
        defer { pane.close() }
        #expect(pane.waitFor("python exited with status 0; last frame kept", timeout: 20), "\(pane.capture())")
        let screen = pane.capture()
        #expect(screen.contains("Slow callbacks"), "the last frame stays: \(screen)")
        #expect(screen.contains("main (app.py:4)"), "\(screen)")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
    }
}

enum PythonE2E {
    static let python: String? = E2E.findExecutable("python3")

    /// python3, or an issue under CI.
    static func require(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if python != nil { return true }
        Issue.record("python3 is not installed (CI must install it: see .ci/run)", sourceLocation: sourceLocation)
        return false
    }
}
