import CRuntime
import Foundation
import Testing

@testable import Runtime

/// Issue 14, defect 5: a fiber of scheduler B joins a task of scheduler A; B shuts down (its fiber, parked on
/// A's task, is not found and stays parked) and is released; then A's task completes and wakes the joiner
/// through B. Before the fix that wake ran on freed memory (AddressSanitizer: heap-use-after-free in
/// `Scheduler.wake`; CI runs this suite with `--sanitize=address`). After it, B is kept alive by the join
/// node until the wake, which B (shut down) refuses by cancelling the joiner.
@Suite(.timeLimit(.minutes(1))) struct CrossSchedulerJoinTests {
    @Test func aJoinerWhoseSchedulerShutDownIsNotWokenThroughFreedMemory() throws {
        let a = try Scheduler(.init(carriers: 1))
        defer { a.shutdown() }
        let release = FiberSemaphore(value: 0)
        let aTask = a.spawn(name: "a-task") { () -> Int in
            release.wait()
            return 7
        }
        weak var weakB: Scheduler?
        let joinerParked = Parker()
        do {
            let b = try Scheduler(.init(carriers: 1))
            weakB = b
            b.spawn(name: "b-joiner") {
                joinerParked.unpark(poller: nil)
                _ = try? aTask.tryJoin()
            }
            joinerParked.park()
            // Let the joiner reach its park on A's task.
            var spins = 0
            while b.metrics().fibers.parkedJoin < 1 && spins < 2_000 {
                usleep(1000)
                spins += 1
            }
            b.shutdown()
        }
        // B's last reference is gone unless the join node keeps it: the fix does, until A's task completes.
        a.spawn(name: "release") { release.signal() }
        #expect(aTask.join() == 7)
        // The wake has run (the completion wakes joiners before `join` returns here): B may now go.
        var spins = 0
        while weakB != nil && spins < 2_000 {
            usleep(1000)
            spins += 1
        }
        #expect(weakB == nil, "the join node released scheduler B after the wake")
    }
}
