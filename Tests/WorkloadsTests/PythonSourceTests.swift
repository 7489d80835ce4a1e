import Foundation
import Telemetry
import Testing

@testable import Workloads

#if canImport(Glibc)
    import Glibc
#endif

/// PythonSource with a real python3 (and small fake interpreters for the faults): the program runs
/// under the agent, its stall is named, its end is said, and no process outlives `stop()`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PythonSourceTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A temporary folder with `files` (name → text; names ending in .sh are made executable).
    static func folder(_ files: [String: String]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qvtop-py-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, text) in files {
            let path = dir + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            if name.hasSuffix(".sh") { chmod(path, 0o755) }
        }
        return dir
    }

    static func launch(_ script: String, _ args: [String] = [], python: String = "python3") -> PythonLaunch {
        var l = PythonLaunch(script: script, arguments: args)
        l.python = python
        l.agentDirectory = root + "/python"
        l.rateHz = 20
        return l
    }

    static func alive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

    /// A fake interpreter: answers the version probe with `version`, then runs `body` (sh) with fd 3.
    static func fake(version: String = "3.12.0", _ body: String) -> String {
        "#!/bin/sh\nif [ \"$1\" = \"-c\" ]; then echo \(version); exit 0; fi\n\(body)\n"
    }

    @Test func aBlockingCallIsNamedWhileTheProgramRunsAndStopLeavesNoProcess() throws {
        let dir = try Self.folder([
            "app.py": """
            import asyncio, time
            def disk_read():
                time.sleep(0.06)
            async def disk():
                while True:
                    await asyncio.sleep(0.1)
                    disk_read()
            async def main():
                await asyncio.create_task(disk(), name="disk")
            asyncio.run(main())
            """
        ])
        let source = try PythonSource(Self.launch(dir + "/app.py"))
        var named: RuntimeEvent?
        let deadline = Date().addingTimeInterval(10)
        var last: Snapshot?
        while named == nil, Date() < deadline {
            if let s = source.poll() {
                last = s
                named = s.events.first { $0.kind == .slowCallback && ($0.name ?? "").contains("disk_read") }
            }
            usleep(50_000)
        }
        let pid = source.pid
        #expect(Self.alive(pid))
        source.stop()
        #expect(!Self.alive(pid), "the program outlived stop()")
        let event = try #require(named, "no slow callback named disk_read: \(String(describing: last?.events))")
        #expect(event.name?.contains("in task disk") == true)
        #expect(event.durationMs > 50 && event.durationMs < 500)
        #expect(last?.loops.first?.lag.maxMs ?? 0 > 50)
        #expect(source.notice == nil)  // stopped by qvtop, not ended by itself
    }

    @Test func theProgramEndingMidSessionIsSaidAndTheLastFrameStays() throws {
        let dir = try Self.folder([
            "app.py": """
            import asyncio, sys
            async def main():
                await asyncio.sleep(0.5)
                raise RuntimeError("lost the database")
            asyncio.run(main())
            """
        ])
        let source = try PythonSource(Self.launch(dir + "/app.py"))
        defer { source.stop() }
        #expect(source.notice == nil)
        let ended = (0..<100).contains { _ in
            _ = source.poll()
            usleep(50_000)
            return source.ended
        }
        #expect(ended)
        #expect(source.notice?.contains("RuntimeError: lost the database") == true, "\(source.notice ?? "nil")")
        #expect(source.outputTail.contains { $0.contains("RuntimeError: lost the database") })
        #expect(source.exitedCleanly == false)
    }

    @Test func aScriptThatRaisesAtStartIsAnErrorWithItsTraceback() throws {
        let dir = try Self.folder(["bad.py": "def start():\n    raise ValueError('bad config')\nstart()\n"])
        #expect {
            _ = try PythonSource(Self.launch(dir + "/bad.py"))
        } throws: { error in
            guard let e = error as? PythonError else { return false }
            return e.message == "the script raised at start: ValueError: bad config"
                && e.output.contains { $0.contains("in start") }
        }
    }

    @Test func faultsAreOneLineEach() throws {
        let dir = try Self.folder([
            "app.py": "print('hi')\n",
            "old.sh": Self.fake(version: "3.8.10", ""),
            "notpython.sh": "#!/bin/sh\necho 'command not understood'\nexit 1\n",
            "newer.sh": Self.fake(#"echo '{"type":"hello","format":99}' >&3; sleep 5"#),
            "garbage.sh": Self.fake(#"echo '{"type":"hello","format":1,"t":0}' >&3; echo 'garbage here' >&3; sleep 5"#),
            "truncated.sh": Self.fake(#"echo '{"type":"hello","format":1,"t":0}' >&3; printf '{"type":"snap' >&3"#),
            "noagent.sh": Self.fake("echo 'No module named qvtop_agent' >&2; exit 1"),
        ])
        func message(_ python: String, script: String = "app.py") -> String {
            do {
                let s = try PythonSource(Self.launch(dir + "/" + script, python: python))
                s.stop()
                return "started"
            } catch {
                return error.message
            }
        }
        #expect(message(dir + "/missing-python") == "\(dir)/missing-python: not found")
        #expect(message("no-such-python3-here") == "no-such-python3-here: not found (use --python-bin PATH)")
        #expect(message(dir + "/old.sh").hasSuffix("is Python 3.8.10; qvtop's agent needs 3.9 or later"))
        #expect(message(dir + "/notpython.sh").contains("is not a working Python"))
        #expect(message(dir + "/newer.sh").contains("stream format 99"))
        #expect(message(dir + "/garbage.sh") == "the agent's stream is garbled at line 2: garbage here")
        #expect(message(dir + "/truncated.sh").hasSuffix("truncated"))
        #expect(
            message(dir + "/noagent.sh")
                == "the agent did not start (python exited with status 1): No module named qvtop_agent")
        #expect(message("python3", script: "missing.py") == "\(dir)/missing.py: no such file (or not readable)")
    }

    /// Alive and not a zombie (a killed process whose new parent, init here, has not reaped it yet).
    static func running(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    @Test func whatTheProgramStartedEndsWithIt() throws {
        let dir = try Self.folder([
            "app.py": """
            import asyncio, subprocess
            p = subprocess.Popen(["sleep", "300"])
            print("grandchild", p.pid, flush=True)
            asyncio.run(asyncio.sleep(300))
            """
        ])
        let source = try PythonSource(Self.launch(dir + "/app.py"))
        var grandchild: pid_t?
        _ = (0..<100).contains { _ in
            usleep(50_000)
            grandchild = source.outputTail.first { $0.hasPrefix("grandchild ") }.flatMap { pid_t($0.dropFirst(11)) }
            return grandchild != nil
        }
        source.stop()
        let pid = try #require(grandchild, "\(source.outputTail)")
        #expect(
            (0..<40).contains { _ in
                if !Self.running(pid) { return true }
                usleep(50_000)
                return false
            }, "the program's own child outlived stop()")
    }

    @Test func theChildRunsInItsOwnGroupWithACleanSignalMaskAndNoStdin() throws {
        let dir = try Self.folder([
            "app.py": """
            import os, signal, sys, asyncio
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
            print("group", os.getpgrp() == os.getpid(), "blocked", sorted(int(s) for s in blocked),
                  "stdin", sys.stdin.read() == "", flush=True)
            asyncio.run(asyncio.sleep(30))
            """
        ])
        // The caller blocks what the UI blocks, as qvtop's main thread does before a source starts.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGWINCH] { sigaddset(&set, s) }
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &set, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        let source = try PythonSource(Self.launch(dir + "/app.py"))
        let seen = (0..<100).contains { _ in
            usleep(50_000)
            return source.outputTail.contains { $0.hasPrefix("group") }
        }
        let pid = source.pid
        source.stop()
        #expect(seen)
        #expect(source.outputTail.contains("group True blocked [] stdin True"), "\(source.outputTail)")
        #expect(!Self.alive(pid))
    }
}

/// The agent's own Python unit tests (python/tests), run by README's single test command.
@Suite(.timeLimit(.minutes(3)))
struct PythonAgentUnitTests {
    /// python3, and `$QVTOP_TEST_PYTHON` when set (.ci/run points it at a venv with uvloop and gevent).
    static let interpreters: [String] =
        ["python3"] + (ProcessInfo.processInfo.environment["QVTOP_TEST_PYTHON"].map { [$0] } ?? [])

    @Test(arguments: interpreters) func pythonUnittestsOfTheAgentPass(python: String) throws {
        let root = PythonSourceTests.root
        let result = try ChildProcess.runToEnd(
            [python, "-m", "unittest", "discover", "-s", root + "/python/tests", "-t", root + "/python/tests"],
            timeout: 150)
        #expect(result.status == 0, "\(python) -m unittest discover python/tests failed:\n\(result.output)")
        #expect(result.output.contains("OK"), "\(result.output)")
    }
}
