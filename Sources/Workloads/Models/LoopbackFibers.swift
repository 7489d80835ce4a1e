// The fiber side of the loopback request/response (see Loopback.swift): the same protocol with
// synchronous calls that park the fiber until the socket is ready.

import Foundation
import Runtime

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
                            guard Self.exchange(c, &word, writing: false) else { return }
                            Scheduler.sleep(nanoseconds: UInt64(littleEndian: word) * 1000)
                            _ = Self.exchange(c, &word, writing: true)
                        }
                    }
                }
            }
        }
    }

    /// Client side of one request from a fiber: connect, send, receive; each step parks the fiber.
    func roundTrip(serverDelayMs: Double) throws {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard c >= 0 else { throw ModelError("socket failed") }
        track(c)
        defer { untrackAndClose(c) }
        var addr = Self.address(port: port)
        do {
            try withUnsafePointer(to: &addr) { p throws(SchedulerError) in
                try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa throws(SchedulerError) in
                    try Scheduler.connect(c, address: sa, length: socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } catch {
            throw ModelError("connect failed: \(error)")
        }
        var word = UInt64(max(0, serverDelayMs) * 1000).littleEndian
        guard Self.exchange(c, &word, writing: true), Self.exchange(c, &word, writing: false) else {
            throw ModelError("loopback request failed")
        }
    }

    /// Moves 8 bytes over `fd`, parking the fiber while the socket is not ready. False on EOF/error.
    static func exchange(_ fd: Int32, _ word: inout UInt64, writing: Bool) -> Bool {
        var done = 0
        while true {
            done = withUnsafeMutableBytes(of: &word) { transfer(fd, $0.baseAddress!, done: done, writing: writing) }
            if done < 0 { return false }
            if done == 8 { return true }
            do {
                try Scheduler.waitReady(fd: fd, events: writing ? 0x004 : 0x001)  // EPOLLOUT : EPOLLIN
            } catch {
                return false
            }
        }
    }
}
