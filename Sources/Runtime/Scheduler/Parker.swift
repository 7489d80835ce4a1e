// Parker: puts one carrier thread to sleep until another thread unparks it (a one-permit semaphore,
// as Rust's `std::thread::park` or Go's `notesleep`/`notewakeup`).
//
// States (the permit):
//
//     empty    --park()-->            parked      (sleeper, under the mutex, then waits on the condition)
//     empty    --unpark()-->          notified    (the permit is stored; the next park returns at once)
//     parked   --unpark()-->          notified    (waker then signals the condition under the mutex)
//     notified --park() returns-->    empty
//     empty    --parkInPoller()-->    polling     (sleeper blocks in epoll_wait instead of the condition)
//     polling  --unpark()-->          notified    (waker writes the poller's eventfd)
//
// No lost wake-up: the waker swaps the state to `notified` before looking at what the sleeper does;
// a sleeper only blocks after a successful CAS from `empty`, and takes the mutex before that CAS, so the
// waker's signal (also under the mutex) cannot fall between the CAS and the wait.
import CRuntime
import Glibc
import Synchronization

public final class Parker: @unchecked Sendable {
    // @unchecked Sendable: the pthread mutex/condition are raw memory used only through pthread calls,
    // which are thread-safe by contract; `state` is atomic.
    private static let empty = 0
    private static let parked = 1
    private static let notified = 2
    private static let polling = 3

    private let state = Atomic<Int>(0)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    public init() {
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Sleeps until unparked or until the monotonic clock reaches `deadline` (ns, 0 = none).
    /// Executed only by the owning thread. Returns true when woken by an unpark (permit consumed).
    @discardableResult
    public func park(deadline: UInt64 = 0) -> Bool {
        if state.compareExchange(expected: Self.notified, desired: Self.empty, ordering: .sequentiallyConsistent)
            .exchanged
        {
            return true
        }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if !state.compareExchange(expected: Self.empty, desired: Self.parked, ordering: .sequentiallyConsistent)
            .exchanged
        {
            // Must be `notified`: consume it.
            state.store(Self.empty, ordering: .sequentiallyConsistent)
            return true
        }
        while true {
            if deadline == 0 {
                pthread_cond_wait(cond, mutex)
            } else {
                var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                let rc = pthread_cond_timedwait(cond, mutex, &ts)
                if rc == ETIMEDOUT {
                    // Either still parked (timed out) or notified meanwhile; both end with empty.
                    let prev = state.exchange(Self.empty, ordering: .sequentiallyConsistent)
                    return prev == Self.notified
                }
            }
            if state.compareExchange(expected: Self.notified, desired: Self.empty, ordering: .sequentiallyConsistent)
                .exchanged
            {
                return true
            }
            // Spurious wake-up: wait again.
        }
    }

    /// Marks the thread as sleeping in the poller (`poller.wait`) so `unpark` writes its eventfd.
    /// Returns false when a permit was already stored (consumed; don't sleep). Owning thread only.
    public func beginPolling() -> Bool {
        if state.compareExchange(expected: Self.empty, desired: Self.polling, ordering: .sequentiallyConsistent)
            .exchanged
        {
            return true
        }
        state.store(Self.empty, ordering: .sequentiallyConsistent)
        return false
    }

    /// Ends a poller sleep. Returns true when it was ended by an unpark. Owning thread only.
    @discardableResult
    public func endPolling() -> Bool {
        state.exchange(Self.empty, ordering: .sequentiallyConsistent) == Self.notified
    }

    /// Wakes the owner (or stores the permit). Any thread. `poller` is signalled when the owner polls.
    public func unpark(poller: Poller?) {
        let prev = state.exchange(Self.notified, ordering: .sequentiallyConsistent)
        switch prev {
        case Self.parked:
            // Taking the mutex orders this signal after the sleeper's wait began (see the essay).
            pthread_mutex_lock(mutex)
            pthread_mutex_unlock(mutex)
            pthread_cond_signal(cond)
        case Self.polling:
            poller?.wake()
        default:
            break
        }
    }
}
