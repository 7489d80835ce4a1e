// The socket-I/O seam under the one synchronous HTTP client (HTTPClient.swift): `connect`, `read`,
// `write` that park the fiber when called on a fiber and block in the kernel when called on a plain OS
// thread. The client above it is written once, without knowing which; the operator picks the model.
//
// # How it decides
//
// At `connect`: on a fiber (`Scheduler.isInFiber`) the socket is non-blocking and every step goes
// through the runtime's fd waits (`Scheduler.connect/read/write`, Scheduler+IO.swift): a step that
// would block parks the fiber on the fd's reader or writer queue, and the carrier runs other fibers.
// Inside a `blocking {}` region the same calls wait in poll(2), as the scheduler's docs say. On a plain
// thread the socket is a blocking one and the calls are the kernel's own `connect(2)`, `read(2)`,
// `write(2)`: the thread sleeps in the syscall, as a thread-per-connection client does. The choice is
// recorded in the `SyncSocket` (`parks`), so a socket is used the way it was made. A socket made on a
// fiber must be used on fibers, and one made on a thread on threads (`beside` keeps the two sides of a
// full-duplex connection in the same model).
//
// Rejected: always non-blocking, waiting in poll(2) on threads (`Scheduler.read` does that outside a
// fiber). It works, but a thread-per-connection client would then sit in poll, not in `read`: the
// plain-threads model is meant to show a thread blocked in `read`.
//
// Errors are `TaskFailure`s (reset, refused, timeout, other), so the models count them like every kind.
// Fiber code here reads errno through `lastErrno()` (a call, not an inlined thread-local address: see
// docs/ARCHITECTURE.md, "Fiber code and thread identity"); the fiber paths take errno from the
// runtime's `SchedulerError`.
//
// Beside the sockets, `SyncIO.Beside`: how a sync body runs a second strand of its own (the full-duplex
// writer) — a fiber beside a fiber, a thread beside a thread. The model provides it, so the client
// needs nothing fiber-specific. (The plain-threads model has its own seam for sleep; this file is for
// sockets only.)

import Foundation
import Runtime

/// One connected TCP socket of a sync body, and how its waits are done. Any strand of the model that
/// made it; `close` once, after every strand using it is done.
struct SyncSocket: Sendable {
    let fd: Int32
    /// True: non-blocking, waits park the fiber (runtime fd waits). False: blocking, waits block the thread.
    let parks: Bool

    /// Reads at most `buffer.count` bytes into `buffer`; 0 means the peer closed. Parks the fiber or blocks
    /// the thread until at least one byte (or the end) is there.
    func read(into buffer: inout [UInt8]) throws(TaskFailure) -> Int {
        if parks {
            do {
                return try buffer.withUnsafeMutableBytes { try Scheduler.read(fd, into: $0) }
            } catch {
                throw TaskFailure(wrapping: error, op: "read")
            }
        }
        while true {
            // A threads-model thread records that it blocks in read(2) (its box reads `read`).
            let n = Blocking.wait(.read) { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n >= 0 { return n }
            let e = lastErrno()
            if e != EINTR { throw TaskFailure(op: "read", errno: e) }
        }
    }

    /// Writes all of `bytes`, parking or blocking while the socket's send buffer is full. `send` with
    /// `MSG_NOSIGNAL` on both paths: a peer that went away is an `EPIPE`/`ECONNRESET` failure, not a SIGPIPE
    /// that ends the process.
    func write(_ bytes: [UInt8]) throws(TaskFailure) {
        var done = 0
        while done < bytes.count {
            let n = Blocking.wait(.write) {
                bytes.withUnsafeBytes { send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            }
            if n >= 0 {
                done += n
                continue
            }
            let e = lastErrno()
            if e == EINTR { continue }
            guard parks, e == EAGAIN || e == EWOULDBLOCK else { throw TaskFailure(op: "write", errno: e) }
            do {
                try Scheduler.waitReady(fd: fd, events: 0x004)  // EPOLLOUT: parks on the fd's writer queue
            } catch {
                throw TaskFailure(wrapping: error, op: "write")
            }
        }
    }

    /// `shutdown(2)` both ways: a strand parked or blocked on this socket wakes (reads see the end, writes
    /// fail). Used to stop the other side of a full-duplex connection; the fd stays open until `close`.
    func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    /// Closes the socket: through the scheduler on a fiber (its fd-wait entries go with it), plain
    /// `close(2)` on a thread.
    func close() {
        if parks { try? Scheduler.close(fd) } else { _ = Glibc.close(fd) }
    }
}

enum SyncIO {
    /// Connects to 127.0.0.1:`port`: a non-blocking socket whose connect parks the fiber on a fiber, a
    /// blocking one whose `connect(2)` blocks the thread elsewhere. `track` sees the fd before connect
    /// starts (so a model's stop can shut it down while it waits), `untrack` on failure before the close.
    static func connect(
        port: UInt16, track: (Int32) -> Void = { _ in }, untrack: (Int32) -> Void = { _ in }
    ) throws(TaskFailure) -> SyncSocket {
        let parks = Scheduler.isInFiber
        let flags =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (parks ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        let fd = socket(AF_INET, flags, 0)
        guard fd >= 0 else { throw TaskFailure(op: "socket", errno: lastErrno()) }
        track(fd)
        let socket = SyncSocket(fd: fd, parks: parks)
        var addr = LoopbackServer.address(port: port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let failure = withUnsafePointer(to: &addr) { p -> TaskFailure? in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> TaskFailure? in
                if parks {
                    do {
                        try Scheduler.connect(fd, address: sa, length: length)
                        return nil
                    } catch {
                        return TaskFailure(wrapping: error, op: "connect")
                    }
                }
                while Blocking.wait(.connect, { Glibc.connect(fd, sa, length) }) != 0 {
                    let e = lastErrno()
                    // Interrupted: the connect goes on in the kernel; wait for it as a non-blocking one would.
                    if e == EINTR { return awaitInterruptedConnect(fd) }
                    return TaskFailure(op: "connect", errno: e)
                }
                return nil
            }
        }
        if let failure {
            untrack(fd)
            socket.close()
            throw failure
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }

    /// A blocking connect interrupted by a signal keeps going in the kernel: wait until the socket is
    /// writable, then read its outcome. A plain thread.
    private static func awaitInterruptedConnect(_ fd: Int32) -> TaskFailure? {
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while poll(&p, 1, -1) < 0 {
            if lastErrno() != EINTR { return TaskFailure(op: "poll", errno: lastErrno()) }
        }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 {
            return TaskFailure(op: "getsockopt", errno: lastErrno())
        }
        return err == 0 ? nil : TaskFailure(op: "connect", errno: err)
    }

    /// Runs `body` on a strand of its own beside the caller and returns its join (which gives back what
    /// `body` threw), or nil when none could be started (the model is stopping, or out of threads). The
    /// model provides it: a fiber beside a fiber (`SyncBodies.spawn`), a thread beside a thread (`thread`).
    typealias Beside = (_ body: @escaping @Sendable () -> TaskFailure?) -> (() -> TaskFailure?)?

    /// `Beside` for plain OS threads: one `OSThread` per call, joined by the returned closure.
    static func thread(_ body: @escaping @Sendable () -> TaskFailure?) -> (() -> TaskFailure?)? {
        let result = SpinLock<TaskFailure?>(nil)
        guard let t = try? OSThread.start(name: "qv-http-writer", { result.withLock { $0 = body() } }) else {
            return nil
        }
        return {
            t.join()
            return result.withLock { $0 }
        }
    }
}

/// errno of the calling thread, read through a call: the address of the thread-local must not be computed
/// once and reused across a park by the optimizer (`__errno_location` is `const` to it).
@inline(never) func lastErrno() -> Int32 { errno }
