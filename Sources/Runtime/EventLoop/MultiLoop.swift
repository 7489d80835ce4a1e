// MultiLoop: an M:N event loop — the multi-threaded asyncio loop of the talk ("Even if you wrote a
// multi-threaded event loop, nothing in the ecosystem would actually work properly on it").
//
// # Design essay
//
// ## What it is
// The executor beside `EventLoop` that breaks asyncio's invariant on purpose. Tasks that prefer it as
// their `TaskExecutor` (`spawn`, or `Task(executorPreference: multiLoop)`) run each of their jobs —
// the step between two awaits — on whichever of its N threads is free: a task that starts on thread 1
// may resume on thread 3 after a `Task.yield()`, a `sleep`, a continuation resumed from anywhere.
// Code written for one loop ("nothing runs between my load and my store, there is no await") is then
// wrong: two steps of two tasks run at the same time. That is the point of the executor; the workload
// that shows it (Workloads, `asyncio-mn`) keeps the race defined behaviour (relaxed atomics).
//
// ## Model
// - N worker threads (`OSThread`), each with its own FIFO queue of jobs (`MultiLoopWorker.queue`).
// - A job enqueued from one of the loop's own threads goes to that thread's queue (no lock is shared
//   with the other threads but the queue's own); from any other thread, to the shared `injector`.
// - A worker runs its queue front to back; when it is empty it takes from the injector (up to half
//   of it), then steals the older half of another worker's queue, victims tried in a rotating order
//   from a per-worker seed (Go's `runqsteal`, tokio's `steal_into`).
// - A worker that found nothing parks on its `Parker` until a push wakes it or the earliest timer is
//   due. A push wakes one parked worker only when none is searching already (Go's `wakep` rule: one
//   spinning thread at a time is enough to pick up new work; more only cost futex calls).
// - Timers (`sleep`): one heap under a lock, with its earliest deadline mirrored in an atomic. Busy
//   workers look at the mirror every `timerCheckEvery` jobs, idle ones before parking (and park until
//   it); whoever gets the lock fires what is due (try-lock: a worker never waits for another's turn).
//
// ## Rejected
// - Lock-free Chase–Lev deques (the fiber scheduler's `RunQueue`): this executor demonstrates a
//   semantic (what M:N does to asyncio code), not a speed; `Locked` is the runtime's one lock type and
//   ThreadSanitizer sees it, and at the demo's rate (thousands of jobs per second) an uncontended
//   pthread mutex per push and pop is not what anyone would measure.
// - One shared queue for all threads (a thread pool with a FIFO): it has no locality and no stealing,
//   which is the model the talk's slide draws ("Event Loop → Thread 1, 2, 3" with work stealing).
// - Reusing the fiber `Scheduler`: its workers run fibers, not Swift jobs; Swift tasks need a
//   `TaskExecutor`, and wrapping each job in a fiber would add a stack switch per job for nothing.
// - A serial-executor face (actors on the loop): an actor needs a serial executor, and this one is not
//   serial by design. Tasks only.
// - Per-worker timer heaps: a sleep would then wake on the thread that armed it, a locality the loop
//   does not promise; one heap keeps "any thread may resume you" true for timers too.
//
// ## Ownership
// - Per worker: `queue` (its lock: the owner pushes and pops, thieves take a batch), `depth` (stored
//   under that lock, read by anyone), the plain counters (protected by the worker's thread: only it
//   writes them) and `published` (atomics the worker stores at publish points, read by anyone).
// - Loop-wide: `injector` (lock; any thread pushes, workers pop), `idle` (lock: the parked workers'
//   indexes; workers add themselves, wakers take one), `timers` (lock; any thread arms, workers fire),
//   `tasks` (lock: cancel closures of spawned tasks; spawners add, ending tasks remove, shutdown reads).
// - Readers (`metrics()`, any thread) take only atomics and the try-locked copies, never a lock a
//   worker waits on.
//
// ## Shutdown
// `shutdown()` cancels every task started by `spawn` (a `sleep` wakes with `CancellationError`), runs
// until they have ended (at most `shutdownGrace`), then stops the workers and joins their threads.
// Jobs still queued then are dropped (their tasks never resume), as with `EventLoop`.
//
// ## Files
// MultiLoop.swift (this essay, configuration, fields, init, executor face, spawn, sleep, shutdown),
// MultiLoop+Worker.swift (a worker's thread: run, steal, park, timers), MultiLoopMetrics.swift (what is
// counted, published and read).

import CRuntime
import DequeModule
import Glibc
import HeapModule
import Synchronization

/// Typed errors of the M:N loop.
public enum MultiLoopError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The configuration asked for fewer than 1 or more than 256 threads.
    case threadCount(Int)
    /// The system refused one of the loop's threads (`pthread_create`'s error number); the ones started before
    /// it were stopped and joined.
    case threadRefused(code: Int32)

    public var description: String {
        switch self {
        case .threadCount(let n): "MultiLoop needs 1 to 256 threads (got \(n))"
        case .threadRefused(let code): "MultiLoop: the system refused a thread (pthread_create failed: \(code))"
        }
    }
}

public final class MultiLoop: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: every mutable field is a `Locked`, an atomic, or a worker's plain counter
    // touched only by that worker's thread (see "Ownership" in the essay).

    public struct Configuration: Sendable {
        public var name: String = "mn-loop"
        /// Worker threads (N).
        public var threads: Int = 4
        /// Longest `shutdown()` waits for cancelled tasks to end before stopping anyway.
        public var shutdownGrace: Duration = .seconds(5)
        /// A worker publishes its counters every this many jobs (and before it parks).
        public var publishEvery: Int = 32
        /// A busy worker looks at the timer mirror every this many jobs.
        public var timerCheckEvery: Int = 61
        public init() {}
    }

    public let name: String
    public let configuration: Configuration
    /// The workers, in thread order. Immutable after init; each worker lives as long as the loop.
    let workers: [MultiLoopWorker]

    /// Jobs from threads that are not the loop's own. Any thread pushes; workers pop.
    let injector = Locked(Deque<UnownedJob>())
    /// `injector.count`, stored under its lock. sequentially consistent: part of the park protocol
    /// (a worker that registered as idle re-reads it; see `MultiLoopWorker.park`).
    let injectorDepth = Atomic<Int>(0)
    let injectorHighWater = HighWaterMark()
    /// Indexes of parked workers (the wake stack).
    let idle = Locked<[Int]>([])
    /// `idle.count`, stored under its lock. sequentially consistent: the other half of the park protocol.
    let idleCount = Atomic<Int>(0)
    /// Workers looking for work (between finding their queue empty and parking). sequentially
    /// consistent: read by pushers to decide whether to wake a parked worker.
    let searching = Atomic<Int>(0)

    /// Pending sleeps, earliest first.
    let timers = Locked(Heap<MultiLoopSleeper.Entry>())
    /// Deadline of the earliest pending sleep (`qv_now_ns` scale), `.max` when none. sequentially
    /// consistent: an arming thread stores it and then reads `idleCount`; a parking worker the reverse.
    let nextDeadline = Atomic<UInt64>(.max)
    /// Sequence numbers of sleeps (ties in the heap). relaxed: only uniqueness matters.
    let timerSequence = Atomic<UInt64>(0)
    let timersPending = Atomic<Int>(0)

    /// Cancel closures of the tasks started by `spawn`, by spawn id.
    let tasks = Locked<[UInt64: MultiLoopTaskEntry]>([:])
    /// `tasks.count`, stored under its lock. relaxed: a statistic and shutdown's poll.
    let tasksAlive = Atomic<Int>(0)
    /// relaxed: only uniqueness matters.
    let nextTaskID = Atomic<UInt64>(0)

    /// 0 running, 1 stopping (tasks cancelled, workers still run), 2 exit (workers leave their loop).
    /// sequentially consistent: read by workers between jobs, written by `shutdown`.
    let runState = Atomic<Int>(0)
    let threads = Locked<[OSThread]>([])
    let joined = Atomic<Bool>(false)

    /// Creates the loop and starts its N threads. Returns once every worker has recorded its thread id. Throws
    /// `threadRefused` when the system refuses one of them, after stopping and joining the ones it started.
    public init(_ configuration: Configuration = Configuration()) throws(MultiLoopError) {
        guard (1...256).contains(configuration.threads) else { throw .threadCount(configuration.threads) }
        self.configuration = configuration
        self.name = configuration.name
        let n = configuration.threads
        workers = (0..<n).map { MultiLoopWorker(index: $0, count: n) }
        var started: [OSThread] = []
        for w in workers {
            do {
                // The thread holds the loop until it exits (`shutdown` joins it).
                started.append(
                    try OSThread.start(name: "\(configuration.name)-\(w.index)") { [self] in w.runThread(loop: self) }
                )
            } catch {
                // The workers without a thread hold no job: stop and join the ones that run.
                threads.withLock { $0 = started }
                shutdown()
                throw .threadRefused(code: error.code)
            }
        }
        threads.withLock { $0 = started }
        // Wait for every thread id: `enqueue` tells the loop's threads from others by them.
        for w in workers {
            while w.threadID.load(ordering: .acquiring) == 0 { sched_yield() }
        }
    }

    /// Convenience: a loop of `threads` threads named `name`.
    public convenience init(name: String, threads: Int) throws(MultiLoopError) {
        var c = Configuration()
        c.name = name
        c.threads = threads
        try self.init(c)
    }

    // MARK: - Executor

    /// The worker whose thread is the caller's, nil on any other thread. Any thread.
    @inline(__always)
    func currentWorker() -> MultiLoopWorker? {
        let me = UInt(pthread_self())
        // relaxed: compared only against the caller's own pthread_self(), which can match only if that
        // very thread stored it (before init returned).
        for w in workers where w.threadID.load(ordering: .relaxed) == me { return w }
        return nil
    }

    /// True on one of the loop's threads. Any thread.
    public var inLoop: Bool { currentWorker() != nil }

    /// TaskExecutor entry point: the jobs of tasks that prefer this loop. Any thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if let w = currentWorker() {
            w.push(unowned)
            wakeIfNoneSearching()
        } else {
            let depth = injector.withLock { q -> Int in
                q.append(unowned)
                injectorDepth.store(q.count, ordering: .sequentiallyConsistent)
                return q.count
            }
            injectorHighWater.raise(depth)
            wakeOne()
        }
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// After a local push: wake a parked worker to steal it, unless one is already looking for work.
    @inline(__always)
    func wakeIfNoneSearching() {
        if idleCount.load(ordering: .sequentiallyConsistent) == 0 { return }
        if searching.load(ordering: .sequentiallyConsistent) > 0 { return }
        wakeOne()
    }

    /// Unparks one parked worker, if any. Any thread.
    func wakeOne() {
        if idleCount.load(ordering: .sequentiallyConsistent) == 0 { return }
        let index = idle.withLock { s -> Int? in
            let i = s.popLast()
            idleCount.store(s.count, ordering: .sequentiallyConsistent)
            return i
        }
        if let index { workers[index].parker.unpark(poller: nil) }
    }

    func wakeAll() {
        for w in workers { w.parker.unpark(poller: nil) }
    }

    // MARK: - Tasks

    /// Starts `body` as a task that prefers this loop: each of its jobs runs on any of the loop's threads.
    /// Counted in `tasksAlive` until it ends; cancelled by `shutdown()`. Any thread.
    @discardableResult
    public func spawn<T: Sendable>(
        name: String? = nil, _ body: nonisolated(nonsending) sending @escaping () async throws -> T
    ) -> Task<T, any Error> {
        // relaxed: a unique id, nothing else.
        let id = nextTaskID.add(1, ordering: .relaxed).newValue
        // The entry exists before the task does, so the task's own removal (at its end, on any thread)
        // cannot come first; the cancel closure is filled in once the handle exists.
        let entry = MultiLoopTaskEntry()
        tasks.withLock { d in
            d[id] = entry
            tasksAlive.store(d.count, ordering: .relaxed)  // relaxed: see `tasksAlive`
        }
        let task = Task<T, any Error>(name: name, executorPreference: self) { [self] in
            defer {
                tasks.withLock { d in
                    d[id] = nil
                    tasksAlive.store(d.count, ordering: .relaxed)  // relaxed: see `tasksAlive`
                }
            }
            return try await body()
        }
        entry.set { task.cancel() }
        if runState.load(ordering: .sequentiallyConsistent) != 0 { task.cancel() }
        return task
    }

    // MARK: - Timers

    /// asyncio's `sleep`: suspends the calling task for `duration` (monotonic clock) counted from this
    /// call; it resumes on whichever thread of the loop is free. Throws `CancellationError` when the task
    /// is cancelled first. Any task.
    public func sleep(for duration: Duration) async throws {
        let deadline = LoopTime.deadline(after: duration, from: qv_now_ns())
        let sleeper = MultiLoopSleeper(deadline: deadline)
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                sleeper.arm(c)
                addTimer(sleeper)
                sleeper.checkCancelAfterArming()
            }
        } onCancel: {
            sleeper.cancel()
        }
        if sleeper.wasCancelled { throw CancellationError() }
    }

    func addTimer(_ s: MultiLoopSleeper) {
        // relaxed: a tie-breaking sequence, nothing else.
        let seq = timerSequence.add(1, ordering: .relaxed).newValue
        let earlier = timers.withLock { h -> Bool in
            h.insert(MultiLoopSleeper.Entry(sleeper: s, sequence: seq))
            timersPending.store(h.count, ordering: .relaxed)  // relaxed: a statistic
            if s.deadline < nextDeadline.load(ordering: .sequentiallyConsistent) {
                nextDeadline.store(s.deadline, ordering: .sequentiallyConsistent)
                return true
            }
            return false
        }
        // A parked worker sleeps until the old earliest deadline: wake one to re-park until this one.
        if earlier { wakeOne() }
    }

    /// Fires every sleep due at `now`, unless another worker is firing (try-lock: never waits). Returns
    /// how many it resumed. Worker threads.
    func fireDueTimers(now: UInt64) -> Int {
        if nextDeadline.load(ordering: .sequentiallyConsistent) > now { return 0 }
        let due: [MultiLoopSleeper]? = timers.withLockIfAvailable { h in
            var out: [MultiLoopSleeper] = []
            while let top = h.min, top.sleeper.deadline <= now {
                out.append(h.removeMin().sleeper)
            }
            nextDeadline.store(h.min?.sleeper.deadline ?? .max, ordering: .sequentiallyConsistent)
            timersPending.store(h.count, ordering: .relaxed)  // relaxed: a statistic
            return out
        }
        guard let due else { return 0 }
        for s in due { s.fire() }
        return due.count
    }

    // MARK: - Lifecycle

    /// Stops the loop: cancels every task started by `spawn`, keeps running until they have ended (at most
    /// `shutdownGrace`), then stops the workers and joins their threads. Idempotent. Any thread except the
    /// loop's own. A loop that is never shut down keeps its threads (they hold the loop).
    public func shutdown() {
        precondition(currentWorker() == nil, "MultiLoop.shutdown() called on one of its own threads")
        guard runState.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged else {
            while !joined.load(ordering: .sequentiallyConsistent) { sched_yield() }
            return
        }
        let entries = tasks.withLock { Array($0.values) }
        for e in entries { e.cancel() }
        let deadline = LoopTime.deadline(after: configuration.shutdownGrace, from: qv_now_ns())
        var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
        // relaxed: a poll; the joins below are the synchronization.
        while tasksAlive.load(ordering: .relaxed) > 0 && qv_now_ns() < deadline { nanosleep(&pause, nil) }
        runState.store(2, ordering: .sequentiallyConsistent)
        wakeAll()
        let ts = threads.withLock { t -> [OSThread] in
            defer { t = [] }
            return t
        }
        for t in ts { t.join() }
        timers.withLock { h in h = Heap() }  // drops the sleepers (and their continuations: never resumed)
        joined.store(true, ordering: .sequentiallyConsistent)
    }

    /// True once every worker thread has been joined.
    public var isStopped: Bool { joined.load(ordering: .sequentiallyConsistent) }
}

/// One `sleep` in progress: the continuation and who resumes it (the timer or a cancel, exactly once).
///
/// States (`state`):
///
///     idle      --arm (the sleeping task, continuation stored first)-->  armed
///     armed     --fire (the worker that pops it from the heap)-->       fired      (resumes)
///     armed     --cancel (the canceller, or the sleeper after arming)-->  cancelled  (resumes)
///     fired / cancelled: final; a late fire or cancel finds the CAS failing and does nothing.
///
/// A cancel that comes before `arm` only sets `cancelRequested`; the sleeping task checks it right after
/// arming (`checkCancelAfterArming`) and takes the armed → cancelled step itself.
final class MultiLoopSleeper: @unchecked Sendable {
    // @unchecked Sendable: `continuation` is written once before the `idle → armed` store and read only
    // by the winner of the `armed → …` compare-exchange, which that store happens-before.
    static let idle = 0
    static let armed = 1
    static let fired = 2
    static let cancelled = 3

    struct Entry: Comparable {
        let sleeper: MultiLoopSleeper
        let sequence: UInt64
        static func < (a: Entry, b: Entry) -> Bool {
            a.sleeper.deadline != b.sleeper.deadline
                ? a.sleeper.deadline < b.sleeper.deadline : a.sequence < b.sequence
        }
        static func == (a: Entry, b: Entry) -> Bool { a.sleeper === b.sleeper }
    }

    let deadline: UInt64
    // sequentially consistent (both): the hand-off of `continuation` and the cancel-before-arm check.
    let state = Atomic<Int>(MultiLoopSleeper.idle)
    let cancelRequested = Atomic<Bool>(false)
    private var continuation: UnsafeContinuation<Void, Never>?

    init(deadline: UInt64) { self.deadline = deadline }

    /// The sleeping task, inside `withUnsafeContinuation`.
    func arm(_ c: UnsafeContinuation<Void, Never>) {
        continuation = c
        state.store(Self.armed, ordering: .sequentiallyConsistent)
    }

    /// The sleeping task, after `arm` and after the sleeper is in the heap.
    func checkCancelAfterArming() {
        if cancelRequested.load(ordering: .sequentiallyConsistent) { finish(as: Self.cancelled) }
    }

    /// The worker that took it from the heap.
    func fire() { finish(as: Self.fired) }

    /// The cancellation handler (any thread).
    func cancel() {
        cancelRequested.store(true, ordering: .sequentiallyConsistent)
        finish(as: Self.cancelled)
    }

    var wasCancelled: Bool { state.load(ordering: .sequentiallyConsistent) == Self.cancelled }

    private func finish(as final: Int) {
        guard state.compareExchange(expected: Self.armed, desired: final, ordering: .sequentiallyConsistent).exchanged
        else { return }
        let c = continuation
        continuation = nil
        c?.resume()
    }
}

/// A spawned task's cancel, for `shutdown`: registered before the task exists, filled in after. A cancel that
/// comes first is remembered and applied when the closure arrives.
final class MultiLoopTaskEntry: Sendable {
    private struct State {
        var cancel: (@Sendable () -> Void)? = nil
        var cancelled = false
    }
    private let state = Locked(State())

    /// The spawner, once the task handle exists.
    func set(_ cancel: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            s.cancel = cancel
            return s.cancelled
        }
        if now { cancel() }
    }

    /// `shutdown`. Any thread.
    func cancel() {
        let c = state.withLock { s -> (@Sendable () -> Void)? in
            s.cancelled = true
            return s.cancel
        }
        c?()
    }
}
