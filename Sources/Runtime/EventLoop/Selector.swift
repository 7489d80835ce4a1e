// Selector: the loop's only blocking point. epoll for fd readiness, an eventfd other threads
// write to wake the loop, and a nanosecond timeout (epoll_pwait2) for the next timer deadline — an
// EpollSet (the runtime's one epoll layer) plus the loop's wake-up protocol.
//
// Wake-up protocol (no lost wake-ups, no syscall per cross-thread submission): the loop stores
// `sleeping = true`, re-checks its inbox, and only then blocks in epoll; a producer pushes into
// the inbox and, if it swaps `sleeping` from true to false, writes the eventfd. Both sides use
// sequentially consistent atomics, so either the loop sees the new item or the producer sees
// the sleeping flag (Dekker-style store-then-load on both sides).
//
// Ownership: `wait`, `arm`, `remove` run on the loop thread only; `wake` from any thread.

import CRuntime
import Glibc
import Synchronization

/// Typed errors of the loop's selector and fd waits.
public enum SelectorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed; `errno` as reported.
    case system(call: String, errno: Int32)

    public var description: String {
        switch self {
        case .system(let call, let errno): "\(call) failed: \(String(cString: strerror(errno)))"
        }
    }
}

final class Selector: @unchecked Sendable {
    // @unchecked Sendable: the epoll set is touched only by the loop thread (`wait`/`arm`/`remove`), and `wake`
    // only writes the eventfd, which the kernel orders.

    static let wakeToken: UInt64 = .max
    private let epoll: EpollSet
    /// True while the loop is (about to be) blocked in `wait` (see the wake-up protocol above).
    let sleeping = Atomic<Bool>(false)

    init() throws(SelectorError) {
        do {
            epoll = try EpollSet(wakeToken: Selector.wakeToken)
        } catch {
            throw .system(call: error.call, errno: error.errno)
        }
    }

    /// True once `close()` ran.
    var closed: Bool { epoll.closed }

    /// Closes both fds. Loop thread (or the owner after the loop thread has been joined).
    func close() { epoll.close() }

    /// Wakes a loop that is sleeping (or about to sleep). Any thread. Cheap when it is awake.
    @inline(__always)
    func wakeIfSleeping() {
        if sleeping.exchange(false, ordering: .sequentiallyConsistent) { epoll.wake() }
    }

    /// Wakes the loop unconditionally (shutdown). Any thread.
    func wake() { epoll.wake() }

    /// Arms a one-shot readiness interest for `fd` (EPOLLIN and/or EPOLLOUT); `token` comes back with
    /// the event. `add`: the fd is not registered yet (ADD first, else MOD first). Loop thread only.
    func arm(fd: Int32, events mask: UInt32, token: UInt64, add: Bool) throws(SelectorError) {
        if let e = epoll.arm(fd: fd, events: mask, token: token, add: add) {
            throw .system(call: "epoll_ctl", errno: e)
        }
    }

    /// Removes `fd` from the interest set. Loop thread only.
    func remove(fd: Int32) { epoll.remove(fd: fd) }

    /// Blocks up to `timeoutNanos` (-1 = until woken) and calls `handle(token, events)` for each
    /// ready fd (the wake-up eventfd is drained and not reported). Loop thread only.
    func wait(timeoutNanos: Int64, _ handle: (UInt64, UInt32) -> Void) -> Int {
        epoll.wait(timeoutNanos: timeoutNanos) { token, events in
            if token == Selector.wakeToken { epoll.drainWake() } else { handle(token, events) }
        }
    }
}
