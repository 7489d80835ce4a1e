import Foundation
import Runtime
import Testing

@testable import Workloads

// Issue 14, defect 2 in the loopback server: the model's stop closed the listener with plain `close(2)`
// while the accept fiber was parked on it. The kernel drops a closed fd's epoll registration silently,
// so the acceptor stayed parked until the scheduler's shutdown dropped it.
extension HeadlessTests {
    @Suite(.timeLimit(.minutes(1))) struct LoopbackShutdownTests {
        /// The accept fiber parks on the listener; closing the listener through the scheduler wakes it and it
        /// finishes (the scheduler's live fiber count drops to 0) before any shutdown.
        @Test func closingTheListenerWakesTheParkedAcceptFiber() throws {
            let scheduler = try Scheduler(.init(carriers: 2))
            defer { scheduler.shutdown() }
            let server = try LoopbackServer()
            defer { server.close() }
            server.serve(on: scheduler, gate: SpawnGate())
            // Wait until the acceptor is parked on the listener (no connection arrives).
            let parkedBy = Monotonic.now() + 5_000_000_000
            while scheduler.metrics().ioWaiters < 1 && Monotonic.now() < parkedBy { usleep(1000) }
            try #require(scheduler.metrics().ioWaiters == 1, "the accept fiber never parked on the listener")
            try #require(scheduler.metrics().fibers.total == 1)
            server.closeListener(on: scheduler)
            let endedBy = Monotonic.now() + 2_000_000_000
            while scheduler.metrics().fibers.total > 0 && Monotonic.now() < endedBy { usleep(1000) }
            #expect(scheduler.metrics().fibers.total == 0, "the accept fiber is still parked on the closed listener")
        }

        /// The same on an event loop: the accept task waits on the listener; closing it through the loop resumes
        /// the task with `fdClosed` and it ends (the loop's live task count drops to 0) before any shutdown.
        @Test func closingTheListenerEndsTheWaitingAcceptTask() throws {
            let loop = try EventLoop(EventLoop.Configuration())
            defer { loop.shutdown() }
            let server = try LoopbackServer()
            defer { server.close() }
            server.serve(on: loop)
            let parkedBy = Monotonic.now() + 5_000_000_000
            while loop.metrics().fdWaiters < 1 && Monotonic.now() < parkedBy { usleep(1000) }
            try #require(loop.metrics().fdWaiters == 1, "the accept task never waited on the listener")
            try #require(loop.metrics().tasksAlive == 1)
            server.closeListener(on: loop)
            let endedBy = Monotonic.now() + 2_000_000_000
            while loop.metrics().tasksAlive > 0 && Monotonic.now() < endedBy { usleep(1000) }
            #expect(loop.metrics().tasksAlive == 0, "the accept task still waits on the closed listener")
        }
    }
}
