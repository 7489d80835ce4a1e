// SpinLock: the lock fiber code may take. No thread identity, no thread-local state.
//
// # Why fiber code needs its own lock
// A fiber may resume on another carrier after any park (`Scheduler.sleep`, a channel, a socket read,
// a join). The optimizer assumes a function runs on one thread from start to end, so it may compute
// a thread-local address, or read a thread id, once and reuse it after the park — on the new carrier,
// the value is the old carrier's. Locks that record or cache their owner's identity then break:
// `Synchronization.Mutex` on Linux stores the owner's tid, read through a `static __thread` cache
// inlined into the caller (`_swift_stdlib_gettid` in `_SynchronizationShims.h`); after a migration
// it locks with the previous carrier's tid, and when a waiter queued in the kernel meanwhile, the
// unlock's `FUTEX_UNLOCK_PI` from the new carrier fails with EPERM and the standard library traps
// (issue 14, defect 0: `Illegal instruction` in `_MutexHandle._unlockSlow()`; docs/ARCHITECTURE.md,
// "Fiber code and thread identity"). `pthread_mutex` (error-checking and PI kinds), thread-locals
// and `pthread_self()` have the same hazard. The runtime cannot fix this inside those primitives: the
// stale address is in the caller's machine code.
//
// # Model
// One atomic word, 0 (free) or 1 (held). `withLock` tries a compare-exchange; while the word is
// held it spins on plain loads with a CPU pause hint, and after `spinLimit` rounds yields the OS
// thread (`sched_yield`) between tries, so a holder preempted by the kernel gets the core back.
// Nothing depends on who locks: a fiber may lock on one carrier and unlock on the same one (it never
// parks inside `withLock`, see below) or the lock may pass between fibers, carriers and plain threads.
//
// Rules for callers: the critical section is short and never parks (no sleep, channel, join or
// socket wait inside `body`): a fiber parked while holding the lock would make every other taker
// spin until it is resumed, which may need the very carrier that spins. It is not reentrant.
//
// # Rejected options
// - `FiberMutex` (Sync.swift): parks a waiting fiber instead of spinning, but needs a scheduler and
//   cannot be taken by a plain thread (the sampler).
// - Per-carrier statistics merged by the reader: no lock at all, but a fiber migrates between
//   carriers mid-task (a `begin` on one, an `end` on another), so every structure needs a registry
//   of carriers and a merge; a histogram record under an uncontended lock is ~20 ns.
// - A pthread mutex of the default (normal) kind: glibc does not check the owner on unlock, so it
//   works today, but that is an implementation detail of one libc and one mutex kind.
//
// # ThreadSanitizer
// The lock is built from Swift atomics, which are inlined into this module and instrumented, so TSan
// sees the happens-before edge: the acquiring compare-exchange synchronizes with the releasing store
// of the previous holder. Weaker orderings would hide it (TSan models only acquire/release).
import CRuntime
import Glibc
import Synchronization

/// A value behind a spin-then-yield lock that is safe in fiber code and on plain threads alike: it
/// records no owner and reads no thread-local state, so a fiber that migrated between carriers
/// across a park locks and unlocks it correctly. Keep the critical section short and never park in it.
public final class SpinLock<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched inside `withLock`/`withLockIfAvailable`, i.e. while
    // `word` is 1 and this caller set it.
    // @usableFromInline (and the @inlinable methods): `Channel.send`/`receive` are inlined into their callers'
    // modules, and a non-inlinable generic `withLock` was an unspecialised call with a closure per channel operation.
    @usableFromInline let word = Atomic<UInt32>(0)
    @usableFromInline @exclusivity(unchecked) var value: Value
    // @exclusivity(unchecked): every access is inside the lock, which already makes it exclusive.

    /// Spins (with a pause hint) before each yield of the OS thread.
    static var spinLimit: Int { 100 }

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with exclusive access to the value, waiting (spinning, then yielding the thread)
    /// while another fiber or thread holds it. Never park inside `body`; never call it again from
    /// inside `body`.
    @inlinable
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body(&value)
    }

    /// Like `withLock`, but returns nil at once instead of waiting when the lock is held.
    @inlinable
    public func withLockIfAvailable<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        // acquiring on success: pairs with the releasing store in `unlock` (TSan sees it); relaxed on
        // failure: nothing is read when the lock was not taken.
        guard
            word.compareExchange(expected: 0, desired: 1, successOrdering: .acquiring, failureOrdering: .relaxed)
                .exchanged
        else { return nil }
        defer { unlock() }
        return try body(&value)
    }

    @inlinable
    func lock() {
        // acquiring/relaxed: as in `withLockIfAvailable`. The uncontended case inline; the wait out of line.
        if word.compareExchange(expected: 0, desired: 1, successOrdering: .acquiring, failureOrdering: .relaxed)
            .exchanged
        {
            return
        }
        lockSlow()
    }

    @usableFromInline @inline(never)
    func lockSlow() {
        var spins = 0
        while true {
            // acquiring/relaxed: as in `withLockIfAvailable`.
            if word.compareExchange(expected: 0, desired: 1, successOrdering: .acquiring, failureOrdering: .relaxed)
                .exchanged
            {
                return
            }
            // relaxed: only a hint that the word may be free; the compare-exchange above orders.
            while word.load(ordering: .relaxed) != 0 {
                spins += 1
                if spins < Self.spinLimit {
                    qv_cpu_relax()
                } else {
                    sched_yield()
                }
            }
        }
    }

    @inlinable
    func unlock() {
        // releasing: publishes the critical section's writes to the next acquiring taker.
        word.store(0, ordering: .releasing)
    }
}
