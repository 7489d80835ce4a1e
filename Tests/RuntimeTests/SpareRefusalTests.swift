import CRuntime
import Foundation
import Testing

@testable import Runtime

/// Past a system limit a spare carrier's thread cannot be created: a `blocking {}` region under `handoff` must then
/// run pinned — what the essay in Scheduler.swift promises when no spare may be had — never trap. The limit is real:
/// a child process (an exit test) lowers its own RLIMIT_AS to 4 MiB above what it uses, so the kernel refuses the
/// 8 MiB stack of a new thread. (CI's TSan run once died here with SIGILL: under load the monitor's retake asked for
/// a spare past the stack-refusal test's limit, and `OSThread.spawn` trapped.)
@Suite(.enabled(if: qv_fiber_tsan_enabled() == 0, "TSan reserves its shadow memory: RLIMIT_AS cannot be lowered"))
struct SpareRefusalTests {
    @Test func aHandoffWithNoThreadForASpareRunsPinned() async {
        await #expect(processExitsWith: .success) {
            SpareRefusalTests.blockPastTheThreadLimit()
        }
    }

    /// In the child only: exits 0 when the region ran pinned and the refused spare was counted.
    static func blockPastTheThreadLimit() {
        // No monitor: the only spare asked for is the handoff's.
        let s = try! Scheduler(Scheduler.Configuration(carriers: 1, blocking: .handoff, hogThresholdNanos: 0))
        for _ in 0..<50 { _ = s.spawn { Scheduler.yield() } }
        while s.metrics().fibers.total > 0 { usleep(1_000) }
        let size = ParkedTeardownTests.statm().size
        var limit = rlimit(rlim_cur: rlim_t(size + (4 << 20)), rlim_max: rlim_t.max)
        guard setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0 else { exit(3) }
        let h = s.spawn { () -> Int in
            Scheduler.blocking { usleep(20_000) }
            return 1
        }
        let ran = try? h.tryJoin()
        limit.rlim_cur = rlim_t.max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        let pinned = s.pinBegins.load(ordering: .relaxed)  // relaxed: read after the join.
        let handedOff = s.handoffBegins.load(ordering: .relaxed)  // relaxed: as above.
        let refused = s.spareCarrierRefusals
        s.shutdown()
        guard ran == 1 else { exit(4) }
        guard pinned == 1, handedOff == 0 else { exit(5) }
        guard refused == 1 else { exit(6) }
        exit(0)
    }

    /// The same limit before a scheduler starts: `Scheduler.init` throws `threadRefused` for its carriers' threads
    /// instead of trapping, and leaves no thread running.
    @Test func aSchedulerWhoseCarriersTheSystemRefusesThrows() async {
        await #expect(processExitsWith: .success) {
            SpareRefusalTests.startPastTheThreadLimit()
        }
    }

    /// In the child only: exits 0 when the scheduler's start threw `threadRefused` and no carrier is left running.
    static func startPastTheThreadLimit() {
        let before = Scheduler.liveThreads.load(ordering: .relaxed)  // relaxed: no thread of ours runs yet.
        let size = ParkedTeardownTests.statm().size
        var limit = rlimit(rlim_cur: rlim_t(size + (4 << 20)), rlim_max: rlim_t.max)
        guard setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0 else { exit(3) }
        var thrown: SchedulerError? = nil
        do {
            let s = try Scheduler(Scheduler.Configuration(carriers: 2))
            s.shutdown()
        } catch {
            thrown = error
        }
        limit.rlim_cur = rlim_t.max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        guard case .threadRefused = thrown else { exit(4) }
        guard Scheduler.liveThreads.load(ordering: .relaxed) == before else { exit(5) }  // relaxed: after joins.
        exit(0)
    }
}
