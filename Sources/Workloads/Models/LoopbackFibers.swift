// The fiber side of the loopback request/response (see Loopback.swift): the same protocol with
// synchronous calls that park the fiber until the socket is ready.
//
// A client timeout on a fiber: a watchdog fiber sleeps the timeout and, if the request is still
// going, shuts the socket down (`shutdown(2)`, which wakes the parked reader at once); the client
// then fails with a timeout. `RequestDeadline` makes "finish" and "fire" exclusive, so the watchdog
// never touches a descriptor the client has closed (and the kernel may have reused).

import Foundation
import Runtime

/// Who got there first: the request (finished) or its watchdog (fired). Any fiber.
final class RequestDeadline: Sendable {
    // protected by its lock: (finished, fired); the watchdog's shutdown(2) runs under it. A SpinLock, not
    // `Synchronization.Mutex`: both callers are fibers that parked earlier in the same function, and the
    // optimizer may reuse a thread-local address computed before the park (docs/ARCHITECTURE.md, "Fiber
    // code and thread identity").
    private let state = SpinLock<(finished: Bool, fired: Bool)>((false, false))

    /// The watchdog: unless the request finished, marks it timed out and runs `expire` (shutting its socket down).
    func fire(_ expire: () -> Void) {
        state.withLock { s in
            guard !s.finished else { return }
            s.fired = true
            expire()
        }
    }

    /// The request is over (before its socket closes); true when the watchdog fired first.
    func finish() -> Bool {
        state.withLock { s in
            s.finished = true
            return s.fired
        }
    }
}

extension LoopbackServer {
    /// Accepts connections in a fiber and answers each in its own fiber.
    func serve(on scheduler: Scheduler, gate: SpawnGate) {
        let fd = self.fd
        // unowned(unsafe): the accept fiber runs only while the scheduler runs (see SyncBodies).
        unowned(unsafe) let scheduler = scheduler
        gate.pass {
            scheduler.spawn(name: "server", kind: "server") { [self] in
                while let c = try? Scheduler.accept(fd) {
                    track(c)
                    gate.pass {
                        scheduler.spawn(name: "server", kind: "server") { [self] in
                            defer { untrackAndClose(c) }
                            var word: UInt64 = 0
                            guard (try? Self.exchange(c, &word, writing: false)) != nil else { return }
                            let w = UInt64(littleEndian: word)
                            Scheduler.sleep(nanoseconds: (w & ~Self.resetBit) * 1000)
                            if w & Self.resetBit != 0 { return Self.resetOnClose(c) }
                            _ = try? Self.exchange(c, &word, writing: true)
                        }
                    }
                }
            }
        }
    }

    /// Closes the listening socket through `scheduler` (`Scheduler.close`): the accept fiber parked on it wakes
    /// with `.closed`, leaves its loop and finishes, so the model's shutdown has no parked acceptor to drop. The
    /// model's `stop()`, before it closes its spawn gate; `close()` afterwards skips the listener. Only the
    /// accept fiber uses the listener, and it ends on the first error (EBADF or `.closed`).
    func closeListener(on scheduler: Scheduler) {
        if claimListenerClose() { try? scheduler.close(fd) }
    }

    /// Client side of one request from a fiber: connect, send, receive; each step parks the fiber.
    /// With a timeout in `faults`, `watchdog` spawns the fiber that enforces it (nil when stopping).
    func roundTrip(
        serverDelayMs: Double, faults: LoopbackFaults? = nil,
        watchdog: (@escaping @Sendable () -> Void) -> Void = { _ in }
    ) throws(TaskFailure) {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard c >= 0 else { throw TaskFailure(op: "socket", errno: errno) }
        track(c)
        defer { untrackAndClose(c) }
        let deadline = RequestDeadline()
        if let ms = faults?.timeoutMs {
            watchdog {
                Scheduler.sleep(nanoseconds: UInt64(ms * 1e6))
                deadline.fire { _ = shutdown(c, Int32(SHUT_RDWR)) }
            }
        }
        let result = Result { () throws(TaskFailure) in
            var addr = Self.address(port: port)
            do {
                try withUnsafePointer(to: &addr) { p throws(SchedulerError) in
                    try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SchedulerError) in
                        try Scheduler.connect(c, address: sa, length: socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            } catch {
                throw TaskFailure(wrapping: error, op: "connect")
            }
            var word = (faults?.word(delayMs: serverDelayMs) ?? Self.word(delayMs: serverDelayMs)).littleEndian
            try Self.exchange(c, &word, writing: true)
            try Self.exchange(c, &word, writing: false)
        }
        if deadline.finish() {
            throw TaskFailure(.timeout, "no answer within \(faults?.timeoutMs ?? 0) ms")
        }
        try result.get()
    }

    /// Moves 8 bytes over `fd`, parking the fiber while the socket is not ready; throws how it failed.
    static func exchange(_ fd: Int32, _ word: inout UInt64, writing: Bool) throws(TaskFailure) {
        var done = 0
        while true {
            switch withUnsafeMutableBytes(of: &word, { transfer(fd, $0.baseAddress!, done: done, writing: writing) }) {
            case .moved(8): return
            case .moved(let n): done = n
            case .eof: throw TaskFailure(.other, "connection closed before 8 bytes")
            case .failed(let f): throw f
            }
            do {
                try Scheduler.waitReady(fd: fd, events: writing ? 0x004 : 0x001)  // EPOLLOUT : EPOLLIN
            } catch {
                throw TaskFailure(wrapping: error, op: "wait")
            }
        }
    }
}
