// LoopLock: a pthread mutex around a value, for the loop area's few cross-thread structures.
//
// Why not `Synchronization.Mutex`: on Linux it locks with raw futex calls inside the (uninstrumented)
// standard library, so ThreadSanitizer cannot see its happens-before edges and reports every access
// it protects as a race. pthread_mutex_lock is intercepted by TSan, so CI's
// `swift test --sanitize=thread` checks the code as written.

import Glibc

final class LoopLock<Value>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only touched while `mutex` is held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t> = .allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Blocks until the lock is free. Never call from the loop thread on a lock a reader may hold long.
    @inline(__always)
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }

    /// Runs `body` only if the lock is free right now; nil otherwise. Never blocks.
    @inline(__always)
    func withLockIfAvailable<R>(_ body: (inout Value) throws -> R) rethrows -> R? {
        if pthread_mutex_trylock(mutex) != 0 { return nil }
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
