// Loopback request/response for `io = "socket"` tasks: real TCP sockets on 127.0.0.1, with the
// server side running in the same runtime as the clients.
//
// Protocol: the client sends 8 bytes (little endian: the server's delay in microseconds, and bit 63
// set when the server must reset this connection); the server waits that long (a timer, not a
// blocking call) and sends the 8 bytes back — or, for a reset, closes with `SO_LINGER` 0 so the
// kernel sends RST and the client's read fails with a real `ECONNRESET`. A client with a timeout
// gives up when it passes and fails with a timeout. Both sides close. One connection per request
// keeps the code short and makes every request a real connect/accept.
//
// Faults are per task spec (`reset_share`, `timeout_ms`, see docs/presets.md) and deterministic:
// `LoopbackFaults` resets request k exactly when ⌊(k+1)·share⌋ > ⌊k·share⌋, so a share of 0.25 resets
// every fourth request, on every model alike.

import Foundation
import Runtime
import Synchronization

/// The faults one task spec's socket requests ask the loopback server for. Shared by every body
/// running the spec (any thread): the request counter is atomic.
final class LoopbackFaults: Sendable {
    /// Share of requests the server resets, 0…1.
    let resetShare: Double
    /// Client deadline per request (connect to answer), ms; nil: wait as long as it takes.
    let timeoutMs: Double?
    // relaxed: a ticket counter; nothing else is published through it.
    private let requests = Atomic<UInt64>(0)

    init(resetShare: Double, timeoutMs: Double?) {
        self.resetShare = resetShare
        self.timeoutMs = timeoutMs
    }

    /// The faults of `spec`, or nil when it asks for none.
    static func of(_ spec: TaskSpec) -> LoopbackFaults? {
        guard (spec.kind == .io && spec.io == .socket) || spec.kind == .http,
            spec.resetShare > 0 || spec.timeoutMs != nil
        else { return nil }
        return LoopbackFaults(resetShare: spec.resetShare, timeoutMs: spec.timeoutMs)
    }

    /// One per spec with faults, by spec name.
    static func byName(_ specs: [TaskSpec]) -> [String: LoopbackFaults] {
        var out: [String: LoopbackFaults] = [:]
        for spec in specs { if let f = of(spec) { out[spec.name] = f } }
        return out
    }

    /// The request word for the next request with server delay `ms`: the reset bit set for the
    /// share of requests that must be reset.
    func word(delayMs ms: Double) -> UInt64 {
        LoopbackServer.word(delayMs: ms) | (nextResets() ? LoopbackServer.resetBit : 0)
    }

    /// Takes the next request's ticket: true when that request must be reset (the `http` kind asks for it
    /// in its request target).
    func nextResets() -> Bool {
        let k = Double(requests.add(1, ordering: .relaxed).oldValue)
        return (resetShare * (k + 1)).rounded(.down) > (resetShare * k).rounded(.down)
    }
}

/// A listening socket on 127.0.0.1 (ephemeral port) and the server loop that answers requests.
/// `fd` and `port` are immutable after init. Every connection socket (client or server side) is
/// tracked until closed, so `close()` — called once by the model's `stop()` after its runtime has
/// shut down — also closes sockets whose fibers were dropped while parked (their `defer` never ran).
final class LoopbackServer: Sendable {
    let fd: Int32
    let port: UInt16
    // protected by its lock: connection sockets not yet closed. A `SpinLock`: fiber bodies track and
    // untrack (docs/ARCHITECTURE.md, "Fiber code and thread identity").
    private let open = SpinLock<Set<Int32>>([])

    func track(_ c: Int32) { open.withLock { _ = $0.insert(c) } }

    /// Closes a connection socket its own fiber or task is done with. `Scheduler.close` (plain `close(2)` outside
    /// a fiber): nobody else waits on `c`, but the fd's waiter entries go with it either way.
    func untrackAndClose(_ c: Int32) {
        if open.withLock({ $0.remove(c) }) != nil { try? Scheduler.close(c) }
    }

    /// Shuts every open connection down (`shutdown(2)`, not `close`): a fiber or task parked on one wakes at once
    /// (the hang-up is a readiness event) and closes it through `untrackAndClose`. Under the set's lock, so no
    /// socket is closed (and its number reused) meanwhile. The model's `stop()`, before its runtime shuts down.
    func shutDownConnections() {
        open.withLock { o in
            for c in o { _ = shutdown(c, Int32(SHUT_RDWR)) }
        }
    }

    // Set once by whoever closes the listener first (`closeListener` while the runtime runs, or `close`): the fd
    // is closed exactly once, never a reused number. seq-cst: a once-flag, rarely touched.
    private let listenerClosed = Atomic<Bool>(false)

    /// True for the one caller that may close the listener.
    func claimListenerClose() -> Bool { !listenerClosed.exchange(true, ordering: .sequentiallyConsistent) }

    init() throws(ModelError) {
        (fd, port) = try Self.listen(who: "loopback server", backlog: 1024, nonBlocking: true, reuseAddress: true)
    }

    /// A TCP listener on 127.0.0.1, on a port the kernel picks: its fd and port. The one place a loopback
    /// listener is opened (this server, the HTTP server, the parked sockets' acceptor); `who` names the
    /// caller in the one-line error.
    static func listen(
        who: String, backlog: Int32, nonBlocking: Bool, reuseAddress: Bool
    ) throws(ModelError) -> (fd: Int32, port: UInt16) {
        let flags =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
            | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        let s = socket(AF_INET, flags, 0)
        guard s >= 0 else { throw ModelError("\(who): socket() failed, errno \(errno)") }
        if reuseAddress {
            var one: Int32 = 1
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var addr = address(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(s, backlog) == 0 else {
            let e = errno
            Glibc.close(s)
            throw ModelError("\(who): bind/listen failed, errno \(e)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
        }
        return (s, UInt16(bigEndian: addr.sin_port))
    }

    /// Closes the listener (unless `closeListener` did) and every connection still open. After the runtime
    /// has shut down: no fiber or task is left to wait on them.
    func close() {
        if claimListenerClose() { Glibc.close(fd) }
        for c in open.withLock({ o -> Set<Int32> in
            defer { o.removeAll() }
            return o
        }) {
            Glibc.close(c)
        }
    }

    /// Bit 63 of the request word: reset this connection instead of answering.
    static let resetBit: UInt64 = 1 << 63

    /// The request word for a plain request with server delay `ms`.
    static func word(delayMs ms: Double) -> UInt64 { UInt64(max(0, ms) * 1000) & ~resetBit }

    /// Makes the coming `close(c)` abortive: with `SO_LINGER` 0 the kernel sends RST, not FIN.
    static func resetOnClose(_ c: Int32) {
        var l = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(c, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
    }

    static func address(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return a
    }

    /// A new non-blocking client socket, connect started. Returns the fd and whether connect completed.
    static func startConnect(port: UInt16) -> (Int32, Bool)? {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { return nil }
        var addr = address(port: port)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if r == 0 { return (s, true) }
        if errno == EINPROGRESS { return (s, false) }
        Glibc.close(s)
        return nil
    }

    /// How far a non-blocking transfer of 8 bytes got.
    enum Progress {
        /// Bytes moved so far (0…8); fewer than 8 means the socket would block.
        case moved(Int)
        /// The peer closed the connection before 8 bytes.
        case eof
        case failed(TaskFailure)
    }

    /// Non-blocking read/write of exactly 8 bytes, `done` of them already moved. Writes use
    /// `MSG_NOSIGNAL`: a peer that went away is an `EPIPE` error, not a process-killing SIGPIPE.
    static func transfer(_ fd: Int32, _ buf: UnsafeMutableRawPointer, done: Int, writing: Bool) -> Progress {
        var done = done
        while done < 8 {
            let n = writing ? send(fd, buf + done, 8 - done, Int32(MSG_NOSIGNAL)) : recv(fd, buf + done, 8 - done, 0)
            if n > 0 {
                done += n
            } else if n == 0 && !writing {
                return .eof
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                return .moved(done)
            } else {
                return .failed(TaskFailure(op: writing ? "send" : "recv", errno: errno))
            }
        }
        return .moved(done)
    }

    // MARK: - On an event loop (async)

    /// Accepts connections on `loop` and answers each in its own task, until the loop shuts down.
    func serve(on loop: EventLoop) {
        let fd = self.fd
        loop.spawn(name: "server") {
            while true {
                try await loop.waitReadable(fd)
                while true {
                    let c = accept(fd, nil, nil)
                    if c < 0 { break }
                    _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
                    self.track(c)
                    loop.spawn(name: "server") {
                        defer { self.untrackAndClose(c) }
                        var word: UInt64 = 0
                        try await Self.exchange(c, &word, writing: false, loop: loop)
                        let w = UInt64(littleEndian: word)
                        try await loop.sleep(for: .microseconds(Int64(w & ~Self.resetBit)))
                        if w & Self.resetBit != 0 { return Self.resetOnClose(c) }
                        try await Self.exchange(c, &word, writing: true, loop: loop)
                    }
                }
            }
        }
    }

    /// Closes the listening socket through `loop.close` on the loop: the accept task waiting on it resumes with
    /// `LoopError.fdClosed` and ends, so the loop's shutdown has no waiting acceptor to drop. The model's `stop()`,
    /// before it shuts the loop down; waits up to a second for the loop to run the close (a stalled loop: the
    /// close still runs when the loop gets to it, and `close()` skips the listener either way).
    func closeListener(on loop: EventLoop) {
        guard claimListenerClose() else { return }
        let fd = self.fd
        let done = DispatchSemaphore(value: 0)
        loop.spawn(name: "server-close") {
            try? await loop.close(fd)
            done.signal()
        }
        _ = done.wait(timeout: .now() + 1)
    }

    /// Client side of one request, awaiting readiness on `loop`; with a timeout, the whole request
    /// (connect to answer) runs under `loop.timeout` and fails with `LoopError.timedOut`.
    func roundTrip(on loop: EventLoop, serverDelayMs: Double, faults: LoopbackFaults? = nil) async throws {
        guard let (c, connected) = Self.startConnect(port: port) else {
            throw TaskFailure(op: "connect", errno: errno)
        }
        track(c)
        defer { untrackAndClose(c) }
        let request = faults?.word(delayMs: serverDelayMs) ?? Self.word(delayMs: serverDelayMs)
        let exchange: @Sendable () async throws -> Void = {
            if !connected {
                try await loop.waitWritable(c)
                try Self.checkConnected(c)
            }
            var word = request.littleEndian
            try await Self.exchange(c, &word, writing: true, loop: loop)
            try await Self.exchange(c, &word, writing: false, loop: loop)
        }
        if let t = faults?.timeoutMs {
            try await loop.timeout(.microseconds(Int64(t * 1000)), exchange)
        } else {
            try await exchange()
        }
    }

    /// Throws the error a non-blocking connect ended with, if any.
    static func checkConnected(_ c: Int32) throws(TaskFailure) {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { throw TaskFailure(op: "getsockopt", errno: errno) }
        if err != 0 { throw TaskFailure(op: "connect", errno: err) }
    }

    /// Moves 8 bytes over `fd`, awaiting readiness as needed; throws how it failed.
    static func exchange(_ fd: Int32, _ word: inout UInt64, writing: Bool, loop: EventLoop) async throws {
        var done = 0
        while true {
            switch withUnsafeMutableBytes(of: &word, { transfer(fd, $0.baseAddress!, done: done, writing: writing) }) {
            case .moved(8): return
            case .moved(let n): done = n
            case .eof: throw TaskFailure(.other, "connection closed before 8 bytes")
            case .failed(let f): throw f
            }
            if writing { try await loop.waitWritable(fd) } else { try await loop.waitReadable(fd) }
        }
    }
}
