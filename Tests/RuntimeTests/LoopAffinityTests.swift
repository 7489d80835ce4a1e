import CRuntime
import Glibc
import Testing

@testable import Runtime

private actor Elsewhere {
    var n = 0
    func bump() -> Int {
        n += 1
        return n
    }
}

private func plainHelper(_ loop: EventLoop) async -> Bool {
    await Task.yield()
    return loop.inLoop
}

@concurrent private func concurrentHelper(_ loop: EventLoop) async -> Bool {
    await Task.yield()
    return loop.inLoop
}

/// An actor whose executor is a loop: its methods run on the loop thread.
private actor OnLoop {
    let loop: EventLoop
    init(_ loop: EventLoop) { self.loop = loop }
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
    func check() async -> Bool {
        loop.preconditionIsolated()
        await Task.yield()
        return loop.inLoop
    }
}

/// Every kind of await inside a loop task resumes on the loop thread.
@Suite(.timeLimit(.minutes(1))) struct LoopAffinityTests {
    @Test func everyAwaitReturnsToTheLoop() async throws {
        let pool = ThreadPool(threads: 2, name: "aff-pool")
        let loop = try LoopTestSupport.realLoop(name: "affinity", pool: pool)
        defer {
            loop.shutdown()
            pool.shutdown()
        }
        let seen = try await loop.spawn(name: "affinity") { () async throws -> [String: Bool] in
            var seen: [String: Bool] = [:]
            seen["start"] = loop.inLoop
            await Task.yield()
            seen["yield"] = loop.inLoop
            try await loop.sleep(for: .milliseconds(1))
            seen["sleep"] = loop.inLoop
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                resumeFromForeignThread { c.resume() }
            }
            seen["foreign continuation"] = loop.inLoop
            let r = try await loop.toThread { 21 * 2 }
            seen["toThread"] = loop.inLoop && r == 42
            let childOnLoop = await withTaskGroup(of: Bool.self) { g in
                for _ in 0..<3 { g.addTask { loop.inLoop } }
                var all = true
                for await b in g { all = all && b }
                return all
            }
            seen["task group children"] = childOnLoop
            seen["task group"] = loop.inLoop
            async let a = plainHelper(loop)
            seen["async let child"] = await a
            seen["async let"] = loop.inLoop
            _ = await Elsewhere().bump()
            seen["actor hop"] = loop.inLoop
            seen["nonisolated helper"] = await plainHelper(loop)
            seen["@concurrent helper"] = await concurrentHelper(loop)
            seen["after helpers"] = loop.inLoop
            let other = loop.spawn(name: "other") { loop.inLoop }
            seen["spawned"] = try await other.value
            seen["await task"] = loop.inLoop
            let v = try await loop.timeout(.seconds(10)) { () async throws -> Bool in
                try await loop.sleep(for: .microseconds(100))
                return loop.inLoop
            }
            seen["timeout body"] = v
            seen["timeout"] = loop.inLoop
            try await loop.taskGroup { g in
                g.spawn(name: "g1") { try await loop.sleep(for: .microseconds(10)) }
            }
            seen["loop task group"] = loop.inLoop
            return seen
        }.value
        for (what, ok) in seen.sorted(by: { $0.key < $1.key }) {
            #expect(ok, "\(what) did not run on the loop thread")
        }
        #expect(seen.count == 18)
    }

    @Test func actorOnTheLoopRunsThere() async throws {
        let loop = try LoopTestSupport.realLoop(name: "actor")
        defer { loop.shutdown() }
        let a = OnLoop(loop)
        #expect(await a.check())
    }

    @Test func fdReadinessResumesOnTheLoop() async throws {
        let loop = try LoopTestSupport.realLoop(name: "fd")
        defer { loop.shutdown() }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (r, w) = (fds[0], fds[1])
        defer {
            close(r)
            close(w)
        }
        #expect(qv_set_nonblocking(r) == 0)
        let ok = try await loop.spawn(name: "reader") { () async throws -> Bool in
            let writer = EventLoopThread.start(name: "writer") {
                var b: UInt8 = 7
                _ = write(w, &b, 1)
            }
            try await loop.waitReadable(r)
            writer.join()
            var b: UInt8 = 0
            let n = read(r, &b, 1)
            return loop.inLoop && n == 1 && b == 7
        }.value
        #expect(ok)
    }

    /// Deadline audit, fd side: the wait registers inside its continuation body, which may run after
    /// jobs queued before it. Readiness that arrives in between is not lost (level-triggered arm).
    @Test func fdReadyBeforeTheWaitRegistersIsNotLost() async throws {
        let loop = try LoopTestSupport.realLoop(name: "fd-early")
        defer { loop.shutdown() }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let (r, w) = (fds[0], fds[1])
        defer {
            close(r)
            close(w)
        }
        #expect(qv_set_nonblocking(r) == 0)
        let ok = try await loop.spawn(name: "reader") { () async throws -> Bool in
            loop.callSoon(name: "writer") {
                var b: UInt8 = 9
                _ = write(w, &b, 1)
            }
            try await loop.waitReadable(r)
            var b: UInt8 = 0
            return loop.inLoop && read(r, &b, 1) == 1 && b == 9
        }.value
        #expect(ok)
    }

    @Test func fdWaitIsCancellableAndExclusive() async throws {
        let loop = try LoopTestSupport.realLoop(name: "fd-cancel")
        defer { loop.shutdown() }
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        let r = fds[0]
        let waiter = loop.spawn(name: "waiter") { try await loop.waitReadable(r) }
        await loop.runUntilIdle()
        await #expect(throws: LoopError.fdBusy(r)) {
            try await loop.spawn { try await loop.waitReadable(r) }.value
        }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        // The fd is free again: a new wait sees the byte written now.
        var b: UInt8 = 1
        #expect(write(fds[1], &b, 1) == 1)
        try await loop.spawn { try await loop.waitReadable(r) }.value
    }

    /// The documented trap: unstructured `Task {}` does not inherit the loop as executor preference.
    @Test func plainTaskDoesNotInheritTheLoop() async throws {
        let loop = try LoopTestSupport.realLoop(name: "trap")
        defer { loop.shutdown() }
        let (inner, spawned) = try await loop.spawn { () async throws -> (Bool, Bool) in
            let inner = await Task { loop.inLoop }.value
            let spawned = try await loop.spawn { loop.inLoop }.value
            return (inner, spawned)
        }.value
        #expect(!inner)
        #expect(spawned)
    }

    @Test func taskAddressMatchesItsJobs() async throws {
        let loop = try LoopTestSupport.realLoop(name: "names")
        defer { loop.shutdown() }
        let name = try await loop.spawn(name: "named-task") { () async throws -> String? in
            await Task.yield()
            return loop.metrics().current
        }.value
        #expect(name == "named-task")
    }
}
