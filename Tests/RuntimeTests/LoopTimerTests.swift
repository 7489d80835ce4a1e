import Testing

@testable import Runtime

/// Timer order, cancellation, timeouts, slow callbacks and heartbeat lag on a manual clock: no sleeping.
@Suite(.timeLimit(.minutes(1))) struct LoopTimerTests {
    @Test func timersFireInDeadlineOrderThenFIFO() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop()
        defer { loop.shutdown() }
        let order = Recorder<String>()
        loop.callLater(after: .milliseconds(30)) { order.append("30") }
        loop.callLater(after: .milliseconds(10)) { order.append("10a") }
        loop.callLater(after: .milliseconds(20)) { order.append("20") }
        loop.callLater(after: .milliseconds(10)) { order.append("10b") }
        await loop.runUntilIdle()
        #expect(order.values.isEmpty)
        #expect(loop.metrics().timersPending == 4)
        await loop.advanceTime(by: .milliseconds(15))
        #expect(order.values == ["10a", "10b"])
        await loop.advanceTime(by: .milliseconds(15))
        #expect(order.values == ["10a", "10b", "20", "30"])
        #expect(loop.metrics().timersPending == 0)
    }

    @Test func cancelledTimerNeverFires() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop()
        defer { loop.shutdown() }
        let fired = Recorder<Int>()
        let h = loop.callLater(after: .milliseconds(5)) { fired.append(1) }
        loop.callLater(after: .milliseconds(6)) { fired.append(2) }
        h.cancel()
        await loop.advanceTime(by: .milliseconds(10))
        #expect(fired.values == [2])
        #expect(loop.metrics().timersPending == 0)
    }

    @Test func sleepersWakeInDeadlineOrder() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop()
        defer { loop.shutdown() }
        let order = Recorder<Int>()
        var tasks: [LoopTask<Void>] = []
        for ms in [3, 1, 2] {
            tasks.append(
                loop.spawn(name: "sleeper-\(ms)") {
                    try await loop.sleep(for: .milliseconds(ms))
                    order.append(ms)
                })
        }
        await loop.runUntilIdle()
        #expect(loop.metrics().tasksAlive == 3)
        await loop.advanceTime(by: .milliseconds(1))
        #expect(order.values == [1])
        await loop.advanceTime(by: .milliseconds(2))
        #expect(order.values == [1, 2, 3])
        for t in tasks { try await t.value }
        #expect(loop.metrics().tasksAlive == 0)
    }

    @Test func cancellingASleeperThrowsAndDisarmsItsTimer() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop()
        defer { loop.shutdown() }
        let t = loop.spawn(name: "long-sleep") { try await loop.sleep(for: .seconds(3600)) }
        await loop.runUntilIdle()
        #expect(loop.metrics().timersPending == 1)
        t.cancel()
        await #expect(throws: CancellationError.self) { try await t.value }
        await loop.runUntilIdle()
        #expect(loop.metrics().timersPending == 0)
    }

    @Test func timeoutExpires() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop()
        defer { loop.shutdown() }
        let t = loop.spawn(name: "slow-op") {
            try await loop.timeout(.milliseconds(10)) { try await loop.sleep(for: .seconds(3600)) }
        }
        await loop.runUntilIdle()
        await loop.advanceTime(by: .milliseconds(9))
        await loop.advanceTime(by: .milliseconds(1))
        await #expect(throws: LoopError.timedOut) { try await t.value }
        await loop.runUntilIdle()
        #expect(loop.metrics().timersPending == 0)
    }

    @Test func timeoutReturnsTheValueInTime() async throws {
        let (loop, _) = try LoopTestSupport.manualLoop()
        defer { loop.shutdown() }
        let t = loop.spawn(name: "fast-op") { () async throws -> Int in
            try await loop.timeout(.milliseconds(10)) { () async throws -> Int in
                try await loop.sleep(for: .milliseconds(5))
                return 7
            }
        }
        await loop.runUntilIdle()
        await loop.advanceTime(by: .milliseconds(5))
        #expect(try await t.value == 7)
        await loop.runUntilIdle()
        #expect(loop.metrics().timersPending == 0)
    }

    /// The workloads engineer's bug: a job queued before the sleep's continuation body ran (here a
    /// 50 ms blocker) made the sleep 50 ms late, because the start time was read inside that body.
    @Test func sleepDeadlineIsFixedAtTheCall() async throws {
        let (loop, clock) = try LoopTestSupport.manualLoop(slow: .seconds(1))
        defer { loop.shutdown() }
        let slept = Recorder<UInt64>()
        let t = loop.spawn(name: "sleeper") {
            let start = clock.now
            loop.callSoon(name: "blocker") { clock.advance(by: .milliseconds(50)) }
            try await loop.sleep(for: .milliseconds(50))
            slept.append(clock.now - start)
        }
        await loop.runUntilIdle()
        // The blocker used up the whole 50 ms: the sleeper is due without the clock moving again.
        #expect(slept.values == [50_000_000])
        if slept.values.isEmpty { t.cancel() }  // the old bug: don't wait an hour of manual time
        _ = try? await t.value
    }

    /// A sleep counts from the call, not from the start of the job that calls it.
    @Test func sleepCountsFromTheCallNotTheJobStart() async throws {
        let (loop, clock) = try LoopTestSupport.manualLoop(slow: .seconds(1))
        defer { loop.shutdown() }
        let woke = Recorder<UInt64>()
        let start = clock.now
        let t = loop.spawn(name: "sleeper") {
            clock.advance(by: .milliseconds(30))  // the job "runs" 30 ms, then sleeps 10 ms
            try await loop.sleep(for: .milliseconds(10))
            woke.append(clock.now - start)
        }
        await loop.runUntilIdle()
        #expect(woke.values.isEmpty)
        await loop.advanceTime(by: .milliseconds(9))
        #expect(woke.values.isEmpty)
        await loop.advanceTime(by: .milliseconds(1))
        #expect(woke.values == [40_000_000])
        try await t.value
    }

    @Test func sleepUntilAPastDeadlineReturnsAndForeverDoesNotWrap() async throws {
        let (loop, clock) = try LoopTestSupport.manualLoop()
        defer { loop.shutdown() }
        let past = loop.spawn(name: "past") { try await loop.sleep(untilNanos: clock.now - 1) }
        await loop.runUntilIdle()
        try await past.value
        let forever = loop.spawn(name: "forever") { try await loop.sleep(for: .seconds(Int64.max)) }
        await loop.runUntilIdle()
        await loop.advanceTime(by: .seconds(3600))
        #expect(loop.metrics().timersPending == 1)
        forever.cancel()
        await #expect(throws: CancellationError.self) { try await forever.value }
    }

    /// The timeout's timer child starts only after the body's first job; a body that blocks first
    /// must not push the deadline back.
    @Test func timeoutDeadlineIsFixedAtTheCall() async throws {
        let (loop, clock) = try LoopTestSupport.manualLoop(slow: .seconds(1))
        defer { loop.shutdown() }
        let t = loop.spawn(name: "blocks-then-waits") {
            try await loop.timeout(.milliseconds(10)) {
                clock.advance(by: .milliseconds(50))  // blocks past the deadline before awaiting
                try await loop.sleep(for: .seconds(3600))
            }
        }
        await loop.runUntilIdle()
        #expect(loop.metrics().tasksAlive == 0)
        if loop.metrics().tasksAlive != 0 { t.cancel() }  // the old bug: don't hang the test
        await #expect(throws: LoopError.timedOut) { try await t.value }
        await loop.runUntilIdle()
        #expect(loop.metrics().timersPending == 0)
    }

    /// `callLater` from a loop task counts from the call even when jobs queued earlier block.
    @Test func callLaterFromATaskCountsFromTheCall() async throws {
        let (loop, clock) = try LoopTestSupport.manualLoop(slow: .seconds(1))
        defer { loop.shutdown() }
        let fired = Recorder<UInt64>()
        let start = clock.now
        let t = loop.spawn(name: "arms") {
            loop.callSoon(name: "blocker") { clock.advance(by: .milliseconds(50)) }
            await Task.yield()
            loop.callLater(after: .milliseconds(10)) { fired.append(clock.now - start) }
        }
        try await t.value
        await loop.runUntilIdle()
        #expect(fired.values.isEmpty)
        await loop.advanceTime(by: .milliseconds(10))
        #expect(fired.values == [60_000_000])
    }

    @Test func slowCallbackIsNamed() async throws {
        let (loop, clock) = try LoopTestSupport.manualLoop(slow: .milliseconds(10))
        defer { loop.shutdown() }
        loop.callSoon(name: "fast") { clock.advance(by: .milliseconds(9)) }
        loop.callSoon(name: "culprit-callback") { clock.advance(by: .milliseconds(25)) }
        let t = loop.spawn(name: "culprit-task") {
            await Task.yield()
            clock.advance(by: .milliseconds(40))  // the second job of this task "runs" 40 ms
        }
        try await t.value
        await loop.runUntilIdle()
        let m = loop.metrics()
        #expect(m.slowCallbacks == 2)
        let slow = loop.drainEvents().filter { $0.kind == .slowCallback }
        #expect(slow.map(\.name) == ["culprit-callback", "culprit-task"])
        #expect(slow.map(\.durationNanos) == [25_000_000, 40_000_000])
        #expect(m.runTime.count >= 4)
        #expect(m.busyNanos >= 74_000_000)
    }

    @Test func heartbeatRecordsAStallAndItsSlots() async throws {
        let (loop, clock) = try LoopTestSupport.manualLoop(heartbeat: .milliseconds(1))
        defer { loop.shutdown() }
        for _ in 0..<10 { await loop.advanceTime(by: .milliseconds(1)) }
        var m = loop.metrics(resetRecent: true)
        #expect(m.lag.ticks == 10)
        #expect(m.lag.maxMs == 0)
        #expect(m.lag.missedSlots == 0)
        // A 50 ms stall: the tick due 1 ms later fires 49 ms late, and 48 slots were skipped.
        loop.callSoon(name: "blocker") { clock.advance(by: .milliseconds(50)) }
        await loop.advanceTime(by: .zero)
        m = loop.metrics(resetRecent: true)
        #expect(m.lag.ticks == 11)
        #expect(abs(m.lag.maxMs - 49) < 0.5)
        #expect(abs(m.lag.recentMs - 49) < 0.5)
        #expect(m.lag.missedSlots == 49)
        #expect(m.lag.slotP99Ms > 40)
        #expect(m.lag.buckets.reduce(0, +) == 11)
        #expect(m.lag.buckets[7] == 1)  // (20, 50] ms
        #expect(m.slowCallbacks == 1)
        let ev = loop.drainEvents()
        #expect(ev.contains { $0.kind == .slowCallback && $0.name == "blocker" })
        #expect(ev.contains { $0.kind == .lagSpike && $0.durationNanos == 49_000_000 })
        #expect(loop.metrics(resetRecent: true).lag.recentMs == 0)
    }

    @Test func loopTaskGroupCancelsSiblingsOnFailure() async throws {
        struct Boom: Error, Equatable {}
        let (loop, _) = try LoopTestSupport.manualLoop()
        defer { loop.shutdown() }
        let cancelled = Recorder<String>()
        let t = loop.spawn(name: "parent") {
            try await loop.taskGroup { g in
                g.spawn(name: "sleeper") {
                    do { try await loop.sleep(for: .seconds(3600)) } catch { cancelled.append("sleeper") }
                }
                g.spawn(name: "failer") {
                    try await loop.sleep(for: .milliseconds(1))
                    throw Boom()
                }
            }
        }
        await loop.runUntilIdle()
        await loop.advanceTime(by: .milliseconds(1))
        await #expect(throws: Boom()) { try await t.value }
        #expect(cancelled.values == ["sleeper"])
        await loop.runUntilIdle()
        #expect(loop.metrics().tasksAlive == 0)
    }
}
