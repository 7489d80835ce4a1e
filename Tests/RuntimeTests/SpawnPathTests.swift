import Synchronization
import Testing

@testable import Runtime

/// The spawn path's record and stack handling (docs/performance.md, "Session 9: spawn"): the closure consumed into
/// the record and released after the run, the label made at the call site, stacks taken from and given back to
/// the carrier's own cache through `Carrier.stackCache`, with the pool's counts exact once the carriers are gone.
@Suite struct SpawnPathTests {
    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// Counts its own deinit in `freed`.
    final class Capture: Sendable {
        let freed: Counter
        init(_ freed: Counter) { self.freed = freed }
        deinit { freed.value.add(1, ordering: .relaxed) }  // relaxed: read after the joins.
    }

    /// A finished fiber's handle keeps the record, not the body's captures: the run releases the closure (the
    /// record took the caller's reference over, so no copy of it is left anywhere).
    @Test func aFinishedFibersHandleDoesNotKeepItsCapturesAlive() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let freed = Counter()
        let handles: [JoinHandle<Void>] = (0..<64).map { i in
            let c = Capture(freed)
            return s.spawn { _ = c.freed.value.load(ordering: .relaxed) &+ i }  // relaxed: only keeps `c` captured.
        }
        let results: [JoinHandle<Int>] = (0..<64).map { i in
            let c = Capture(freed)
            return s.spawn { () -> Int in c.freed.value.load(ordering: .relaxed) >= 0 ? i : -1 }  // relaxed: as above.
        }
        for h in handles { h.join() }
        #expect(results.map { $0.join() } == Array(0..<64))
        // The handles are still alive here; every capture must be gone already.
        #expect(freed.value.load(ordering: .relaxed) == 128)  // relaxed: after the joins.
        #expect(handles.allSatisfy { $0.isFinished })
    }

    /// The label is made inline at the call site: an unnamed spawn has none, a named one keeps name and kind.
    @Test func unnamedSpawnsHaveNoLabelAndNamedOnesKeepIt() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        let unnamed = s.spawn {}
        let unnamedResult = s.spawn { 7 }
        let named = s.spawn(name: "worker-1", kind: "io") {}
        let kindOnly = s.spawn(kind: "cpu") { 8 }
        unnamed.join()
        #expect(unnamedResult.join() == 7)
        named.join()
        #expect(kindOnly.join() == 8)
        #expect(unnamed.task.label == nil)
        #expect(unnamedResult.task.label == nil)
        #expect(named.name == "worker-1")
        #expect(named.task.kind == "io")
        #expect(kindOnly.task.label?.kind == "cpu")
        #expect(kindOnly.name == "")
    }

    /// Fibers started and finished in waves on two carriers take their stacks from and give them back to the
    /// carriers' caches: few stacks are mapped for many fibers, and once the carriers have detached their caches
    /// (shutdown) every start is counted exactly once, as a reuse or a mapping, with none left in use.
    @Test func schedulerStacksCycleThroughTheCarrierCachesWithExactCounts() throws {
        let pool = StackPool(maxGuardedStacks: 1024)
        let s = try Scheduler(.init(carriers: 2), stackPool: pool)
        let ran = Counter()
        let waves = 40
        let perWave = 50
        let root = s.spawn {
            for _ in 0..<waves {
                // relaxed: a count, read after the joins.
                let hs = (0..<perWave).map { _ in s.spawn { _ = ran.value.add(1, ordering: .relaxed) } }
                for h in hs { h.join() }
            }
        }
        _ = root.join(timeoutNanos: 60_000_000_000)
        #expect(root.isFinished)
        s.shutdown()
        let started = waves * perWave + 1  // the root too
        #expect(ran.value.load(ordering: .relaxed) == waves * perWave)  // relaxed: after the join.
        let stats = pool.stats
        #expect(stats.inUse == 0)
        #expect(stats.carrierCached == 0)
        #expect(stats.slabStacks == 0)  // well under the guarded budget: every mapping is counted in guardedMapped
        #expect(stats.reused + stats.guardedMapped == started)
        // At most a wave plus the root and the caches' slack in flight at once: far fewer mappings than fibers.
        #expect(stats.guardedMapped <= perWave + 1 + 2 * StackPool.carrierCacheCapacity)
    }
}
