// EventLoop: an asyncio-style event loop for Swift async code, on one dedicated OS thread.
//
// # Design essay
//
// ## What it is
// asyncio's invariant is "everything runs on the loop's thread": callbacks, timers and every step
// of every task between two awaits. This loop keeps that invariant for Swift tasks. It is a
// `SerialExecutor` (actors may run on it) and a `TaskExecutor`: a task spawned with the loop as its
// executor preference (`spawn`, or `Task(executorPreference: loop)`) runs each of its jobs here —
// after a `Task.yield()`, a timer, a continuation resumed from another thread, a `toThread` result,
// a task-group child, a hop to some actor and back. Two toolchain traps (see LoopAffinityTests):
// `Task {}` / `Task.detached {}` inside a loop task do NOT inherit the preference (use
// `loop.spawn`), and a plain nonisolated async helper hops to the global pool unless it is
// `nonisolated(nonsending)` — this package turns on `NonisolatedNonsendingByDefault`, so helpers
// stay on the loop.
//
// ## Two executor faces
// The loop has two identities. As a TaskExecutor it is itself (`asUnownedTaskExecutor()` is the
// loop): the jobs of tasks that prefer it arrive in `enqueue` and run with
// `runSynchronously(on: taskExecutor)`, i.e. on "the generic executor, on this thread". As a
// SerialExecutor it is `serialFace`, a small object that forwards to the loop: actor jobs arrive
// there and run isolated to it. Why two: with one identity, every job had to run isolated to the
// loop's serial executor (an actor job might need it), and then the nonisolated code of a loop
// task, which runs on the generic executor, saw a different current executor on every resumption:
// the runtime hopped (extra jobs): 3 jobs per continuation hand-off and 4 per `Task.yield`, where
// 1 and 2 (`Task.yield`: its continuation job, then the task) are needed. The split took them to
// 1 and 2 (LoopAffinityTests.aSwitchIsOneJobAndAYieldTwo) and roughly halved a switch's cost.
// The loop must be the TaskExecutor identity, not a face: the runtime releases the identity that
// `asUnownedTaskExecutor()` returns when a task that took the loop as its preference ends, while
// the retain was on the object given to `Task(executorPreference:)`; a separate task face crashed
// on that imbalance. The serial identity is never retained by the runtime (actors hold their
// executor unowned), so it can be the face.
//
// Rejected: isolating loop tasks to an actor on the loop instead of an executor preference (no
// status record to read on every hop). Every call into a standard-library async function that is
// not `nonisolated(nonsending)` — `Task.yield`, `Task.value`, `Task.sleep`, `withTaskGroup`,
// `withTaskCancellationHandler`, AsyncStream iteration — then hops to the global concurrent pool
// and back (measured: one cross-thread enqueue per such await), and an actor-isolated task that
// also keeps the preference pays 2 jobs per continuation switch and 4 per `Task.yield`.
//
// ## One iteration (`runLoop`)
//   1. move cross-thread submissions (the inbox) into the ready queue;
//   2. move due timers into the ready queue (their queue delay = lateness);
//   3. run the jobs that were ready at the start of the iteration (asyncio's snapshot rule: a job
//      scheduled now runs next iteration, so a self-rescheduling callback cannot starve timers/IO);
//   4. if nothing is ready, block in the selector until the next timer deadline, an fd event or a
//      wake-up; if jobs are ready but fds are watched and `ioPollInterval` has passed, poll with a
//      zero timeout.
// Step 4 is the only blocking point. Unlike asyncio, a busy loop does not make a syscall per
// iteration: that is what makes 10 M callbacks/s possible; fd readiness is still seen within
// `ioPollInterval` (default 50 µs) of busy time.
//
// ## Timers
// A min-heap (`TimerHeap`, swift-collections `Heap`) ordered by (deadline, sequence), lazy
// cancellation. The selector sleeps with a nanosecond timeout (epoll_pwait2), so a timer is late by
// the wake-up latency only, not by epoll_wait's millisecond rounding (the anchors' 0–1 ms).
//
// ## Measuring lag, and naming the culprit
// - Heartbeat: a periodic timer on an absolute grid (anchors' W4); lateness into an HdrHistogram,
//   plus the "slot" lag where every skipped slot counts as late until the loop ran again.
// - Per job: queue delay (ready → started) and run time, both into log-linear histograms. One
//   clock read per job (a calibrated TSC, `qv_fast_now_ns`): the end of one job is the start of
//   the next. It stays at full rate: it is ~6 % of a switch (~12–15 ns), and the cheaper clocks are
//   too coarse for it (CLOCK_MONOTONIC_COARSE ticks every 4 ms here, the slow-callback threshold is
//   10 ms and most jobs take under a microsecond); plain `rdtsc` is already the unserialized read.
// - A job longer than `slowCallbackThreshold` is a slow callback: counted and pushed into the
//   loop's `EventRing` with its name. Task names come from `spawn(name:)`: the spawned task
//   registers itself under its task pointer, which is also the address of every job that resumes
//   it, so the loop finds the name before running the job (one `PointerTable` lookup — a multiply
//   and a compare — skipped when no named task is alive).
//
// ## Clocks
// The loop reads time only through `LoopClock`. With `.manual`, time moves only when a test says
// so (`advanceTime(by:)`), and timer order, timeouts, cancellation, heartbeat lag and slow-callback
// detection are deterministic: a job "runs for 50 ms" by advancing the manual clock by 50 ms.
//
// ## Rejected
// - Running jobs on the caller's thread (swift-nio's EmbeddedEventLoop) for tests: the affinity
//   rules are the point of this loop, so tests use the real thread with a manual clock.
// - A lock-free MPSC inbox: cross-thread submissions are rare next to loop-local ones, which take
//   no lock at all (the loop thread appends straight to its own `ReadyQueue`). A mutex + an atomic
//   count keeps the common path to one relaxed load per iteration.
// - timerfd for the precise deadline: epoll_pwait2 does it in the same syscall.
// - Dictionary / Deque / HdrHistogram / class properties on the per-job path: each showed up in
//   profiles (SipHash, CoW checks, 37 KB copies, dynamic exclusivity checks); see `ReadyQueue`,
//   `PointerTable`, `LogLinearHistogram` and `LoopThreadState`.
//
// ## Costs and limits (docs/performance.md)
// - Per switch (docs/performance.md, load 2–5): continuation hand-off ~190 ns (1 job; the same
//   pattern on a bare executor, Swift's runtime alone, ~170–190 ns), `Task.yield` 260–310 ns
//   (2 jobs; bare 220–290), `loop.yield()` ~200 ns. A profile puts the loop's own code at ~14 % of
//   a switch (~30 ns: the one `rdtsc` per job is ~6 %); ~39 % is the runtime reading the task's
//   executor preference under its status lock, on every resumption and every enqueue.
//   Spawn + await: 860–1,270 ns per task depending on load (bare executor 670–1,120). Callbacks:
//   ~26 M/s. The ≤ 150 ns switch goal is below Swift's own floor for a task that prefers an
//   executor; ≤ 1 µs spawn is met only on a quiet machine.
// - Deadlines (`sleep`, `timeout`, `callLater`) are read at the call, before suspending: the body
//   of `withCheckedContinuation` may run after other loop jobs on this toolchain.
// - Jobs enqueued after the loop stopped stay in the inbox (their tasks never resume); `shutdown()`
//   first cancels every task started by `spawn` and runs until they end (`shutdownGrace`).
// - A loop that is never shut down keeps its thread (the thread holds the loop).
// - `toThread` work cannot be cancelled once a worker took it; `timeout` needs a `@Sendable` body
//   (it runs as a child task so that cancelling it does not cancel the caller, which Swift cannot
//   undo — asyncio's `uncancel`).
//
// ## Ownership
// Fields marked "protected by the loop thread" are touched only by the loop thread. Public methods
// say who may call them. The only cross-thread paths are `inbox` (+ `inboxCount`), the selector's
// wake-up, the clock, `published` (metrics) and `events` (SPSC ring, loop thread produces).

import CRuntime
import DequeModule
import Glibc
import Histogram
import Synchronization

/// Typed errors of the loop.
public enum LoopError: Error, Equatable, Sendable {
    /// `timeout(_:)` expired before the body finished.
    case timedOut
    /// The loop is shutting down or stopped.
    case shutDown
    /// Another task is already waiting on this fd.
    case fdBusy(Int32)
    case selector(SelectorError)
}

public final class EventLoop: SerialExecutor, TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: mutable state is either protected by the loop thread (documented per
    // field; every access runs on it) or is a LoopLock/Atomic. Cross-thread entry points go through
    // `inbox`.

    public struct Configuration: Sendable {
        public var name: String = "loop"
        public var id: Int = 0
        public var clock: LoopClock = .monotonic
        /// A job running longer than this is recorded as a slow callback (asyncio's default is 100 ms).
        public var slowCallbackThreshold: Duration = .milliseconds(10)
        /// Heartbeat period; nil = no heartbeat.
        public var heartbeat: Duration? = .milliseconds(1)
        /// Heartbeat lateness above this pushes a `lagSpike` event.
        public var lagSpikeThreshold: Duration = .milliseconds(5)
        /// Worker pool for `toThread`; nil = `toThread` throws `ThreadPoolError.noPool`.
        public var pool: ThreadPool? = nil
        /// Longest busy time between two fd polls while jobs are ready.
        public var ioPollInterval: Duration = .microseconds(50)
        /// How often the loop publishes histograms for `metrics()` (counters: every iteration).
        public var publishInterval: Duration = .milliseconds(10)
        public var eventRingCapacity: Int = 1024
        /// Longest `shutdown()` waits for cancelled tasks to finish before stopping anyway.
        public var shutdownGrace: Duration = .seconds(5)
        public init() {}
    }

    /// One ready job. Kept to a 16-byte payload (a closure) so queue moves stay cheap; a named
    /// callback carries its name in a class.
    enum Job {
        /// Enqueued on the loop as a SerialExecutor (an actor whose executor is this loop): run
        /// isolated to the loop.
        case task(UnownedJob)
        /// Enqueued on the loop as a TaskExecutor (a task that prefers this loop, in nonisolated
        /// code): run on the task executor, which keeps the runtime from hopping back (see
        /// "Two executor faces" in the essay).
        case preferred(UnownedJob)
        case callback(() -> Void)
        case named(NamedJob)
        case timer(LoopTimer)
        /// `yield()`: resumes a task that let the ready jobs run first.
        case resume(UnsafeContinuation<Void, Never>)
    }
    final class NamedJob {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }
    struct Item {
        var job: Job
        var enqueuedAt: UInt64
    }
    private struct InboxItem: Sendable {
        enum Body: Sendable {
            case task(UnownedJob)
            case preferred(UnownedJob)
            case resume(UnsafeContinuation<Void, Never>)
            case callback(@Sendable () -> Void, String?)
        }
        var body: Body
        var enqueuedAt: UInt64
    }

    public let name: String
    public let id: Int
    public let configuration: Configuration
    public let clock: LoopClock
    /// Notable events (slow callbacks, lag spikes). Produced by the loop thread; one consumer drains.
    public let events: EventRing
    public var pool: ThreadPool? { configuration.pool }

    private let slowNanos: UInt64
    private let ioPollNanos: UInt64
    private let publishNanos: UInt64
    private let selector: Selector
    let published = LoopPublished()
    /// The loop as a SerialExecutor (its own identity, so the jobs that need serial isolation
    /// arrive apart from the others). Created in init, lives as long as the loop.
    private let serialFace: LoopSerialExecutorFace

    // Cross-thread submissions. Any thread appends; the loop thread drains.
    private let inbox = LoopLock(Deque<InboxItem>())
    // sequentially consistent: part of the wake-up protocol (see Selector).
    private let inboxCount = Atomic<Int>(0)
    /// pthread_t of the loop thread, 0 before it starts. relaxed: compared only against the
    /// caller's own pthread_self(), which can match only if the loop thread stored it.
    private let threadID = Atomic<UInt>(0)
    /// 0 running, 1 stop requested, 2 stopped.
    private let runState = Atomic<Int>(0)
    private let thread = LoopLock<EventLoopThread?>(nil)
    private let joined = Atomic<Bool>(false)

    /// Everything the loop thread owns, in one struct behind a pointer. Unsafe pointer: the loop
    /// thread is its only user (see "Ownership" above), and accessing it through a pointer skips
    /// Swift's dynamic exclusivity checks on class properties, which cost ~10% of a task switch
    /// (TLS access-set insert/remove per access). Allocated in init, freed in deinit.
    private struct LoopThreadState {
        /// Jobs ready to run, FIFO.
        var ready = ReadyQueue<Item>()
        var timers = TimerHeap()
        /// Names of alive named tasks, by task address.
        var taskNames = TaskNameTable()
        /// Every alive task spawned by `spawn`, for cancellation at shutdown.
        var aliveTasks = SlotList<UInt>()
        var fdWaiters: [Int32: FdWaiter] = [:]
        /// Callbacks run when the loop next runs out of work (tests).
        var idleWaiters: [() -> Void] = []
        /// The loop clock as of the current job's start (or the last read).
        var now: UInt64 = 0
        var lastPoll: UInt64 = 0
        var lastPublish: UInt64 = 0
        var lag: LagRecorder? = nil
        var heartbeatTimer: LoopTimer? = nil
        var queueDelay = LogLinearHistogram()
        var runTime = LogLinearHistogram()
        /// Plain counters, published into `published`.
        var jobsRun: UInt64 = 0
        /// Tasks spawned on the loop thread, and spawned tasks that ended (any spawner).
        var spawnedOnLoop = 0
        var tasksEnded = 0
        var slowCallbacks: UInt64 = 0
        var busyNanos: UInt64 = 0
        var maxReadyDepth = 0
        /// Name of the job running now, and whether `published.currentName` holds a name.
        var currentName: String? = nil
        var publishedNameSet = false
    }
    private let state: UnsafeMutablePointer<LoopThreadState> = {
        let p = UnsafeMutablePointer<LoopThreadState>.allocate(capacity: 1)
        p.initialize(to: LoopThreadState())
        return p
    }()

    // protected by the loop thread
    private var ready: ReadyQueue<Item> {
        @inline(__always) _read { yield state.pointee.ready }
        @inline(__always) _modify { yield &state.pointee.ready }
    }
    // protected by the loop thread
    private var timers: TimerHeap {
        @inline(__always) _read { yield state.pointee.timers }
        @inline(__always) _modify { yield &state.pointee.timers }
    }
    // protected by the loop thread
    private var taskNames: TaskNameTable {
        @inline(__always) _read { yield state.pointee.taskNames }
        @inline(__always) _modify { yield &state.pointee.taskNames }
    }
    // protected by the loop thread
    private var aliveTasks: SlotList<UInt> {
        @inline(__always) _read { yield state.pointee.aliveTasks }
        @inline(__always) _modify { yield &state.pointee.aliveTasks }
    }
    // protected by the loop thread
    private var fdWaiters: [Int32: FdWaiter] {
        @inline(__always) _read { yield state.pointee.fdWaiters }
        @inline(__always) _modify { yield &state.pointee.fdWaiters }
    }
    // protected by the loop thread
    private var idleWaiters: [() -> Void] {
        @inline(__always) _read { yield state.pointee.idleWaiters }
        @inline(__always) _modify { yield &state.pointee.idleWaiters }
    }
    // protected by the loop thread
    private var now: UInt64 {
        @inline(__always) _read { yield state.pointee.now }
        @inline(__always) _modify { yield &state.pointee.now }
    }
    // protected by the loop thread
    private var lastPoll: UInt64 {
        @inline(__always) _read { yield state.pointee.lastPoll }
        @inline(__always) _modify { yield &state.pointee.lastPoll }
    }
    // protected by the loop thread
    private var lastPublish: UInt64 {
        @inline(__always) _read { yield state.pointee.lastPublish }
        @inline(__always) _modify { yield &state.pointee.lastPublish }
    }
    // protected by the loop thread
    private var lag: LagRecorder? {
        @inline(__always) _read { yield state.pointee.lag }
        @inline(__always) _modify { yield &state.pointee.lag }
    }
    // protected by the loop thread
    private var heartbeatTimer: LoopTimer? {
        @inline(__always) _read { yield state.pointee.heartbeatTimer }
        @inline(__always) _modify { yield &state.pointee.heartbeatTimer }
    }
    // protected by the loop thread
    private var queueDelay: LogLinearHistogram {
        @inline(__always) _read { yield state.pointee.queueDelay }
        @inline(__always) _modify { yield &state.pointee.queueDelay }
    }
    // protected by the loop thread
    private var runTime: LogLinearHistogram {
        @inline(__always) _read { yield state.pointee.runTime }
        @inline(__always) _modify { yield &state.pointee.runTime }
    }
    // protected by the loop thread
    private var spawnedOnLoop: Int {
        @inline(__always) _read { yield state.pointee.spawnedOnLoop }
        @inline(__always) _modify { yield &state.pointee.spawnedOnLoop }
    }
    // protected by the loop thread
    private var tasksEnded: Int {
        @inline(__always) _read { yield state.pointee.tasksEnded }
        @inline(__always) _modify { yield &state.pointee.tasksEnded }
    }
    /// Loop thread: spawned tasks not ended yet (started or not).
    private var tasksAliveNow: Int {
        published.spawnedOffLoop.load(ordering: .relaxed) + spawnedOnLoop - tasksEnded
    }
    // protected by the loop thread
    private var jobsRun: UInt64 {
        @inline(__always) _read { yield state.pointee.jobsRun }
        @inline(__always) _modify { yield &state.pointee.jobsRun }
    }
    // protected by the loop thread
    private var slowCallbacks: UInt64 {
        @inline(__always) _read { yield state.pointee.slowCallbacks }
        @inline(__always) _modify { yield &state.pointee.slowCallbacks }
    }
    // protected by the loop thread
    private var busyNanos: UInt64 {
        @inline(__always) _read { yield state.pointee.busyNanos }
        @inline(__always) _modify { yield &state.pointee.busyNanos }
    }
    // protected by the loop thread
    private var maxReadyDepth: Int {
        @inline(__always) _read { yield state.pointee.maxReadyDepth }
        @inline(__always) _modify { yield &state.pointee.maxReadyDepth }
    }
    // protected by the loop thread
    private var currentName: String? {
        @inline(__always) _read { yield state.pointee.currentName }
        @inline(__always) _modify { yield &state.pointee.currentName }
    }
    // protected by the loop thread
    private var publishedNameSet: Bool {
        @inline(__always) _read { yield state.pointee.publishedNameSet }
        @inline(__always) _modify { yield &state.pointee.publishedNameSet }
    }

    /// Creates the loop and starts its thread.
    public init(_ configuration: Configuration = Configuration()) throws(LoopError) {
        self.configuration = configuration
        self.name = configuration.name
        self.id = configuration.id
        self.clock = configuration.clock
        self.events = EventRing(capacity: configuration.eventRingCapacity)
        self.slowNanos = LoopTime.nanos(configuration.slowCallbackThreshold)
        self.ioPollNanos = LoopTime.nanos(configuration.ioPollInterval)
        self.publishNanos = LoopTime.nanos(configuration.publishInterval)
        self.serialFace = LoopSerialExecutorFace()
        do {
            self.selector = try Selector()
        } catch {
            throw .selector(error)
        }
        if let hb = configuration.heartbeat {
            lag = LagRecorder(period: hb, spike: configuration.lagSpikeThreshold)
        }
        // Unmanaged (unretained): the face is owned by this loop; see LoopSerialExecutorFace.loop.
        serialFace.loop = Unmanaged.passUnretained(self)
        let t = EventLoopThread.start(name: configuration.name) { [self] in runLoop() }
        thread.withLock { $0 = t }
    }

    deinit {
        state.pointee.ready.destroy()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// Convenience: `EventLoop(name:)` with defaults otherwise.
    public convenience init(name: String, id: Int = 0, clock: LoopClock = .monotonic) throws(LoopError) {
        var c = Configuration()
        c.name = name
        c.id = id
        c.clock = clock
        try self.init(c)
    }

    // MARK: - Executor

    /// True on the loop's thread. Any thread.
    @inline(__always)
    public var inLoop: Bool {
        threadID.load(ordering: .relaxed) == UInt(pthread_self())
    }

    /// TaskExecutor entry point: the jobs of tasks that prefer this loop (`spawn`,
    /// `Task(executorPreference: loop)`, task-group children). Any thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if inLoop {
            ready.append(Item(job: .preferred(unowned), enqueuedAt: now))
        } else {
            submit(InboxItem(body: .preferred(unowned), enqueuedAt: clock.now()))
        }
    }

    /// SerialExecutor entry point, reached through `serialFace`: jobs of actors whose executor is
    /// this loop. Any thread.
    @inline(__always)
    fileprivate func enqueueIsolated(_ job: UnownedJob) {
        if inLoop {
            ready.append(Item(job: .task(job), enqueuedAt: now))
        } else {
            submit(InboxItem(body: .task(job), enqueuedAt: clock.now()))
        }
    }

    /// The loop's serial-executor face (an actor's `unownedExecutor`): a separate identity, so
    /// actor jobs arrive apart from task-executor jobs (see "Two executor faces" in the essay).
    /// Unowned, like every `UnownedSerialExecutor`: the actor's owner keeps the loop alive.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: serialFace)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(inLoop, "not on event loop '\(name)'")
    }

    public func isIsolatingCurrentContext() -> Bool? { inLoop }

    private func submit(_ item: InboxItem) {
        inbox.withLock { $0.append(item) }
        inboxCount.add(1, ordering: .sequentiallyConsistent)
        selector.wakeIfSleeping()
    }

    // MARK: - Callbacks and timers

    /// asyncio's `call_soon` / `call_soon_threadsafe`: runs `body` on the loop in FIFO order. Any thread.
    public func callSoon(name: String? = nil, _ body: @escaping @Sendable () -> Void) {
        if inLoop {
            ready.append(
                Item(job: name.map { .named(NamedJob(name: $0, body: body)) } ?? .callback(body), enqueuedAt: now))
        } else {
            submit(InboxItem(body: .callback(body, name), enqueuedAt: clock.now()))
        }
    }

    /// Runs `body` now if on the loop thread, else schedules it (loop-internal helper).
    @inline(__always)
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if inLoop { body() } else { callSoon(body) }
    }

    /// asyncio's `call_later`. Any thread. The handle cancels from any thread.
    @discardableResult
    public func callLater(
        after delay: Duration, name: String? = nil, _ body: @escaping @Sendable () -> Void
    ) -> LoopTimerHandle {
        let deadline = LoopTime.deadline(after: delay, from: clock.now())
        return callAt(deadlineNanos: deadline, name: name, body)
    }

    /// asyncio's `call_at`, deadline on this loop's clock (`clock.now()` scale). Any thread.
    @discardableResult
    public func callAt(
        deadlineNanos: UInt64, name: String? = nil, _ body: @escaping @Sendable () -> Void
    ) -> LoopTimerHandle {
        let handle = LoopTimerHandle(loop: self)
        onLoop { [self] in
            if handle.cancelRequested { return }
            handle.timer = timers.add(deadline: deadlineNanos, name: name, callback: body)
        }
        return handle
    }

    /// Loop thread: arms a timer directly (sleep, heartbeat, timeouts).
    func addTimer(deadline: UInt64, name: String?, _ body: @escaping () -> Void) -> LoopTimer {
        timers.add(deadline: deadline, name: name, callback: body)
    }

    /// Loop thread.
    func cancelTimer(_ t: LoopTimer) {
        timers.cancel(t)
    }

    /// Loop thread: the loop clock's time as of the current job.
    var loopNow: UInt64 { now }

    // MARK: - Tasks

    /// asyncio's `create_task`: starts `body` as a task that runs on this loop after every await.
    /// `name` is shown as the current job and as the culprit of slow callbacks. Any thread.
    @discardableResult
    public func spawn<T: Sendable>(
        name: String? = nil, _ body: nonisolated(nonsending) sending @escaping () async throws -> T
    ) -> LoopTask<T> {
        noteSpawn()
        // unowned(unsafe): the task keeps the loop alive itself (the runtime retains the executor
        // preference until the task ends), so the wrapper need not retain it again (two atomic
        // refcount operations per task).
        let task = Task<T, any Error>(name: name, executorPreference: self) { [unowned(unsafe) self] in
            let registration = registerCurrentTask(name: name)
            defer { unregisterTask(registration) }
            return try await body()
        }
        return LoopTask(task: task, name: name)
    }

    /// Counts a spawn (tasks alive): a plain counter on the loop thread, an atomic elsewhere.
    private func noteSpawn() {
        if inLoop {
            spawnedOnLoop &+= 1
        } else {
            published.spawnedOffLoop.add(1, ordering: .relaxed)
        }
    }

    /// Where a spawned task is registered: its slot in `aliveTasks`, and its address in
    /// `taskNames` when it has a name (0 otherwise).
    private struct Registration {
        var slot: Int
        var nameKey: UInt
    }

    /// Called first thing in a spawned task, on the loop thread.
    private func registerCurrentTask(name: String?) -> Registration {
        // Unsafe: the UnsafeCurrentTask is kept only while the task's own body runs (removed by
        // `unregisterTask` in its defer) and used only on the loop thread (cancel at shutdown).
        withUnsafeCurrentTask { current -> Registration in
            guard let current else { return Registration(slot: -1, nameKey: 0) }
            // unsafeBitCast: UnsafeCurrentTask wraps the task pointer; only its address is kept
            // (storing the UnsafeCurrentTask itself would retain and release the task).
            let address = unsafeBitCast(current, to: UInt.self)
            var r = Registration(slot: aliveTasks.insert(address), nameKey: 0)
            if let name {
                r.nameKey = address
                taskNames.set(r.nameKey, name)
                setCurrentName(name)
            }
            if runState.load(ordering: .relaxed) != 0 { current.cancel() }
            return r
        }
    }

    private func unregisterTask(_ r: Registration) {
        if r.slot >= 0 { aliveTasks.remove(r.slot) }
        if r.nameKey != 0 { taskNames.remove(r.nameKey) }
        tasksEnded &+= 1
    }

    /// asyncio's `await asyncio.sleep(0)`: lets every job that is ready now run, then resumes the
    /// calling task, after one more loop iteration, like `Task.yield()`. Cheaper than `Task.yield()`
    /// on a loop: the first of its two jobs is a plain resume in the ready queue, where
    /// `Task.yield()`'s is a runtime continuation job (allocated, run through the runtime, and it
    /// reads the task's executor preference under the task's status lock). Any task; a task not on
    /// this loop resumes on its own executor after the loop's next iteration.
    public func yield() async {
        await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            if inLoop {
                ready.append(Item(job: .resume(c), enqueuedAt: now))
            } else {
                submit(InboxItem(body: .resume(c), enqueuedAt: clock.now()))
            }
        }
    }

    /// asyncio's `sleep`: suspends the calling task for `duration` of this loop's clock, counted
    /// from this call. Throws `CancellationError` if the task is cancelled first. Any task.
    public func sleep(for duration: Duration) async throws {
        // The deadline is read here, before anything can suspend: on this toolchain the body of
        // `withCheckedContinuation` may run after other loop jobs, and a start time read there
        // made a sleep late by whatever ran in between (LoopTimerTests.sleepDeadlineIsFixedAtTheCall).
        try await sleep(untilNanos: LoopTime.deadline(after: duration, from: clock.now()))
    }

    /// Suspends the calling task until this loop's clock reaches `deadline` (`clock.now()` scale);
    /// returns at once (after a cancellation check) if it already has. Any task.
    public func sleep(untilNanos deadline: UInt64) async throws {
        try Task.checkCancellation()
        let waiter = SleepWaiter()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                onLoop { [self] in
                    if waiter.cancelled {
                        cont.resume(throwing: CancellationError())
                        return
                    }
                    waiter.continuation = cont
                    waiter.timer = addTimer(deadline: deadline, name: nil) {
                        waiter.timer = nil
                        waiter.continuation?.resume()
                        waiter.continuation = nil
                    }
                }
            }
        } onCancel: {
            onLoop { [self] in
                waiter.cancelled = true
                if let t = waiter.timer {
                    cancelTimer(t)
                    waiter.timer = nil
                    waiter.continuation?.resume(throwing: CancellationError())
                    waiter.continuation = nil
                }
            }
        }
    }

    /// asyncio's `timeout`: runs `body` on this loop; if it has not finished after `duration`
    /// (this loop's clock, counted from this call), cancels it, waits for it to end and throws
    /// `LoopError.timedOut`. Any task.
    public func timeout<T: Sendable>(
        _ duration: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        // Deadline before the children exist: the timer child starts after the body child's first
        // job, which may block (LoopTimerTests.timeoutDeadlineIsFixedAtTheCall).
        try await timeout(untilNanos: LoopTime.deadline(after: duration, from: clock.now()), body)
    }

    /// `timeout(_:_:)` with an absolute deadline on this loop's clock (asyncio's `timeout_at`). Any task.
    public func timeout<T: Sendable>(
        untilNanos deadline: UInt64, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: TimeoutOutcome<T>.self) { group in
            group.addTask(executorPreference: self) { .value(try await body()) }
            group.addTask(executorPreference: self) { [self] in
                try await sleep(untilNanos: deadline)
                return .expired
            }
            defer { group.cancelAll() }
            switch try await group.next()! {
            case .value(let v): return v
            case .expired: throw LoopError.timedOut
            }
        }
    }

    /// asyncio's `to_thread`: runs a blocking closure on the loop's worker pool; the caller resumes on
    /// its executor (this loop, for a loop task) with the result.
    public func toThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        guard let pool = configuration.pool else { throw ThreadPoolError.noPool }
        return try await pool.run(body)
    }

    /// Runs a task group whose children are loop tasks with names (asyncio's TaskGroup): waits for
    /// all children; the first child error cancels the others and is rethrown.
    public func taskGroup<R: Sendable>(
        _ body: (LoopTaskGroup) async throws -> R
    ) async throws -> R {
        let group = LoopTaskGroup(loop: self)
        do {
            let r = try await withTaskCancellationHandler {
                try await body(group)
            } onCancel: {
                group.cancelAll()
            }
            try await group.waitAll()
            return r
        } catch {
            group.cancelAll()
            try? await group.waitAll()
            throw error
        }
    }

    // MARK: - fd readiness

    /// Suspends until `fd` is readable (or has an error/hang-up). The fd should be non-blocking.
    /// One waiter per fd at a time (`LoopError.fdBusy` otherwise). Cancellable.
    public func waitReadable(_ fd: Int32) async throws {
        try await waitFd(fd, events: qv_EPOLLIN() | qv_EPOLLRDHUP())
    }

    /// Suspends until `fd` is writable (or has an error). Cancellable.
    public func waitWritable(_ fd: Int32) async throws {
        try await waitFd(fd, events: qv_EPOLLOUT())
    }

    private func waitFd(_ fd: Int32, events mask: UInt32) async throws {
        try Task.checkCancellation()
        let waiter = FdWaiter()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                onLoop { [self] in
                    if waiter.cancelled {
                        cont.resume(throwing: CancellationError())
                        return
                    }
                    if fdWaiters[fd] != nil {
                        cont.resume(throwing: LoopError.fdBusy(fd))
                        return
                    }
                    do throws(SelectorError) {
                        try selector.arm(fd: fd, events: mask, token: UInt64(UInt32(bitPattern: fd)), add: true)
                    } catch {
                        cont.resume(throwing: LoopError.selector(error))
                        return
                    }
                    waiter.continuation = cont
                    fdWaiters[fd] = waiter
                }
            }
        } onCancel: {
            onLoop { [self] in
                waiter.cancelled = true
                if let c = waiter.continuation, fdWaiters[fd] === waiter {
                    fdWaiters[fd] = nil
                    selector.remove(fd: fd)
                    waiter.continuation = nil
                    c.resume(throwing: CancellationError())
                }
            }
        }
    }

    /// Loop thread: an fd event from the selector.
    private func fdReady(token: UInt64) {
        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: token))
        guard let w = fdWaiters.removeValue(forKey: fd) else { return }
        selector.remove(fd: fd)
        let c = w.continuation
        w.continuation = nil
        c?.resume()
    }

    // MARK: - Deterministic driving (manual clock)

    /// Advances the manual clock by `duration`, then waits until the loop has run everything that
    /// became due and has nothing ready. Any task not on this loop. Requires `.manual` clock.
    public func advanceTime(by duration: Duration) async {
        guard case .manual(let manual) = clock else {
            preconditionFailure("advanceTime(by:) needs a loop with a manual clock")
        }
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            callSoon { [self] in
                manual.advance(by: duration)
                idleWaiters.append { cont.resume() }
            }
        }
    }

    /// Waits until the loop has nothing ready (timers in the future don't count). Any task not on this loop.
    public func runUntilIdle() async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            callSoon { [self] in idleWaiters.append { cont.resume() } }
        }
    }

    // MARK: - Lifecycle

    /// Stops the loop: cancels every task started by `spawn`, runs until they have finished (at most
    /// `shutdownGrace`), stops the heartbeat, joins the thread and closes the selector. Idempotent.
    /// Call from any thread except the loop's own. The pool is not shut down (it may be shared).
    public func shutdown() {
        precondition(!inLoop, "EventLoop.shutdown() called on its own thread")
        if runState.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged {
            selector.wake()
        }
        let t = thread.withLock { t -> EventLoopThread? in
            defer { t = nil }
            return t
        }
        if let t {
            t.join()
            joined.store(true, ordering: .sequentiallyConsistent)
        } else {
            // Another caller is joining: wait for it (rare; shutdown races are a test-only concern).
            while !joined.load(ordering: .sequentiallyConsistent) { sched_yield() }
        }
    }

    /// True once the selector's fds are closed (after shutdown). For leak tests; read after `shutdown()`.
    var selectorClosed: Bool { selector.closed }

    /// True once the loop thread has exited.
    public var isStopped: Bool { runState.load(ordering: .sequentiallyConsistent) == 2 }

    // MARK: - The loop

    private func runLoop() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        _ = qv_set_timer_slack_ns(1)  // timers aim at sub-ms lateness; the default slack is 50 µs
        now = clock.now()
        lastPoll = now
        lastPublish = now
        if lag != nil { startHeartbeat() }
        var stopDeadline: UInt64 = 0
        var events: [(UInt64, UInt32)] = []
        // True when `now` was just read at the end of the previous iteration's last job: one clock
        // read per job, not two.
        var fresh = false
        while true {
            if inboxCount.load(ordering: .relaxed) > 0 { drainInbox() }
            if fresh { fresh = false } else { now = clock.now() }
            if timers.pending > 0 {
                while let t = timers.popDue(now: now) {
                    ready.append(Item(job: .timer(t), enqueuedAt: t.deadline))
                }
            }
            var n = ready.count
            if n > maxReadyDepth { maxReadyDepth = n }
            if n > 0 {
                published.currentStart.store(now, ordering: .relaxed)
                while n > 0, let item = ready.popFirst() {
                    n -= 1
                    run(item)
                }
                published.currentStart.store(0, ordering: .relaxed)
                fresh = true
            }
            if now &- lastPublish >= publishNanos { publish(now: now) }

            if runState.load(ordering: .relaxed) != 0 {
                if stopDeadline == 0 {
                    stopDeadline = qv_now_ns() &+ LoopTime.nanos(configuration.shutdownGrace)
                    beginStop()
                }
                if ready.isEmpty && aliveTasks.isEmpty && tasksAliveNow <= 0
                    && inboxCount.load(ordering: .sequentiallyConsistent) == 0
                {
                    break
                }
                if qv_now_ns() > stopDeadline { break }
            }

            if ready.isEmpty {
                if !idleWaiters.isEmpty && inboxCount.load(ordering: .relaxed) == 0 && !hasDueTimer() {
                    publish(now: now)  // so a test that wakes up now reads fresh metrics
                    let waiters = idleWaiters
                    idleWaiters.removeAll()
                    for w in waiters { w() }
                    continue
                }
                var timeout: Int64 = -1
                if let d = timers.nextDeadline() {
                    let t = clock.now()
                    if d <= t {
                        timeout = 0
                    } else if !clock.isManual {
                        timeout = Int64(min(d - t, UInt64(Int64.max)))
                    }
                }
                if runState.load(ordering: .relaxed) != 0 {
                    // Stopping: poll in short slices so the grace deadline is honoured.
                    timeout = timeout < 0 ? 1_000_000 : min(timeout, 1_000_000)
                }
                if timeout != 0 {
                    selector.sleeping.store(true, ordering: .sequentiallyConsistent)
                    if inboxCount.load(ordering: .sequentiallyConsistent) > 0 {
                        selector.sleeping.store(false, ordering: .sequentiallyConsistent)
                        continue
                    }
                    // Counters always; histograms only if due or if the loop may sleep long.
                    let t = clock.now()
                    let long = timeout < 0 || UInt64(timeout) >= publishNanos
                    publish(now: t, histograms: long || t &- lastPublish >= publishNanos)
                }
                poll(timeout: timeout, into: &events)
                selector.sleeping.store(false, ordering: .sequentiallyConsistent)
                fresh = false
            } else if !fdWaiters.isEmpty && now &- lastPoll >= ioPollNanos {
                poll(timeout: 0, into: &events)
                fresh = false
            }
        }
        // Stopped.
        if let t = heartbeatTimer { timers.cancel(t) }
        publish(now: clock.now())
        runState.store(2, ordering: .sequentiallyConsistent)
        selector.close()
        for (_, w) in fdWaiters {
            w.continuation?.resume(throwing: LoopError.shutDown)
            w.continuation = nil
        }
        fdWaiters.removeAll()
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for w in waiters { w() }
        timers = TimerHeap()  // drops callbacks (and the references they hold to this loop)
    }

    private func hasDueTimer() -> Bool {
        guard let d = timers.nextDeadline() else { return false }
        return d <= clock.now()
    }

    private func poll(timeout: Int64, into events: inout [(UInt64, UInt32)]) {
        events.removeAll(keepingCapacity: true)
        _ = selector.wait(timeoutNanos: timeout) { token, mask in events.append((token, mask)) }
        for (token, _) in events { fdReady(token: token) }
        lastPoll = clock.now()
    }

    private func drainInbox() {
        let items = inbox.withLock { q -> Deque<InboxItem> in
            defer { q.removeAll(keepingCapacity: true) }
            return q
        }
        inboxCount.subtract(items.count, ordering: .sequentiallyConsistent)
        for it in items {
            switch it.body {
            case .task(let j): ready.append(Item(job: .task(j), enqueuedAt: it.enqueuedAt))
            case .preferred(let j): ready.append(Item(job: .preferred(j), enqueuedAt: it.enqueuedAt))
            case .resume(let c): ready.append(Item(job: .resume(c), enqueuedAt: it.enqueuedAt))
            case .callback(let f, let name):
                let job: Job = name.map { .named(NamedJob(name: $0, body: f)) } ?? .callback(f)
                ready.append(Item(job: job, enqueuedAt: it.enqueuedAt))
            }
        }
    }

    /// Runs one job and accounts for it. `now` is its start time on entry, its end time on exit.
    @inline(__always)
    private func run(_ item: Item) {
        let start = now
        queueDelay.record(start > item.enqueuedAt ? start - item.enqueuedAt : 0)
        if publishedNameSet { clearCurrentName() }
        switch item.job {
        case .preferred(let job):
            if !taskNames.isEmpty { lookUpName(job) }
            job.runSynchronously(on: UnownedTaskExecutor(ordinary: self))
        case .task(let job):
            if !taskNames.isEmpty { lookUpName(job) }
            job.runSynchronously(
                isolatedTo: UnownedSerialExecutor(ordinary: serialFace),
                taskExecutor: UnownedTaskExecutor(ordinary: self))
        case .callback(let body):
            body()
        case .named(let named):
            setCurrentName(named.name)
            named.body()
        case .resume(let c):
            c.resume()
        case .timer(let t):
            if let name = t.name { setCurrentName(name) }
            let body = t.callback
            t.callback = nil
            body?()
        }
        let end = clock.now()
        let took = end > start ? end - start : 0
        runTime.record(took)
        busyNanos &+= took
        jobsRun &+= 1
        if took >= slowNanos { slowCallback(item, took: took, at: end) }
        currentName = nil
        now = end
        published.currentStart.store(end, ordering: .relaxed)
    }

    @inline(__always)
    private func lookUpName(_ job: UnownedJob) {
        // unsafeBitCast: UnownedJob is one pointer; for a task's resumption job it is the task's
        // own address (AsyncTask is-a Job), the same key `registerCurrentTask` stored.
        let key = unsafeBitCast(job, to: UInt.self)
        if let n = taskNames.lookup(key) { setCurrentName(n) }
    }

    private func setCurrentName(_ name: String) {
        currentName = name
        publishedNameSet = true
        _ = published.currentName.withLockIfAvailable { $0 = name }
    }

    private func clearCurrentName() {
        if published.currentName.withLockIfAvailable({ $0 = nil }) != nil { publishedNameSet = false }
    }

    private func slowCallback(_ item: Item, took: UInt64, at end: UInt64) {
        slowCallbacks &+= 1
        let culprit: String
        if let currentName {
            culprit = currentName
        } else {
            switch item.job {
            case .task, .preferred: culprit = "unnamed task"
            case .callback, .named, .resume: culprit = "unnamed callback"
            case .timer: culprit = "unnamed timer"
            }
        }
        events.push(
            RuntimeEventRecord(
                timeNanos: end, kind: .slowCallback, worker: Int32(truncatingIfNeeded: id), durationNanos: took,
                name: culprit))
    }

    /// Publishes counters (relaxed atomics, cheap: every call) and, when `histograms` and the reader
    /// is not holding the lock, copies of the histograms (~37 KB each once the loop writes again,
    /// so at most every `publishInterval`, not before every sleep).
    private func publish(now t: UInt64, histograms: Bool = true) {
        let p = published
        p.readyDepth.store(ready.count, ordering: .relaxed)
        p.maxReadyDepth.store(maxReadyDepth, ordering: .relaxed)
        p.timersPending.store(timers.pending - (heartbeatTimer?.state == .armed ? 1 : 0), ordering: .relaxed)
        p.jobsRun.store(jobsRun, ordering: .relaxed)
        p.tasksAlive.store(tasksAliveNow, ordering: .relaxed)
        p.slowCallbacks.store(slowCallbacks, ordering: .relaxed)
        p.busyNanos.store(busyNanos, ordering: .relaxed)
        guard histograms else { return }
        lastPublish = t
        let recent = lag?.recentMax ?? 0
        let done: Bool? = p.copies.withLockIfAvailable { c in
            c.queueDelay = queueDelay
            c.runTime = runTime
            if let lag {
                c.lag = lag.late
                c.slots = lag.slots
                c.buckets = lag.buckets
                c.ticks = lag.late.totalCount
                c.missed = lag.missed
                c.recentMax = max(c.recentMax, recent)
            }
            return true
        }
        if done != nil { lag?.recentMax = 0 }
    }

    private func beginStop() {
        if let t = heartbeatTimer {
            timers.cancel(t)
            heartbeatTimer = nil
        }
        // unsafeBitCast: every address in `aliveTasks` is a task whose body is still running (it
        // removes itself before it ends), so the task is alive; cancel is thread-safe.
        for address in aliveTasks.allValues { unsafeBitCast(address, to: UnsafeCurrentTask.self).cancel() }
    }

    // MARK: - Heartbeat

    private func startHeartbeat() {
        guard var l = lag else { return }
        l.origin = now
        lag = l
        armHeartbeat()
    }

    private func armHeartbeat() {
        guard let l = lag else { return }
        heartbeatTimer = timers.add(deadline: l.nextDeadline, name: "heartbeat") { [self] in heartbeat() }
    }

    private func heartbeat() {
        let t = clock.now()
        guard let lateness = lag?.tick(now: t) else { return }
        if let l = lag, lateness >= l.spikeNanos && l.spikeNanos > 0 {
            events.push(
                RuntimeEventRecord(
                    timeNanos: t, kind: .lagSpike, worker: Int32(truncatingIfNeeded: id), durationNanos: lateness))
        }
        if runState.load(ordering: .relaxed) == 0 { armHeartbeat() }
    }

    // MARK: - Metrics (any thread, never blocks the loop)

    /// The loop's figures now. `resetRecent`: hand out and clear the worst recent lateness (one
    /// consumer — the sampler — should pass true, others false). Any thread; never blocks the loop
    /// (the loop only try-locks what this reads).
    public func metrics(resetRecent: Bool = false) -> LoopMetrics {
        let p = published
        let copies = p.copies.withLock { c -> LoopPublished.Copies in
            let out = c
            if resetRecent { c.recentMax = 0 }
            return out
        }
        let start = p.currentStart.load(ordering: .relaxed)
        var current: String? = nil
        var running: UInt64 = 0
        if start != 0 {
            current = p.currentName.withLock { $0 }
            let t = clock.now()
            running = t > start ? t - start : 0
        }
        let lag = LoopLagSummary(
            late: copies.lag, slots: copies.slots, buckets: copies.buckets, recentMaxNanos: copies.recentMax,
            missed: copies.missed)
        return LoopMetrics(
            id: id, name: name, readyDepth: p.readyDepth.load(ordering: .relaxed),
            maxReadyDepth: p.maxReadyDepth.load(ordering: .relaxed),
            timersPending: p.timersPending.load(ordering: .relaxed),
            tasksAlive: max(0, p.tasksAlive.load(ordering: .relaxed)),
            jobsRun: p.jobsRun.load(ordering: .relaxed), slowCallbacks: p.slowCallbacks.load(ordering: .relaxed),
            busyNanos: p.busyNanos.load(ordering: .relaxed), current: current, currentRunningNanos: running, lag: lag,
            queueDelay: LoopDurationSummary(copies.queueDelay), runTime: LoopDurationSummary(copies.runTime),
            droppedEvents: events.dropped)
    }

    /// Notable events since the previous call, oldest first. One consumer at a time (the sampler).
    public func drainEvents(max: Int = .max) -> [RuntimeEventRecord] {
        var out: [RuntimeEventRecord] = []
        events.drain(into: &out, max: max)
        return out
    }
}

/// The loop's SerialExecutor face (see "Two executor faces" in the essay): a separate identity,
/// so the jobs of actors that run on the loop arrive apart from the jobs of tasks that prefer it.
private final class LoopSerialExecutorFace: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: `loop` is written once in the loop's init, before the face is handed
    // to anyone, and only read afterwards.
    /// Unmanaged (unretained): the loop owns the face. An actor holds its executor unowned (that is
    /// what `UnownedSerialExecutor` means), so whoever owns an actor on this loop keeps the loop
    /// alive, exactly as with any custom executor.
    var loop: Unmanaged<EventLoop>? = nil

    @inline(__always)
    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        // Unmanaged: see `loop`.
        loop!._withUnsafeGuaranteedRef { $0.enqueueIsolated(unowned) }
    }

    func checkIsolated() {
        // Unmanaged: see `loop`.
        loop!._withUnsafeGuaranteedRef { $0.checkIsolated() }
    }

    func isIsolatingCurrentContext() -> Bool? {
        // Unmanaged: see `loop`.
        loop!._withUnsafeGuaranteedRef { $0.inLoop }
    }
}

private enum TimeoutOutcome<T: Sendable>: Sendable {
    case value(T)
    case expired
}

/// State of one `sleep`. @unchecked Sendable: every field is read and written on the loop thread only.
private final class SleepWaiter: @unchecked Sendable {
    var cancelled = false
    var timer: LoopTimer?
    var continuation: CheckedContinuation<Void, any Error>?
}

/// State of one fd wait. @unchecked Sendable: every field is read and written on the loop thread only.
final class FdWaiter: @unchecked Sendable {
    var cancelled = false
    var continuation: CheckedContinuation<Void, any Error>?
}

/// A timer armed by `callLater` / `callAt`. `cancel()` from any thread.
public final class LoopTimerHandle: @unchecked Sendable {
    // @unchecked Sendable: `timer` and `cancelRequested` are touched only on the loop thread.
    private let loop: EventLoop
    var timer: LoopTimer?
    var cancelRequested = false

    init(loop: EventLoop) { self.loop = loop }

    /// Cancels the timer if it has not fired yet. Any thread.
    public func cancel() {
        loop.onLoop { [self] in
            cancelRequested = true
            if let t = timer { loop.cancelTimer(t) }
        }
    }
}

/// A task spawned on a loop (asyncio's Task).
public struct LoopTask<T: Sendable>: Sendable {
    public let task: Task<T, any Error>
    public let name: String?

    /// Waits for the result; the awaiting task resumes on its own executor.
    public var value: T {
        get async throws { try await task.value }
    }

    public func cancel() { task.cancel() }
    public var isCancelled: Bool { task.isCancelled }
}

/// asyncio's TaskGroup on a loop. Created by `EventLoop.taskGroup`; `spawn` from loop tasks.
public final class LoopTaskGroup: @unchecked Sendable {
    // @unchecked Sendable: `children` and `firstError` are touched only on the loop thread (spawn is
    // called from the group's body, which runs on the loop; children finish on the loop).
    public let loop: EventLoop
    private var children: [LoopTask<Void>] = []
    private var firstError: (any Error)?

    init(loop: EventLoop) { self.loop = loop }

    /// Starts a child. The first child to fail cancels its siblings. Loop thread (the group's body
    /// runs there when `taskGroup` is awaited from a loop task).
    public func spawn(name: String? = nil, _ body: nonisolated(nonsending) sending @escaping () async throws -> Void) {
        precondition(loop.inLoop, "LoopTaskGroup.spawn must run on its loop's thread")
        let child = loop.spawn(name: name) { [self] in
            do {
                try await body()
            } catch {
                if firstError == nil && !(error is CancellationError) {
                    firstError = error
                    cancelAll()
                }
                throw error
            }
        }
        children.append(child)
    }

    /// Loop thread (or any thread: Task.cancel is thread-safe; reads `children` only on the loop).
    public func cancelAll() {
        loop.onLoop { [self] in for c in children { c.cancel() } }
    }

    func waitAll() async throws {
        var i = 0
        while i < children.count {
            _ = try? await children[i].value
            i += 1
        }
        if let firstError { throw firstError }
    }
}
