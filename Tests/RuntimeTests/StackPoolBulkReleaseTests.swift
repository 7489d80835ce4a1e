import CRuntime
import Testing

@testable import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// `StackPool.release(contentsOf:)` (a scheduler's shutdown): a slab all of whose stacks are free afterwards is
/// unmapped whole — its pages, page tables and address range go back — while a slab with a stack still in use
/// stays mapped (issue 15: "switching away from such a preset tears everything down").
@Suite struct StackPoolBulkReleaseTests {
    /// True while `[start, start + length)` is mapped: `mincore` fails with ENOMEM on an unmapped range.
    static func isMapped(_ start: UnsafeMutableRawPointer, _ length: Int) -> Bool {
        var vec = [UInt8](repeating: 0, count: (length + FiberStack.pageSize - 1) / FiberStack.pageSize)
        return vec.withUnsafeMutableBufferPointer { mincore(start, length, $0.baseAddress) } == 0
    }

    /// Ten slabs of four stacks, all free after the release: two of them stay as the cache, eight are unmapped.
    @Test func whollyFreeSlabsAreUnmappedAndForgotten() throws {
        let pool = StackPool(guardPages: false, maxCachedStacks: 8, slabStacks: 4)
        let stacks = (0..<40).map { _ in pool.acquire() }
        for s in stacks { s.bottom.storeBytes(of: 0xAB, as: UInt8.self) }  // one touched page each
        #expect(pool.stats.slabStacks == 40)
        pool.release(contentsOf: stacks)
        let stats = pool.stats
        #expect(stats.inUse == 0)
        #expect(stats.free == 8, "free \(stats.free)")
        #expect(stats.slabStacks == 8, "\(stats.slabStacks) slab stacks still mapped after the bulk release")
        // Two whole slabs stay mapped as the cache; the other eight are gone. Asked of the kernel only in the plain
        // suite (`--no-parallel`): under TSan the suites run in parallel and another test's mmap may take a range
        // this release gave back, which then reads as mapped.
        if qv_fiber_tsan_enabled() == 0 {
            let stillMapped = stacks.filter { Self.isMapped($0.mapping, $0.size) }.count
            #expect(stillMapped == 8, "\(stillMapped) of 40 stacks still mapped (8 cached)")
        }
        // The residency sample sees only what is mapped.
        var rng = SeededRandom(state: 1)
        let r = try #require(pool.sampleResidency(limit: 1000, using: &rng))
        #expect(r.stacksMapped == 8)
        #expect(r.stacksMeasured == 8)
        // The pool still hands out stacks: the cached ones first, then a fresh slab.
        let again = (0..<12).map { _ in pool.acquire() }
        for s in again { s.bottom.storeBytes(of: 0xCD, as: UInt8.self) }
        #expect(pool.stats.slabStacks == 12)
        pool.release(contentsOf: again)
        #expect(pool.stats.inUse == 0)
    }

    /// A slab with one stack still in use is kept (its free stacks are madvised, not unmapped); the slab goes once
    /// its last stack comes back in another bulk release, counted with the free ones already in the pool.
    @Test func aSlabWithAStackInUseStaysMappedUntilItsLastStackComesBack() {
        let pool = StackPool(guardPages: false, maxCachedStacks: 0, slabStacks: 4)
        let stacks = (0..<8).map { _ in pool.acquire() }  // two slabs
        for s in stacks { s.bottom.storeBytes(of: 0xAB, as: UInt8.self) }
        let held = stacks[5]
        pool.release(contentsOf: stacks.filter { $0.bottom != held.bottom })
        #expect(pool.stats.slabStacks == 4, "the slab of the held stack is kept, the other one unmapped")
        #expect(pool.stats.free == 3)
        held.bottom.storeBytes(of: 0xEF, as: UInt8.self)  // still mapped and writable
        #expect(Self.isMapped(held.mapping, held.size))
        pool.release(contentsOf: [held])
        #expect(pool.stats.slabStacks == 0, "\(pool.stats.slabStacks) slab stacks mapped after the last came back")
        #expect(pool.stats.free == 0)
        // The kernel's view, in the plain suite only (see above: parallel suites under TSan may reuse the range).
        if qv_fiber_tsan_enabled() == 0 { #expect(!Self.isMapped(held.mapping, held.size)) }
    }

    /// Guarded stacks past the cache are unmapped, and the guarded ones kept stay in the residency sample.
    @Test func guardedStacksPastTheCacheAreUnmapped() throws {
        let pool = StackPool(maxGuardedStacks: 16, maxCachedStacks: 4)
        let stacks = (0..<16).map { _ in pool.acquire() }
        pool.release(contentsOf: stacks)
        #expect(pool.stats.guardedMapped == 4)
        var rng = SeededRandom(state: 2)
        let r = try #require(pool.sampleResidency(limit: 1000, using: &rng))
        #expect(r.stacksMapped == 4)
    }
}
