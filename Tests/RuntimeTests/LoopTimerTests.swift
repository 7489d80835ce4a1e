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
