// Loopback request/response for `io = "socket"` tasks: real TCP sockets on 127.0.0.1, with the
// server side running in the same runtime as the clients.
//
// Protocol: the client sends 8 bytes (the server's delay in microseconds, little endian); the server
// waits that long (a timer, not a blocking call) and sends the 8 bytes back; both sides close.
// One connection per request keeps the code short and makes every request a real connect/accept.

import Foundation
import Runtime

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

    func untrackAndClose(_ c: Int32) {
        if open.withLock({ $0.remove(c) }) != nil { Glibc.close(c) }
    }

    init() throws(ModelError) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw ModelError("loopback server: socket() failed, errno \(errno)") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.address(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(s, 1024) == 0 else {
            Glibc.close(s)
            throw ModelError("loopback server: bind/listen failed, errno \(errno)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
        }
        fd = s
        port = UInt16(bigEndian: addr.sin_port)
    }

    func close() {
        Glibc.close(fd)
        for c in open.withLock({ o -> Set<Int32> in
            defer { o.removeAll() }
            return o
        }) {
            Glibc.close(c)
        }
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

    /// Non-blocking read/write of exactly 8 bytes; returns bytes moved (0…8) so far, -1 on error/EOF.
    static func transfer(_ fd: Int32, _ buf: UnsafeMutableRawPointer, done: Int, writing: Bool) -> Int {
        var done = done
        while done < 8 {
            let n = writing ? write(fd, buf + done, 8 - done) : read(fd, buf + done, 8 - done)
            if n > 0 {
                done += n
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                return done
            } else {
                return -1
            }
        }
        return done
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
                        guard try await Self.exchange(c, &word, writing: false, loop: loop) else { return }
                        try await loop.sleep(for: .microseconds(Int64(UInt64(littleEndian: word))))
                        _ = try await Self.exchange(c, &word, writing: true, loop: loop)
                    }
                }
            }
        }
    }

    /// Client side of one request, awaiting readiness on `loop`.
    func roundTrip(on loop: EventLoop, serverDelayMs: Double) async throws {
        guard let (c, connected) = Self.startConnect(port: port) else { throw ModelError("connect failed") }
        track(c)
        defer { untrackAndClose(c) }
        if !connected { try await loop.waitWritable(c) }
        var word = UInt64(max(0, serverDelayMs) * 1000).littleEndian
        guard try await Self.exchange(c, &word, writing: true, loop: loop),
            try await Self.exchange(c, &word, writing: false, loop: loop)
        else { throw ModelError("loopback request failed") }
    }

    /// Moves 8 bytes over `fd`, awaiting readiness as needed. False on EOF/error.
    static func exchange(_ fd: Int32, _ word: inout UInt64, writing: Bool, loop: EventLoop) async throws -> Bool {
        var done = 0
        while true {
            done = withUnsafeMutableBytes(of: &word) { transfer(fd, $0.baseAddress!, done: done, writing: writing) }
            if done < 0 { return false }
            if done == 8 { return true }
            if writing { try await loop.waitWritable(fd) } else { try await loop.waitReadable(fd) }
        }
    }
}
