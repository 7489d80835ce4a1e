// Scheduler: M:N scheduling of stackful fibers onto carrier threads, with work stealing.
//
// # Glossary (Go's names in brackets)
//
// - *fiber* [G]: a stackful coroutine (Sources/Runtime/Fiber). Its scheduler record is a `FiberTask`, which owns
//   the fiber's stack and switch context itself (no `Fiber` object per task; see `Scheduler.run`).
// - *worker* [P]: a scheduling slot: a bounded local run queue, counters, an event ring. There are exactly
//   `carriers` workers; a fiber runs only while some carrier holds a worker.
// - *carrier* [M]: an OS thread that runs a worker's scheduling loop. Normally one per worker; spare
//   carriers exist only for blocking regions under the `handoff` policy.
// - *injector* [global runq]: a shared FIFO for spawns from outside, local-queue overflow and requeues.
//
// # Rejected approaches
//
// 1. One shared queue for all carriers (a mutex or an MPMC ring). Every spawn, wake and pop hits one
//    cache line; with 2 carriers it is fine, at 8+ it collapses (Go before 1.1, and the reason it has Ps).
// 2. Per-carrier queues with no stealing (round-robin placement, "loop per thread"). Uneven work — the
//    fan-out benchmark's 1 ms tasks among 10 µs ones — leaves a carrier idle while another has a backlog;
//    W5 would approach 2× instead of 1.0×. qvtop keeps it as the `none` steal policy to show exactly that.
// 3. Parking the carrier when a fiber blocks (a fiber = a thread). Then a parked sleep or channel receive
//    costs a whole OS thread, which is what the talk is about avoiding. Fibers park; carriers park only
//    when there is nothing at all to run.
//
// # The current approach
//
// Each worker runs `schedule()` (Scheduler+Loop.swift): pop its local queue (FIFO), and when empty look in
// order at the injector (a batch), ready I/O, and other workers' queues (steal `one` or `half` from victims
// in random order). Every `injectorInterval` (61) ticks it looks at the injector first even when busy, and
// due timers are expired on every tick, so neither starves behind a busy local queue.
//
// A fiber woken by the fiber running on a worker (a channel hand-over, a join) goes to that worker's LIFO
// slot (`runnext`; tokio's lifo_slot, Go's runnext) and runs as soon as the waker parks, on the same carrier,
// while the data it was handed is still in cache. At most 3 consecutive runs come from it before the queue
// gets a turn. The slot is an atomic pointer: an idle worker that finds every queue empty may take a fiber
// it has seen waiting there for 5 µs (its waker kept running; Go steals runnext the same way) — the owner
// pays an exchange instead of a plain store. The put wakes nobody (tokio's rule; a wake-up there fed a
// steal-and-park cycle between two carriers): a worker already searching steals it, or the monitor wakes an idle
// worker for a worker whose run counter stays stuck with its slot or queue non-empty (Monitor.swift, "Stuck
// queues"); otherwise the fiber waits for its waker to park. A fiber whose timer expired also goes to the LIFO slot of the worker that expired it (Go's
// `ready(gp, next: true)`): behind CPU-bound fibers that yield every few ms, the back of the queue is several
// slices away, and a 1 ms sleep became tens of ms late. Spawns and I/O wake-ups go to the back of the queue.
//
// ## Idle and wake-up (Go's "spinning" protocol, proc.go)
//
// `nmspinning` counts workers searching for work. A push (spawn, wake) wakes one parked worker only when
// nobody is spinning and somebody is idle — never a herd. A woken worker starts spinning; when a spinning
// worker finds work it stops spinning and, if it was the last spinner, wakes another, so work spreads
// worker by worker. Before parking, a worker stops spinning, puts itself in the idle list, issues a
// seq-cst fence and checks every queue again; a pusher pushes, fences and then checks `nmspinning` and the
// idle count. One of the two always sees the other (store → fence → load on both sides): no lost wake-up.
//
// The first worker to park becomes the poller owner: it sleeps in `epoll_wait` with a timerfd armed at the
// next timer deadline (nanosecond precision), others sleep on their parker's condition variable. Busy
// workers poll I/O without blocking when their queue runs dry and every 61 ticks.
//
// ## Parking a fiber (gopark)
//
// See the state table in FiberTask.swift: the fiber tells its carrier it parks (`postSwitch`, no atomic) and
// switches away; its carrier, once off the fiber's stack, CASes `runnable → parked`. A waker CASes
// `parked → runnable` and enqueues, or `runnable → notified` before that CAS, which then fails and leaves the
// requeue to the carrier. So a fiber is never enqueued while a carrier
// still runs on its stack, and no lock is held across a switch. Every wake is a CAS, never a decision taken on
// a load (a queued or running fiber gets a permit for its next park), so no wake can be lost to a stale read
// ("Every wake is a read-modify-write" in FiberTask.swift).
//
// ## Blocking regions
//
// `Scheduler.blocking { … }` wraps a real blocking syscall. Under `pin` the carrier simply blocks: its
// worker is held (state `pinned`), its queue waits unless idle workers steal it (we wake one if the queue is
// not empty). Under `handoff` the worker passes to a spare carrier (created on demand, at most
// `maxSpareCarriers`) before the call, so the queue keeps running at full width; when the call returns the
// blocked carrier has no worker, so it requeues the fiber on the injector and becomes a spare itself
// (Go's entersyscallblock / exitsyscall slow path). No spare available (`maxSpareCarriers` reached, or the system
// refuses a thread) → the region is pinned.
// A fiber that holds its carrier without any `blocking {}` is found by the monitor thread, and under `handoff`
// a spare carrier with a retake worker of its own takes over the queue behind it (Monitor.swift).
//
// ## Metrics and events
//
// Each worker counts in plain integers and publishes them every 61 runs and before it parks (tokio's
// Stats → WorkerMetrics); `metrics()` only loads atomics. Events are for what is notable: every park and
// unpark is counted, but only a park that lasted `parkEventThresholdNanos` (1 ms) becomes an event pair
// (written at unpark, the park stamped with its start); external spawns are counted and reported as one
// spawn-batch event per `drainEvents()`; spawns from fibers, and steals from one victim, as one event per 61 runs or park. Fiber counts by state are differences of monotonic
// counters (spawned − finished, parks − wakes per reason, blocking begins − ends), not shared gauges. Notable
// events go to one SPSC `EventRing` per worker (dropped and counted when full); `drainEvents()` merges them.
// The ready → running delay is measured on 1 in `delaySampling` enqueues (two clock reads each).
//
// ## Shutdown
//
// `shutdown()` lets each carrier finish the fiber it is running (fibers are not preemptible), joins every
// carrier, then closes the injector and *cancels* queued, sleeping and I/O-parked fibers: their join handles
// complete as cancelled (`isCancelled`, `tryJoin()` throws `.cancelled`, a plain-thread `join(timeoutNanos:)`
// returns nil at once), fibers joining them are cancelled in turn, and their stacks go back to the pool. What
// their suspended frames retained is leaked (Swift cannot unwind a foreign stack). A spawn after shutdown (or
// racing with it) is refused by the closed injector and returns a cancelled handle — never a crash. Fibers
// parked on a channel, mutex or semaphore are found through the registry of their waiters (`syncWaiters`):
// shutdown takes each waiter off its primitive's list under that primitive's lock, then cancels the fiber.
// `shutdown(drain: true)` first waits for every fiber to finish. Running carriers keep the scheduler alive,
// so `shutdown()` must be called (from a plain thread); it is what releases the scheduler.
import CRuntime
import Glibc
import Synchronization

/// Errors of scheduler set-up and of fiber I/O.
public enum SchedulerError: Error, Equatable, Sendable {
    case invalidConfiguration(String)
    case poller(PollerError)
    case shutDown
    /// A join on a fiber that never ran to completion: spawned after `shutdown()`, or dropped by it.
    case cancelled
    case io(op: String, errno: Int32)
    /// `Scheduler.close(fd)` closed the fd while this fiber waited on it (Go's ErrNetClosing).
    case closed(fd: Int32)
    /// The system refused a carrier's or the monitor's thread (`pthread_create`'s error: EAGAIN at a thread or
    /// memory limit); the threads already started were stopped and joined.
    case threadRefused(code: Int32)
}

/// An M:N scheduler: fibers (`spawn`) run on `carriers` OS threads, park on timers (`sleep`), channels,
/// joins and fds without holding a thread, and may resume on another carrier after every park.
///
/// Fiber code and thread identity: because a fiber migrates across parks, code running in a fiber must
/// not use anything that records or caches the OS thread's identity — `Synchronization.Mutex` (its owner
/// tid is read through a thread-local the optimizer may compute before a park and reuse after it),
/// error-checking or priority-inheritance `pthread_mutex`es, thread-locals, `pthread_self()`, a cached
/// `errno`. Use `SpinLock` for short critical sections shared with plain threads, `FiberMutex`,
/// `Channel` and `FiberSemaphore` between fibers, `Fiber.current` / `qv_gettid()` for identity.
public final class Scheduler: @unchecked Sendable {
    // @unchecked Sendable: shared state is atomic or behind Mutexes; per-worker plain state follows the
    // ownership rules in Worker.swift.

    public enum StealPolicy: String, Sendable, CaseIterable, Codable {
        case none, one, half
    }

    public struct Configuration: Sendable, Equatable {
        /// Carrier threads (= workers), 1…256.
        public var carriers: Int
        public var steal: StealPolicy
        public var blocking: BlockingPolicy
        /// Local run queue capacity per worker: a power of two, 2…65536.
        public var localQueueCapacity: Int
        /// Steal rounds a searching worker makes before it parks.
        public var spinCount: Int
        /// Spare carriers for `handoff` beyond `carriers`.
        public var maxSpareCarriers: Int
        /// Fiber stack size for spawned fibers.
        public var stackSize: Int
        /// Event ring capacity per worker.
        public var eventRingCapacity: Int
        /// 1 in `delaySampling` enqueues is timestamped for the ready → running delay (0 = off). Default 64:
        /// two clock reads per sample, so 1 in 16 cost ~3 % of a ~90 ns spawn (`bench overhead`); 1 in 64 still
        /// gives ~15,000 samples a second at a million spawns a second, ~150 at ten thousand.
        public var delaySampling: Int
        /// A worker park becomes a park/unpark event pair only when it lasted at least this long (ns); shorter
        /// parks are only counted. Idle workers park and unpark 50k+ times a second under a spawn-heavy load:
        /// one event each would flood the rings (0 = an event for every park).
        public var parkEventThresholdNanos: UInt64
        /// A fiber that holds its carrier this long (ns) without a scheduling point is reported by the monitor
        /// thread as a blocking region, and under `handoff` (with `hogRetake`) a spare carrier takes over the queue
        /// behind it until it yields (Monitor.swift). Default 10 ms; 0 = no monitor thread.
        public var hogThresholdNanos: UInt64
        /// Under `handoff`, a spare carrier takes over a hogged worker's queue (Monitor.swift, "Retake"); false:
        /// the monitor only reports hogs (a model with exactly one carrier, such as green threads).
        public var hogRetake: Bool

        public init(
            carriers: Int = Scheduler.coreCount, steal: StealPolicy = .half, blocking: BlockingPolicy = .handoff,
            localQueueCapacity: Int = 256, spinCount: Int = 8, maxSpareCarriers: Int = 64,
            stackSize: Int = FiberStack.defaultSize, eventRingCapacity: Int = 4096, delaySampling: Int = 64,
            parkEventThresholdNanos: UInt64 = 1_000_000, hogThresholdNanos: UInt64 = 10_000_000,
            hogRetake: Bool = true
        ) {
            self.carriers = carriers
            self.steal = steal
            self.blocking = blocking
            self.localQueueCapacity = localQueueCapacity
            self.spinCount = spinCount
            self.maxSpareCarriers = maxSpareCarriers
            self.stackSize = stackSize
            self.eventRingCapacity = eventRingCapacity
            self.delaySampling = delaySampling
            self.parkEventThresholdNanos = parkEventThresholdNanos
            self.hogThresholdNanos = hogThresholdNanos
            self.hogRetake = hogRetake
        }

        func validate() throws(SchedulerError) {
            guard (1...256).contains(carriers) else {
                throw .invalidConfiguration("carriers must be 1…256 (got \(carriers))")
            }
            let c = localQueueCapacity
            guard c >= 2 && c <= 65536 && c & (c - 1) == 0 else {
                throw .invalidConfiguration("localQueueCapacity must be a power of two in 2…65536 (got \(c))")
            }
            guard spinCount >= 0, maxSpareCarriers >= 0, delaySampling >= 0 else {
                throw .invalidConfiguration("spinCount, maxSpareCarriers and delaySampling must be ≥ 0")
            }
        }
    }

    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Injector check interval in ticks (Go: 61), also the counter publish interval.
    static let injectorInterval: UInt64 = 61

    /// Keeps the object header (the reference count, which `spawn` and wake-ups may retain and release) off the
    /// line of `configuration` and the other fields every carrier reads on every run.
    private let padAfterHeader: CacheLinePad = cacheLinePad
    public let configuration: Configuration
    let workers: [Worker]
    /// The workers' event rings, in worker order: the sampler's drain reads a ring without first reading its worker's
    /// object (a line the worker writes). Immutable after init.
    let eventRings: [EventRing]
    let injector = Injector<FiberTask>()
    let timers = Timers<FiberTask>()
    let poller: Poller
    let stealLimit: UInt32

    // Idle coordination (see the essay). On a cache line of their own: a searching worker writes `nmspinning`
    // twice per steal, and every spawn reads the fields above (configuration, injector, workers); sharing
    // their line made each spawn wait for a cache miss while another worker was stealing from it.
    private let padBeforeIdle: CacheLinePad = cacheLinePad
    let nmspinning = Atomic<Int>(0)
    let idleCount = Atomic<Int>(0)
    private let padAfterIdle: CacheLinePad = cacheLinePad
    let idle = Locked<[Worker]>([])
    /// True while a parked worker sleeps in the poller.
    let pollerOwned = Atomic<Bool>(false)
    /// Deadline the poller owner armed (.max = about to arm, 0 = nobody polling).
    let pollerDeadline = Atomic<UInt64>(0)

    /// Every fiber's reusable sync waiter (channels, mutexes, semaphores), registered when the fiber first waits
    /// and removed when it completes, so `shutdown()` can find fibers parked on a primitive: nothing else
    /// references them but the primitive's waiter list. Two lock round trips per fiber that ever waits on a
    /// primitive, nothing per wait.
    let syncWaiters = Locked<[ObjectIdentifier: Waiter]>([:])

    /// Fibers waiting on fds, per fd and direction (FdWaits.swift, Scheduler+IO.swift).
    let fdWaits = FdWaits()
    /// Fd waits not yet ended: a hint for carriers to poll (raised before a wait is armed).
    let ioWaiterCount = Atomic<Int>(0)

    // Carriers.
    let carriersLock = Locked<(all: [Carrier], threads: [OSThread], spares: [Carrier])>(([], [], []))
    let stopping = Atomic<Bool>(false)
    let shutDown = Atomic<Bool>(false)

    // Counters for things that happen off a worker (external spawns, wakes from plain threads, blocking).
    let externalSpawned = Atomic<UInt64>(0)
    let externalFinished = Atomic<UInt64>(0)
    let externalWakes = AtomicBuffer(count: ParkReason.allCases.count)
    /// External spawns not yet reported as a spawn-batch event (see `drainEvents`).
    let pendingExternalSpawns = Atomic<Int>(0)
    let pinBegins = Atomic<UInt64>(0)
    let pinEnds = Atomic<UInt64>(0)
    let handoffBegins = Atomic<UInt64>(0)
    let handoffEnds = Atomic<UInt64>(0)
    /// Spare carriers whose thread the system refused (`takeSpare`).
    let spareRefusals = Atomic<UInt64>(0)
    /// Events produced off a worker (blocking ends on a detached carrier, external spawns); producers
    /// serialise on `detachedEventsLock` so the ring keeps a single producer at a time.
    let detachedEvents: EventRing
    /// (Counters rather than `Void` values: ThreadSanitizer misreports inout accesses to a zero-sized value.)
    let detachedEventsLock = Locked<UInt64>(0)
    let drainLock = Locked<UInt64>(0)
    /// Start (ns) of the sampling interval `takeInterval()` reports next; the lock serialises samplers only.
    let intervalLock = Locked<UInt64>(0)
    /// The monitor thread (nil when `hogThresholdNanos` is 0), joined by `shutdown()`; it sleeps on the parker.
    let monitorThread = Locked<OSThread?>(nil)
    let monitorParker = Parker()
    /// Fibers the monitor reported holding their carrier; fibers retakes took off hogged workers' queues.
    let hogsDetected = Atomic<UInt64>(0)
    let hogQueueMoves = Atomic<UInt64>(0)
    // The monitor's retakes (Monitor.swift).
    /// Retake workers the monitor created (ids from `carriers` on), appended by the monitor; read by `metrics()`,
    /// `drainEvents()` and `shutdown()`. No carrier takes this lock.
    let retakeWorkers = Locked<[Worker]>([])
    /// Retakes started (a counter).
    let hogRetakes = Atomic<UInt64>(0)
    /// The workers' batch-published counters, slot i for worker i (Metrics/SchedulerMetrics.swift); read by
    /// `metrics()` and `sample(into:)`.
    let publishedCounters: PublishedCounters
    /// This scheduler's number among the schedulers of the process (from 1, never reused): what a `SchedulerSample`
    /// knows its cache's scheduler by.
    let serial: UInt64
    static let serials = Atomic<UInt64>(0)
    /// Set by the first `metrics()` call: from then on carriers publish the running fiber's name.
    let observed = Atomic<Bool>(false)

    /// Where spawned fibers' stacks come from (`.shared` unless the caller passes a private pool).
    public let stackPool: StackPool
    /// Fibers not started for want of a stack, and the last refused mapping's errno, bytes and stacks: written by
    /// the refusing carrier, read by `stackRefusal` (Scheduler+Stacks.swift).
    let stackRefusals = Atomic<UInt64>(0)
    let stackRefusalErrno = Atomic<Int32>(0)
    let stackRefusalBytes = Atomic<Int>(0)
    let stackRefusalStacks = Atomic<Int>(0)

    /// Carrier threads alive in the process, over every scheduler (a leak check for tests).
    public static var liveCarrierThreads: Int { liveThreads.load(ordering: .relaxed) }  // relaxed: gauge.
    static let liveThreads = Atomic<Int>(0)
    /// This scheduler's carrier threads still running (0 after shutdown).
    public var liveCarrierThreadCount: Int { liveCarriers.load(ordering: .relaxed) }  // relaxed: gauge.
    let liveCarriers = Atomic<Int>(0)

    /// Starts `configuration.carriers` carrier threads.
    public init(_ configuration: Configuration = Configuration(), stackPool: StackPool = .shared) throws(SchedulerError)
    {
        try configuration.validate()
        self.configuration = configuration
        self.stackPool = stackPool
        do { poller = try Poller() } catch { throw .poller(error) }
        let counters = PublishedCounters(slots: configuration.carriers)
        publishedCounters = counters
        // relaxed: a unique number; nothing else is ordered by it.
        serial = Self.serials.add(1, ordering: .relaxed).newValue
        workers = (0..<configuration.carriers).map {
            Worker(
                id: $0, capacity: configuration.localQueueCapacity, eventCapacity: configuration.eventRingCapacity,
                published: PublishedWorkerMetrics(table: counters, index: $0))
        }
        eventRings = workers.map(\.events)
        detachedEvents = EventRing(capacity: configuration.eventRingCapacity)
        switch configuration.steal {
        case .none: stealLimit = 0
        case .one: stealLimit = 1
        case .half: stealLimit = .max
        }
        let now = qv_now_ns()
        for w in workers { w.activeSince = now }
        intervalLock.withLock { $0 = now }
        // A thread the system refuses (a thread or memory limit) is an error the caller reports (a preset switch
        // shows it as a banner), not a trap: the threads started so far are stopped and joined first.
        var refused: OSThread.StartError? = nil
        carriersLock.withLock { c in
            for w in workers {
                let carrier = Carrier(index: c.all.count, scheduler: self)
                carrier.worker = w
                w.carrierIndex.store(carrier.index, ordering: .relaxed)  // relaxed: gauge.
                do throws(OSThread.StartError) {
                    c.threads.append(try OSThread.start { carrier.scheduler.carrierMain(carrier) })
                } catch {
                    refused = error
                    return
                }
                c.all.append(carrier)
            }
        }
        if refused == nil && configuration.hogThresholdNanos > 0 {
            // Strong capture, as carriers hold their scheduler: `shutdown()` stops and joins the monitor.
            do throws(OSThread.StartError) {
                let thread = try OSThread.start { self.monitorMain() }
                monitorThread.withLock { $0 = thread }
            } catch {
                refused = error
            }
        }
        if let refused {
            shutdown()
            throw .threadRefused(code: refused.code)
        }
    }

    /// Reached only after `shutdown()` (running carriers hold the scheduler; see `Carrier.scheduler`).
    deinit {}

    // MARK: Spawning

    /// Spawns a fiber running `body`. From a fiber of this scheduler it goes to the local queue, else to the
    /// injector. `kind` labels the fiber's task kind for the dashboard.
    ///
    /// `body` is `consuming` and `consume`d into the record (both overloads): the caller hands its reference to the
    /// closure over (a borrowed parameter was copied into the record, and an `__owned` one still was — its lexical
    /// lifetime outlived the store: a retain and a release of the closure context per spawn either way). Both are
    /// inlined, so the label's default empty literals fold away (`TaskLabel.make`: an unnamed spawn passes no
    /// strings).
    @inlinable @discardableResult
    public func spawn<T>(name: String = "", kind: String = "", _ body: consuming @escaping () -> T) -> JoinHandle<T> {
        let task = ResultTask<T>(scheduler: self, label: TaskLabel.make(name: name, kind: kind), body: consume body)
        enqueueNew(task)
        return JoinHandle(task: task)
    }

    /// After `shutdown()` a spawn is refused: the handle reports `isCancelled` (never a crash). A spawn that
    /// races with shutdown either lands in a queue that shutdown drains (and cancels) or is refused here.
    /// `spawn` of a body that returns nothing (preferred by overload resolution over the generic one): a
    /// non-generic task record, so no generic metadata is looked up per spawn, run or deinit.
    @inlinable @discardableResult
    public func spawn(name: String = "", kind: String = "", _ body: consuming @escaping () -> Void) -> JoinHandle<Void>
    {
        let task = VoidTask(scheduler: self, label: TaskLabel.make(name: name, kind: kind), body: consume body)
        enqueueNew(task)
        return JoinHandle(task: task)
    }

    /// Enqueues a record `spawn` has just made: no other thread can reach `task` yet, so the local queue's retain
    /// of it is non-atomic (`fresh`, see LocalQueue.push).
    @usableFromInline
    func enqueueNew(_ task: FiberTask) {
        // Borrowed, not retained: a retain and release of the carrier and of the worker per spawn were four
        // atomic read-modify-writes on the spawner's path.
        let local: Void? = withLocalWorker { _, w in
            // A carrier of ours is still running, so shutdown has not drained the queues yet: it will.
            w.counters.spawned &+= 1
            w.spawnsSinceEvent &+= 1
            pushLocal(task, on: w, fresh: true)
        }
        if local == nil && pushExternal(task) {
            externalSpawned.add(1, ordering: .relaxed)  // relaxed: statistic.
            // Coalesced: drainEvents emits one spawn-batch event for all external spawns since the last drain.
            pendingExternalSpawns.add(1, ordering: .relaxed)  // relaxed: a statistic for the next drain.
        }
    }

    /// Makes `task` runnable from outside the scheduler's carriers: timestamped (every external enqueue is
    /// sampled), onto the injector, an idle worker woken. False when shutdown has closed the injector: the task
    /// is then cancelled, since it can never run. Any thread.
    private func pushExternal(_ task: FiberTask) -> Bool {
        if configuration.delaySampling > 0 { task.readyAt = qv_now_ns() }
        guard injector.pushIfOpen(task) else {
            task.cancel()
            return false
        }
        wakeIdle()
        return true
    }

    /// Timestamps 1 in `delaySampling` enqueues on `w` (on average) for the ready → running delay. Owner of `w`.
    /// A countdown to the next sampled enqueue, drawn at random from 1 … 2·`delaySampling` − 1 (mean `delaySampling`)
    /// at each sample: a decrement and a test per enqueue, where a random draw per enqueue cost a xorshift step and a
    /// mask (~15 instructions on every wake, yield and spawn).
    @inline(__always)
    private func sampleDelay(_ task: FiberTask, on w: Worker) {
        let sampling = configuration.delaySampling
        if sampling > 0 {
            w.delayCountdown &-= 1
            if w.delayCountdown <= 0 {
                task.readyAt = qv_now_ns()
                w.delayCountdown = 1 + Int(w.nextRandom() % UInt64(2 * sampling - 1))
            }
        }
    }

    /// Puts a runnable task on `w`'s queue (owner only) and wakes an idle worker if needed. `fresh`: see `enqueueNew`.
    @inline(__always)
    func pushLocal(_ task: FiberTask, on w: Worker, fresh: Bool = false) {
        sampleDelay(task, on: w)
        pushedLocal(moved: w.local.push(task, overflow: injector, fresh: fresh), on: w)
    }

    /// `pushLocal` of a task passed as a +1 (`Unmanaged`), which the queue takes over (a run's requeue: no retain).
    @inline(__always)
    func pushLocal(retained task: UnsafeMutableRawPointer, on w: Worker) {
        // Unmanaged: borrowed for the sampling; the +1 passed in keeps it alive.
        Unmanaged<FiberTask>.fromOpaque(task)._withUnsafeGuaranteedRef { sampleDelay($0, on: w) }
        pushedLocal(moved: w.local.push(retained: task, overflow: injector), on: w)
    }

    /// After a push onto `w`'s queue that moved `moved` fibers to the injector: the event, and the wake-up. Owner.
    @inline(__always)
    private func pushedLocal(moved: Int, on w: Worker) {
        if moved > 1 { w.event(.spawnBatch, other: -2, count: Int32(moved)) }
        // With one worker there is nobody to wake: the only worker is `w`, and its owner is the caller, running. (The
        // check saves wakeIdle's seq-cst fence — an `mfence`, ~30 % of a 1-carrier `yield` round trip.)
        if workers.count > 1 { wakeIdle() }
    }

    /// Runs `body` with the calling thread's carrier and worker when the thread is a carrier of this scheduler
    /// holding a worker; nil otherwise. Both are borrowed (`_withUnsafeGuaranteedRef`): a retain and release of
    /// each per spawn, wake or park were four atomic read-modify-writes on the hot paths.
    @inline(__always)
    func withLocalWorker<R>(_ body: (Carrier, Worker) -> R) -> R? {
        guard let u = CarrierTLS.currentUnretained() else { return nil }
        return u._withUnsafeGuaranteedRef { c -> R? in
            guard c.scheduler === self, let wr = c.workerRef else { return nil }
            return wr._withUnsafeGuaranteedRef { w in body(c, w) }
        }
    }

    /// Makes a task runnable from any thread: the current worker's queue, else the injector.
    func enqueue(_ task: FiberTask) {
        let local: Void? = withLocalWorker { c, w in enqueueLocal(task, carrier: c, worker: w) }
        if local == nil { _ = pushExternal(task) }
    }

    /// `enqueue` on the calling carrier `c`, which holds `w`. Owner of `w`.
    @inline(__always)
    private func enqueueLocal(_ task: FiberTask, carrier c: Carrier, worker w: Worker) {
        if c.runsFiber {
            putRunnextFromFiber(retainedPointer(task), on: w)
        } else {
            pushLocal(task, on: w)
        }
    }

    /// Woken by a running fiber (a channel hand-over, a join): the LIFO slot, so it runs on this carrier as soon
    /// as the waker parks, while its data is still in cache (tokio's lifo_slot, Go's runnext). A displaced
    /// occupant goes to the queue, which wakes a worker. `task` is a +1 (`retainedPointer`) that the slot takes
    /// over. Owner of `w`, with a fiber running on its carrier.
    ///
    /// No wake-up for the slot itself (tokio's `schedule_local`: it notifies only when the put displaces an
    /// occupant into the queue). The slot's fiber runs when its waker reaches a scheduling point, which for a
    /// hand-over is at once; for a waker that keeps running, the monitor wakes an idle worker once it sees the
    /// worker's run counter stuck with the slot or the queue non-empty (`wakeForStuckWorker`), and that worker
    /// takes the slot's fiber after `runnextStealDelay`. A wake-up here (Go's ready → wakep) fed a
    /// steal-and-park cycle on a 2-carrier hand-over: the idle worker woke, stole the slot's fiber while its waker
    /// was still in the futex call, the pair moved to it, the other worker parked, and the next hand-over woke it
    /// again (docs/performance.md, "Session 10 (2026-12-03): spawn and channel-2c").
    @inline(__always)
    private func putRunnextFromFiber(_ task: UnsafeMutableRawPointer, on w: Worker) {
        // Unmanaged: borrowed for the sampling; the +1 passed in keeps it alive.
        Unmanaged<FiberTask>.fromOpaque(task)._withUnsafeGuaranteedRef { sampleDelay($0, on: w) }
        if let prev = w.putRunnext(retained: task) { pushLocal(prev, on: w) }
    }

    /// Puts `task` in `w`'s LIFO slot; a displaced occupant goes to the queue (which wakes a worker). Owner.
    @inline(__always)
    func putRunnext(_ task: FiberTask, on w: Worker) {
        if let prev = w.putRunnext(task) { pushLocal(prev, on: w) }
    }

    // MARK: Wake-ups

    /// Wakes one idle worker when no worker is spinning (Go's wakep). Any thread.
    @inline(__always)
    func wakeIdle() {
        // Pairs with the fence in `parkWorker`: our push above is visible to a worker that checks the queues
        // after it went idle, or we see its idle registration here.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if nmspinning.load(ordering: .relaxed) != 0 || idleCount.load(ordering: .relaxed) == 0 { return }
        // relaxed (both loads): the fence above orders them; stale values only cause a harmless extra check.
        wakeIdleSlow()
    }

    @inline(never)
    private func wakeIdleSlow() {
        guard nmspinning.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged else {
            return
        }
        let w = idle.withLock { list -> Worker? in
            guard let w = list.popLast() else { return nil }
            w.inIdleList = false
            w.wokeAsSpinner = true
            idleCount.subtract(1, ordering: .sequentiallyConsistent)
            return w
        }
        guard let w else {
            nmspinning.subtract(1, ordering: .sequentiallyConsistent)
            return
        }
        // The woken worker starts as a spinner (we counted it above); see `parkWorker`.
        w.parker.unpark(poller: poller)
    }

    /// Makes a parked task runnable, or leaves a permit for a queued, running or parking one (see the table above
    /// `TaskState`). Any thread, any number of times (extra wakes are no-ops).
    /// `next`: the owner of that worker is waking it (timer expiry) — it goes to the worker's LIFO slot.
    ///
    /// The wake is counted under the reason the task parked for (`parkReason`), not under what the waker completes:
    /// a stray wake (a timer firing as its sleep ends and the fiber parks on a channel, a late permit) would
    /// otherwise move one from one reason's "parked" figure to another's. `parkReason` is the fiber's, written before
    /// its carrier's `runnable → parked` CAS; our CAS reads that value, so the read below sees it, and nobody writes
    /// it again before the task runs, which our enqueue comes first.
    @usableFromInline func wake(_ task: FiberTask) { wake(task, next: nil) }

    func wake(_ task: FiberTask, next: Worker?) {
        guard Self.claimWake(task) else { return }
        let reason = task.parkReason  // after the claim (see above)
        if let w = next {
            w.counters.fiberWakes[reason.rawValue] &+= 1
            putRunnext(task, on: w)
        } else {
            enqueueWoken(task, reason: reason)
        }
    }

    /// `wake` for a task passed with a +1 (`retainedPointer`), which the wake takes over: a fiber waking it goes
    /// into its worker's LIFO slot with that +1 as it is (no retain of its own), any other path releases it once
    /// the task is enqueued or needs no enqueue. A channel's hand-over (PendingWake.fire). Any thread.
    @usableFromInline func wake(retained task: UnsafeMutableRawPointer) {
        // Unmanaged: borrowed while the +1 passed in is held.
        let t = Unmanaged<FiberTask>.fromOpaque(task)
        guard t._withUnsafeGuaranteedRef({ Self.claimWake($0) }) else {
            t.release()  // Unmanaged: the +1 passed in; no enqueue needs it.
            return
        }
        let reason = t._withUnsafeGuaranteedRef { $0.parkReason }  // after the claim (see `wake`)
        let local: Bool? = withLocalWorker { c, w in
            guard c.runsFiber else { return false }
            w.counters.fiberWakes[reason.rawValue] &+= 1
            putRunnextFromFiber(task, on: w)
            return true
        }
        // Unmanaged: takes over the +1 (the other enqueues retain the task themselves).
        if local != true { enqueueWoken(t.takeRetainedValue(), reason: reason) }
    }

    /// The wake's CAS (see the table above TaskState): true when it made the task runnable from parked, so the
    /// caller must enqueue it; false when it left a permit or the task is done. Any thread.
    @inline(__always)
    static func claimWake(_ task: FiberTask) -> Bool {
        // relaxed: a first guess only; every decision below is validated by a CAS (see the table above TaskState:
        // a wake never acts on a load, or a stale value could drop it).
        var s = task.state.load(ordering: .relaxed)
        while true {
            let desired: TaskState
            switch TaskState(rawValue: s)! {
            case .parked: desired = .runnable
            // runnable: queued, running, or switching off to park — the permit is for its next park (or for the
            // carrier's CAS after the switch, which counts the wake then; see the table above TaskState).
            case .runnable, .notified: desired = .notified
            case .done: return false  // final: nobody waits any more
            }
            let (exchanged, seen) = task.state.compareExchange(
                expected: s, desired: desired.rawValue, ordering: .sequentiallyConsistent)
            if exchanged { return s == TaskState.parked.rawValue }
            s = seen
        }
    }

    /// Counts the wake of `task` under `reason` (the one it parked for, read by the caller after its claim) and makes
    /// it runnable, with one look-up of the calling carrier for both. Any thread.
    private func enqueueWoken(_ task: FiberTask, reason: ParkReason) {
        let local: Void? = withLocalWorker { c, w in
            w.counters.fiberWakes[reason.rawValue] &+= 1
            enqueueLocal(task, carrier: c, worker: w)
        }
        if local == nil {
            externalWakes.add(reason.rawValue, 1)
            _ = pushExternal(task)
        }
    }

    // MARK: Fiber-side operations

    /// The task running on this thread, if it runs inside a fiber of some scheduler.
    @usableFromInline static var currentTask: FiberTask? {
        guard Fiber.isInFiber, let u = CarrierTLS.currentUnretained() else { return nil }
        return u._withUnsafeGuaranteedRef { $0.current }
    }

    /// Runs `body` with the task running on this thread, borrowed; nil (body not run) on a plain thread or inside a
    /// `blocking {}` region. For every wait that parks: a fiber dropped while parked (shutdown) never returns from its
    /// park, so a strong reference to its task in the waiting frame (`currentTask`) kept the task record alive for
    /// good. The task outlives the wait without one: the carrier resuming it holds it, and while it is parked
    /// whatever will wake it does (its timer, the fd table, the primitive's waiter, the joined task's join stack).
    @inline(__always)
    static func withCurrentTask<R>(_ body: (FiberTask) -> R) -> R? {
        guard Fiber.isInFiber, let u = CarrierTLS.currentUnretained(),
            let t = u._withUnsafeGuaranteedRef({ $0.currentRef })
        else { return nil }
        // Unmanaged: borrowed for the call (see above); `Scheduler.run` holds the running task for the whole resume.
        return t._withUnsafeGuaranteedRef(body)
    }

    // MARK: Timers

    /// Arms a timer that wakes `task` at `deadline`; returns its id (see `Timers.cancel`). Any thread.
    @discardableResult
    func addTimer(_ task: FiberTask, deadline: UInt64) -> UInt64 {
        let id = timers.add(deadline: deadline, task).id
        // Pairs with the poller owner's store of .max then read of nextDeadline (see pollBlocking).
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let armed = pollerDeadline.load(ordering: .relaxed)  // relaxed: ordered by the fence.
        if armed != 0 && deadline < armed { poller.wake() }
        return id
    }

    /// Expires due timers, waking their fibers into `w`'s LIFO slot (Go's `ready(gp, next: true)`): a fiber
    /// whose sleep ended runs at this worker's next scheduling point, not behind every fiber already queued —
    /// with CPU-bound fibers that yield every few ms, the back of the queue is several slices away. Owner of
    /// `w`, between fibers.
    @inline(__always)
    func checkTimers(_ w: Worker) {
        let next = timers.nextDeadline
        if next == .max { return }
        let now = qv_now_ns()
        if next > now { return }
        expireTimers(w, now: now)
    }

    /// `checkTimers` once a deadline has passed. Out of line: inlined, its array and wake-ups made every caller's frame
    /// (the loop's `findRunnable`, on every run) larger, with more registers to save and a stack-protector check.
    @inline(never)
    private func expireTimers(_ w: Worker, now: UInt64) {
        let expired = timers.expire(now: now)
        for t in expired { wake(t, next: w) }
        // As Go's ready() does: more work appeared here, so an idle worker may come and steal (the queue, or
        // the LIFO slot after its delay) — without this a busy worker keeps every timer's fiber to itself.
        if !expired.isEmpty { wakeIdle() }
    }

    // MARK: Events

    func detachedEvent(
        _ kind: RuntimeEventKind, worker: Int = -1, other: Int = -1, count: Int32 = 0, duration: UInt64 = 0,
        name: String? = nil
    ) {
        let e = RuntimeEventRecord(
            timeNanos: qv_now_ns(), kind: kind, worker: Int32(worker), other: Int32(other), count: count,
            durationNanos: duration, name: name)
        detachedEventsLock.withLock { n in
            n &+= 1
            _ = detachedEvents.push(e)
        }
    }

    /// Every pending event of every worker, oldest first. Never blocks a worker (one consumer at a time).
    public func drainEvents() -> [RuntimeEventRecord] {
        var sample = SchedulerSample()
        drainLock.withLock { n in
            n &+= 1
            findRingsWithEvents(into: &sample)  // Scheduler+Metrics.swift
            drainAll(into: &sample)
        }
        return sample.events
    }

    /// Events dropped because a ring was full, cumulative.
    public var droppedEvents: UInt64 {
        (workers + retakeWorkers.withLock { $0 }).reduce(detachedEvents.dropped) { $0 + $1.events.dropped }
    }
}

extension ParkReason {
    var fiberReason: FiberState.ParkReason {
        switch self {
        case .sleep: .sleep
        case .io: .io
        case .channel: .channel
        case .mutex: .mutex
        case .join: .join
        }
    }
}
