import CRuntime
import Foundation
import Testing

@testable import Runtime

/// Past a system limit the event loops' and the `to_thread` pool's threads cannot be created: `EventLoop`,
/// `ThreadPool` and `MultiLoop` then throw a typed error, after stopping and joining the threads they did start,
/// and never trap (they used `OSThread.spawn`, which does: the preset switch that asked for them died with SIGILL).
/// The limit is real: a child process (an exit test) lowers its own RLIMIT_AS a few MiB above what it uses, so
/// the kernel refuses the 8 MiB stack of a new thread.
@Suite(.enabled(if: qv_fiber_tsan_enabled() == 0, "TSan reserves its shadow memory: RLIMIT_AS cannot be lowered"))
struct LoopThreadRefusalTests {
    /// In the child only: with RLIMIT_AS `headroom` bytes above the process's size, runs `start` (which starts and
    /// shuts down a loop or pool), lifts the limit and exits 0 when it threw an error that `isRefusal` accepts and
    /// left no thread behind; 4 when it did not throw, 5 when threads are left, 6 for another error.
    static func startPastTheThreadLimit(
        headroom: UInt64, _ start: () throws -> Void, isRefusal: (any Error) -> Bool
    ) -> Never {
        let threads = ParkedTeardownTests.threadCount()
        let size = ParkedTeardownTests.statm().size
        var limit = rlimit(rlim_cur: rlim_t(size + headroom), rlim_max: rlim_t.max)
        guard setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0 else { exit(3) }
        var status: Int32 = 4
        do {
            try start()
        } catch {
            status = !isRefusal(error) ? 6 : noThreadLeft(besides: threads) ? 0 : 5
        }
        limit.rlim_cur = rlim_t.max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        exit(status)
    }

    /// True once the process is back to `threads` threads, within 2 s: a joined thread can still be listed in
    /// /proc/self/task for a moment after `pthread_join` returns (the kernel clears its tid, which wakes the
    /// joiner, before it releases the task), so a count taken at once can see it (seen once in CI). A thread
    /// truly left behind keeps the count up for the whole wait.
    static func noThreadLeft(besides threads: Int) -> Bool {
        for _ in 0..<200 {
            if ParkedTeardownTests.threadCount() == threads { return true }
            usleep(10_000)
        }
        return false
    }

    @Test func anEventLoopWhoseThreadTheSystemRefusesThrows() async {
        await #expect(processExitsWith: .success) {
            LoopThreadRefusalTests.startPastTheThreadLimit(headroom: 4 << 20) {
                try EventLoop(name: "refused").shutdown()
            } isRefusal: {
                guard case LoopError.threadRefused = $0 else { return false }
                return true
            }
        }
    }

    /// A pool of four whose later threads are refused: the ones it started are stopped and joined.
    @Test func aPoolWhoseThreadsTheSystemRefusesThrowsAndJoinsTheStartedOnes() async {
        await #expect(processExitsWith: .success) {
            LoopThreadRefusalTests.startPastTheThreadLimit(headroom: 12 << 20) {
                try ThreadPool(threads: 4, name: "refused").shutdown()
            } isRefusal: {
                $0 is OSThread.StartError
            }
        }
    }

    @Test func aMultiLoopWhoseThreadsTheSystemRefusesThrowsAndJoinsTheStartedOnes() async {
        await #expect(processExitsWith: .success) {
            LoopThreadRefusalTests.startPastTheThreadLimit(headroom: 12 << 20) {
                try MultiLoop(name: "refused", threads: 4).shutdown()
            } isRefusal: {
                guard case MultiLoopError.threadRefused = $0 else { return false }
                return true
            }
        }
    }
}
