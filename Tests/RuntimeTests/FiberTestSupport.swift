// Small pthread-based helpers for the fiber tests. pthread primitives on purpose: ThreadSanitizer
// intercepts them, so hand-offs through them are visible happens-before edges under --sanitize=thread.
import CRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A pthread mutex.
final class TestLock: @unchecked Sendable {
    // @unchecked Sendable: a pthread mutex is made to be shared between threads.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A counting semaphore (mutex + condition variable) whose waits time out.
final class TestSemaphore: @unchecked Sendable {
    // @unchecked Sendable: `count` is protected by `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var count = 0

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        pthread_cond_init(cond, nil)
    }
    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func signal() {
        pthread_mutex_lock(mutex)
        count += 1
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
    }

    /// False when `seconds` passed without a signal.
    func wait(seconds: Int) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += seconds
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while count == 0 {
            if pthread_cond_timedwait(cond, mutex, &deadline) == ETIMEDOUT, count == 0 { return false }
        }
        count -= 1
        return true
    }
}

/// A joinable OS thread running a closure.
final class TestThread: @unchecked Sendable {
    // @unchecked Sendable: `handle` is written once by start() before any other use and read by join().
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
    private var handle = pthread_t()

    init(_ body: @escaping @Sendable () -> Void) {
        // Unmanaged: the retained box travels to the new thread, which releases it.
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let rc = pthread_create(
            &handle, nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    func join() { pthread_join(handle, nil) }
}
