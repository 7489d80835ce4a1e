import CRuntime
import Glibc
import Runtime
import Synchronization
import Testing

@Suite("Scheduler lifecycle and metrics")
struct SchedulerLifecycleTests {
    @Test func configurationIsValidated() {
        #expect(throws: SchedulerError.self) { try Scheduler(.init(carriers: 0)) }
        #expect(throws: SchedulerError.self) { try Scheduler(.init(carriers: 257)) }
        #expect(throws: SchedulerError.self) { try Scheduler(.init(localQueueCapacity: 6)) }
    }

    /// 100 start/stop cycles, each leaving sleepers, I/O waiters and queued fibers behind at shutdown:
    /// no carrier thread, poller fd or fiber stack survives.
    @Test func hundredStartStopCyclesLeakNothing() throws {
        let pool = StackPool()
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        _ = qv_set_nonblocking(fds[0])
        let r = fds[0]
        for cycle in 0..<100 {
            weak var gone: Scheduler?
            do {
                let s = try Scheduler(
                    .init(carriers: 1 + cycle % 3, blocking: cycle % 2 == 0 ? .pin : .handoff), stackPool: pool)
                let finished = s.spawn { 7 }
                _ = s.spawn(name: "sleeper") { Scheduler.sleep(nanoseconds: 60_000_000_000) }
                _ = s.spawn(name: "io") {
                    var b: UInt8 = 0
                    _ = withUnsafeMutableBytes(of: &b) { try? Scheduler.read(r, into: $0) }
                }
                if cycle % 10 == 0 { _ = s.spawn { Scheduler.blocking { usleep(100) } } }
                #expect(joinBounded(finished) == 7)
                gone = s
                s.shutdown()
                // Every carrier thread (including handoff spares) has exited.
                #expect(s.liveCarrierThreadCount == 0)
            }
            // The scheduler is gone, so its poller closed its epoll, eventfd and timerfd.
            #expect(gone == nil, "cycle \(cycle)")
        }
        // Every fiber stack, including those of fibers dropped while parked, is back in the pool.
        #expect(pool.stats.inUse == 0)
    }

    @Test func drainShutdownFinishesFibers() throws {
        let s = try Scheduler(.init(carriers: 2))
        let done = Atomic<Int>(0)
        for _ in 0..<50 {
            _ = s.spawn {
                Scheduler.sleep(nanoseconds: 1_000_000)
                done.add(1, ordering: .relaxed)
            }
        }
        s.shutdown(drain: true, drainTimeoutNanos: 20_000_000_000)
        #expect(done.load(ordering: .relaxed) == 50)
    }

    @Test func stealAndParkEventsAndCounters() throws {
        // Threshold 0: every park is an event (the default keeps only parks ≥ 1 ms).
        let s = try Scheduler(
            .init(carriers: 2, localQueueCapacity: 64, eventRingCapacity: 65_536, parkEventThresholdNanos: 0))
        defer { s.shutdown() }
        // 40 rounds of 50 fibers: each round fits the root's 64-slot queue (no overflow to the injector),
        // so the only way the other carrier gets work is to steal it.
        let root = s.spawn(name: "root") { () -> Int in
            var sum = 0
            for round in 0..<40 {
                let hs = (0..<50).map { j in
                    s.spawn(kind: "spin") { () -> Int in
                        let end = qv_now_ns() + 40_000
                        while qv_now_ns() < end {}
                        return round * 50 + j
                    }
                }
                sum += hs.reduce(0) { $0 + $1.join() }
            }
            return sum
        }
        #expect(joinBounded(root) == 1999 * 1000)
        let m = quiescentMetrics(s)
        // A park's events are written when it ends: wake a parked worker once more.
        #expect(joinBounded(s.spawn { 1 }) == 1)
        var events = s.drainEvents()
        for _ in 0..<1000 where !events.contains(where: { $0.kind == .workerPark }) {
            usleep(1000)
            events += s.drainEvents()
        }
        #expect(events.contains { $0.kind == .workerPark })
        #expect(events.contains { $0.kind == .workerUnpark && $0.durationNanos > 0 })
        #expect(events.contains { $0.kind == .spawnBatch && $0.count > 0 })
        let steals = events.filter { $0.kind == .steal }
        // Work only reaches the other carrier by stealing (see the rounds above).
        let stolen = m.workers.reduce(0) { $0 + $1.stolenIn }
        #expect(stolen > 0 && !steals.isEmpty, "stolen \(stolen), steal events \(steals.count)")
        #expect(steals.allSatisfy { $0.worker != $0.other && $0.count >= 1 })
        // Steals from one victim are coalesced into one event per 61 runs or park: the events' counts add up to
        // the fibers stolen (at least those counted by `m`; the extra spawn above may steal more). The ring is
        // big enough for every event of this test, so none may be missing.
        #expect(s.droppedEvents == 0)
        #expect(UInt64(steals.reduce(0) { $0 + Int($1.count) }) >= stolen)
        #expect(m.workers.allSatisfy { $0.queueCapacity == 64 && $0.maxQueueDepth <= 64 })
        #expect(m.workers.reduce(0) { $0 + $1.busyNanos } > 0)
        #expect(m.delay.samples > 0)
        #expect(m.delay.p99Nanos >= m.delay.p50Nanos)
    }

    @Test func fullEventRingDropsAndCounts() throws {
        // The monitor off: on a loaded machine a carrier descheduled inside a fiber looks like a hog, and each retake
        // adds a retake worker with a ring of its own, which the bound below (the workers' and the detached ring)
        // does not count.
        let s = try Scheduler(
            .init(carriers: 2, eventRingCapacity: 2, parkEventThresholdNanos: 0, hogThresholdNanos: 0))
        defer { s.shutdown() }
        for _ in 0..<20 {
            let h = s.spawn { Scheduler.sleep(nanoseconds: 100_000) }
            _ = joinBounded(h)
        }
        _ = quiescentMetrics(s)
        #expect(s.droppedEvents > 0)
        #expect(s.drainEvents().count <= 2 * 3)
    }

    @Test func fiberCountsShowParkedReasons() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let ch = Channel<Int>()
        let m = FiberMutex()
        m.lock()  // a plain thread may hold a fiber mutex
        let sleeper = s.spawn { Scheduler.sleep(nanoseconds: 30_000_000_000) }
        _ = sleeper
        let receiver = s.spawn { ch.receive() }
        let locker = s.spawn { m.withLock { 1 } }
        let joiner = s.spawn { receiver.join() }
        let deadline = qv_now_ns() + 20_000_000_000
        var counts = s.metrics().fibers
        while qv_now_ns() < deadline {
            counts = s.metrics().fibers
            if counts.parkedSleep == 1 && counts.parkedChannel == 1 && counts.parkedMutex == 1
                && counts.parkedJoin == 1
            {
                break
            }
            usleep(500)
        }
        #expect(counts.parkedSleep == 1)
        #expect(counts.parkedChannel == 1)
        #expect(counts.parkedMutex == 1)
        #expect(counts.parkedJoin == 1)
        try ch.send(5)
        m.unlock()
        #expect(joinBounded(joiner) == 5)
        #expect(joinBounded(locker) == 1)
    }
}
