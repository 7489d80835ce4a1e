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
                let pool = ThreadPool(threads: 1, name: "cyc-pool")
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
                #expect(loop.metrics().tasksAlive == 0)
                pool.shutdown()
            }
            #expect(ended.values == [true])
            #expect(weakLoop == nil, "loop \(i) still referenced after shutdown")
            #expect(weakPool == nil, "pool \(i) still referenced after shutdown")
        }
    }

    @Test func shutdownIsIdempotent() throws {
        let loop = try LoopTestSupport.realLoop(name: "twice")
        loop.shutdown()
        loop.shutdown()
        #expect(loop.isStopped)
    }
}
