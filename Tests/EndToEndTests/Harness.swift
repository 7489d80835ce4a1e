import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// End-to-end harness: the real `qvtop` binary in a real (tmux) terminal.
//
// Each test gets its own tmux server (`-L` socket, no config) and a temporary folder. The pane
// runs a small script: a child shell writes its pid and execs qvtop (so the pid is qvtop's);
// the script itself survives a Ctrl-C typed in the pane (`trap : INT`; exec resets it for qvtop);
// when qvtop exits, the script saves `stty -a` (is the terminal restored?) and then the exit
// status, and keeps the pane open so the screen can still be captured. Every wait is bounded.
//
// The binary: next to the test bundle (what `swift test` just built), else `.build/debug/qvtop`
// under the package (found from #filePath), else it is built with `swift build` into a separate
// scratch folder (the running `swift test` holds the default one). tmux missing: the suite is
// skipped, except under CI=true where that is a failure.

enum E2E {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

    static let tmux: String? = findExecutable("tmux")

    /// The suite runs when tmux exists, and under CI (where a missing tmux fails each test).
    static let enabled = tmux != nil || isCI

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// tmux, or an issue (under CI) / nil.
    static func requireTmux(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let tmux { return tmux }
        Issue.record("tmux is not installed (CI must install it: see .ci/run)", sourceLocation: sourceLocation)
        return nil
    }

    /// Path of the qvtop binary, building it when missing.
    static func binary() throws -> String {
        try BinaryLocator.shared.path()
    }

    /// Runs a command to completion (killed after `timeout`), returning status and output.
    ///
    /// posix_spawn + waitpid, not Foundation's Process: `tmux new-session` leaves a daemon that inherits
    /// the child's descriptors, and Process (pipes and its exit monitor) then waits for the daemon too.
    /// stdin is /dev/null; stdout and stderr go to temporary files.
    @discardableResult
    static func run(
        _ args: [String], environment: [String: String]? = nil, timeout: Double = 20
    ) throws -> (status: Int32, out: String, err: String) {
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("qvtop-run-\(UUID().uuidString)").path
        let outPath = base + ".out"
        let errPath = base + ".err"
        defer {
            try? fm.removeItem(atPath: outPath)
            try? fm.removeItem(atPath: errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        // strdup'd C strings, freed below; posix_spawn copies what it needs before returning.
        let argv = args.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        // The calling thread (a test worker) blocks most signals, and a child inherits the mask: tmux's
        // server would then ignore kill-server and pass the mask on to qvtop. Start children clean.
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig: Int32 in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGWINCH] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigmask(&attr, &noSignals)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, args[0], &actions, &attr, argv, envp)
        guard rc == 0 else { throw HarnessError.spawn(args[0], rc) }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() >= deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                throw HarnessError.timeout(args.joined(separator: " "))
            }
            usleep(5_000)
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift cannot import (macros).
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let o = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let e = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return (code, o, e)
    }

    /// Polls `condition` every 50 ms for at most `timeout` seconds.
    static func waitUntil(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if try condition() { return true }
            usleep(50_000)
        } while Date() < deadline
        return try condition()
    }
}

enum HarnessError: Error, CustomStringConvertible {
    case timeout(String)
    case noBinary(String)
    case spawn(String, Int32)
    var description: String {
        switch self {
        case .spawn(let path, let rc): return "cannot spawn \(path): error \(rc)"
        case .timeout(let c): return "timed out: \(c)"
        case .noBinary(let why): return "no qvtop binary: \(why)"
        }
    }
}

/// Finds (or builds, once per process) the qvtop binary.
// @unchecked Sendable: `cached` is read and written only under `lock`.
final class BinaryLocator: @unchecked Sendable {
    static let shared = BinaryLocator()
    private let lock = NSLock()
    private var cached: String?

    func path() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let fm = FileManager.default
        var candidates: [String] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            // .build/<triple>/debug/qvtopPackageTests.xctest → .build/<triple>/debug/qvtop
            candidates.append(
                URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("qvtop").path)
        }
        candidates.append(E2E.packageRoot.appendingPathComponent(".build/debug/qvtop").path)
        if let found = candidates.first(where: { fm.isExecutableFile(atPath: $0) }) {
            cached = found
            return found
        }
        // Build it into a scratch folder of its own: the running `swift test` holds the default one.
        let scratch = E2E.packageRoot.appendingPathComponent(".build-e2e").path
        guard let swift = E2E.findExecutable("swift") else { throw HarnessError.noBinary("swift not on PATH") }
        let r = try E2E.run(
            [swift, "build", "--package-path", E2E.packageRoot.path, "--scratch-path", scratch, "--product", "qvtop"],
            timeout: 1200)
        let built = scratch + "/debug/qvtop"
        guard r.status == 0, fm.isExecutableFile(atPath: built) else {
            throw HarnessError.noBinary("swift build failed: \(r.err.suffix(2000))")
        }
        cached = built
        return built
    }
}

/// One tmux server with one pane running qvtop.
final class TmuxPane {
    let tmux: String
    let socket: String
    let dir: URL

    /// Starts `qvtop args` in a `width`×`height` pane. `env` entries are set for qvtop (a nil value unsets).
    init(tmux: String, args: [String] = [], width: Int = 120, height: Int = 40, env: [String: String?] = [:]) throws {
        self.tmux = tmux
        socket = "qvtop-e2e-\(getpid())-\(UUID().uuidString.prefix(8))"
        dir = FileManager.default.temporaryDirectory.appendingPathComponent(socket)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let qvtop = try E2E.binary()
        func q(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        // `swift test` may run with NO_COLOR set; the pane starts without it unless a test asks.
        var envPrefix = "unset NO_COLOR; "
        for (k, v) in env.sorted(by: { $0.key < $1.key }) {
            envPrefix += v.map { "export \(k)=\(q($0)); " } ?? "unset \(k); "
        }
        let script = """
            #!/bin/sh
            D=\(q(dir.path))
            trap : INT
            env > "$D/env"
            \(envPrefix)sh -c 'echo $$ > "$0/pid"; exec "$@"' "$D" \(([qvtop] + args).map(q).joined(separator: " "))
            status=$?
            stty -a > "$D/stty" 2>&1
            echo $status > "$D/exit.tmp" && mv "$D/exit.tmp" "$D/exit"
            exec sleep 600
            """
        let scriptURL = dir.appendingPathComponent("run.sh")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        try tmuxCommand([
            "new-session", "-d", "-x", "\(width)", "-y", "\(height)", "-s", "qv", "sh \(q(scriptURL.path))",
        ])
    }

    deinit { close() }

    func close() {
        _ = try? E2E.run([tmux, "-L", socket, "kill-server"], timeout: 10)
        try? FileManager.default.removeItem(at: dir)
    }

    @discardableResult
    func tmuxCommand(_ args: [String]) throws -> String {
        let r = try E2E.run([tmux, "-L", socket, "-f", "/dev/null"] + args, timeout: 10)
        if r.status != 0 { throw HarnessError.timeout("tmux \(args.first ?? ""): \(r.err)") }
        return r.out
    }

    /// The pane's text now (with `escapes`, the SGR sequences too).
    func capture(escapes: Bool = false) -> String {
        (try? tmuxCommand(["capture-pane", "-p", "-t", "qv"] + (escapes ? ["-e"] : []))) ?? ""
    }

    /// Waits until the live dashboard shows measured numbers: the header says LIVE, the runtime's clock has
    /// moved (`t=` past 0 s) and some task kind completed work (a non-zero `/s` or `jobs` figure).
    func waitForLive(timeout: Double = 15) -> Bool {
        E2E.waitUntil(timeout: timeout) { Self.showsLiveNumbers(capture()) }
    }

    /// True when `screen` is the live dashboard with measured numbers on it (see `waitForLive`).
    static func showsLiveNumbers(_ screen: String) -> Bool {
        guard let header = screen.split(separator: "\n").first, header.contains("LIVE"),
            header.range(of: #"t=([1-9]|\d+m)"#, options: .regularExpression) != nil
        else { return false }
        // A task kind's throughput ("web  200") or a loop's job count ("jobs 13.7k"): counted, not drawn empty.
        return screen.range(
            of: #"(jobs [1-9]|[│|] [a-z-]+ +[1-9][0-9.]*k? +[0-9.]+ms)"#, options: .regularExpression) != nil
    }

    /// Waits until the pane shows `text` (or, with `absent`, no longer shows it).
    func waitFor(_ text: String, absent: Bool = false, timeout: Double = 10) -> Bool {
        E2E.waitUntil(timeout: timeout) { capture().contains(text) != absent }
    }

    func send(_ keys: String...) throws { try tmuxCommand(["send-keys", "-t", "qv"] + keys) }

    /// A left click at cell (x, y), typed as the X10 mouse report the pane's terminfo (kmous=\E[M) names:
    /// ESC [ M, then button+32, x+33, y+33 as bytes; a press, then a release.
    func click(x: Int, y: Int) throws {
        let cx = Character(Unicode.Scalar(UInt8(x + 33)))
        let cy = Character(Unicode.Scalar(UInt8(y + 33)))
        try tmuxCommand(["send-keys", "-t", "qv", "-l", "\u{1B}[M \(cx)\(cy)\u{1B}[M#\(cx)\(cy)"])
    }

    /// Column and row of the first occurrence of `text` on screen (columns counted as scalars: box-drawing
    /// and block characters take one column, and the screens under test hold no wide characters).
    func locate(_ text: String) -> (x: Int, y: Int)? {
        for (y, line) in capture().split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let r = line.range(of: text) {
                return (line[..<r.lowerBound].unicodeScalars.count, y)
            }
        }
        return nil
    }

    func resize(_ width: Int, _ height: Int) throws {
        try tmuxCommand(["resize-window", "-t", "qv", "-x", "\(width)", "-y", "\(height)"])
    }

    /// qvtop's pid (written by the pane script just before exec).
    func pid(timeout: Double = 10) -> pid_t? {
        var value: pid_t?
        _ = E2E.waitUntil(timeout: timeout) {
            let s = (try? String(contentsOf: dir.appendingPathComponent("pid"), encoding: .utf8)) ?? ""
            value = pid_t(s.trimmingCharacters(in: .whitespacesAndNewlines))
            return value != nil
        }
        return value
    }

    /// qvtop's exit status, once it exited (nil if it did not within `timeout`).
    func exitStatus(timeout: Double = 10) -> Int32? {
        var value: Int32?
        _ = E2E.waitUntil(timeout: timeout) {
            let s = (try? String(contentsOf: dir.appendingPathComponent("exit"), encoding: .utf8)) ?? ""
            value = Int32(s.trimmingCharacters(in: .whitespacesAndNewlines))
            return value != nil
        }
        return value
    }

    /// The pane's environment (for failure messages).
    var paneEnvironment: String {
        (try? String(contentsOf: dir.appendingPathComponent("env"), encoding: .utf8)) ?? ""
    }

    /// `stty -a` taken in the pane after qvtop exited.
    var sttyAfterExit: String {
        (try? String(contentsOf: dir.appendingPathComponent("stty"), encoding: .utf8)) ?? ""
    }

    /// True when the saved `stty -a` shows a cooked, echoing terminal.
    var terminalRestored: Bool {
        let words = Set(sttyAfterExit.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == ";" }).map(String.init))
        return words.contains("icanon") && words.contains("echo") && !words.contains("-icanon")
            && !words.contains("-echo")
    }
}
