import CRuntime
import Foundation
import Testing

@testable import Runtime

/// Past a memory limit a fiber's stack cannot be mapped: the scheduler must not start that fiber and must say
/// why (`Scheduler.stackRefusal`, which the models turn into the limit banner), never crash (issue 15).
/// The limit is real: a child process (an exit test) lowers its own RLIMIT_AS just above what it uses, then
/// spawns more fibers than the rest of its address space holds stacks for.
@Suite(.enabled(if: qv_fiber_tsan_enabled() == 0, "TSan reserves its shadow memory: RLIMIT_AS cannot be lowered"))
struct StackRefusalTests {
    @Test func aStackRefusedByTheKernelCancelsTheFiberAndIsReportedNotACrash() async {
        await #expect(processExitsWith: .success) {
            StackRefusalTests.spawnPastTheAddressSpaceLimit()
        }
    }

    /// Fibers spawned past the limit.
    static let fibers = 2_000

    /// In the child only: exits 0 when every fiber either parked or was refused with the limit reported.
    static func spawnPastTheAddressSpaceLimit() {
        let pool = StackPool(guardPages: false, maxCachedStacks: 4096, slabStacks: 64)
        let s = try! Scheduler(Scheduler.Configuration(carriers: 2), stackPool: pool)
        // Warm up: both carriers run fibers (their thread stacks, malloc arenas and stack caches exist), so what
        // the lowered limit refuses below is the stack slabs.
        for _ in 0..<200 { _ = s.spawn { Scheduler.yield() } }
        while s.metrics().fibers.total > 0 { usleep(1_000) }
        let size = ParkedTeardownTests.statm().size
        // 24 MiB above today's address space: room for a few 4 MiB slabs of 64 stacks, not for 2,000 stacks.
        var limit = rlimit(rlim_cur: rlim_t(size + (24 << 20)), rlim_max: rlim_t.max)
        guard setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0 else { exit(3) }
        let handles = (0..<fibers).map { _ in s.spawn { Scheduler.sleep(nanoseconds: 3_600_000_000_000) } }
        // Every fiber either parks or is refused (completed cancelled, counted as finished).
        let deadline = qv_now_ns() + 20_000_000_000
        func settled() -> Bool { s.metrics().fibers.parkedSleep + Int(s.stackRefusal?.fibers ?? 0) >= fibers }
        while !settled() && qv_now_ns() < deadline { usleep(10_000) }
        let refusal = s.stackRefusal
        let cancelled = handles.filter(\.isCancelled).count
        let parked = s.metrics().fibers.parkedSleep
        limit.rlim_cur = rlim_t.max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        s.shutdown()
        guard let refusal else { exit(4) }  // the limit was not reached, or not reported
        guard refusal.last.errno == ENOMEM, refusal.last.stacks == 64 else { exit(5) }
        guard Int(refusal.fibers) == cancelled, parked + cancelled == fibers, parked > 0 else { exit(6) }
        guard refusal.description.hasPrefix("fiber stacks: the kernel refused a mapping of 64 stacks") else { exit(7) }
        exit(0)
    }
}
