// Selector: the loop's only blocking point. epoll for fd readiness, an eventfd other threads
// write to wake the loop, and a nanosecond timeout (epoll_pwait2) for the next timer deadline.
//
// Wake-up protocol (no lost wake-ups, no syscall per cross-thread submission): the loop stores
// `sleeping = true`, re-checks its inbox, and only then blocks in epoll; a producer pushes into
// the inbox and, if it swaps `sleeping` from true to false, writes the eventfd. Both sides use
// sequentially consistent atomics, so either the loop sees the new item or the producer sees
// the sleeping flag (Dekker-style store-then-load on both sides).
//
// Ownership: `wait`, `register`, `unregister` run on the loop thread only; `wake` from any thread.

import CRuntime
import Glibc
import Synchronization

/// Typed errors of the loop's selector and fd waits.
public enum SelectorError: Error, Equatable, Sendable {
    /// A system call failed; `errno` as reported.
    case system(call: String, errno: Int32)
}

final class Selector: @unchecked Sendable {
    // @unchecked Sendable: the fds are immutable after init; epoll state is touched only by the
    // loop thread (`wait`/`register`), and `wake` only writes the eventfd, which the kernel orders.

    static let wakeToken: UInt64 = .max
    let epfd: Int32
    let wakefd: Int32
    /// True while the loop is (about to be) blocked in `wait` (see the wake-up protocol above).
    let sleeping = Atomic<Bool>(false)
    // protected by the loop thread
    private var events = [UInt32](repeating: 0, count: 64)
    // protected by the loop thread
    private var tokens = [UInt64](repeating: 0, count: 64)
    // protected by the loop thread
    private(set) var closed = false

    init() throws(SelectorError) {
        let ep = qv_epoll_create()
        if ep < 0 { throw .system(call: "epoll_create1", errno: qv_errno()) }
        let ev = qv_eventfd(0, qv_EFD_NONBLOCK() | qv_EFD_CLOEXEC())
        if ev < 0 {
            let e = qv_errno()
            Glibc.close(ep)
            throw .system(call: "eventfd", errno: e)
        }
        if qv_epoll_ctl(ep, qv_EPOLL_CTL_ADD(), ev, qv_EPOLLIN(), Selector.wakeToken) != 0 {
            let e = qv_errno()
            Glibc.close(ep)
            Glibc.close(ev)
            throw .system(call: "epoll_ctl(eventfd)", errno: e)
        }
        epfd = ep
        wakefd = ev
    }

    /// Closes both fds. Loop thread (or the owner after the loop thread has been joined).
    func close() {
        if closed { return }
        closed = true
        _ = Glibc.close(epfd)
        _ = Glibc.close(wakefd)
    }

    deinit { close() }

    /// Wakes a loop that is sleeping (or about to sleep). Any thread. Cheap when it is awake.
    @inline(__always)
    func wakeIfSleeping() {
        if sleeping.exchange(false, ordering: .sequentiallyConsistent) {
            _ = qv_eventfd_signal(wakefd)
        }
    }

    /// Wakes the loop unconditionally (shutdown). Any thread.
    func wake() {
        _ = qv_eventfd_signal(wakefd)
    }

    /// Arms a one-shot readiness interest for `fd` (EPOLLIN or EPOLLOUT); `token` comes back with
    /// the event. Loop thread only.
    func arm(fd: Int32, events mask: UInt32, token: UInt64, add: Bool) throws(SelectorError) {
        let op = add ? qv_EPOLL_CTL_ADD() : qv_EPOLL_CTL_MOD()
        if qv_epoll_ctl(epfd, op, fd, mask | qv_EPOLLONESHOT(), token) != 0 {
            throw .system(call: "epoll_ctl", errno: qv_errno())
        }
    }

    /// Removes `fd` from the interest set. Loop thread only.
    func remove(fd: Int32) {
        _ = qv_epoll_ctl(epfd, qv_EPOLL_CTL_DEL(), fd, 0, 0)
    }

    /// Blocks up to `timeoutNanos` (-1 = until woken) and calls `handle(token, events)` for each
    /// ready fd (the wake-up eventfd is drained and not reported). Loop thread only.
    func wait(timeoutNanos: Int64, _ handle: (UInt64, UInt32) -> Void) -> Int {
        let n = events.withUnsafeMutableBufferPointer { ev in
            tokens.withUnsafeMutableBufferPointer { tk in
                qv_epoll_wait_ns(epfd, ev.baseAddress, tk.baseAddress, Int32(ev.count), timeoutNanos)
            }
        }
        if n <= 0 { return 0 }
        for i in 0..<Int(n) {
            if tokens[i] == Selector.wakeToken {
                _ = qv_eventfd_drain(wakefd)
            } else {
                handle(tokens[i], events[i])
            }
        }
        return Int(n)
    }
}
