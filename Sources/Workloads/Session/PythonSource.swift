// PythonSource: a real CPython program, measured by qvtop's agent, as a `SnapshotSource`.
//
// # Model
//
// `qvtop run --python app.py ARGS` starts `python3 -m qvtop_agent app.py ARGS` (python/qvtop_agent,
// found like presets/: `PythonAgent.findDirectory`) with the agent's folder on PYTHONPATH and the
// write end of a pipe as fd 3 (`QVTOP_AGENT_FD`). The agent measures the program's loops from inside
// and writes JSON lines (docs/python-agent.md); a reader thread here drains that pipe and the child's
// captured stdout/stderr, decodes the lines (`PythonStream`) and keeps the newest `Snapshot`
// (`PythonSampler`). The UI or headless thread's `poll()` takes it. Recording, replay, export and the
// headless summary see plain snapshots, as for the Swift models.
//
// The child: its own process group (so qvtop can end the program and everything it started with one
// `kill(-pgid)`), an empty signal mask and default dispositions (qvtop blocks SIGINT & co. before its
// threads start; a child must not inherit that), stdin from /dev/null, stdout and stderr into one
// pipe (the last lines are kept: `outputTail`, never written over the dashboard). `stop()` sends
// SIGTERM to the group, SIGKILL after `PythonSource.termGrace`, and reaps the child: no orphans.
// The agent also ends the program when qvtop itself dies (its parent changes).
//
// Rejected: Foundation's `Process` — it cannot set a process group or a signal mask, and its pipes
// and exit monitor are not ours to bound; reading the pipes in `poll()` — a paused dashboard stops
// polling, and a program whose stdout pipe fills would block in `print`.
//
// Ownership: the reader thread alone reads the pipes, decodes and reaps; it publishes through `Shared`
// (a Mutex held only to copy values in or out). `poll()`/`stop()` run on the one polling thread.

import Foundation
import Synchronization
import Telemetry

#if canImport(Glibc)
    import Glibc
#endif

/// Why a Python program could not be started or watched: one line, plus the program's last output.
public struct PythonError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// The program's last lines of output (its traceback, when it raised).
    public var output: [String]
    public init(_ message: String, output: [String] = []) {
        self.message = message
        self.output = output
    }
    public var description: String { message }
}

/// Where the agent lives and which Python runs it.
public enum PythonAgent {
    /// Oldest Python the agent supports.
    public static let minimumVersion = (3, 9)

    /// The folder holding `qvtop_agent/`: `$QVTOP_PYTHON_DIR`, else `python/` next to the package the
    /// binary was built from (as PresetCatalog finds presets/), else `./python`, else `<prefix>/share/qvtop/python`.
    public static func findDirectory(env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let dir = env["QVTOP_PYTHON_DIR"], !dir.isEmpty { return dir }
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let source = URL(fileURLWithPath: #filePath)
        let candidates = [
            exe.deletingLastPathComponent().appendingPathComponent("../../../python").standardized.path,
            source.deletingLastPathComponent().appendingPathComponent("../../../python").standardized.path,
            FileManager.default.currentDirectoryPath + "/python",
            exe.deletingLastPathComponent().appendingPathComponent("../share/qvtop/python").standardized.path,
        ]
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/qvtop_agent/__init__.py") }
    }

    /// `python --version`'s major.minor.patch, or a one-line error (not found, not a Python, too old).
    public static func probe(python: String, timeout: Double = 10) throws(PythonError) -> String {
        let code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
        let result: (status: Int32, output: String)
        do {
            result = try ChildProcess.runToEnd([python, "-c", code], timeout: timeout)
        } catch {
            throw PythonError("\(python): \(error)\(python.contains("/") ? "" : " (use --python-bin PATH)")")
        }
        let text = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: ".").compactMap { Int($0) }
        guard result.status == 0, parts.count == 3 else {
            let first = text.split(separator: "\n").first.map(String.init) ?? "no output"
            throw PythonError("\(python) is not a working Python (exit status \(result.status): \(first))")
        }
        if (parts[0], parts[1]) < minimumVersion {
            throw PythonError(
                "\(python) is Python \(text); qvtop's agent needs \(minimumVersion.0).\(minimumVersion.1) or later")
        }
        return text
    }
}

/// What to run.
public struct PythonLaunch: Sendable {
    public var python = "python3"
    public var script: String
    public var arguments: [String] = []
    /// Name and title the snapshots carry (a shipped preset's, or "python" and the command line).
    public var presetName = "python"
    public var title: String?
    /// Snapshots per second the agent sends.
    public var rateHz: Double = 10
    /// The agent's folder; nil = `PythonAgent.findDirectory()`.
    public var agentDirectory: String?

    public init(script: String, arguments: [String] = []) {
        self.script = script
        self.arguments = arguments
    }
}

/// The live source of a Python program. See the essay at the top of this file.
public final class PythonSource: SnapshotSource {
    /// Seconds between SIGTERM and SIGKILL to the program's group on `stop()`.
    public static let termGrace = 1.0
    /// How long `init` waits for the agent's first snapshot.
    public static let startTimeout = 10.0

    public let sessionStart: UInt64
    public let pid: pid_t
    private let shared: Shared
    private let reader: Thread
    // owned by the polling thread
    private var sequence: UInt64 = 0
    private var stopped = false

    /// Starts the program and waits for the agent's first snapshot. Throws one line (and the program's
    /// output) when Python is missing or too old, the agent cannot start, or the script raises at start.
    public init(_ launch: PythonLaunch) throws(PythonError) {
        guard let agentDir = launch.agentDirectory ?? PythonAgent.findDirectory() else {
            throw PythonError("qvtop's Python agent (python/qvtop_agent) was not found; set QVTOP_PYTHON_DIR")
        }
        guard FileManager.default.isReadableFile(atPath: launch.script) else {
            throw PythonError("\(launch.script): no such file (or not readable)")
        }
        let version = try PythonAgent.probe(python: launch.python)
        let start = Monotonic.now()
        sessionStart = start
        var env = ProcessInfo.processInfo.environment
        let original = env["PYTHONPATH"] ?? ""
        env["QVTOP_ORIGINAL_PYTHONPATH"] = original
        env["PYTHONPATH"] = original.isEmpty ? agentDir : agentDir + ":" + original
        env["QVTOP_AGENT_FD"] = "3"
        env["QVTOP_AGENT_RATE"] = "\(launch.rateHz)"
        env["QVTOP_PARENT_PID"] = "\(getpid())"
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                [launch.python, "-m", "qvtop_agent", launch.script] + launch.arguments, environment: env,
                streamFd: 3)
        } catch {
            throw PythonError("\(launch.python): \(error)")
        }
        pid = child.pid
        let title =
            launch.title
            ?? "python \(([launch.script] + launch.arguments).joined(separator: " ")) (CPython \(version))"
        let shared = Shared(child: child, sampler: PythonSampler(preset: launch.presetName, title: title), start: start)
        self.shared = shared
        reader = Thread { shared.readLoop() }
        reader.name = "qvtop-python"
        reader.start()
        // Wait for the first snapshot, the program's end, or a bad stream.
        let deadline = Monotonic.now() + UInt64(Self.startTimeout * 1e9)
        while Monotonic.now() < deadline {
            let st = shared.state.withLock {
                (
                    snapshot: $0.snapshot != nil, ending: $0.exitLineSeen, ended: $0.ended, failure: $0.failure,
                    hello: $0.helloSeen, clean: $0.exitStatus == 0 && $0.exception == nil
                )
            }
            if let failure = st.failure {
                stop()
                throw PythonError(failure, output: outputTail)
            }
            // A program that ends while starting (its final snapshot comes with its end) failed at start
            // unless it exited cleanly.
            if st.ended {
                if st.snapshot && st.clean { return }
                stop()
                throw startFailure(helloSeen: st.hello)
            }
            if st.snapshot && !st.ending { return }
            usleep(10_000)
        }
        stop()
        throw PythonError("the agent sent no snapshot within \(Int(Self.startTimeout)) s", output: outputTail)
    }

    private func startFailure(helloSeen: Bool) -> PythonError {
        let (status, exception) = shared.state.withLock { ($0.exitDescription, $0.exception) }
        if let exception {
            return PythonError("the script raised at start: \(exception)", output: outputTail)
        }
        let last = outputTail.last ?? "no output"
        if !helloSeen {
            return PythonError("the agent did not start (python \(status)): \(last)", output: outputTail)
        }
        return PythonError("the program \(status) at start", output: outputTail)
    }

    /// The newest snapshot since the previous poll (with every event since), or nil when none came.
    public func poll() -> Snapshot? {
        guard !stopped else { return nil }
        guard
            var s = shared.state.withLock({ st -> Snapshot? in
                defer { st.snapshot = nil }
                return st.snapshot
            })
        else { return nil }
        s.sequence = sequence
        sequence += 1
        return s
    }

    /// One line for the dashboard when the program has ended or the stream failed; nil while it runs.
    public var notice: String? {
        shared.state.withLock { st in
            if let failure = st.failure { return "python: \(failure); last frame kept" }
            guard st.ended, !st.endedByStop else { return nil }
            if let e = st.exception { return "python raised \(e) (\(st.exitDescription)); last frame kept" }
            return "python \(st.exitDescription); last frame kept"
        }
    }

    /// True once the program has exited (or the stream failed).
    public var ended: Bool { shared.state.withLock { $0.ended || $0.failure != nil } }
    /// True when the program exited with status 0 (nil while it runs).
    public var exitedCleanly: Bool? { shared.state.withLock { $0.ended ? $0.exitStatus == 0 : nil } }
    /// The stream's failure, if any.
    public var streamFailure: String? { shared.state.withLock { $0.failure } }
    /// The exception the script raised, if it did.
    public var exception: String? { shared.state.withLock { $0.exception } }
    /// The program's last lines of stdout and stderr.
    public var outputTail: [String] { shared.state.withLock { Array($0.output) } }

    /// Ends the program's process group (TERM, then KILL) and reaps it. Idempotent; bounded.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        shared.requestStop()
        _ = shared.done.wait(timeout: .now() + Self.termGrace + 3)
    }

    deinit { stop() }
}

/// What the reader thread publishes. Guarded by the Mutex in `Shared`.
struct PythonState: Sendable {
    var snapshot: Snapshot?
    var helloSeen = false
    /// The agent's exit or exception line arrived: the program is ending.
    var exitLineSeen = false
    var ended = false
    /// It ended because qvtop stopped it (`stop()`), not by itself.
    var endedByStop = false
    var exitStatus: Int32 = 0
    var exitDescription = "running"
    var exception: String?
    var failure: String?
    var output: [String] = []
}

/// The reader thread's side. `@unchecked Sendable`: `child` and `stream`/`sampler` are touched by the
/// reader thread only (after `init`, before the thread starts); `state` is a Mutex; `stopFlag` an atomic.
final class Shared: @unchecked Sendable {
    let state = Mutex(PythonState())
    let done = DispatchSemaphore(value: 0)
    private let stopFlag = Atomic<Bool>(false)
    private let child: ChildProcess
    private var stream = PythonStream()
    private var sampler: PythonSampler
    private let start: UInt64
    private var pendingEvents: [AgentSnapshot.Event] = []
    private var partialOutput: [UInt8] = []
    static let outputLines = 200

    init(child: ChildProcess, sampler: PythonSampler, start: UInt64) {
        self.child = child
        self.sampler = sampler
        self.start = start
    }

    func requestStop() { stopFlag.store(true, ordering: .sequentiallyConsistent) }

    private var sessionSeconds: Double { Double(Monotonic.now() - start) / 1e9 }

    /// The reader thread's body: drain both pipes until both close and the child is reaped, or until
    /// `requestStop`, then end the group (TERM, KILL after the grace) and reap it.
    func readLoop() {
        defer {
            child.closeReadEnds()
            done.signal()
        }
        var streamOpen = true
        var outputOpen = true
        var stopAt: UInt64?
        var killed = false
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if stopAt == nil, stopFlag.load(ordering: .sequentiallyConsistent) {
                stopAt = Monotonic.now()
                child.signalGroup(SIGTERM)
            }
            if let t = stopAt, !killed, Monotonic.now() - t > UInt64(PythonSource.termGrace * 1e9) {
                child.signalGroup(SIGKILL)
                killed = true
            }
            var fds = [
                pollfd(fd: streamOpen ? child.streamFd : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: outputOpen ? child.outputFd : -1, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, 50)
            if ready > 0 {
                if fds[0].revents != 0 {
                    let n = read(child.streamFd, &buffer, buffer.count)
                    if n > 0 {
                        ingestStream(buffer[0..<n])
                    } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        streamOpen = false
                        endOfStream()
                    }
                }
                if fds[1].revents != 0 {
                    let n = read(child.outputFd, &buffer, buffer.count)
                    if n > 0 {
                        ingestOutput(buffer[0..<n])
                    } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        outputOpen = false
                    }
                }
            }
            if let status = child.reap() {
                // Drain what the pipes still hold, then publish the end.
                while streamOpen {
                    let n = read(child.streamFd, &buffer, buffer.count)
                    if n > 0 { ingestStream(buffer[0..<n]) } else { break }
                }
                while outputOpen {
                    let n = read(child.outputFd, &buffer, buffer.count)
                    if n > 0 { ingestOutput(buffer[0..<n]) } else { break }
                }
                if !partialOutput.isEmpty { ingestOutput([10]) }
                if streamOpen { endOfStream() }
                // The leader is gone; whatever it started in its group goes too.
                child.signalGroup(SIGKILL)
                state.withLock {
                    $0.ended = true
                    $0.exitStatus = status.code
                    $0.exitDescription = status.description
                    $0.endedByStop = stopAt != nil && !$0.exitLineSeen
                }
                return
            }
        }
    }

    private func endOfStream() {
        do throws(PythonStreamError) {
            try stream.finish()
        } catch {
            fail(error.description)
        }
    }

    private func fail(_ message: String) {
        state.withLock { if $0.failure == nil { $0.failure = message } }
        // A stream qvtop cannot read: end the program rather than watch it blind.
        requestStop()
    }

    private func ingestStream(_ bytes: ArraySlice<UInt8>) {
        let lines: [AgentLine]
        do throws(PythonStreamError) {
            lines = try stream.feed(bytes)
        } catch {
            fail(error.description)
            return
        }
        for line in lines {
            switch line {
            case .hello(let h):
                sampler.offset = sessionSeconds - (h.t ?? 0)
                state.withLock { $0.helloSeen = true }
            case .snapshot(let a):
                pendingEvents += a.events ?? []
                let events = pendingEvents
                let s = sampler.snapshot(a, events: events, sequence: 0)
                state.withLock { st in
                    // Events of a snapshot the poller never took move into the next one.
                    if let old = st.snapshot {
                        st.snapshot = s
                        st.snapshot?.events = old.events + s.events
                    } else {
                        st.snapshot = s
                    }
                }
                pendingEvents = []
            case .exception(_, let error):
                state.withLock {
                    $0.exception = error
                    $0.exitLineSeen = true
                }
            case .exit:
                state.withLock { $0.exitLineSeen = true }
            case .other:
                break
            case .agentError(let e):
                ingestOutput(Array("qvtop agent: \(e)\n".utf8)[...])
            }
        }
    }

    private func ingestOutput(_ bytes: ArraySlice<UInt8>) {
        partialOutput.append(contentsOf: bytes)
        var lines: [String] = []
        while let nl = partialOutput.firstIndex(of: 10) {
            lines.append(String(decoding: partialOutput[..<nl], as: UTF8.self))
            partialOutput.removeFirst(nl + 1)
        }
        if partialOutput.count > 4096 {
            lines.append(String(decoding: partialOutput, as: UTF8.self))
            partialOutput.removeAll()
        }
        guard !lines.isEmpty else { return }
        state.withLock { st in
            st.output += lines
            if st.output.count > Self.outputLines { st.output.removeFirst(st.output.count - Self.outputLines) }
        }
    }
}
