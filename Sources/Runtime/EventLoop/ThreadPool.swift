// ThreadPool: asyncio's `to_thread` executor. A fixed set of OS threads takes blocking closures
// from one FIFO queue; the awaiting task resumes on its own executor (the loop) when the closure
// returns. One pool may be shared by the loops of a `LoopGroup`.
//
// Design: a mutex-protected Deque plus a counting semaphore (one post per item, so a worker sleeps
// exactly while the queue is empty). Rejected: a lock-free MPMC queue (blocking closures take
// micro- to milliseconds, the lock is never the bottleneck) and spinning workers (would steal
// CPU from the loops on a 2-core machine).
//
// Ownership: `submit` and the metrics from any thread; the workers own nothing but their turn.

import DequeModule
import Glibc
import Synchronization

/// Typed errors of `toThread`.
public enum ThreadPoolError: Error, Equatable, Sendable {
    /// The pool was shut down before the work could run.
    case shutDown
    /// The loop has no pool (`EventLoop.Configuration.pool` is nil).
    case noPool
}

/// Point-in-time pool figures. Plain values, read without blocking the workers for long.
public struct ThreadPoolMetrics: Sendable, Equatable {
    public var threads: Int
    public var busy: Int
    public var queueDepth: Int
    public var maxQueueDepth: Int
    public var completed: UInt64
    public var shared: Bool
}

public final class ThreadPool: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is a LoopLock or an Atomic; `semaphore` points to a
    // sem_t, which is itself a thread-safe kernel/futex object, allocated in init, freed in deinit.
    public let name: String
    public let threadCount: Int
    /// True when the loops of a group share this pool (display only).
    public let shared: Bool

    private struct State {
        var queue = Deque<@Sendable () -> Void>()
        var shuttingDown = false
        var maxDepth = 0
    }
    private let state = LoopLock(State())
    /// Counts queued items; workers sleep on it. Allocated once, destroyed in deinit.
    private let semaphore: UnsafeMutablePointer<sem_t>
    private let threads = LoopLock<[EventLoopThread]>([])
    // relaxed (all three): statistics for the dashboard; no other memory is published through them.
    private let busyCount = Atomic<Int>(0)
    private let depth = Atomic<Int>(0)
    private let completedCount = Atomic<UInt64>(0)

    /// Starts `threads` workers now.
    public init(threads: Int, name: String = "qv-pool", shared: Bool = false) {
        precondition(threads >= 1, "ThreadPool needs at least one thread")
        self.name = name
        self.threadCount = threads
        self.shared = shared
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
        var started: [EventLoopThread] = []
        for i in 0..<threads {
            started.append(EventLoopThread.start(name: "\(name)-\(i)") { [self] in workerLoop() })
        }
        self.threads.withLock { $0 = started }
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Queues `work` for a worker. Any thread. Returns false (and drops `work`) after shutdown.
    @discardableResult
    public func submit(_ work: @escaping @Sendable () -> Void) -> Bool {
        let ok = state.withLock { s -> Bool in
            if s.shuttingDown { return false }
            s.queue.append(work)
            s.maxDepth = max(s.maxDepth, s.queue.count)
            return true
        }
        if !ok { return false }
        depth.add(1, ordering: .relaxed)
        sem_post(semaphore)
        return true
    }

    /// Runs `body` on a worker and returns its result to the caller's executor. Any task.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
            let queued = submit {
                cont.resume(with: Result { try body() })
            }
            if !queued { cont.resume(throwing: ThreadPoolError.shutDown) }
        }
    }

    private func workerLoop() {
        while true {
            while sem_wait(semaphore) != 0 {}  // EINTR: retry
            let item = state.withLock { s -> (@Sendable () -> Void)? in s.queue.popFirst() }
            guard let work = item else { return }  // a shutdown post with an empty queue
            depth.subtract(1, ordering: .relaxed)
            busyCount.add(1, ordering: .relaxed)
            work()
            busyCount.subtract(1, ordering: .relaxed)
            completedCount.add(1, ordering: .relaxed)
        }
    }

    /// Stops accepting work, lets the workers finish what is queued, and joins them. Idempotent.
    /// Call from a thread that is not a worker of this pool.
    public func shutdown() {
        let first = state.withLock { s -> Bool in
            defer { s.shuttingDown = true }
            return !s.shuttingDown
        }
        guard first else { return }
        for _ in 0..<threadCount { sem_post(semaphore) }
        let toJoin = threads.withLock { t -> [EventLoopThread] in
            defer { t = [] }
            return t
        }
        for t in toJoin { t.join() }
    }

    public var metrics: ThreadPoolMetrics {
        ThreadPoolMetrics(
            threads: threadCount, busy: busyCount.load(ordering: .relaxed),
            queueDepth: max(0, depth.load(ordering: .relaxed)),
            maxQueueDepth: state.withLock { $0.maxDepth },
            completed: completedCount.load(ordering: .relaxed), shared: shared)
    }
}
