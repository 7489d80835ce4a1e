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
    }
}
