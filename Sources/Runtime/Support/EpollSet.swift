// EpollSet: the runtime's one epoll layer — an epoll instance with a wake-up eventfd — under the scheduler's
// Poller and the event loop's Selector.
//
// Both need the same four things: register an fd one-shot under a 64-bit token (ADD the first time, MOD after),
// delete a registration, wait with a timeout and get (token, events) pairs, and let another thread make a waiter
// return (an eventfd registered under a token of the owner's choice, reported to `wait`'s caller as
// `isWake`). What differs stays with them: the Poller's timerfd and its rule that non-blocking polls never drain
// the wake-up; the Selector's sleeping flag (its wake-up protocol) and its close at loop stop.
//
// The wait takes nanoseconds (epoll_pwait2; kernels before 5.11 get epoll_wait with the timeout rounded up to
// whole ms — late, never early: loop_shims.c). -1 waits until an event or a wake-up, 0 polls.
//
// Ownership: `arm`, `remove`, `wake` from any thread (the kernel serialises epoll_ctl and eventfd writes);
// `wait` and `drainWake` from the owner's waiting thread(s); `close` once, when no thread can use it any more.
import CRuntime
import Glibc

final class EpollSet: @unchecked Sendable {
    // @unchecked Sendable: the fds are immutable after init and the kernel serialises every call on them;
    // `closed` is written only by `close`, which the owner calls when no other thread uses the set.
    let epfd: Int32
    let wakefd: Int32
    let wakeToken: UInt64
    private(set) var closed = false

    /// A new epoll instance with its wake eventfd registered under `wakeToken`. Throws the failing call and errno.
    init(wakeToken: UInt64) throws(EpollSetError) {
        let ep = qv_epoll_create()
        if ep < 0 { throw EpollSetError(call: "epoll_create1", errno: qv_errno()) }
        let ev = qv_eventfd(0, qv_EFD_NONBLOCK() | qv_EFD_CLOEXEC())
        if ev < 0 {
            let e = qv_errno()
            Glibc.close(ep)
            throw EpollSetError(call: "eventfd", errno: e)
        }
        if qv_epoll_ctl(ep, qv_EPOLL_CTL_ADD(), ev, qv_EPOLLIN(), wakeToken) != 0 {
            let e = qv_errno()
            Glibc.close(ep)
            Glibc.close(ev)
            throw EpollSetError(call: "epoll_ctl(eventfd)", errno: e)
        }
        epfd = ep
        wakefd = ev
        self.wakeToken = wakeToken
    }

    deinit { close() }

    /// Closes both fds. Idempotent; the owner, when no other thread uses the set.
    func close() {
        if closed { return }
        closed = true
        _ = Glibc.close(epfd)
        _ = Glibc.close(wakefd)
    }

    /// Registers (or re-registers) `fd` for `events` (EPOLLONESHOT is added) carrying `token`: MOD, or ADD when the
    /// fd has no registration yet — `add` says which to try first. Returns nil or the errno. Any thread.
    func arm(fd: Int32, events: UInt32, token: UInt64, add: Bool = false) -> Int32? {
        let ev = events | qv_EPOLLONESHOT()
        let (first, second, retry) =
            add ? (qv_EPOLL_CTL_ADD(), qv_EPOLL_CTL_MOD(), EEXIST) : (qv_EPOLL_CTL_MOD(), qv_EPOLL_CTL_ADD(), ENOENT)
        if qv_epoll_ctl(epfd, first, fd, ev, token) == 0 { return nil }
        let e = qv_errno()
        if e == retry, qv_epoll_ctl(epfd, second, fd, ev, token) == 0 { return nil }
        return e == retry ? qv_errno() : e
    }

    /// Registers `fd` level-triggered (not one-shot) for `events` under `token`: a control fd. Returns nil or errno.
    func addControl(fd: Int32, events: UInt32, token: UInt64) -> Int32? {
        qv_epoll_ctl(epfd, qv_EPOLL_CTL_ADD(), fd, events, token) == 0 ? nil : qv_errno()
    }

    /// Deletes `fd`'s registration (before it is closed, or when nobody waits on it any more). Any thread.
    func remove(fd: Int32) { _ = qv_epoll_ctl(epfd, qv_EPOLL_CTL_DEL(), fd, 0, 0) }

    /// Makes a thread blocked in `wait` return (its wake-up token is reported). Any thread.
    func wake() { _ = qv_eventfd_signal(wakefd) }

    /// Resets the wake-up eventfd. The waiting thread, after `wait` reported `wakeToken`.
    func drainWake() { _ = qv_eventfd_drain(wakefd) }

    /// Waits up to `timeoutNanos` (-1: until an event or a wake-up; 0: poll) and calls `handle(token, events)`
    /// for each report, the wake-up's included (its token is `wakeToken`; the caller decides whether to drain
    /// it). Returns the number of reports. The owner's waiting thread.
    func wait(timeoutNanos: Int64, _ handle: (UInt64, UInt32) -> Void) -> Int {
        let max = 64
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: max) { evs in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max) { tokens in
                let n = qv_epoll_wait_ns(epfd, evs.baseAddress, tokens.baseAddress, Int32(max), timeoutNanos)
                if n <= 0 { return 0 }
                for i in 0..<Int(n) { handle(tokens[i], evs[i]) }
                return Int(n)
            }
        }
    }
}

/// A failed epoll or eventfd call, with its errno.
struct EpollSetError: Error, Equatable, Sendable {
    var call: String
    var errno: Int32
}
