import Glibc
import Synchronization
import Testing

@testable import Runtime

/// `toThread` under load, LoopGroup assignment and isolation.
@Suite(.timeLimit(.minutes(1))) struct LoopPoolGroupTests {
    @Test func toThreadUnderLoad() async throws {
        let pool = try ThreadPool(threads: 2, name: "load-pool")
        let loop = try LoopTestSupport.realLoop(name: "load", pool: pool)
        defer {
            loop.shutdown()
            pool.shutdown()
        }
        let n = 400
        let sum = try await loop.spawn(name: "fan-out") { () async throws -> Int in
            try await loop.taskGroup { g in
                let total = Recorder<Int>()
                for i in 0..<n {
                    g.spawn(name: "job-\(i)") {
                        let v = try await loop.toThread { () -> Int in
                            usleep(50)
                            return i
                        }
                        precondition(loop.inLoop)
                        total.append(v)
                    }
                }
                return total
            }.values.reduce(0, +)
        }.value
        #expect(sum == n * (n - 1) / 2)
        let m = pool.metrics
        #expect(m.completed == UInt64(n))
        #expect(m.threads == 2)
        #expect(m.busy == 0)
        #expect(m.queueDepth == 0)
        #expect(m.maxQueueDepth >= 1)
    }

    @Test func poolMeasuresBusyThreadsAndQueueDepth() async throws {
        let pool = try ThreadPool(threads: 1, name: "gauge-pool")
        defer { pool.shutdown() }
        let release = Atomic<Bool>(false)
        let started = Atomic<Bool>(false)
        pool.submit {
            started.store(true, ordering: .sequentiallyConsistent)
            while !release.load(ordering: .sequentiallyConsistent) { usleep(100) }
        }
        while !started.load(ordering: .sequentiallyConsistent) { await Task.yield() }
        for _ in 0..<3 { pool.submit {} }
        let m = pool.metrics
        #expect(m.busy == 1)
        #expect(m.queueDepth == 3)
        #expect(m.maxQueueDepth == 3)
        release.store(true, ordering: .sequentiallyConsistent)
        pool.shutdown()
        #expect(pool.metrics.completed == 4)
        #expect(pool.metrics.busy == 0)
    }

    @Test func toThreadWithoutPoolThrows() async throws {
        let loop = try LoopTestSupport.realLoop(name: "nopool")
        defer { loop.shutdown() }
        await #expect(throws: ThreadPoolError.noPool) {
            try await loop.spawn { try await loop.toThread { 1 } }.value
        }
    }

    @Test func poolRunsQueuedWorkBeforeShutdownCompletes() throws {
        let pool = try ThreadPool(threads: 1, name: "drain-pool")
        let done = Atomic<Int>(0)
        for _ in 0..<50 { pool.submit { done.add(1, ordering: .relaxed) } }
        pool.shutdown()
        #expect(done.load(ordering: .relaxed) == 50)
        #expect(!pool.submit {})
    }

    @Test func groupAssignsByKeyAndRoundRobin() async throws {
        let group = try LoopGroup(count: 3, name: "grp", configuration: .init(), sharedPoolThreads: 1)
        defer { group.shutdown() }
        #expect(Set(group.loops.map { ObjectIdentifier($0) }).count == 3)
        #expect(group.loops.allSatisfy { $0.pool === group.pool })
        #expect(group.pool?.metrics.shared == true)
        // Round-robin: 9 picks, 3 per loop.
        var counts = [0, 0, 0]
        for _ in 0..<9 { counts[group.next().id] += 1 }
        #expect(counts == [3, 3, 3])
        // By key: a task keyed k runs on loop k % 3, on that loop's thread only.
        for key in 0..<6 {
            let ok = try await group.spawn(key: key, name: "k\(key)") { () async throws -> Bool in
                let loop = group.loop(forIndex: key)
                await Task.yield()
                let others = group.loops.filter { $0 !== loop }
                return loop.inLoop && others.allSatisfy { !$0.inLoop } && loop.id == key % 3
            }.value
            #expect(ok)
        }
        let a = group.loop(forKey: "user-42")
        #expect(group.loop(forKey: "user-42") === a)
        #expect(group.metrics().count == 3)
    }

    @Test func aBlockedLoopDoesNotStopItsSiblings() async throws {
        var c = EventLoop.Configuration()
        c.heartbeat = nil  // so `current` shows only the hog
        let group = try LoopGroup(count: 2, name: "iso", configuration: c)
        defer { group.shutdown() }
        let release = Atomic<Bool>(false)
        let blocked = Atomic<Bool>(false)
        group.loops[0].callSoon(name: "hog") {
            blocked.store(true, ordering: .sequentiallyConsistent)
            while !release.load(ordering: .sequentiallyConsistent) { sched_yield() }
        }
        while !blocked.load(ordering: .sequentiallyConsistent) { await Task.yield() }
        // Loop 1 keeps running tasks while loop 0 is stuck: no stealing, no shared thread.
        let r = try await group.loops[1].spawn(name: "free") { () async throws -> Bool in
            try await group.loops[1].sleep(for: .microseconds(100))
            return group.loops[1].inLoop
        }.value
        #expect(r)
        #expect(group.loops[0].metrics().current == "hog")
        release.store(true, ordering: .sequentiallyConsistent)
        await group.loops[0].runUntilIdle()
        #expect(group.loops[0].metrics().current == nil)
    }
}
