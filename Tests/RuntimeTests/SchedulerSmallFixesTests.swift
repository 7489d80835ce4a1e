import CRuntime
import Glibc
import Synchronization
import Testing

@testable import Runtime

/// Issue 14, item 7: timers, the LIFO slot's fiber behind a running waker, and a steal that is seen to happen.
@Suite("Scheduler small fixes")
struct SchedulerSmallFixesTests {
    /// A sleep woken early by stray wakes keeps one timer: the heap never holds more than the sleeper's entry, and
    /// none is left once the sleep is over. (Before, every stray wake re-armed a new timer beside the old one.)
    @Test func strayWakesDuringASleepLeaveOneTimer() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        let started = Atomic<Bool>(false)
        let sleeper = s.spawn(name: "sleeper") { () -> UInt64 in
            started.store(true, ordering: .sequentiallyConsistent)
            let t0 = qv_now_ns()
            Scheduler.sleep(nanoseconds: 150_000_000)
            return qv_now_ns() &- t0
        }
        while !started.load(ordering: .sequentiallyConsistent) { sched_yield() }
        var most = 0
        for _ in 0..<20 {
            usleep(2_000)
            s.wake(sleeper.task)
            most = max(most, s.metrics().timersPending)
        }
        let slept = try #require(joinBounded(sleeper))
        #expect(slept >= 150_000_000)
        #expect(most <= 1)
        #expect(quiescentMetrics(s).timersPending == 0)
    }

    /// A fiber woken into the LIFO slot of a worker whose fiber keeps running: the put wakes nobody (tokio's rule),
    /// and the monitor, seeing that worker's run counter stuck with its slot non-empty, wakes the parked worker,
    /// which takes the fiber after the slot's steal delay while its waker still runs. Nothing else runs, so without
    /// the monitor's wake-up the other worker stays parked and the woken fiber waits for its waker (bounded here at
    /// 2 s; the monitor looks every 0.5 ms). The other worker is a regular one, not a retake: it counts as a taker
    /// of the hog's queue.
    @Test func aFiberLeftInTheLIFOSlotOfARunningWakerGetsAnIdleWorkerFromTheMonitor() throws {
        let s = try Scheduler(.init(carriers: 2, hogThresholdNanos: 2_000_000))
        defer { s.shutdown() }
        let ch = Channel<Int>()
        let ran = Atomic<Bool>(false)
        let woken = s.spawn(name: "woken") {
            _ = ch.receive()
            ran.store(true, ordering: .sequentiallyConsistent)
        }
        while s.metrics().fibers.parkedChannel == 0 { usleep(500) }
        let go = Atomic<Bool>(false)
        let waker = s.spawn(name: "waker") { () -> Bool in
            while !go.load(ordering: .sequentiallyConsistent) {}
            try? ch.send(1)
            let end = qv_now_ns() &+ 2_000_000_000
            while !ran.load(ordering: .sequentiallyConsistent) && qv_now_ns() < end {}
            return ran.load(ordering: .sequentiallyConsistent)
        }
        // Wait until the other worker has stopped searching and parked (the waker's worker keeps running).
        let deadline = qv_now_ns() &+ 5_000_000_000
        while qv_now_ns() < deadline && !s.metrics().workers.contains(where: { $0.state == .parked }) { usleep(500) }
        usleep(20_000)
        go.store(true, ordering: .sequentiallyConsistent)
        let before = s.metrics().workers.map { "\($0.id):\($0.state) unparks \($0.unparks) parks \($0.parks)" }
        #expect(joinBounded(waker) == true, "\(before)")
        _ = joinBounded(woken)
        #expect(s.metrics().hogRetakes == 0)
    }

    /// A steal actually happens, from the worker running the spawner: its steal events name that victim, the
    /// thief's `stolenIn` and the victim's `stolenOut` are > 0 and match the events.
    @Test func aStealIsTakenFromTheNamedVictim() throws {
        // No monitor: it would move the spinning spawner's queue to the injector after 10 ms.
        let s = try Scheduler(.init(carriers: 2, steal: .half, hogThresholdNanos: 0))
        defer { s.shutdown() }
        _ = s.metrics()  // start publishing names
        let go = Atomic<Bool>(false)
        let spawner = s.spawn(name: "spawner") { () -> Int in
            while !go.load(ordering: .sequentiallyConsistent) {}
            let children = (0..<64).map { _ in
                s.spawn {
                    let end = qv_now_ns() &+ 200_000
                    while qv_now_ns() < end {}
                }
            }
            // Keep this worker busy, so its queue can only drain by being stolen from.
            let end = qv_now_ns() &+ 2_000_000_000
            while children.contains(where: { !$0.isFinished }) && qv_now_ns() < end {}
            return children.filter(\.isFinished).count
        }
        var victim: Int?
        let deadline = qv_now_ns() &+ 5_000_000_000
        while victim == nil && qv_now_ns() < deadline {
            victim = s.metrics().workers.first { $0.currentFiber == "spawner" }?.id
        }
        go.store(true, ordering: .sequentiallyConsistent)
        #expect(joinBounded(spawner) == 64)
        let v = try #require(victim)
        let m = quiescentMetrics(s)
        let steals = s.drainEvents().filter { $0.kind == .steal }
        let fromVictim = steals.filter { Int($0.other) == v }.reduce(0) { $0 + Int($1.count) }
        #expect(fromVictim > 0)
        #expect(m.workers[v].stolenOut == UInt64(fromVictim))
        #expect(m.workers[1 - v].stolenIn == UInt64(fromVictim))
    }
}
