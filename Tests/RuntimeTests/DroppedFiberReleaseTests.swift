import CRuntime
import Foundation
import Glibc
import Testing

@testable import Runtime

/// A fiber that `Scheduler.shutdown` drops while it is parked never returns from its park, so whatever its frames
/// hold a reference to is never released. The waits must therefore hold their own task (and the object that lists
/// it) borrowed, or a teardown leaks one task record per dropped fiber (issue 15: a million of them after
/// `vt-million`, and a preset parked on sockets, channels or joins leaks each time it is switched away from).
/// Each test parks one fiber in one kind of wait, shuts the scheduler down and checks the task record is gone.
@Suite(.serialized, .timeLimit(.minutes(2))) struct DroppedFiberReleaseTests {
    /// Waits until `s` counts a fiber parked in `parked` (a count of `fibers`), at most 10 s.
    static func waitParked(_ s: Scheduler, _ parked: KeyPath<SchedulerMetrics.FiberCounts, Int>) -> Bool {
        let deadline = qv_now_ns() + 10_000_000_000
        while s.metrics().fibers[keyPath: parked] < 1 && qv_now_ns() < deadline { usleep(1_000) }
        return s.metrics().fibers[keyPath: parked] >= 1
    }

    /// Spawns `body` on a one-carrier scheduler, waits until it is parked (`parked` counts it), shuts down, and
    /// returns whether the task record was alive while parked and whether it is alive after the shutdown.
    static func dropWhileParked(
        _ parked: KeyPath<SchedulerMetrics.FiberCounts, Int>, _ body: @escaping @Sendable () -> Void,
        prepare: (Scheduler) -> Void = { _ in }
    ) throws -> (aliveParked: Bool, aliveAfter: Bool, sawPark: Bool) {
        let s = try Scheduler(Scheduler.Configuration(carriers: 1), stackPool: StackPool())
        prepare(s)
        weak var task: FiberTask?
        do {
            let h = s.spawn(name: "dropped", body)
            task = h.task
        }
        let saw = waitParked(s, parked)
        let aliveParked = task != nil
        s.shutdown()
        return (aliveParked, task != nil, saw)
    }

    @Test func aFiberDroppedWhileReceivingOnAChannelIsFreed() throws {
        let ch = Channel<Int>(capacity: 0)
        let r = try Self.dropWhileParked(\.parkedChannel) { _ = ch.receive() }
        #expect(r.sawPark && r.aliveParked)
        #expect(!r.aliveAfter, "the task record of a fiber dropped in Channel.receive is still alive after shutdown")
        _ = ch.count  // the channel outlives the scheduler
    }

    @Test func aFiberDroppedWhileSendingOnAChannelIsFreed() throws {
        let ch = Channel<Int>(capacity: 0)
        let r = try Self.dropWhileParked(\.parkedChannel) { try? ch.send(1) }
        #expect(r.sawPark && r.aliveParked)
        #expect(!r.aliveAfter, "the task record of a fiber dropped in Channel.send is still alive after shutdown")
        _ = ch.count
    }

    @Test func aFiberDroppedWhileWaitingForAFiberMutexIsFreed() throws {
        let m = FiberMutex()
        m.lock()  // held by this plain thread for the whole test
        let r = try Self.dropWhileParked(\.parkedMutex) { m.lock() }
        #expect(r.sawPark && r.aliveParked)
        #expect(!r.aliveAfter, "the task record of a fiber dropped in FiberMutex.lock is still alive after shutdown")
        m.unlock()
    }

    @Test func aFiberDroppedWhileWaitingOnASemaphoreIsFreed() throws {
        let sem = FiberSemaphore(value: 0)
        let r = try Self.dropWhileParked(\.parkedMutex) { sem.wait() }
        #expect(r.sawPark && r.aliveParked)
        #expect(
            !r.aliveAfter, "the task record of a fiber dropped in FiberSemaphore.wait is still alive after shutdown")
        sem.signal()
    }

    @Test func aFiberDroppedWhileJoiningIsFreed() throws {
        // The joined fiber sleeps for an hour; the joiner parks in join. Both are dropped.
        let sleeper = Locked<JoinHandle<Void>?>(nil)
        let r = try Self.dropWhileParked(
            \.parkedJoin,
            { _ = try? sleeper.withLock { $0 }?.tryJoin() },
            prepare: { s in sleeper.withLock { $0 = s.spawn { Scheduler.sleep(nanoseconds: 3_600_000_000_000) } } })
        #expect(r.sawPark && r.aliveParked)
        #expect(!r.aliveAfter, "the task record of a fiber dropped in join is still alive after shutdown")
    }

    @Test func aFiberDroppedWhileWaitingForAnFdIsFreed() throws {
        let (a, b) = FdTestSupport.socketPair()
        defer {
            _ = Glibc.close(a)
            _ = Glibc.close(b)
        }
        let r = try Self.dropWhileParked(\.parkedIO) {
            var byte: UInt8 = 0
            _ = try? withUnsafeMutableBytes(of: &byte) { try Scheduler.read(a, into: $0) }
        }
        #expect(r.sawPark && r.aliveParked)
        #expect(!r.aliveAfter, "the task record of a fiber dropped in an fd wait is still alive after shutdown")
    }
}
