import Testing

@testable import Runtime

/// StackPool's per-carrier caches: served and flushed in batches, counted exactly once detached,
/// stacks moving between threads, other sizes and other pools going to the shared list.
@Suite struct StackPoolCarrierCacheTests {
    /// Hands stacks from one thread to another (the joins order the accesses; the lock keeps TSan quiet).
    final class StackBox: @unchecked Sendable {
        // @unchecked Sendable: `stacks` is protected by `lock`.
        private let lock = TestLock()
        private var stacks: [FiberStack] = []
        func put(_ s: [FiberStack]) { lock.withLock { stacks += s } }
        func take() -> [FiberStack] {
            lock.withLock {
                defer { stacks = [] }
                return stacks
            }
        }
    }

    /// Stats taken on a helper thread, checked by the test after the join (#expect on the test's own
    /// thread, where it is attributed to the test).
    final class StatsBox: @unchecked Sendable {
        // @unchecked Sendable: `items` is protected by `lock`.
        private let lock = TestLock()
        private var items: [StackPool.Stats] = []
        func add(_ s: StackPool.Stats) { lock.withLock { items.append(s) } }
        var all: [StackPool.Stats] { lock.withLock { items } }
    }

    @Test func cacheServesReleasesAndFlushesInBatches() {
        let pool = StackPool(maxGuardedStacks: 256)
        let cap = StackPool.carrierCacheCapacity
        let seen = StatsBox()
        OSThread.spawn {
            pool.attachCarrierCache()
            let held = (0..<(cap + 36)).map { _ in pool.acquire() }
            for s in held { pool.release(s) }  // past the capacity: half the cache goes to the shared list
            seen.add(pool.stats)
            for _ in 0..<10 { pool.release(pool.acquire()) }  // served by the cache, no new mapping
            seen.add(pool.stats)
            pool.detachCarrierCache()
        }.join()
        let during = seen.all
        #expect(during.count == 2)
        #expect(during.first?.free == 2 * StackPool.carrierCacheBatch)  // two flushes of one batch
        #expect(during.last?.guardedMapped == cap + 36)
        let stats = pool.stats
        #expect(stats.inUse == 0)
        #expect(stats.carrierCached == 0)
        #expect(stats.free == cap + 36)
        #expect(stats.guardedMapped == cap + 36)
        #expect(stats.reused >= 10)
    }

    @Test func cacheRefillsFromTheSharedListAndStacksMayFinishOnAnotherThread() {
        let pool = StackPool(maxGuardedStacks: 256)
        let warm = (0..<50).map { _ in pool.acquire() }
        for s in warm { pool.release(s) }  // 50 free in the shared list, no cache on this thread
        let box = StackBox()
        OSThread.spawn {
            pool.attachCarrierCache()
            box.put((0..<50).map { _ in pool.acquire() })  // refilled in batches: no new mapping
            pool.detachCarrierCache()
        }.join()
        #expect(pool.stats.guardedMapped == 50)
        #expect(pool.stats.inUse == 50)
        OSThread.spawn {
            pool.attachCarrierCache()
            for s in box.take() { pool.release(s) }
            pool.detachCarrierCache()
        }.join()
        let stats = pool.stats
        #expect(stats.inUse == 0)
        #expect(stats.free == 50)
        #expect(stats.reused == 50)
    }

    @Test func otherSizesAndOtherPoolsBypassTheCache() {
        let pool = StackPool(maxGuardedStacks: 16)
        let other = StackPool(maxGuardedStacks: 16)
        let seen = StatsBox()
        OSThread.spawn {
            pool.attachCarrierCache()
            let big = pool.acquire(size: 2 * FiberStack.defaultSize)
            pool.release(big)
            seen.add(pool.stats)  // free == 1: the shared list, the cache holds one size only
            other.release(other.acquire())
            seen.add(other.stats)  // free == 1: no cache attached for `other`
            pool.attachCarrierCache()  // a second attach is ignored
            pool.detachCarrierCache()
            pool.detachCarrierCache()  // detaching twice is harmless
        }.join()
        #expect(seen.all.map(\.free) == [1, 1])
        #expect(pool.stats.inUse == 0)
        #expect(other.stats.inUse == 0)
    }

    @Test func twoCarriersCyclingConcurrentlyLoseNoStack() {
        let pool = StackPool(maxGuardedStacks: 512)
        let threads = (0..<2).map { _ in
            OSThread.spawn {
                pool.attachCarrierCache()
                for round in 0..<200 {
                    let held = (0..<(round % 90)).map { _ in pool.acquire() }
                    for s in held { pool.release(s) }
                }
                pool.detachCarrierCache()
            }
        }
        for t in threads { t.join() }
        let stats = pool.stats
        #expect(stats.inUse == 0)
        #expect(stats.carrierCached == 0)
        #expect(stats.free == stats.guardedMapped)
    }
}

/// Slab stacks released past the cache give their pages back in batches (one madvise per run of adjacent
/// stacks); a stack pending that is never handed out with its old contents.
@Suite struct StackPoolTrimTests {
    @Test func releasedSlabStacksGiveTheirPagesBackBeforeReuse() throws {
        let pool = StackPool(guardPages: false, maxCachedStacks: 0, slabStacks: 64)
        let stacks = (0..<200).map { _ in pool.acquire() }
        for s in stacks { s.bottom.storeBytes(of: 0xAB, as: UInt8.self) }  // one touched page each
        for s in stacks { pool.release(s) }  // fewer than a trim batch: all pending
        #expect(pool.stats.inUse == 0)
        // Reacquired: the page was given back first, so it reads zero, never the old byte.
        let again = (0..<200).map { _ in pool.acquire() }
        for s in again { #expect(s.bottom.load(as: UInt8.self) == 0) }
        for s in again { s.bottom.storeBytes(of: 0xCD, as: UInt8.self) }
        for s in again { pool.release(s) }
        pool.trimPending()
        var rng = SystemRandomNumberGenerator()
        let r = try #require(pool.sampleResidency(limit: 10_000, using: &rng))
        #expect(r.stacksMeasured == pool.stats.slabStacks)
        #expect(r.residentBytes == 0, "pages still resident after trimPending: \(r.residentBytes)")
    }
}
