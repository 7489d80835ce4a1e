// ThreadPool: asyncio's `to_thread` executor. A fixed set of OS threads takes blocking closures
// from one FIFO queue; the awaiting task resumes on its own executor (the loop) when the closure
// returns. One pool may be shared by the loops of a `LoopGroup`.
//
// Design: a mutex-protected Deque plus a counting semaphore (one post per item, so a worker sleeps
// exactly while the queue is empty). Rejected: a lock-free MPMC queue (blocking closures take
// micro- to milliseconds, the lock is never the bottleneck) and spinning workers (would steal
// CPU from the loops on a 2-core machine).
//
// Ownership: `submit` and the metrics from any thread; each worker writes only its own `PoolThreadSlot`
// (what it runs, since when, its busy time), which the metrics read without making the worker wait: the worker
// publishes the task's label with a try-lock and a sequence number, so a reader that holds the label's lock
// costs the worker nothing (the label then reads as unknown — nil — until the next task, never as a wrong one).

import CRuntime
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

/// Point-in-time pool figures. Plain values, read without making a worker or a submitter wait.
public struct ThreadPoolMetrics: Sendable, Equatable {
    public var threads: Int
    /// Workers running a task now (gauge).
    public var busy: Int
    /// Tasks queued, not yet taken by a worker (gauge).
    public var queueDepth: Int
    /// The highest `queueDepth` since the previous `metrics(resetHighWater: true)` (which resets it), at least
    /// this read's `queueDepth`. Tasks.
    public var queueDepthHighWater: Int
    /// The highest `queueDepth` since the pool started (never reset). Tasks.
    public var maxQueueDepth: Int
    /// Tasks finished, cumulative counter.
    public var completed: UInt64
    public var shared: Bool
    /// One entry per real pool thread, in start order.
    public var workers: [PoolThreadMetrics]
}

/// One pool thread at one instant.
public struct PoolThreadMetrics: Sendable, Equatable {
    /// The thread's name (as `top -H` shows it): "<pool name>-<index>".
    public var thread: String
    /// Label of the task it runs now (`toThread(name:)`); nil when idle, unnamed, or not readable at this instant.
    public var task: String?
    /// When the running task started, monotonic ns (CLOCK_MONOTONIC, `qv_now_ns`); nil when idle.
    public var runningSinceNanos: UInt64?
    /// Nanoseconds spent running tasks, cumulative counter (monotonic clock; waiting for work is not counted). A
    /// task counts when it ends. Busy ratio over a window = Δ busyNanos / Δ monotonic time between two reads.
    public var busyNanos: UInt64
    /// Tasks this thread finished, cumulative counter.
    public var tasksRun: UInt64
}

/// What one pool thread publishes about itself. Written by its worker only; read by `metrics`.
final class PoolThreadSlot: Sendable {
    let thread: String
    // relaxed (the atomics): statistics read on their own; the label is handed over by `label`'s lock and
    // matched to the task by `taskSeq`.
    /// Start of the running task, monotonic ns; 0 when idle.
    let runningSince = Atomic<UInt64>(0)
    /// Tasks started by this thread; the label belongs to the task whose number it carries.
    let taskSeq = Atomic<UInt64>(0)
    let label = Locked<(seq: UInt64, name: String?)>((0, nil))
    let busyNanos = Atomic<UInt64>(0)
    let tasksRun = Atomic<UInt64>(0)

    init(thread: String) { self.thread = thread }

    /// Worker: a task starts. Never waits (a reader holding the label's lock leaves the label unknown).
    func begin(_ name: String?, seq: UInt64, at now: UInt64) {
        taskSeq.store(seq, ordering: .relaxed)
        _ = label.withLockIfAvailable { $0 = (seq, name) }
        runningSince.store(now, ordering: .relaxed)
    }

    /// Worker: the task ended at `now`.
    func end(at now: UInt64) {
        let start = runningSince.load(ordering: .relaxed)
        runningSince.store(0, ordering: .relaxed)
        busyNanos.add(now > start ? now - start : 0, ordering: .relaxed)
        tasksRun.add(1, ordering: .relaxed)
    }

    /// Any thread.
    var metrics: PoolThreadMetrics {
        let seq = taskSeq.load(ordering: .relaxed)
        let since = runningSince.load(ordering: .relaxed)
        let l = label.withLock { $0 }
        let running = since != 0
        return PoolThreadMetrics(
            thread: thread, task: running && l.seq == seq && seq == taskSeq.load(ordering: .relaxed) ? l.name : nil,
            runningSinceNanos: running ? since : nil, busyNanos: busyNanos.load(ordering: .relaxed),
            tasksRun: tasksRun.load(ordering: .relaxed))
    }
}

public final class ThreadPool: @unchecked Sendable {
    // @unchecked Sendable: every mutable field is a Locked or an Atomic; `semaphore` points to a
    // sem_t, which is itself a thread-safe kernel/futex object, allocated in init, freed in deinit.
    public let name: String
    public let threadCount: Int
    /// True when the loops of a group share this pool (display only).
    public let shared: Bool

    private struct Item {
        var name: String?
        var work: @Sendable () -> Void
    }
    private struct State {
        var queue = Deque<Item>()
        var shuttingDown = false
    }
    private let state = Locked(State())
    /// Counts queued items; workers sleep on it. Allocated once, destroyed in deinit.
    private let semaphore: UnsafeMutablePointer<sem_t>
    private let threads = Locked<[OSThread]>([])
    // relaxed (all three): statistics for the dashboard; no other memory is published through them.
    private let busyCount = Atomic<Int>(0)
    private let depth = Atomic<Int>(0)
    private let completedCount = Atomic<UInt64>(0)
    private let depthHighWater = HighWaterMark()
    private let slots: [PoolThreadSlot]

    /// Starts `threads` workers now. Throws when the system refuses one of their threads, after stopping and
    /// joining the ones it started.
    public init(threads: Int, name: String = "qv-pool", shared: Bool = false) throws(OSThread.StartError) {
        precondition(threads >= 1, "ThreadPool needs at least one thread")
        self.name = name
        self.threadCount = threads
        self.shared = shared
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
        slots = (0..<threads).map { PoolThreadSlot(thread: "\(name)-\($0)") }
        var started: [OSThread] = []
        var refused: OSThread.StartError? = nil
        for slot in slots {
            do {
                started.append(try OSThread.start(name: slot.thread) { [self] in workerLoop(slot) })
            } catch {
                refused = error
                break
            }
        }
        self.threads.withLock { $0 = started }
        if let refused {
            shutdown()
            throw refused
        }
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Queues `work` for a worker; `name` labels it in the metrics while it runs. Any thread. Returns false (and
    /// drops `work`) after shutdown.
    @discardableResult
    public func submit(name: String? = nil, _ work: @escaping @Sendable () -> Void) -> Bool {
        let ok = state.withLock { s -> Bool in
            if s.shuttingDown { return false }
            s.queue.append(Item(name: name, work: work))
            return true
        }
        if !ok { return false }
        depthHighWater.raise(depth.add(1, ordering: .relaxed).newValue)
        sem_post(semaphore)
        return true
    }

    /// Runs `body` on a worker and returns its result to the caller's executor; `name` labels it in the metrics
    /// while it runs. Any task.
    public func run<T: Sendable>(name: String? = nil, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
            let queued = submit(name: name) {
                cont.resume(with: Result { try body() })
            }
            if !queued { cont.resume(throwing: ThreadPoolError.shutDown) }
        }
    }

    private func workerLoop(_ slot: PoolThreadSlot) {
        var seq: UInt64 = 0
        while true {
            while sem_wait(semaphore) != 0 {}  // EINTR: retry
            let next = state.withLock { s -> Item? in s.queue.popFirst() }
            guard let item = next else { return }  // a shutdown post with an empty queue
            depth.subtract(1, ordering: .relaxed)
            busyCount.add(1, ordering: .relaxed)
            seq &+= 1
            slot.begin(item.name, seq: seq, at: qv_now_ns())
            item.work()
            slot.end(at: qv_now_ns())
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
        let toJoin = threads.withLock { t -> [OSThread] in
            defer { t = [] }
            return t
        }
        for t in toJoin { t.join() }
    }

    /// The pool's figures now, without resetting the high-water mark. Any thread; never makes a worker wait.
    public var metrics: ThreadPoolMetrics { metrics(resetHighWater: false) }

    /// The pool's figures now. `resetHighWater`: hand out and reset `queueDepthHighWater` (the sampler — one
    /// consumer — passes true, others false). Any thread; never makes a worker or a submitter wait.
    public func metrics(resetHighWater: Bool) -> ThreadPoolMetrics {
        let d = max(0, depth.load(ordering: .relaxed))
        return ThreadPoolMetrics(
            threads: threadCount, busy: busyCount.load(ordering: .relaxed), queueDepth: d,
            queueDepthHighWater: resetHighWater ? depthHighWater.take(current: d) : depthHighWater.peek(current: d),
            maxQueueDepth: depthHighWater.sinceStart(current: d),
            completed: completedCount.load(ordering: .relaxed), shared: shared, workers: slots.map(\.metrics))
    }
}
