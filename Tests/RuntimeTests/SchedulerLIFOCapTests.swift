import Synchronization
import Testing

@testable import Runtime

/// Issue 14, item 7 (tokio's rule for the LIFO slot): once a worker has taken `maxRunnextStreak` fibers in a row
/// from its LIFO slot, the slot stays off until the worker next takes a fiber from its queue. Here the check is
/// on the take side (`findRunnable`): past the cap, a fiber found in the slot goes to the back of the queue and
/// the queue's head runs, which ends the streak. Pinned: two fibers ping-ponging through a channel on one carrier
/// (each wakes the other into the LIFO slot) cannot keep a third, queued fiber waiting beyond the cap. (With the
/// cap raised out of reach the third fiber ran only after all 2,000 exchanges; today it runs at the first
/// scheduling point after it is queued, as the streak has passed the cap while the queue was empty.)
@Suite(.timeLimit(.minutes(1))) struct SchedulerLIFOCapTests {
    @Test func aPingPongPairCannotStarveAQueuedFiberBeyondTheCap() throws {
        // One carrier: everything runs in one queue and one slot. No monitor: it would move the queue away.
        let s = try Scheduler(.init(carriers: 1, hogThresholdNanos: 0))
        defer { s.shutdown() }
        let rounds = 1_000
        let ping = Channel<Int>()
        let pong = Channel<Int>()
        // Receives so far by the pair; when the third fiber was queued; when it ran (-1: not yet).
        let exchanges = Atomic<Int>(0)
        let queuedAt = Atomic<Int>(-1)
        let ranAt = Atomic<Int>(-1)
        let a = s.spawn(name: "a") {
            for i in 0..<rounds {
                try? ping.send(i)
                _ = pong.receive()
                exchanges.add(1, ordering: .sequentiallyConsistent)
                if i == 10 {
                    // From a running fiber: the spawn goes to the back of this carrier's queue, not the slot.
                    let now = exchanges.load(ordering: .sequentiallyConsistent)
                    queuedAt.store(now, ordering: .sequentiallyConsistent)
                    s.spawn(name: "c") {
                        let now = exchanges.load(ordering: .sequentiallyConsistent)
                        ranAt.store(now, ordering: .sequentiallyConsistent)
                    }
                }
            }
        }
        let b = s.spawn(name: "b") {
            for i in 0..<rounds {
                _ = ping.receive()
                exchanges.add(1, ordering: .sequentiallyConsistent)
                try? pong.send(i)
            }
        }
        try #require(joinBounded(a) != nil)
        try #require(joinBounded(b) != nil)
        let queued = queuedAt.load(ordering: .sequentiallyConsistent)
        let ran = ranAt.load(ordering: .sequentiallyConsistent)
        #expect(exchanges.load(ordering: .sequentiallyConsistent) == 2 * rounds)
        try #require(queued >= 0 && ran >= 0, "the third fiber never ran")
        // Each exchange is one run taken from the LIFO slot; one more for the run that queued the third fiber.
        // The cap is tokio's MAX_LIFO_POLLS_PER_TICK, written out so that raising it fails here.
        let cap = 3
        #expect(Scheduler.maxRunnextStreak == cap)
        #expect(ran - queued <= cap + 1, "queued at \(queued), ran at \(ran)")
    }
}
