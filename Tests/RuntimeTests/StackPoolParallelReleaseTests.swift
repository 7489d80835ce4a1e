import CRuntime
import Foundation
import Testing

@testable import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// A large bulk release (a scheduler's shutdown of many parked fibers) gives its ranges back on two threads of its
/// own (`StackPool.beginRelease(contentsOf:)`, `ParallelRelease`), while the caller goes on; `wait()` returns once
/// every range is unmapped and the threads are joined.
@Suite(.serialized) struct StackPoolParallelReleaseTests {
    /// Threads of this process now (`/proc/self/task`).
    static func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
    }

    /// The shares cover the ranges exactly, in order, cut only at page boundaries, each within a page of its part.
    @Test func sharesCoverTheRangesExactlyAndAboutEvenly() throws {
        let page = FiberStack.pageSize
        let base = try #require(UnsafeMutableRawPointer(bitPattern: 0x7f00_0000_0000))
        // Three runs with gaps between them: 10 pages, 1 page, 29 pages.
        let ranges: [(UnsafeMutableRawPointer, Int)] = [
            (base, 10 * page), (base + 20 * page, page), (base + 40 * page, 29 * page),
        ]
        for n in 1...4 {
            let shares = ParallelRelease.split(ranges, into: n)
            #expect(shares.count == n, "\(shares.count) shares for \(n)")
            let flat = shares.flatMap { $0 }
            // Adjacent pieces of one run are merged back to compare with the input.
            var merged: [(UInt, Int)] = []
            for (start, length) in flat {
                #expect(UInt(bitPattern: start) % UInt(page) == 0 && length % page == 0 && length > 0)
                if let last = merged.last, last.0 + UInt(last.1) == UInt(bitPattern: start) {
                    merged[merged.count - 1].1 += length
                } else {
                    merged.append((UInt(bitPattern: start), length))
                }
            }
            #expect(merged.map(\.0) == ranges.map { UInt(bitPattern: $0.0) })
            #expect(merged.map(\.1) == ranges.map(\.1))
            let total = 40 * page
            for share in shares {
                let bytes = share.reduce(0) { $0 + $1.1 }
                #expect(
                    abs(bytes - total / n) <= page * n, "a share of \(bytes / page) pages of \(total / page) for \(n)")
            }
        }
    }

    /// A batch past `ParallelRelease.minimumStacks`: every stack past the cache is unmapped once `wait()` returns, no
    /// thread is left behind, and the pool's counts are right.
    @Test func aLargeBatchIsUnmappedOnItsOwnThreadsByTheTimeWaitReturns() {
        let n = ParallelRelease.minimumStacks + 1_024  // whole slabs: none is kept by stacks that were never handed out
        let pool = StackPool(guardPages: false, maxCachedStacks: 64, slabStacks: 64)
        let stacks = (0..<n).map { _ in pool.acquire() }
        for s in stacks { s.stackTop.storeBytes(of: 0xAB, toByteOffset: -8, as: UInt8.self) }  // one page each
        let threads0 = Self.threadCount()
        let pending = pool.beginRelease(contentsOf: stacks)
        #expect(pending.threads.count == ParallelRelease.threads)
        pending.wait()
        // The process's threads, in the plain suite only (one test at a time there; CI's TSan step runs the suites in
        // parallel, so other tests' threads come and go in this count).
        if qv_fiber_tsan_enabled() == 0 {
            #expect(Self.threadCount() <= threads0, "threads \(threads0) → \(Self.threadCount()) after wait()")
        }
        let stats = pool.stats
        #expect(stats.inUse == 0)
        #expect(stats.free == 64, "free \(stats.free)")
        #expect(stats.slabStacks == 64, "\(stats.slabStacks) slab stacks mapped after the release")
        // The kernel's view, in the plain suite only (under TSan the suites run in parallel and another test's mmap
        // may take a range given back, which then reads as mapped).
        if qv_fiber_tsan_enabled() == 0 {
            let mapped = stacks.filter { StackPoolBulkReleaseTests.isMapped($0.mapping, $0.size) }.count
            #expect(mapped == 64, "\(mapped) of \(n) stacks still mapped (64 cached)")
        }
    }

    /// A small batch is given back before `beginRelease` returns, on the calling thread.
    @Test func aSmallBatchIsGivenBackInline() {
        let pool = StackPool(guardPages: false, maxCachedStacks: 0, slabStacks: 4)
        let stacks = (0..<8).map { _ in pool.acquire() }
        let pending = pool.beginRelease(contentsOf: stacks)
        #expect(pending.threads.isEmpty)
        if qv_fiber_tsan_enabled() == 0 {
            #expect(stacks.allSatisfy { !StackPoolBulkReleaseTests.isMapped($0.mapping, $0.size) })
        }
        pending.wait()
        #expect(pool.stats.slabStacks == 0)
    }
}
