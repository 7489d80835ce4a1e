// Locked: a value behind a pthread mutex — the runtime's one lock type (scheduler, event loop, pool, metrics).
//
// Why not `Synchronization.Mutex`: on Linux its lock and unlock run inside the (uninstrumented) Swift
// runtime, so ThreadSanitizer does not see the happens-before edge they create and reports every access
// under the lock as a race (observed here: Deque accesses inside `Mutex.withLock` flagged between threads).
// ThreadSanitizer intercepts `pthread_mutex_lock`, so with this type `swift test --sanitize=thread` checks
// the real locking discipline. The uncontended cost is the same order (one CAS each way).
import Glibc

public final class Locked<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched inside withLock, i.e. under `mutex`.
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline @exclusivity(unchecked) var value: Value
    // @exclusivity(unchecked): every access is inside withLock, which the mutex already makes exclusive.

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value. Never call it again from inside `body`.
    @inlinable
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Like `withLock`, but returns nil instead of waiting when another thread holds the lock.
    @inlinable
    public func withLockIfAvailable<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        guard pthread_mutex_trylock(mutex) == 0 else { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
