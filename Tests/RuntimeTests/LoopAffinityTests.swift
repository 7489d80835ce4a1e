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
    /// Awaits of every kind inside an actor method on the loop; isolation holds after each.
    func awaitsInside() async throws -> [String: Bool] {
        var seen: [String: Bool] = [:]
        func note(_ what: String) {
            preconditionIsolated()
            seen[what] = loop.inLoop
        }
        try await loop.sleep(for: .microseconds(50))
        note("actor sleep")
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            resumeFromForeignThread { c.resume() }
        }
        note("actor foreign continuation")
        _ = try await loop.toThread { 1 }
        note("actor toThread")
        _ = await Elsewhere().bump()
        note("actor hop away and back")
        // A Task {} in an actor method is isolated to this actor (no executor preference).
        seen["actor's own Task"] = await Task { self.loop.inLoop }.value
        note("after actor's own Task")
        return seen
    }
}

/// Every kind of await inside a loop task resumes on the loop thread.
@Suite(.timeLimit(.minutes(1))) struct LoopAffinityTests {
    @Test func everyAwaitReturnsToTheLoop() async throws {
        let pool = try ThreadPool(threads: 2, name: "aff-pool")
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
            await loop.yield()
            seen["loop.yield"] = loop.inLoop
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
        #expect(seen.count == 19)
    }

    @Test func actorOnTheLoopRunsThere() async throws {
        let loop = try LoopTestSupport.realLoop(name: "actor")
        defer { loop.shutdown() }
        let a = OnLoop(loop)
        #expect(await a.check())
    }

    /// The two executor faces side by side: a loop task (task-executor face) calls an actor on the
    /// loop (serial face) and comes back; every await inside the actor keeps its isolation.
    @Test func actorOnTheLoopCalledFromALoopTask() async throws {
        let pool = try ThreadPool(threads: 1, name: "aff-pool2")
        let loop = try LoopTestSupport.realLoop(name: "faces", pool: pool)
        defer {
            loop.shutdown()
            pool.shutdown()
        }
        let a = OnLoop(loop)
        var seen = try await loop.spawn(name: "caller") { () async throws -> [String: Bool] in
            var seen = try await a.awaitsInside()
            seen["task after actor"] = loop.inLoop
            seen["actor check"] = await a.check()
            seen["task after check"] = loop.inLoop
            return seen
        }.value
        seen["actor from outside"] = await a.check()
        for (what, ok) in seen.sorted(by: { $0.key < $1.key }) {
            #expect(ok, "\(what) did not run on the loop thread")
        }
        #expect(seen.count == 10)
    }

    /// Tasks made without `spawn` that prefer the loop: `Task(executorPreference:)` and
    /// `withTaskExecutorPreference` from a task that is not on the loop.
    @Test func plainPreferenceRunsOnTheLoop() async throws {
        let loop = try LoopTestSupport.realLoop(name: "pref")
        defer { loop.shutdown() }
        let t = Task(executorPreference: loop) { () async -> Bool in
            await Task.yield()
            return loop.inLoop
        }
        #expect(await t.value)
        let scoped = await withTaskExecutorPreference(loop) { () async -> Bool in
            try? await loop.sleep(for: .microseconds(50))
            return loop.inLoop
        }
        #expect(scoped)
    }

    /// What the task-executor face buys: a continuation hand-off between two loop tasks is one loop
    /// job, a `Task.yield` two (its continuation job, then the task). Before the faces were split
    /// they took 3 and 4 (hop jobs in between). Counts, not times: deterministic.
    @Test func aSwitchIsOneJobAndAYieldTwo() async throws {
        let loop = try LoopTestSupport.realLoop(name: "jobs")
        defer { loop.shutdown() }
        let n = 2000
        /// Loop jobs run while two tasks each run `body` (the loop idle before and after).
        func jobs(_ body: @escaping @Sendable () async -> Void) async throws -> UInt64 {
            await loop.runUntilIdle()
            let j0 = loop.metrics().jobsRun
            let x = loop.spawn { await body() }
            let y = loop.spawn { await body() }
            try await x.value
            try await y.value
            await loop.runUntilIdle()
            return loop.metrics().jobsRun - j0
        }
        let h = ContinuationHandOff()
        let handOffJobs = try await jobs { await h.play(n) }
        let yieldJobs = try await jobs { for _ in 0..<n { await Task.yield() } }
        let sleep0Jobs = try await jobs { for _ in 0..<n { await loop.yield() } }
        #expect(handOffJobs >= UInt64(2 * n) && handOffJobs <= UInt64(2 * n + 20), "\(handOffJobs) jobs")
        #expect(yieldJobs >= UInt64(4 * n) && yieldJobs <= UInt64(4 * n + 20), "\(yieldJobs) jobs")
        #expect(sleep0Jobs >= UInt64(4 * n) && sleep0Jobs <= UInt64(4 * n + 20), "\(sleep0Jobs) jobs")
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
            let writer = OSThread.spawn(name: "writer") {
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

    /// `loop.yield()` (asyncio's sleep(0)) lets the jobs that were ready run first, from a loop task,
    /// and works from a task that is not on the loop.
    @Test func loopYieldLetsReadyJobsRunFirst() async throws {
        let loop = try LoopTestSupport.realLoop(name: "sleep0")
        defer { loop.shutdown() }
        let order = try await loop.spawn { () async throws -> [String] in
            let seen = Recorder<String>()
            loop.callSoon { seen.append("callback") }
            seen.append("before")
            await loop.yield()
            seen.append("after")
            return seen.values
        }.value
        #expect(order == ["before", "callback", "after"])
        await loop.yield()  // from the test's own task: resumes on its own executor
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
