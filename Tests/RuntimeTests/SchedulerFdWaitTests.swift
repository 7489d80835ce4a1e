import CRuntime
import Glibc
import Synchronization
import Testing

@testable import Runtime

@Suite("Scheduler fd waits")
struct SchedulerFdWaitTests {
    /// Issue 14, defect 1: a reader waiting for EPOLLIN and a writer waiting for EPOLLOUT on one socket. epoll keeps
    /// one registration per fd; when the writer's wait replaced the reader's, the reader never woke.
    @Test func aReaderAndAWriterOnOneSocketBothWake() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let (a, b) = FdTestSupport.socketPair()
        defer {
            close(a)
            close(b)
        }
        FdTestSupport.fillSendBuffer(a)
        let reader = s.spawn(name: "reader") { () -> Int in
            var byte: UInt8 = 0
            return (try? withUnsafeMutableBytes(of: &byte) { try Scheduler.read(a, into: $0) }) ?? -1
        }
        #expect(FdTestSupport.eventually { s.metrics().fibers.parkedIO == 1 })
        let writer = s.spawn(name: "writer") { () -> Int in
            let byte: UInt8 = 1
            return (try? withUnsafeBytes(of: byte) { try Scheduler.write(a, from: $0) }) ?? -1
        }
        #expect(FdTestSupport.eventually { s.metrics().fibers.parkedIO == 2 })
        // Readable first: the reader (the older wait) must wake.
        var one: UInt8 = 9
        #expect(Glibc.write(b, &one, 1) == 1)
        #expect(joinBounded(reader, seconds: 20) == 1)
        // Then writable: the writer must wake too.
        FdTestSupport.drain(b)
        #expect(joinBounded(writer, seconds: 20) == 1)
        #expect(FdTestSupport.eventually { s.ioWaiterCount.load(ordering: .relaxed) == 0 })
    }

    /// Issue 14, defect 1: several acceptors on one listener queue as readers of one fd; each connection wakes one.
    @Test func severalAcceptorsOnOneListenerAllAccept() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let (lfd, addr) = FdTestSupport.listener()
        defer { close(lfd) }
        let acceptors = (0..<3).map { i in
            s.spawn(name: "acceptor-\(i)") { () -> Int32 in (try? Scheduler.accept(lfd)) ?? -1 }
        }
        #expect(FdTestSupport.eventually { s.metrics().fibers.parkedIO == 3 })
        let clients = (0..<3).map { _ in FdTestSupport.connectBlocking(to: addr) }
        defer { for c in clients { close(c) } }
        for h in acceptors {
            let fd = joinBounded(h, seconds: 20)
            #expect(fd != nil && fd! >= 0)
            if let fd, fd >= 0 { close(fd) }
        }
    }

    /// Issue 14, defect 2: `Scheduler.close` wakes a fiber waiting on the fd with `.closed`, and the waiter entry
    /// goes (Go's netFD.Close evicts the poll descriptor's waiters with ErrNetClosing).
    @Test func closeWakesTheWaitersWithAnError() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let (r, w) = FdTestSupport.pipePair()
        defer { close(w) }
        let (a, b) = FdTestSupport.socketPair()
        defer { close(b) }
        FdTestSupport.fillSendBuffer(a)
        let reader = s.spawn(name: "reader") { FdTestSupport.failure(FdTestSupport.readOne(r)) }
        let sockReader = s.spawn(name: "sock-reader") { FdTestSupport.failure(FdTestSupport.readOne(a)) }
        let sockWriter = s.spawn(name: "sock-writer") { FdTestSupport.failure(FdTestSupport.writeOne(a)) }
        #expect(FdTestSupport.eventually { s.metrics().fibers.parkedIO == 3 })
        #expect(throws: Never.self) { try s.close(r) }
        #expect(joinBounded(reader, seconds: 20) == .some(.closed(fd: r)))
        #expect(throws: Never.self) { try s.close(a) }
        #expect(joinBounded(sockReader, seconds: 20) == .some(.closed(fd: a)))
        #expect(joinBounded(sockWriter, seconds: 20) == .some(.closed(fd: a)))
        #expect(s.ioWaiterCount.load(ordering: .relaxed) == 0)
        #expect(s.fdWaits.registeredCount == 0)
    }

    /// `Scheduler.close` from a fiber closes through that fiber's scheduler: a fiber waiting on the fd wakes.
    @Test func closeFromAFiberWakesAnotherFibersWait() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        let (r, w) = FdTestSupport.pipePair()
        defer { close(w) }
        let reader = s.spawn(name: "reader") { FdTestSupport.failure(FdTestSupport.readOne(r)) }
        #expect(FdTestSupport.eventually { s.metrics().fibers.parkedIO == 1 })
        let closer = s.spawn(name: "closer") { () -> Bool in (try? Scheduler.close(r)) != nil }
        #expect(joinBounded(closer, seconds: 20) == true)
        #expect(joinBounded(reader, seconds: 20) == .some(.closed(fd: r)))
        #expect(s.fdWaits.registeredCount == 0)
    }

    /// A wait on an fd that was closed and whose number was reused by a new pipe sees only the new pipe's events:
    /// registrations carry an id, so nothing of the old one (waiters, epoll token) applies to the new fd.
    @Test func aReusedFdNumberStartsAFreshRegistration() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let number = FdTestSupport.reservedFdNumber(base: 910)
        let (pr1, w1) = FdTestSupport.pipePair()
        let r1 = FdTestSupport.move(pr1, to: number)
        let first = s.spawn(name: "first") { FdTestSupport.failure(FdTestSupport.readOne(r1)) }
        #expect(FdTestSupport.eventually { s.metrics().fibers.parkedIO == 1 })
        try s.close(r1)
        #expect(joinBounded(first, seconds: 20) == .some(.closed(fd: r1)))
        close(w1)
        let (pr2, w2) = FdTestSupport.pipePair()
        let r2 = FdTestSupport.move(pr2, to: number)  // the closed fd's number, now another pipe
        defer {
            close(r2)
            close(w2)
        }
        let second = s.spawn(name: "second") { () -> Int in
            var byte: UInt8 = 0
            return (try? withUnsafeMutableBytes(of: &byte) { try Scheduler.read(r2, into: $0) }) ?? -1
        }
        #expect(FdTestSupport.eventually { s.metrics().fibers.parkedIO == 1 })
        var one: UInt8 = 1
        #expect(Glibc.write(w2, &one, 1) == 1)
        #expect(joinBounded(second, seconds: 20) == 1)
    }

    /// Stress (TSan): over each socket pair, a sender and a receiver wait on one end at once (write and read
    /// interest on one fd) while two echoers queue as readers on the other end; every byte comes back and no
    /// waiter is left behind.
    @Test func readersAndWritersOnSharedSocketsStress() throws {
        let s = try Scheduler(.init(carriers: 3))
        defer { s.shutdown() }
        let pairs = (0..<4).map { _ in FdTestSupport.socketPair() }
        for (a, b) in pairs {
            // Small buffers, so writers wait for EPOLLOUT while readers of the same fd wait for EPOLLIN.
            for fd in [a, b] {
                var size: Int32 = 1024
                _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        defer {
            for (a, b) in pairs {
                close(a)
                close(b)
            }
        }
        let rounds = 20000
        var senders: [JoinHandle<Int>] = []
        var receivers: [JoinHandle<Int>] = []
        var echoers: [JoinHandle<Int>] = []
        for (a, b) in pairs {
            senders.append(
                s.spawn(name: "sender") { () -> Int in
                    var sent = 0
                    let chunk = [UInt8](repeating: 1, count: 7)
                    while sent < rounds {
                        let n = min(chunk.count, rounds - sent)
                        sent += chunk.withUnsafeBytes {
                            (try? Scheduler.write(a, from: UnsafeRawBufferPointer(rebasing: $0[0..<n]))) ?? 0
                        }
                    }
                    return sent
                })
            receivers.append(
                s.spawn(name: "receiver") { () -> Int in
                    var got = 0
                    var buf = [UInt8](repeating: 0, count: 64)
                    while got < rounds {
                        let n = (try? buf.withUnsafeMutableBytes { try Scheduler.read(a, into: $0) }) ?? 0
                        if n <= 0 { break }
                        got += n
                    }
                    _ = Glibc.shutdown(a, Int32(SHUT_WR))  // both echoers see EOF and end
                    return got
                })
            for i in 0..<2 {
                echoers.append(
                    s.spawn(name: "echo-\(i)") { () -> Int in
                        var echoed = 0
                        var buf = [UInt8](repeating: 0, count: 5)
                        while true {
                            let n = (try? buf.withUnsafeMutableBytes { try Scheduler.read(b, into: $0) }) ?? 0
                            if n <= 0 { return echoed }
                            var off = 0
                            while off < n {
                                let w = buf.withUnsafeBytes {
                                    (try? Scheduler.write(b, from: UnsafeRawBufferPointer(rebasing: $0[off..<n]))) ?? 0
                                }
                                if w <= 0 { return echoed }
                                off += w
                            }
                            echoed += n
                        }
                    })
            }
        }
        for h in senders { #expect(joinBounded(h, seconds: 10) == rounds) }
        for h in receivers { #expect(joinBounded(h, seconds: 10) == rounds) }
        var echoed = 0
        for h in echoers { echoed += joinBounded(h, seconds: 10) ?? 0 }
        #expect(echoed == rounds * pairs.count)
        #expect(FdTestSupport.eventually { s.ioWaiterCount.load(ordering: .relaxed) == 0 })
    }
}
