// ChildProcess: a program qvtop starts and must be able to end, whatever happens.
//
// posix_spawn with: a new process group (POSIX_SPAWN_SETPGROUP, pgid = pid), an empty signal mask
// and default dispositions for the signals qvtop blocks or handles (POSIX_SPAWN_SETSIGMASK /
// SETSIGDEF: the UI blocks SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP before its threads start, and a
// mask survives exec), stdin from /dev/null, stdout and stderr into one pipe, and optionally a second
// pipe's write end as `streamFd` in the child. Every descriptor qvtop keeps is close-on-exec.
//
// Ownership: one thread (PythonSource's reader) reads the pipes and reaps; `signalGroup` may be called
// from any thread (kill(2) on a pgid is safe to race with the reap: the group outlives its leader while
// members remain, and after that kill fails with ESRCH).

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A failed spawn or wait, with the errno's text.
public struct ChildProcessError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// How a child ended.
public struct ChildExit: Sendable, Equatable, CustomStringConvertible {
    /// The exit status, or 128 + the signal that killed it.
    public var code: Int32
    public var signal: Int32?
    public var description: String {
        if let signal { return "killed by signal \(signal)" }
        return "exited with status \(code)"
    }
}

public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// Read end of the child's stdout+stderr pipe (non-blocking).
    public let outputFd: Int32
    /// Read end of the stream pipe (non-blocking), or -1 without one.
    public let streamFd: Int32

    private init(pid: pid_t, outputFd: Int32, streamFd: Int32) {
        self.pid = pid
        self.outputFd = outputFd
        self.streamFd = streamFd
    }

    private static func pipePair() throws(ChildProcessError) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            throw ChildProcessError(description: "pipe: \(String(cString: strerror(errno)))")
        }
        // Close-on-exec copies at 10 or above (the originals close at once), so the child's ends never
        // sit where dup2 puts the descriptors it is given (0-2, the stream's).
        func high(_ fd: Int32) -> Int32 {
            let h = fcntl(fd, F_DUPFD_CLOEXEC, 10)
            close(fd)
            return h
        }
        return (high(fds[0]), high(fds[1]))
    }

    /// Starts `argv` (argv[0] looked up on PATH) in its own process group. See the file's comment.
    public static func spawn(
        _ argv: [String], environment: [String: String], streamFd childStreamFd: Int32? = nil
    ) throws(ChildProcessError) -> ChildProcess {
        let out = try pipePair()
        let stream: (read: Int32, write: Int32)? = childStreamFd == nil ? nil : try pipePair()
        defer {
            close(out.write)
            if let stream { close(stream.write) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out.write, 1)
        posix_spawn_file_actions_adddup2(&actions, out.write, 2)
        if let stream, let target = childStreamFd { posix_spawn_file_actions_adddup2(&actions, stream.write, target) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [
            SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGWINCH, SIGTSTP, SIGTTIN, SIGTTOU, SIGCHLD, SIGUSR1, SIGUSR2,
        ] {
            sigaddset(&defaults, s)
        }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        guard rc == 0 else {
            close(out.read)
            if let stream { close(stream.read) }
            let reason = rc == ENOENT ? "not found" : String(cString: strerror(rc))
            throw ChildProcessError(description: reason)
        }
        _ = fcntl(out.read, F_SETFL, fcntl(out.read, F_GETFL) | O_NONBLOCK)
        if let stream { _ = fcntl(stream.read, F_SETFL, fcntl(stream.read, F_GETFL) | O_NONBLOCK) }
        return ChildProcess(pid: pid, outputFd: out.read, streamFd: stream?.read ?? -1)
    }

    /// Sends `signal` to the child's whole process group.
    public func signalGroup(_ signal: Int32) { _ = kill(-pid, signal) }

    /// The child's end if it has ended (reaps it), else nil. Reader thread only.
    public func reap() -> ChildExit? {
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return nil }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros; spelled out for Glibc's encoding.
        if status & 0x7f == 0 { return ChildExit(code: (status >> 8) & 0xff, signal: nil) }
        return ChildExit(code: 128 + (status & 0x7f), signal: status & 0x7f)
    }

    public func closeReadEnds() {
        close(outputFd)
        if streamFd >= 0 { close(streamFd) }
    }

    /// Runs `argv` to its end (killed after `timeout` s) and returns its status and output.
    public static func runToEnd(_ argv: [String], timeout: Double) throws(ChildProcessError) -> (
        status: Int32, output: String
    ) {
        let child = try spawn(argv, environment: ProcessInfo.processInfo.environment)
        defer { child.closeReadEnds() }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Monotonic.now() + UInt64(timeout * 1e9)
        var killed = false
        while true {
            var fds = [pollfd(fd: child.outputFd, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 1, 20) > 0 {
                let n = read(child.outputFd, &buffer, buffer.count)
                if n > 0 { output += buffer[0..<n] }
            }
            if let exit = child.reap() {
                while true {
                    let n = read(child.outputFd, &buffer, buffer.count)
                    if n > 0 { output += buffer[0..<n] } else { break }
                }
                return (exit.code, String(decoding: output, as: UTF8.self))
            }
            if !killed, Monotonic.now() > deadline {
                child.signalGroup(SIGKILL)
                killed = true
            }
        }
    }
}
