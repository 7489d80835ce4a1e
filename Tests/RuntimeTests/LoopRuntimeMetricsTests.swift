import CRuntime
import Glibc
import Synchronization
import Testing

@testable import Runtime

/// The loop and pool figures the dashboard needs (issue 13, gaps 1, 6, 7, 8): each one says what it counts.
@Suite(.timeLimit(.minutes(1))) struct LoopRuntimeMetricsTests {
    /// Gap 1: while the loop thread is stuck in a job, what other threads submit waits in the inbox; the ready
    /// depth counts it, live, and so do the high-water mark and `maxReadyDepth`.
    @Test func theInboxBacklogOfABlockedLoopIsCounted() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop(name: "backlog")
        defer { loop.shutdown() }
        let entered = TestSemaphore()
        let gate = TestSemaphore()
        loop.callSoon(name: "stall") {
            entered.signal()
            _ = gate.wait(seconds: 20)
        }
        #expect(entered.wait(seconds: 10))
        for _ in 0..<5 { loop.callSoon {} }
        let during = loop.metrics()
        #expect(during.inboxDepth == 5)
        #expect(during.readyDepth == 5)
        #expect(during.readyDepthHighWater >= 5)
        #expect(during.maxReadyDepth >= 5)
        gate.signal()
        await loop.runUntilIdle()
        let after = loop.metrics(resetRecent: true)
        #expect(after.readyDepth == 0 && after.inboxDepth == 0)
        #expect(after.readyDepthHighWater >= 5, "the burst since the previous reset")
        #expect(after.maxReadyDepth >= 5)
    }

    /// Gap 6: a burst that comes and goes between two samples shows in the high-water mark of the next sample,
    /// and only there: the sampler's read resets it.
    @Test func aBurstBetweenTwoSamplesShowsInTheHighWaterMark() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop(name: "burst")
        defer { loop.shutdown() }
        await loop.runUntilIdle()
        _ = loop.metrics(resetRecent: true)
        loop.callSoon {
            for _ in 0..<20 { loop.callSoon {} }  // on the loop thread: straight into its ready queue
        }
        await loop.runUntilIdle()
        let first = loop.metrics(resetRecent: true)
        #expect(first.readyDepth == 0)
        #expect(first.readyDepthHighWater >= 20)
        #expect(first.readyDepthHighWater <= 21)
        await loop.runUntilIdle()
        let second = loop.metrics(resetRecent: true)
        #expect(second.readyDepthHighWater <= 1, "reset by the previous sample")
        #expect(second.maxReadyDepth >= 20, "maxReadyDepth is since the start")
    }

    /// Gap 6, "what ran": a named job that ran and finished between two samples is named by the next sample
    /// (nothing runs at the sampling instant), and only by that one.
    @Test func theLastNamedJobOfTheIntervalIsReported() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop(name: "last")
        defer { loop.shutdown() }
        await loop.runUntilIdle()
        _ = loop.metrics(resetRecent: true)
        loop.callSoon(name: "short-job") {}
        await loop.runUntilIdle()
        let first = loop.metrics(resetRecent: true)
        #expect(first.current == nil)
        #expect(first.lastTask == "short-job")
        await loop.runUntilIdle()
        #expect(loop.metrics(resetRecent: true).lastTask == nil, "reset by the previous sample")
    }

    /// Gap 6: the `to_thread` queue's high-water mark, since the previous sample.
    @Test func theToThreadQueueHighWaterMarkIsSinceThePreviousSample() throws {
        let pool = try ThreadPool(threads: 1, name: "hw-pool")
        defer { pool.shutdown() }
        let entered = TestSemaphore()
        let gate = TestSemaphore()
        pool.submit {
            entered.signal()
            _ = gate.wait(seconds: 20)
        }
        #expect(entered.wait(seconds: 10))
        _ = pool.metrics(resetHighWater: true)
        for _ in 0..<4 { pool.submit {} }
        gate.signal()
        #expect(FdTestSupport.eventually { pool.metrics.completed == 5 })
        let first = pool.metrics(resetHighWater: true)
        #expect(first.queueDepth == 0)
        #expect(first.queueDepthHighWater == 4)
        #expect(first.maxQueueDepth == 4)
        #expect(pool.metrics(resetHighWater: true).queueDepthHighWater == 0)
    }

    /// Gap 7: each pool thread says whether it is idle or which task it runs, since when.
    @Test func aPoolThreadReportsTheTaskItRuns() async throws {
        let pool = try ThreadPool(threads: 2, name: "who-pool")
        let loop = try LoopTestSupport.realLoop(name: "who", pool: pool)
        defer {
            loop.shutdown()
            pool.shutdown()
        }
        let entered = TestSemaphore()
        let gate = TestSemaphore()
        let before = qv_now_ns()
        let job = loop.spawn(name: "caller") { () async throws -> Int in
            try await loop.toThread(name: "compress") { () -> Int in
                entered.signal()
                _ = gate.wait(seconds: 20)
                return 7
            }
        }
        #expect(entered.wait(seconds: 10))
        let m = pool.metrics
        #expect(m.workers.count == 2)
        let running = m.workers.filter { $0.task != nil }
        #expect(running.count == 1)
        #expect(running.first?.task == "compress")
        let since = running.first?.runningSinceNanos ?? 0
        #expect(since >= before && since <= qv_now_ns())
        let idle = m.workers.filter { $0.runningSinceNanos == nil }
        #expect(idle.count == 1 && idle.first?.task == nil)
        #expect(Set(m.workers.map(\.thread)) == ["who-pool-0", "who-pool-1"])
        gate.signal()
        #expect(try await job.value == 7)
        #expect(FdTestSupport.eventually { pool.metrics.workers.allSatisfy { $0.runningSinceNanos == nil } })
    }

    /// Gap 8: a pool thread's busy time is the time it ran tasks (a 20 ms task adds ≥ 20 ms), and idle time adds
    /// nothing.
    @Test func poolThreadBusyTimeCountsOnlyTasks() throws {
        let pool = try ThreadPool(threads: 1, name: "busy-pool")
        defer { pool.shutdown() }
        pool.submit { usleep(20_000) }
        #expect(FdTestSupport.eventually { pool.metrics.completed == 1 })
        let b1 = pool.metrics.workers[0].busyNanos
        #expect(b1 >= 20_000_000)
        #expect(pool.metrics.workers[0].tasksRun == 1)
        usleep(30_000)
        #expect(pool.metrics.workers[0].busyNanos == b1, "idle time is not busy")
    }

    /// Gap 8: a loop's busy time is the time its jobs ran (manual clock: a job "runs for 50 ms" by moving it), and
    /// time spent waiting in the selector is not busy.
    @Test func loopBusyTimeCountsOnlyJobs() async throws {
        let (loop, clock) = try LoopTestSupport.manualLoop(name: "busy")
        defer { loop.shutdown() }
        await loop.runUntilIdle()
        let b0 = loop.metrics().busyNanos
        loop.callSoon { clock.advance(by: .milliseconds(50)) }
        await loop.runUntilIdle()
        let b1 = loop.metrics().busyNanos
        #expect(b1 - b0 >= 50_000_000 && b1 - b0 < 51_000_000)
        // A second passes while the loop waits in its selector (advanceTime(by:) would move the clock inside a
        // job, which is busy time by definition).
        clock.advance(by: .seconds(1))
        await loop.runUntilIdle()
        let b2 = loop.metrics().busyNanos
        #expect(b2 - b1 < 1_000_000)
    }
}
