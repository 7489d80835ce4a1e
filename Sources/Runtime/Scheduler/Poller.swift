// Poller: epoll readiness for parked fibers, integrated with idle parking (Go's netpoll).
//
// One epoll instance per scheduler (an EpollSet, the runtime's one epoll layer) holds three kinds of registrations:
// - the wake eventfd (token 0): `wake()` makes a thread blocked in `wait` return (a new runnable fiber,
//   an earlier timer, shutdown);
// - a timerfd (token 1): the blocked thread arms it at the next timer deadline, so sleeps wake with
//   nanosecond precision instead of epoll_wait's whole milliseconds;
// - one-shot I/O registrations (tokens ≥ 2): `arm(fd:events:token:)` re-arms an fd with EPOLLONESHOT, so
//   each readiness event is reported to exactly one caller. One registration per fd: its mask is the union of
//   what the fd's waiters want and its token a registration id (FdWaits keeps both; see FdWaits.swift).
//
// Ownership: at most one carrier blocks in `wait(deadline:)` at a time (the scheduler's poller owner, see
// Scheduler.swift); any carrier may call `poll()` (non-blocking) or `wake()` or `arm`. Non-blocking polls
// never drain the eventfd or the timerfd, so they cannot steal the blocked owner's wake-up (both are
// level-triggered).
import CRuntime
import Glibc
import Synchronization

/// One readiness report: the registration's token and the events epoll reported (EPOLLIN, EPOLLOUT, EPOLLERR,
/// EPOLLHUP, EPOLLRDHUP).
public struct PollerEvent: Sendable, Equatable {
    public var token: UInt64
    public var events: UInt32
}

/// Errors of the I/O layer, with the syscall's errno.
public enum PollerError: Error, Equatable, Sendable {
    case epollCreate(errno: Int32)
    case eventfd(errno: Int32)
    case timerfd(errno: Int32)
    case register(fd: Int32, errno: Int32)
}

public final class Poller: @unchecked Sendable {
    // @unchecked Sendable: the fds are immutable after init and the kernel serialises epoll calls.
    public static let wakeToken: UInt64 = 0
    public static let timerToken: UInt64 = 1

    /// Pollers alive in the process (each owns three fds): a leak check for tests.
    public static var liveCount: Int { live.load(ordering: .relaxed) }  // relaxed: gauge.
    private static let live = Atomic<Int>(0)

    private let epoll: EpollSet
    private let timerfd: Int32

    public init() throws(PollerError) {
        do {
            epoll = try EpollSet(wakeToken: Self.wakeToken)
        } catch {
            throw error.call == "eventfd" ? .eventfd(errno: error.errno) : .epollCreate(errno: error.errno)
        }
        let tf = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_NONBLOCK | TFD_CLOEXEC))
        if tf < 0 { throw .timerfd(errno: qv_errno()) }
        timerfd = tf
        if let e = epoll.addControl(fd: tf, events: qv_EPOLLIN(), token: Self.timerToken) {
            close(tf)
            throw .timerfd(errno: e)
        }
        Self.live.add(1, ordering: .relaxed)  // relaxed: gauge.
    }

    deinit {
        Self.live.subtract(1, ordering: .relaxed)  // relaxed: gauge.
        close(timerfd)
        epoll.close()
    }

    /// Makes a thread blocked in `wait` return. Any thread.
    public func wake() { epoll.wake() }

    /// Arms `fd` for one readiness report of `events` (EPOLLIN / EPOLLOUT) carrying `token` (≥ 2), replacing the
    /// fd's registration if it has one (epoll keeps one per fd). Any thread.
    public func arm(fd: Int32, events: UInt32, token: UInt64) throws(PollerError) {
        if let e = epoll.arm(fd: fd, events: events | qv_EPOLLRDHUP(), token: token) {
            throw .register(fd: fd, errno: e)
        }
    }

    /// Forgets `fd` (before closing it while a registration may still be armed). Any thread.
    public func disarm(fd: Int32) { epoll.remove(fd: fd) }

    /// Reports ready I/O tokens without blocking. Any thread.
    public func poll(_ ready: (PollerEvent) -> Void) { collect(timeoutNanos: 0, drainControl: false, ready) }

    /// Blocks until an I/O token is ready, `wake()` is called or the monotonic clock reaches `deadline`
    /// (ns; 0 = no deadline). Only the poller owner calls this.
    public func wait(deadline: UInt64, _ ready: (PollerEvent) -> Void) {
        var its = itimerspec()
        if deadline != 0 {
            its.it_value.tv_sec = Int(deadline / 1_000_000_000)
            its.it_value.tv_nsec = Int(deadline % 1_000_000_000)
            if its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0 { its.it_value.tv_nsec = 1 }
        }
        // An all-zero value disarms the timer (no deadline).
        timerfd_settime(timerfd, Int32(TFD_TIMER_ABSTIME), &its, nil)
        collect(timeoutNanos: -1, drainControl: true, ready)
    }

    private func collect(timeoutNanos: Int64, drainControl: Bool, _ ready: (PollerEvent) -> Void) {
        _ = epoll.wait(timeoutNanos: timeoutNanos) { token, events in
            if token == Self.wakeToken {
                if drainControl { epoll.drainWake() }
            } else if token == Self.timerToken {
                if drainControl {
                    var v: UInt64 = 0
                    _ = read(timerfd, &v, 8)
                }
            } else {
                ready(PollerEvent(token: token, events: events))
            }
        }
    }
}
