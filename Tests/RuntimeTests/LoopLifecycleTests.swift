import Glibc
import Testing

@testable import Runtime

/// Clean shutdown: cancelled tasks end, threads are joined, loops and pools are freed.
@Suite(.timeLimit(.minutes(1))) struct LoopLifecycleTests {
    @Test func hundredStartStopCyclesLeakNothing() async throws {
        for i in 0..<100 {
            weak var weakLoop: EventLoop?
            weak var weakPool: ThreadPool?
            let ended = Recorder<Bool>()
            do {
                let pool = try ThreadPool(threads: 1, name: "cyc-pool")
                var c = EventLoop.Configuration()
                c.name = "cycle-\(i)"
                c.heartbeat = .milliseconds(1)
                c.pool = pool
                let loop = try EventLoop(c)
                weakLoop = loop
                weakPool = pool
                _ = loop.spawn(name: "forever") {
                    do {
                        try await loop.sleep(for: .seconds(3600))
                    } catch {
                        ended.append(error is CancellationError)
                    }
                }
                _ = try await loop.spawn { try await loop.toThread { i } }.value
                loop.shutdown()
                #expect(loop.isStopped)
                #expect(loop.selectorClosed)
                #expect(loop.metrics().tasksAlive == 0)
                pool.shutdown()
            }
            #expect(ended.values == [true])
            #expect(weakLoop == nil, "loop \(i) still referenced after shutdown")
            #expect(weakPool == nil, "pool \(i) still referenced after shutdown")
        }
    }

    /// Tasks alive counts spawns from the loop thread (a plain counter) and from other threads (an
    /// atomic) and every end.
    @Test func tasksAliveCountsSpawnsFromAnyThread() async throws {
        let loop = try LoopTestSupport.realLoop(name: "alive")
        defer { loop.shutdown() }
        let gate = Locked<[UnsafeContinuation<Void, Never>]>([])
        @Sendable func park() async {
            await withUnsafeContinuation { c in gate.withLock { $0.append(c) } }
        }
        var outside: [LoopTask<Void>] = []
        for _ in 0..<3 { outside.append(loop.spawn { await park() }) }
        let inside = try await loop.spawn { () async throws -> [LoopTask<Void>] in
            [loop.spawn { await park() }, loop.spawn { await park() }]
        }.value
        await loop.runUntilIdle()
        #expect(loop.metrics().tasksAlive == 5)
        for c in gate.withLock({ $0 }) { c.resume() }
        for t in outside + inside { try await t.value }
        await loop.runUntilIdle()
        #expect(loop.metrics().tasksAlive == 0)
    }

    @Test func shutdownIsIdempotent() throws {
        let loop = try LoopTestSupport.realLoop(name: "twice")
        loop.shutdown()
        loop.shutdown()
        #expect(loop.isStopped)
    }
}
