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
//   `PointerTable`, `LogLinearHistogram` and the loop-thread fields (`@exclusivity(unchecked)`).
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
// ## Files
// EventLoop.swift (this essay, configuration, job types, fields, init), EventLoop+Executor (the two
// executor faces, callbacks and timers), EventLoop+Tasks (spawn, yield, sleep, timeout, toThread, task
// groups), EventLoop+FdWaits (fd readiness, close), EventLoop+RunLoop (the loop, running jobs, heartbeat,
// manual-clock driving, lifecycle), EventLoop+Metrics (publish and read).
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
public enum LoopError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `timeout(_:)` expired before the body finished.
    case timedOut
    /// The loop is shutting down or stopped.
    case shutDown
    /// Another task is already waiting on this fd in the same direction (one reader and one writer per fd).
    case fdBusy(Int32)
    /// `close(_:)` closed the fd while the task waited on it.
    case fdClosed(Int32)
    case selector(SelectorError)
    /// The system refused a thread the loop needs (its own, or its pool's): `pthread_create`'s error number.
    case threadRefused(code: Int32)

    /// One line for a banner or a log: what failed, with the fd or the system's own words.
    public var description: String {
        switch self {
        case .timedOut: "event loop: timed out"
        case .shutDown: "event loop: shut down"
        case .fdBusy(let fd): "event loop: fd \(fd) already has a waiter in that direction"
        case .fdClosed(let fd): "event loop: fd \(fd) was closed while a task waited on it"
        case .selector(let e): "event loop: \(e)"
        case .threadRefused(let code):
            "event loop: the system refused a thread (pthread_create: \(String(cString: strerror(code))))"
        }
    }
}

public final class EventLoop: SerialExecutor, TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: mutable state is either protected by the loop thread (documented per
    // field; every access runs on it) or is a Locked/Atomic. Cross-thread entry points go through
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
    struct InboxItem: Sendable {
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

    let slowNanos: UInt64
    let ioPollNanos: UInt64
    let publishNanos: UInt64
    let selector: Selector
    let published = LoopPublished()
    /// The loop as a SerialExecutor (its own identity, so the jobs that need serial isolation
    /// arrive apart from the others). Created in init, lives as long as the loop.
    let serialFace: LoopSerialExecutorFace

    // Cross-thread submissions. Any thread appends; the loop thread drains.
    let inbox = Locked(Deque<InboxItem>())
    // sequentially consistent: part of the wake-up protocol (see Selector).
    let inboxCount = Atomic<Int>(0)
    /// pthread_t of the loop thread, 0 before it starts. relaxed: compared only against the
    /// caller's own pthread_self(), which can match only if the loop thread stored it.
    let threadID = Atomic<UInt>(0)
    /// 0 running, 1 stop requested, 2 stopped.
    let runState = Atomic<Int>(0)
    let thread = Locked<OSThread?>(nil)
    let joined = Atomic<Bool>(false)

    // Everything the loop thread owns. Protected by the loop thread: only it reads or writes these (see
    // "Ownership" above). `@exclusivity(unchecked)`: that rule already excludes overlapping accesses, and Swift's
    // dynamic exclusivity check on a class property (a TLS access-set insert and remove per access) cost ~10% of a
    // task switch.
    /// Jobs ready to run, FIFO.
    @exclusivity(unchecked) var ready = ReadyQueue<Item>()
    @exclusivity(unchecked) var timers = TimerHeap()
    /// Names of alive named tasks, by task address.
    @exclusivity(unchecked) var taskNames = TaskNameTable()
    /// Every alive task spawned by `spawn`, for cancellation at shutdown.
    @exclusivity(unchecked) var aliveTasks = SlotList<UInt>()
    /// Fd registrations with a waiter, by fd and by registration id (the epoll token).
    @exclusivity(unchecked) var fdRegistrations: [Int32: LoopFdRegistration] = [:]
    @exclusivity(unchecked) var fdRegistrationsByID: [UInt64: LoopFdRegistration] = [:]
    /// Next registration id (the selector's wake token is `.max`).
    @exclusivity(unchecked) var nextFdRegistrationID: UInt64 = 1
    /// Fd waits in progress (readers + writers).
    @exclusivity(unchecked) var fdWaiterCount = 0
    /// Callbacks run when the loop next runs out of work (tests).
    @exclusivity(unchecked) var idleWaiters: [() -> Void] = []
    /// The loop clock as of the current job's start (or the last read).
    @exclusivity(unchecked) var now: UInt64 = 0
    @exclusivity(unchecked) var lastPoll: UInt64 = 0
    @exclusivity(unchecked) var lastPublish: UInt64 = 0
    @exclusivity(unchecked) var lag: LagRecorder? = nil
    @exclusivity(unchecked) var heartbeatTimer: LoopTimer? = nil
    @exclusivity(unchecked) var queueDelay = LogLinearHistogram()
    @exclusivity(unchecked) var runTime = LogLinearHistogram()
    /// Plain counters, published into `published`.
    @exclusivity(unchecked) var jobsRun: UInt64 = 0
    /// Tasks spawned on the loop thread, and spawned tasks that ended (any spawner).
    @exclusivity(unchecked) var spawnedOnLoop = 0
    @exclusivity(unchecked) var tasksEnded = 0
    @exclusivity(unchecked) var slowCallbacks: UInt64 = 0
    @exclusivity(unchecked) var busyNanos: UInt64 = 0
    /// Name of the job running now, and whether `published.currentName` holds a name.
    @exclusivity(unchecked) var currentName: String? = nil
    @exclusivity(unchecked) var publishedNameSet = false

    /// Loop thread: spawned tasks not ended yet (started or not).
    var tasksAliveNow: Int {
        published.spawnedOffLoop.load(ordering: .relaxed) + spawnedOnLoop - tasksEnded
    }

    /// Creates the loop and starts its thread. Throws `threadRefused` when the system refuses that thread.
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
        let t: OSThread
        do {
            t = try OSThread.start(name: configuration.name) { [self] in runLoop() }
        } catch {
            throw .threadRefused(code: error.code)
        }
        thread.withLock { $0 = t }
    }

    deinit {
        ready.destroy()
    }

    /// Convenience: `EventLoop(name:)` with defaults otherwise.
    public convenience init(name: String, id: Int = 0, clock: LoopClock = .monotonic) throws(LoopError) {
        var c = Configuration()
        c.name = name
        c.id = id
        c.clock = clock
        try self.init(c)
    }

}
