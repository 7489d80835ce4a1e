import CRuntime
import Glibc
import Synchronization
import Testing

@testable import Runtime

/// The wake-up protocol of `TaskState` (see the table in FiberTask.swift): no wake is ever dropped on the strength
/// of a load, so a wake that races with a fiber's run can never be lost, and stray wakes are harmless.
@Suite("Scheduler wake ordering")
struct SchedulerWakeOrderingTests {
    /// A wake delivered while the fiber is queued (state runnable) is kept as a permit, so the fiber's next park
    /// returns at once. Before, `wake` took `runnable` for "already queued, it will see the condition" and dropped
    /// it — the decision that a stale `runnable` (the run's relaxed store not yet visible) turned into a lost wake.
    /// One carrier, held by a spinning fiber, so the woken fiber is certainly still queued when the wake comes.
    @Test func aWakeOfAQueuedFiberIsKeptAsAPermit() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        let holding = Atomic<Bool>(false)
        let release = Atomic<Bool>(false)
        let holder = s.spawn(name: "holder") {
            holding.store(true, ordering: .sequentiallyConsistent)
            while !release.load(ordering: .sequentiallyConsistent) {}
        }
        while !holding.load(ordering: .sequentiallyConsistent) { sched_yield() }
        let parker = s.spawn(name: "parker") { () -> Bool in
            // One bare park, no condition loop: it returns only if the earlier wake was kept.
            Scheduler.currentTask!.park(reason: .channel)
            return true
        }
        s.wake(parker.task)
        release.store(true, ordering: .sequentiallyConsistent)
        #expect(joinBounded(holder, seconds: 10) != nil)
        #expect(joinBounded(parker, seconds: 3) == true)
    }

    /// Stray wakes spammed (from a plain thread and from a fiber, at seeded random fibers) during channel
    /// ping-pong, joins and sleeps: every exchange completes with the right values and nothing hangs (a lost wake
    /// would leave a fiber parked; the joins are bounded). Runs under TSan in CI.
    @Test(arguments: [UInt64(0x5EED_0001), 0xC0FF_EE42])
    func strayWakesDuringChannelAndJoinTraffic(seed: UInt64) throws {
        let s = try Scheduler(.init(carriers: 3))
        defer { s.shutdown() }
        let rounds = 1_500
        let pairs = 4
        var handles: [JoinHandle<Int>] = []
        for p in 0..<pairs {
            let ping = Channel<Int>()
            let pong = Channel<Int>()
            let echo = s.spawn(name: "echo\(p)") { () -> Int in
                var n = 0
                while let v = ping.receive() {
                    try? pong.send(v + 1)
                    n += 1
                }
                return n
            }
            handles.append(
                s.spawn(name: "client\(p)") { () -> Int in
                    var sum = 0
                    for i in 0..<rounds {
                        try? ping.send(i)
                        sum += pong.receive() ?? -1_000_000
                        if i % 50 == 0 { Scheduler.sleep(nanoseconds: 10_000) }
                    }
                    ping.close()
                    return sum + 1_000 * echo.join()
                })
        }
        // Join traffic: fibers that join short-lived children.
        for j in 0..<pairs {
            handles.append(
                s.spawn(name: "joiner\(j)") { () -> Int in
                    var total = 0
                    for k in 0..<rounds / 3 {
                        let child = s.spawn(name: "child") { () -> Int in
                            if k % 7 == 0 { Scheduler.yield() }
                            return 1
                        }
                        total += child.join()
                    }
                    return total
                })
        }
        let targets = handles.map(\.task)
        let stop = Atomic<Bool>(false)
        let spammer = OSThread.spawn {
            var rng = seed
            while !stop.load(ordering: .relaxed) {  // relaxed: polled flag.
                rng ^= rng << 13
                rng ^= rng >> 7
                rng ^= rng << 17
                s.wake(targets[Int(rng % UInt64(targets.count))])
            }
        }
        let fiberSpammer = s.spawn(name: "spammer") {
            var rng = seed ^ 0xFFFF
            while !stop.load(ordering: .relaxed) {  // relaxed: polled flag.
                rng ^= rng << 13
                rng ^= rng >> 7
                rng ^= rng << 17
                s.wake(targets[Int(rng % UInt64(targets.count))])
                if rng % 8 == 0 { Scheduler.yield() }
            }
        }
        let expectedClient = (0..<rounds).reduce(0) { $0 + $1 + 1 } + 1_000 * rounds
        var results: [Int?] = []
        for h in handles { results.append(joinBounded(h, seconds: 60)) }
        stop.store(true, ordering: .relaxed)  // relaxed: flag.
        spammer.join()
        _ = joinBounded(fiberSpammer)
        #expect(results[0..<pairs].allSatisfy { $0 == expectedClient })
        #expect(results[pairs...].allSatisfy { $0 == rounds / 3 })
    }
}
