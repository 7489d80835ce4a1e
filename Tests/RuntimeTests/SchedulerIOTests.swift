import CRuntime
import Glibc
import Runtime
import Synchronization
import Testing

@Suite("Scheduler I/O and blocking")
struct SchedulerIOTests {
    @Test func pipeReadParksUntilWritten() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        _ = qv_set_nonblocking(fds[0])
        _ = qv_set_nonblocking(fds[1])
        let (r, w) = (fds[0], fds[1])
        let reader = s.spawn(name: "reader") { () -> [UInt8] in
            var got: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 64)
            while got.count < 10 {
                let n = (try? buf.withUnsafeMutableBytes { try Scheduler.read(r, into: $0) }) ?? 0
                if n <= 0 { break }
                got += buf[0..<n]
            }
            return got
        }
        let writer = s.spawn(name: "writer") {
            for i in 0..<10 {
                Scheduler.sleep(nanoseconds: 200_000)
                let b = UInt8(i)
                _ = withUnsafeBytes(of: b) { try? Scheduler.write(w, from: $0) }
            }
        }
        #expect(joinBounded(writer) != nil)
        #expect(joinBounded(reader) == (0..<10).map { UInt8($0) })
    }

    @Test func acceptAndConnectOnLoopback() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let lfd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(lfd >= 0)
        defer { close(lfd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(lfd, $0, len) }
        }
        #expect(bound == 0)
        #expect(listen(lfd, 8) == 0)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(lfd, $0, &len) }
        }
        _ = qv_set_nonblocking(lfd)
        let target = addr
        let server = s.spawn(name: "server") { () -> UInt8 in
            guard let c = try? Scheduler.accept(lfd) else { return 0 }
            defer { close(c) }
            var b: UInt8 = 0
            let n = withUnsafeMutableBytes(of: &b) { (try? Scheduler.read(c, into: $0)) ?? 0 }
            return n == 1 ? b : 0
        }
        let client = s.spawn(name: "client") { () -> Bool in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            _ = qv_set_nonblocking(fd)
            var a = target
            let ok = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    (try? Scheduler.connect(fd, address: $0, length: socklen_t(MemoryLayout<sockaddr_in>.size)))
                        != nil
                }
            }
            let b: UInt8 = 42
            let n = withUnsafeBytes(of: b) { (try? Scheduler.write(fd, from: $0)) ?? 0 }
            return ok && n == 1
        }
        #expect(joinBounded(client) == true)
        #expect(joinBounded(server) == 42)
    }

    /// Handoff on one carrier: the blocked fiber waits for a fiber that can only run on the spare carrier.
    @Test func handoffKeepsTheQueueRunning() throws {
        let s = try Scheduler(.init(carriers: 1, blocking: .handoff))
        defer { s.shutdown() }
        let gate = Parker()
        let blocker = s.spawn(name: "blocker") { () -> Bool in
            Scheduler.blocking { gate.park(deadline: qv_now_ns() + 30_000_000_000) }
        }
        let opener = s.spawn(name: "opener") {
            Scheduler.yield()
            gate.unpark(poller: nil)
        }
        #expect(joinBounded(opener) != nil)
        #expect(joinBounded(blocker) == true)
        let m = s.metrics()
        #expect(m.carrierThreads == 2)
        let events = s.drainEvents()
        #expect(events.contains { $0.kind == .handoff })
        #expect(events.contains { $0.kind == .blockingEnd && $0.name == "blocker" })
        #expect(m.fibers.blockedHandoff == 0)
    }

    /// Pin on one carrier: nothing else runs until the blocking region ends.
    @Test func pinHoldsTheCarrier() throws {
        let s = try Scheduler(.init(carriers: 1, blocking: .pin))
        defer { s.shutdown() }
        let done = Atomic<Bool>(false)
        let blocker = s.spawn(name: "pinned") {
            Scheduler.blocking { usleep(20_000) }
            done.store(true, ordering: .sequentiallyConsistent)
        }
        let other = s.spawn { done.load(ordering: .sequentiallyConsistent) }
        #expect(joinBounded(blocker) != nil)
        #expect(joinBounded(other) == true)
        let events = s.drainEvents()
        #expect(events.contains { $0.kind == .pin })
        #expect(events.contains { $0.kind == .blockingEnd && $0.name == "pinned" && $0.durationNanos > 0 })
        #expect(s.metrics().carrierThreads == 1)
    }

    @Test func blockedCountsAreVisibleWhileBlocked() throws {
        for policy in BlockingPolicy.allCases {
            let s = try Scheduler(.init(carriers: 2, blocking: policy))
            let gate = Parker()
            let h = s.spawn(name: "sys") { Scheduler.blocking { gate.park(deadline: qv_now_ns() + 30_000_000_000) } }
            let deadline = qv_now_ns() + 20_000_000_000
            var seen = false
            while !seen && qv_now_ns() < deadline {
                let m = s.metrics()
                seen =
                    (policy == .pin ? m.fibers.blockedPinned : m.fibers.blockedHandoff) == 1
                    && m.blocked.first?.fiber == "sys"
                if !seen { usleep(500) }
            }
            #expect(seen, "policy \(policy)")
            gate.unpark(poller: nil)
            #expect(joinBounded(h) == true)
            s.shutdown()
        }
    }
}
