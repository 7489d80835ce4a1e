import CRuntime
import Glibc
import Runtime
import Synchronization
import Testing

struct StressCase: Sendable, CustomStringConvertible {
    var seed: UInt64
    var carriers: Int
    var steal: Scheduler.StealPolicy
    var blocking: BlockingPolicy
    var description: String { "seed \(seed), \(carriers) carriers, steal \(steal), blocking \(blocking)" }
}

/// Waits (bounded) until every worker has parked with all fibers finished, so published counters are final.
func quiescentMetrics(_ s: Scheduler, seconds: UInt64 = 20) -> SchedulerMetrics {
    let deadline = qv_now_ns() + seconds * 1_000_000_000
    var m = s.metrics()
    while qv_now_ns() < deadline {
        m = s.metrics()
        if m.spawned == m.finished && m.workers.allSatisfy({ $0.state == .parked }) && m.injectorDepth == 0 {
            return m
        }
        usleep(1000)
    }
    return m
}

@Suite("Scheduler stress")
struct SchedulerStressTests {
    static let cases: [StressCase] = [
        StressCase(seed: 1, carriers: 1, steal: .half, blocking: .handoff),
        StressCase(seed: 2, carriers: 2, steal: .half, blocking: .handoff),
        StressCase(seed: 3, carriers: 2, steal: .one, blocking: .pin),
        StressCase(seed: 4, carriers: 4, steal: .half, blocking: .pin),
        StressCase(seed: 5, carriers: 3, steal: .none, blocking: .handoff),
        StressCase(seed: 6, carriers: 8, steal: .one, blocking: .handoff),
    ]

    /// Many fibers × carriers, queue capacity 4, seeded random yields, sleeps, blocking regions (pin or handoff),
    /// mutex and channel traffic:
    /// every fiber runs exactly once, every parked fiber resumes, and the counters add up.
    @Test(arguments: cases)
    func everyFiberRunsOnceAndCountersAddUp(_ c: StressCase) throws {
        let n = qv_fiber_tsan_enabled() != 0 ? 300 : 1500
        let pool = StackPool()
        let s = try Scheduler(
            .init(carriers: c.carriers, steal: c.steal, blocking: c.blocking, localQueueCapacity: 4, spinCount: 2),
            stackPool: pool)
        let slots = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        slots.initialize(repeating: 0)
        defer { slots.deallocate() }
        // nonisolated(unsafe): fiber i writes only slots[i]; the joins order the writes before the check.
        nonisolated(unsafe) let out = slots
        let mutex = FiberMutex()
        nonisolated(unsafe) var guarded = 0
        let mutexOps = Atomic<Int>(0)
        let channel = Channel<Int>(capacity: 2)
        let received = Atomic<Int>(0)
        let root = s.spawn(name: "root") { () -> Int in
            var hs: [JoinHandle<Void>] = []
            for i in 0..<n {
                hs.append(
                    s.spawn(name: "f\(i)", kind: "stress") {
                        var rng = SeededRandom(state: c.seed &* 1_000_003 &+ UInt64(i))
                        for _ in 0..<Int(rng.next() % 4) {
                            switch rng.next() % 4 {
                            case 0: Scheduler.yield()
                            case 1: Scheduler.sleep(nanoseconds: rng.next() % 200_000)
                            case 2:
                                mutex.withLock { guarded += 1 }
                                mutexOps.add(1, ordering: .relaxed)
                            default: Scheduler.blocking { usleep(UInt32(rng.next() % 100)) }
                            }
                        }
                        // Balanced channel traffic: 1 in 10 sends, 1 in 10 receives.
                        if i % 10 == 0 { try? channel.send(i) }
                        if i % 10 == 5, channel.receive() != nil { received.add(1, ordering: .relaxed) }
                        out[i] += 1
                    })
            }
            for h in hs { h.join() }
            return hs.count
        }
        #expect(joinBounded(root, seconds: 60) == n)
        #expect(slots.allSatisfy { $0 == 1 })
        #expect(mutex.withLock { guarded } == mutexOps.load(ordering: .relaxed))
        #expect(received.load(ordering: .relaxed) == (n + 5) / 10)
        let m = quiescentMetrics(s)
        #expect(m.spawned == UInt64(n + 1))
        #expect(m.finished == UInt64(n + 1))
        #expect(m.fibers.total == 0)
        #expect(m.fibers.parked == 0)
        #expect(m.fibers.blockedPinned == 0 && m.fibers.blockedHandoff == 0)
        #expect(m.blocked.isEmpty)
        #expect(m.workers.reduce(0) { $0 + $1.runs } >= UInt64(n + 1))
        #expect(m.workers.reduce(0) { $0 + $1.stolenIn } == m.workers.reduce(0) { $0 + $1.stolenOut })
        if c.steal == .none { #expect(m.workers.allSatisfy { $0.stealOps == 0 }) }
        s.shutdown()
        #expect(pool.stats.inUse == 0)
    }

    /// Wake-ups racing with parks: many fibers ping each other through unbuffered channels on many carriers.
    @Test func channelRingAlwaysResumes() throws {
        let s = try Scheduler(.init(carriers: 4, localQueueCapacity: 4))
        defer { s.shutdown() }
        let k = 16
        let rounds = qv_fiber_tsan_enabled() != 0 ? 100 : 1000
        let chans = (0..<k).map { _ in Channel<Int>() }
        let hs = (0..<k).map { i in
            s.spawn(name: "ring\(i)") { () -> Int in
                var last = 0
                for r in 0..<rounds {
                    if i == 0 {
                        try? chans[1].send(r)
                        last = chans[0].receive()!
                    } else {
                        last = chans[i].receive()!
                        try? chans[(i + 1) % k].send(last)
                    }
                }
                return last
            }
        }
        for h in hs { #expect(joinBounded(h) == rounds - 1) }
    }
}
