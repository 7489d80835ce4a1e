import CRuntime
import Glibc
import Synchronization
import Testing

@testable import Runtime

/// The park and wake counters stay balanced on the carrier's side of a park (see the table above `TaskState`): a
/// wake that lands while the fiber is switching off to park finds it `runnable`, leaves a permit and counts
/// nothing; the carrier's `runnable → parked` CAS then fails, requeues the fiber and counts that wake. A missed
/// count there leaves `parks − wakes` above zero for good, which the dashboard draws as fibers parked on a channel.
@Suite("Park and wake counts")
struct ParkWakeCountTests {
    /// A fiber parks 20,000 times (bare parks, reason channel) while a plain thread wakes it without pause, so
    /// wakes keep landing in every window of a park — among them the one between the fiber's look at the state and
    /// its carrier's CAS after the switch. Once the fiber has finished, no fiber is counted as parked on a channel.
    @Test func wakesRacingWithParksLeaveNoPhantomParkedFibers() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let parks = 20_000
        let parker = s.spawn(name: "parker") { () -> Int in
            for _ in 0..<parks { Scheduler.currentTask!.park(reason: .channel) }
            return parks
        }
        let task = parker.task
        let done = Atomic<Bool>(false)
        let waker = OSThread.spawn {
            while !done.load(ordering: .relaxed) { s.wake(task) }  // relaxed: polled flag.
        }
        let result = joinBounded(parker, seconds: 60)
        done.store(true, ordering: .relaxed)  // relaxed: flag.
        waker.join()
        #expect(result == parks)
        #expect(
            Self.settledParkedOnChannel(s) == 0, "fibers counted as parked on a channel after the only one finished")
    }

    /// A stray wake — one for a fiber parked on something else than what the waker completes: a timer that fires as
    /// its sleep ends and the fiber goes on to park on a channel — is counted under the reason the fiber parked for,
    /// so each reason's parks − wakes stays the number parked on it. A fiber arms a timer due now and parks on a
    /// channel, 5,000 times; the timer's expiry wakes it. Once it has finished, nothing is counted as parked on a
    /// channel (counted as a sleeper's wake, the expiries leave it at about the number of parks).
    @Test func aStrayWakeIsCountedUnderTheReasonTheFiberParkedFor() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let parks = 5_000
        let parker = s.spawn(name: "parker") { () -> Int in
            let me = Scheduler.currentTask!
            for _ in 0..<parks {
                s.addTimer(me, deadline: qv_now_ns())
                me.park(reason: .channel)
            }
            return parks
        }
        #expect(joinBounded(parker, seconds: 60) == parks)
        #expect(
            Self.settledParkedOnChannel(s) == 0, "timer wakes of a fiber parked on a channel counted as a sleeper's")
    }

    /// The per-reason park and wake counters have one slot per `ParkReason` (their fixed size is a literal), indexed
    /// by its raw value.
    @Test func theCountersHaveOneSlotPerParkReason() {
        let c = WorkerCounters()
        #expect(c.fiberParks.count == ParkReason.allCases.count)
        #expect(c.fiberWakes.count == ParkReason.allCases.count)
        #expect(ParkReason.allCases.map(\.rawValue) == Array(0..<ParkReason.allCases.count))
    }

    /// The "parked on a channel" figure once the workers have published (each does when it goes idle), or the
    /// last value seen after 10 s.
    static func settledParkedOnChannel(_ s: Scheduler) -> Int {
        var parked = Int.max
        let deadline = qv_now_ns() &+ 10_000_000_000
        while qv_now_ns() < deadline {
            parked = s.metrics().fibers.parkedChannel
            if parked == 0 { break }
            usleep(2_000)
        }
        return parked
    }

    /// Cross-carrier channel ping-pong (3 carriers, 6 pairs, so wakes race with parks on other carriers): once
    /// every fiber has finished, no fiber is counted as parked on a channel. Runs under TSan in CI.
    @Test func channelTrafficAcrossCarriersLeavesNoPhantomParkedFibers() throws {
        let s = try Scheduler(.init(carriers: 3))
        defer { s.shutdown() }
        let rounds = 3_000
        var handles: [JoinHandle<Int>] = []
        for p in 0..<6 {
            let ping = Channel<Int>()
            let pong = Channel<Int>()
            handles.append(
                s.spawn(name: "echo\(p)") { () -> Int in
                    var n = 0
                    while let v = ping.receive() {
                        try? pong.send(v)
                        n += 1
                    }
                    return n
                })
            handles.append(
                s.spawn(name: "client\(p)") { () -> Int in
                    var n = 0
                    for i in 0..<rounds {
                        try? ping.send(i)
                        if pong.receive() == i { n += 1 }
                    }
                    ping.close()
                    return n
                })
        }
        for h in handles { #expect(joinBounded(h, seconds: 60) == rounds) }
        #expect(Self.settledParkedOnChannel(s) == 0, "fibers counted as parked on a channel after all finished")
    }
}
