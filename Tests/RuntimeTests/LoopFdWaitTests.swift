import CRuntime
import Glibc
import Testing

@testable import Runtime

/// Each wait is bounded by a 30 s loop timeout, so a lost wake-up fails the test instead of hanging it. The bound
/// is generous on purpose: the test's own steps run on Swift's cooperative pool, which a parallel run (TSan in
/// CI) can keep busy with blocking tests for seconds, while the loop's timeout runs in real time.
@Suite("Loop fd waits")
struct LoopFdWaitTests {
    /// Issue 14, defect 1, loop side: a reader and a writer on one socket from two loop tasks. One epoll
    /// registration per fd serves both directions; the second wait was refused with `fdBusy` while the fd had one.
    @Test func aReaderAndAWriterOnOneSocketBothWake() async throws {
        let loop = try LoopTestSupport.realLoop(name: "fd-both")
        defer { loop.shutdown() }
        let (a, b) = FdTestSupport.socketPair()
        defer {
            close(a)
            close(b)
        }
        FdTestSupport.fillSendBuffer(a)
        let reader = loop.spawn(name: "reader") { () async throws -> Int in
            try await loop.timeout(.seconds(30)) { try await loop.waitReadable(a) }
            return 1
        }
        let writer = loop.spawn(name: "writer") { () async throws -> Int in
            try await loop.timeout(.seconds(30)) { try await loop.waitWritable(a) }
            return 2
        }
        await loop.runUntilIdle()
        var one: UInt8 = 9
        #expect(Glibc.write(b, &one, 1) == 1)
        #expect(try await reader.value == 1)
        FdTestSupport.drain(b)
        #expect(try await writer.value == 2)
        await loop.runUntilIdle()
        #expect(loop.metrics().fdWaiters == 0)
    }

    /// A second waiter of one direction is refused with a typed error (never lost), and the first still wakes.
    @Test func aSecondReaderOfOneFdIsRefused() async throws {
        let loop = try LoopTestSupport.realLoop(name: "fd-busy")
        defer { loop.shutdown() }
        let (r, w) = FdTestSupport.pipePair()
        defer {
            close(r)
            close(w)
        }
        let first = loop.spawn(name: "first") { () async throws -> Bool in
            try await loop.timeout(.seconds(30)) { try await loop.waitReadable(r) }
            return true
        }
        await loop.runUntilIdle()
        await #expect(throws: LoopError.fdBusy(r)) { try await loop.spawn { try await loop.waitReadable(r) }.value }
        var one: UInt8 = 1
        #expect(Glibc.write(w, &one, 1) == 1)
        #expect(try await first.value)
    }

    /// Issue 14, defect 2, loop side: `loop.close(fd)` wakes the fd's waiters (both directions) with `fdClosed`
    /// and forgets them; plain close(2) left them parked forever.
    @Test func closeWakesTheWaitersWithAnError() async throws {
        let loop = try LoopTestSupport.realLoop(name: "fd-close")
        defer { loop.shutdown() }
        let (a, b) = FdTestSupport.socketPair()
        defer { close(b) }
        FdTestSupport.fillSendBuffer(a)
        let reader = loop.spawn(name: "reader") {
            try await loop.timeout(.seconds(30)) { try await loop.waitReadable(a) }
        }
        let writer = loop.spawn(name: "writer") {
            try await loop.timeout(.seconds(30)) { try await loop.waitWritable(a) }
        }
        await loop.runUntilIdle()
        #expect(loop.metrics().fdWaiters == 2)
        try await loop.close(a)
        await #expect(throws: LoopError.fdClosed(a)) { try await reader.value }
        await #expect(throws: LoopError.fdClosed(a)) { try await writer.value }
        await loop.runUntilIdle()
        #expect(loop.metrics().fdWaiters == 0)
    }

    /// Registration ids, not fd numbers: after a close, a new fd with the same number gets a fresh registration;
    /// nothing of the old one (a waiter, a token) is taken for it.
    @Test func aReusedFdNumberStartsAFreshRegistration() async throws {
        let loop = try LoopTestSupport.realLoop(name: "fd-reuse")
        defer { loop.shutdown() }
        let number = FdTestSupport.reservedFdNumber(base: 930)
        let (pr1, w1) = FdTestSupport.pipePair()
        let r1 = FdTestSupport.move(pr1, to: number)
        let first = loop.spawn(name: "first") {
            try await loop.timeout(.seconds(30)) { try await loop.waitReadable(r1) }
        }
        await loop.runUntilIdle()
        try await loop.close(r1)
        await #expect(throws: LoopError.fdClosed(r1)) { try await first.value }
        close(w1)
        let (pr2, w2) = FdTestSupport.pipePair()
        let r2 = FdTestSupport.move(pr2, to: number)  // the closed fd's number, now another pipe
        defer {
            close(r2)
            close(w2)
        }
        let second = loop.spawn(name: "second") { () async throws -> Bool in
            try await loop.timeout(.seconds(30)) { try await loop.waitReadable(r2) }
            return true
        }
        await loop.runUntilIdle()
        var one: UInt8 = 1
        #expect(Glibc.write(w2, &one, 1) == 1)
        #expect(try await second.value)
    }
}
