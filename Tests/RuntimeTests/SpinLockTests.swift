import Foundation
import Testing

@testable import Runtime

@Suite struct SpinLockTests {
    /// Fibers on 8 carriers (each parks between increments, so it resumes on any carrier) and plain
    /// threads increment one counter; nothing is lost. Under TSan the lock's acquire/release orders
    /// every access to the counter.
    @Test func fibersAndThreadsShareACounter() throws {
        let scheduler = try Scheduler(.init(carriers: 8))
        defer { scheduler.shutdown() }
        let counter = SpinLock(0)
        let fibers = 64
        let threads = 4
        let rounds = 500
        let handles = (0..<fibers).map { _ in
            scheduler.spawn {
                for r in 0..<rounds {
                    counter.withLock { $0 += 1 }
                    if r % 8 == 0 { Scheduler.sleep(nanoseconds: 10_000) } else { Scheduler.yield() }
                }
            }
        }
        let plain = (0..<threads).map { _ in
            OSThread.spawn { for _ in 0..<rounds { counter.withLock { $0 += 1 } } }
        }
        for h in handles { h.join() }
        for t in plain { t.join() }
        #expect(counter.withLock { $0 } == (fibers + threads) * rounds)
    }

    @Test func withLockIfAvailableRefusesWhileHeld() {
        let lock = SpinLock(1)
        let inner: Int? = lock.withLock { _ in lock.withLockIfAvailable { $0 } }
        #expect(inner == nil)
        #expect(lock.withLockIfAvailable { $0 } == 1)
    }
}
