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
    /// In the child only: runs `body` with RLIMIT_AS `headroom` bytes above the process's size, then lifts it.
    static func underAddressSpaceLimit(headroom: UInt64, _ body: () -> Int32) -> Never {
        let size = ParkedTeardownTests.statm().size
        var limit = rlimit(rlim_cur: rlim_t(size + headroom), rlim_max: rlim_t.max)
        guard setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit) == 0 else { exit(3) }
        let status = body()
        limit.rlim_cur = rlim_t.max
        _ = setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        exit(status)
    }

    @Test func anEventLoopWhoseThreadTheSystemRefusesThrows() async {
        await #expect(processExitsWith: .success) {
            let threads = ParkedTeardownTests.threadCount()
            LoopThreadRefusalTests.underAddressSpaceLimit(headroom: 4 << 20) {
                do {
                    let loop = try EventLoop(name: "refused")
                    loop.shutdown()
                    return 4
                } catch LoopError.threadRefused {
                    return ParkedTeardownTests.threadCount() == threads ? 0 : 5
                } catch {
                    return 6
                }
            }
        }
    }

    /// A pool of four whose later threads are refused: the ones it started are stopped and joined.
    @Test func aPoolWhoseThreadsTheSystemRefusesThrowsAndJoinsTheStartedOnes() async {
        await #expect(processExitsWith: .success) {
            let threads = ParkedTeardownTests.threadCount()
            LoopThreadRefusalTests.underAddressSpaceLimit(headroom: 12 << 20) {
                do {
                    let pool = try ThreadPool(threads: 4, name: "refused")
                    pool.shutdown()
                    return 4
                } catch {
                    return ParkedTeardownTests.threadCount() == threads ? 0 : 5
                }
            }
        }
    }

    @Test func aMultiLoopWhoseThreadsTheSystemRefusesThrowsAndJoinsTheStartedOnes() async {
        await #expect(processExitsWith: .success) {
            let threads = ParkedTeardownTests.threadCount()
            LoopThreadRefusalTests.underAddressSpaceLimit(headroom: 12 << 20) {
                do {
                    let loop = try MultiLoop(name: "refused", threads: 4)
                    loop.shutdown()
                    return 4
                } catch MultiLoopError.threadRefused {
                    return ParkedTeardownTests.threadCount() == threads ? 0 : 5
                } catch {
                    return 6
                }
            }
        }
    }
}
