// Worker (Go's P) and Carrier (Go's M): a worker is a scheduling slot — a local run queue, counters, an
// event ring, a parker; a carrier is an OS thread that runs one worker's loop at a time. Normally each
// carrier keeps its worker forever; a `blocking {}` region under the `handoff` policy passes the worker to a
// spare carrier (see Scheduler.swift, "Blocking regions").
import CRuntime
import Glibc
import Synchronization

/// One scheduling slot. Fields marked "owner" are touched only by the carrier currently running this worker
/// (one at a time; a handoff passes ownership through the spare carrier's parker, which orders it).
final class Worker: @unchecked Sendable {
    // @unchecked Sendable: owner fields follow the rule above; shared fields are atomics or immutable.
    // @exclusivity(unchecked) on the plain fields: the ownership rule already excludes overlapping
    // accesses, and a dynamic exclusivity check is a runtime call on every scheduling step.
    /// Keeps the object header (its reference count, which the owner's code retains and releases) off the line of
    /// the fields below that thieves read.
    private let padAfterHeader: CacheLinePad = cacheLinePad
    let id: Int
    /// owner: push/pop.
    let local: LocalQueue<FiberTask>
    /// any worker: steal, length.
    let stealer: StealQueue<FiberTask>
    /// The thread running this worker parks here when idle (owner parks, anyone unparks).
    let parker = Parker()
    /// Published counters (any reader) and the owner's plain counters.
    let published: PublishedWorkerMetrics
    /// Keeps the fields above, which thieves read, off the line of the owner's counters written on every spawn.
    private let padAfterShared: CacheLinePad = cacheLinePad
    @exclusivity(unchecked) var counters = WorkerCounters()  // owner
    /// Notable events; the owner is the only producer.
    let events: EventRing
    /// owner: ticks of the scheduling loop (fairness checks every `Scheduler.injectorInterval`).
    @exclusivity(unchecked) var tick: UInt64 = 0
    /// owner: searching for work with `nmspinning` counted.
    @exclusivity(unchecked) var spinning = false
    /// owner: xorshift state for victim order and delay sampling.
    @exclusivity(unchecked) var rng: UInt64
    /// owner: enqueues left until the next one sampled for the ready → running delay (`Scheduler.sampleDelay`).
    @exclusivity(unchecked) var delayCountdown = 0
    /// The LIFO slot — a fiber woken by the fiber running here, run next (see Scheduler.enqueue) — as a
    /// retained object pointer (0 = empty). The owner puts and takes with an exchange; an idle thief may CAS
    /// out a fiber it has seen waiting there for `Scheduler.runnextStealDelay` (Go steals runnext too).
    /// acquiring-and-releasing on every access: the task's plain fields travel with it.
    private let runnextBits = Atomic<UInt>(0)
    /// owner (as a thief): the last victim slot seen occupied — victim id, slot value, when (ns).
    @exclusivity(unchecked) var runnextSighting: (victim: Int, bits: UInt, at: UInt64) = (-1, 0, 0)
    /// owner: consecutive runs taken from `runnext` (capped so two fibers ping-ponging cannot starve the queue).
    @exclusivity(unchecked) var runnextStreak = 0
    /// owner: the label published last (`publishRunning`), retained (this field owns the +1, released when it is
    /// evicted or by deinit) so that an identity test against it cannot be fooled by a new label at a freed one's
    /// address. Unmanaged, not a strong field: a run compares and swaps the two pointers with no reference counting.
    @exclusivity(unchecked) private var publishedLabel: Unmanaged<TaskLabel>?
    /// The label published before `publishedLabel` (retained the same way), kept so two labelled fibers taking turns on
    /// this worker (a channel ping-pong) swap the two pointers instead of retaining one and releasing another at every
    /// run. Owner only.
    @exclusivity(unchecked) private var previousLabel: Unmanaged<TaskLabel>?
    /// owner: spawns since the last spawn-batch event.
    @exclusivity(unchecked) var spawnsSinceEvent: Int32 = 0
    /// owner: fibers stolen from one victim since the last steal event (victim -1: none). Coalesced like the
    /// spawns: an idle worker feeding on a spawning one steals a few fibers every microsecond or so, and one
    /// event per steal flooded the rings (and the dashboard's conversion of them) with ~200,000 events a second.
    @exclusivity(unchecked) var pendingSteal: (victim: Int, count: Int32) = (-1, 0)
    /// owner: when the current search for work began (ns; 0 = not searching), for `searchNanos`.
    @exclusivity(unchecked) var searchStart: UInt64 = 0
    /// owner: monotonic time when the worker last became active (left park), for busy time.
    @exclusivity(unchecked) var activeSince: UInt64 = 0
    /// Guarded by Scheduler.idle's lock: true while in the idle list.
    @exclusivity(unchecked) var inIdleList = false
    /// Guarded by Scheduler.idle's lock: set by the waker that counted this worker in nmspinning.
    @exclusivity(unchecked) var wokeAsSpinner = false
    /// The carrier (thread index) running this worker; relaxed gauge for metrics, in the worker's published slot.
    var carrierIndex: SlotGauge<Int> { published.carrier }
    /// Handed-off blocking regions in progress whose carrier this worker left (any thread: the blocked
    /// carrier increments and decrements it); while > 0, metrics report the worker as `handedOff`.
    let handoffsOutstanding = Atomic<Int>(0)
    /// Set only on a retake worker: a worker beyond `carriers` that a spare carrier runs while a hog holds another
    /// worker's carrier (Monitor.swift). Immutable.
    let retake: RetakeState?

    /// `published`: the worker's slot of its scheduler's counters table (a retake worker gets a table of its own).
    init(
        id: Int, capacity: Int, eventCapacity: Int, retake: RetakeState? = nil,
        published: PublishedWorkerMetrics = PublishedWorkerMetrics()
    ) {
        self.id = id
        self.published = published
        self.retake = retake
        (local, stealer) = makeRunQueue(capacity: capacity)
        events = EventRing(capacity: eventCapacity)
        rng = 0x9E37_79B9_7F4A_7C15 &* UInt64(id + 1)
    }

    /// Puts `t` (or nothing) in the LIFO slot and returns the fiber it displaced. Owner.
    @inline(__always) func exchangeRunnext(_ t: FiberTask?) -> FiberTask? {
        // Unmanaged: the slot owns one retain of its task, passed in here and taken back by whoever takes it.
        // retainedPointer: the retain must happen before the exchange publishes the pointer (see RunQueue.swift).
        let new = t.map { UInt(bitPattern: retainedPointer($0)) } ?? 0
        let old = runnextBits.exchange(new, ordering: .acquiringAndReleasing)
        return Self.take(old)
    }

    /// Empties the LIFO slot, handing over its +1 as it is (`Unmanaged`; nil when empty). Owner.
    @inline(__always) func takeRunnext() -> UnsafeMutableRawPointer? {
        // acquiring-and-releasing: as exchangeRunnext (the task's plain fields travel with it).
        UnsafeMutableRawPointer(bitPattern: runnextBits.exchange(0, ordering: .acquiringAndReleasing))
    }

    /// Puts `t` in the LIFO slot and returns the fiber it displaced. Owner. The non-optional form of
    /// `exchangeRunnext`: wrapping `t` in an Optional for `map` cost a retain and a release per wake.
    @inline(__always) func putRunnext(_ t: FiberTask) -> FiberTask? {
        putRunnext(retained: retainedPointer(t))  // retainedPointer: as in exchangeRunnext.
    }

    /// `putRunnext` of a task passed as a +1 (`retainedPointer`), which the slot takes over. Owner.
    @inline(__always) func putRunnext(retained t: UnsafeMutableRawPointer) -> FiberTask? {
        let old = runnextBits.exchange(UInt(bitPattern: t), ordering: .acquiringAndReleasing)
        return Self.take(old)
    }

    /// True when the slot holds a fiber (a hint for anyone; exact for the owner, bar a thief's take).
    @inline(__always) var hasRunnext: Bool { runnextBits.load(ordering: .relaxed) != 0 }  // relaxed: hint.

    /// The slot's raw value, for a thief's sighting. Any thread.
    var runnextHint: UInt { runnextBits.load(ordering: .relaxed) }  // relaxed: compared by a later CAS.

    /// Takes the slot's fiber if the slot still holds `expected` (a thief). Any thread. A slot reused by a
    /// new task at the same address is still a fiber the slot owns: taking it is as valid.
    func stealRunnext(expected: UInt) -> FiberTask? {
        guard expected != 0,
            runnextBits.compareExchange(expected: expected, desired: 0, ordering: .acquiringAndReleasing).exchanged
        else { return nil }
        return Self.take(expected)
    }

    @inline(__always) private static func take(_ bits: UInt) -> FiberTask? {
        guard bits != 0, let p = UnsafeRawPointer(bitPattern: bits) else { return nil }
        // Unmanaged: balances the passRetained of exchangeRunnext.
        return Unmanaged<FiberTask>.fromOpaque(p).takeRetainedValue()
    }

    @inline(__always) func nextRandom() -> UInt64 {
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        return rng
    }

    /// Publishes the plain counters and the state. Owner only.
    func publish(state: SchedulerWorkerState) {
        let depth = local.count
        if depth > counters.maxQueueDepth { counters.maxQueueDepth = depth }
        // The peak in the sampler's current interval (the sampler never resets it: see publishQueuePeak).
        published.publishQueuePeak(max(depth, local.takeHighWater()))
        published.publish(counters)
        // relaxed: a gauge for readers (see PublishedWorkerMetrics).
        published.state.store(state.rawValue, ordering: .relaxed)
        counters.sincePublish = 0
    }

    func setState(_ state: SchedulerWorkerState) {
        published.state.store(state.rawValue, ordering: .relaxed)  // relaxed: gauge.
    }

    deinit {
        // Unmanaged: the +1 each label field owns (see `publishedLabel`).
        publishedLabel?.release()
        previousLabel?.release()
    }

    /// Publishes `label` as the label of the fiber about to run (its run: `counters.runs`). Owner, on each run of a
    /// labelled fiber once metrics are observed: the run's number only (one plain store) when the label is the one
    /// published last, else the label's packed words too (`PublishedWorkerMetrics.publishLabel`), retaining it only
    /// when it is neither of the last two. `label` is borrowed: the caller's running task holds it (its `let label`)
    /// for the whole call. A strong parameter made the compiler retain and release it around every run's publish
    /// (the stores into the fields may release a label), two atomic read-modify-writes per run of a labelled fiber.
    @inline(__always) func publishRunning(_ label: Unmanaged<TaskLabel>) {
        let p = label.toOpaque()
        if p == publishedLabel?.toOpaque() {
            published.republishLabel(run: counters.runs)
        } else {
            if p == previousLabel?.toOpaque() {
                swap(&publishedLabel, &previousLabel)  // no reference counting (see `previousLabel`)
            } else {
                // Unmanaged: the field takes a +1 of the new label and gives up its +1 of the evicted one.
                previousLabel?.release()
                previousLabel = publishedLabel
                publishedLabel = label.retain()
            }
            // Unmanaged: borrowed, as above.
            label._withUnsafeGuaranteedRef { published.publishLabel($0, run: counters.runs) }
        }
    }

    /// Counts a steal of `count` fibers from `victim` towards the next steal event. Owner.
    @inline(__always) func noteSteal(from victim: Int, count: Int32) {
        if pendingSteal.victim != victim {
            flushPendingSteal()
            pendingSteal.victim = victim
        }
        pendingSteal.count &+= count
    }

    /// Emits the pending steal event, if any, and clears it. Owner.
    private func flushPendingSteal() {
        if pendingSteal.count > 0 { event(.steal, other: pendingSteal.victim, count: pendingSteal.count) }
        pendingSteal = (-1, 0)
    }

    /// Emits the coalesced spawn-batch and steal events (every `Scheduler.injectorInterval` runs and before a
    /// park). Owner.
    func flushCoalescedEvents() {
        if spawnsSinceEvent > 0 {
            event(.spawnBatch, count: spawnsSinceEvent)
            spawnsSinceEvent = 0
        }
        flushPendingSteal()
    }

    func event(
        _ kind: RuntimeEventKind, other: Int = -1, count: Int32 = 0, duration: UInt64 = 0, name: String? = nil,
        at time: UInt64 = 0
    ) {
        let pushed = events.push(
            RuntimeEventRecord(
                timeNanos: time != 0 ? time : qv_now_ns(), kind: kind, worker: Int32(id), other: Int32(other),
                count: count,
                durationNanos: duration, name: name))
        // The ring's tail and drops into the slot's gauge line, which the sampler reads anyway: it drains the ring only
        // when the tail moved, and up to this tail (`EventRing.drain(into:upTo:)`). releasing: after the push, so a
        // sampler's acquiring load of the tail sees the slots before it.
        if pushed {
            published.slot.storeGauge(PublishedCounters.Gauge.eventTail, UInt64(events.produced), releasing: true)
        } else {
            published.slot.storeGauge(PublishedCounters.Gauge.eventsDropped, events.dropped)
        }
    }
}

/// What the carrier must do once the fiber it resumed has switched off its stack.
enum PostSwitch {
    case none
    /// The fiber called park(): CAS parking → parked (or requeue when notified meanwhile).
    case park
    /// The fiber yielded: requeue it.
    case yield
    /// The fiber came back from a handed-off blocking region: its carrier has no worker; requeue it on the
    /// injector (this carrier then becomes a spare).
    case requeueInjector
}

/// An OS thread that runs workers' loops. Ownership: `worker`, `current`, `postSwitch` are touched by this
/// carrier's thread only, except `worker`, which a handoff sets on a *spare* carrier before unparking it.
final class Carrier: @unchecked Sendable {
    // @unchecked Sendable: see the ownership comment above (the parker orders the handoff write).
    // Padded at both ends: carriers are allocated one after another while the first threads already run, so two
    // carriers could share a cache line — one writing `current`/`postSwitch` on every run, the other reading its
    // own `worker`/`scheduler` on every spawn (seen as a per-process slow mode of `bench spawn`).
    private let padAfterHeader: CacheLinePad = cacheLinePad
    let index: Int
    /// Strong on purpose: running carriers keep their scheduler alive, so it can never be deinitialised on
    /// one of its own carriers (a fiber dropping the last reference) or while carriers still run. The cycle
    /// (scheduler → carriersLock → carrier → scheduler) is broken by `shutdown()`, which therefore must be
    /// called: a scheduler nobody shuts down keeps its threads, like a Go runtime.
    let scheduler: Scheduler
    /// The worker this carrier runs, nil while spare. Unretained: the scheduler's `workers` array keeps every
    /// worker alive as long as the scheduler, which every running carrier keeps alive. Hot paths borrow it
    /// with `_withUnsafeGuaranteedRef` (no retain and release of the worker per spawn); others use `worker`.
    @exclusivity(unchecked) var workerRef: Unmanaged<Worker>?
    var worker: Worker? {
        get { workerRef?.takeUnretainedValue() }
        set { workerRef = newValue.map { Unmanaged.passUnretained($0) } }
    }

    /// True when this carrier holds `w`: an identity test on the unretained reference (`worker === w` made a strong
    /// reference and so retained and released the worker, twice per scheduled fiber). This carrier's thread only.
    @inline(__always) func holds(_ w: Worker) -> Bool {
        workerRef?.toOpaque() == Unmanaged.passUnretained(w).toOpaque()
    }
    /// The task being resumed on this carrier (nil between tasks). Unretained: `Scheduler.run` holds the task for
    /// the whole resume and clears this before letting go; a strong field cost a retain and a release per
    /// scheduled task. An `Unmanaged`, not an `unowned(unsafe)` optional: reading that one makes a strong copy, so
    /// even `current != nil` retained and released the running task (once per wake from a fiber). Hot paths test
    /// `runsFiber` or borrow `currentRef` with `_withUnsafeGuaranteedRef`; others use `current`.
    @exclusivity(unchecked) var currentRef: Unmanaged<FiberTask>?
    var current: FiberTask? {
        get { currentRef?.takeUnretainedValue() }
        set { currentRef = newValue.map { Unmanaged.passUnretained($0) } }
    }
    /// True while a fiber is being resumed on this carrier (no reference made). This carrier's thread only. Code that
    /// sees it true runs on a fiber's stack (`qv_fiber_current_owner` is non-nil): `Scheduler.run` sets `current` just
    /// before the resume and clears it first thing after, and runs no code between that could call back into a fiber
    /// API, so a hot path testing this needs no `Fiber.isInFiber` call too.
    @inline(__always) var runsFiber: Bool { currentRef != nil }
    @exclusivity(unchecked) var postSwitch: PostSwitch = .none
    /// This carrier's stack cache in the scheduler's pool (`StackPool.carrierCache`), set by `carrierMain` after
    /// attaching it and cleared before detaching. Unretained: the pool's thread key holds it meanwhile. This
    /// carrier's thread only; `Scheduler.run` takes and gives back stacks through it without a TLS look-up.
    @exclusivity(unchecked) var stackCache: Unmanaged<StackPool.CarrierCache>?
    /// The fiber inside a `blocking {}` region on this carrier, while `current` is nil: the region holds the
    /// thread, so the fiber's waits block it as a plain thread's would (see `runAsPlainThread`). Carrier thread
    /// only. unowned(unsafe): the fiber's own frame (in `blockingRegion`) keeps the task alive while it is set.
    @exclusivity(unchecked) unowned(unsafe) var blockingTask: FiberTask?
    /// Spare carriers park here until a worker is handed to them.
    let parker = Parker()
    /// Blocking region in progress on this carrier (for metrics): fiber name, start ns, policy.
    let blockedInfo = Locked<(name: String, since: UInt64, policy: BlockingPolicy)?>(nil)
    private let padAtEnd: CacheLinePad = cacheLinePad

    init(index: Int, scheduler: Scheduler) {
        self.index = index
        self.scheduler = scheduler
    }

    /// Runs the body of a blocking region of `t` with this carrier seen as a plain thread: `Scheduler.currentTask`
    /// is nil meanwhile, so a sleep, a channel or mutex wait, a join or fd wait inside the region blocks this thread
    /// (which the region already holds) instead of parking the fiber. A park would switch the carrier away, and
    /// the fiber would finish the region on another carrier, touching this one's `postSwitch` and its worker's
    /// single-producer event ring from the wrong thread. Executed by this carrier's thread, on `t`'s stack.
    @inline(__always)
    func runAsPlainThread<R>(_ t: FiberTask, _ body: () -> R) -> R {
        current = nil
        blockingTask = t
        defer {
            blockingTask = nil
            current = t
        }
        return body()
    }
}

/// The calling thread's carrier, through a C `__thread` slot read by a real (non-inline) call on every read
/// (`qv_carrier_get`), so a fiber that migrated to another thread reads its new carrier (a `__thread` address
/// cached across a switch in Swift code would be stale).
enum CarrierTLS {
    @inline(__always) static var current: Carrier? {
        // Unmanaged: the scheduler keeps every carrier alive until its thread has exited.
        currentUnretained()?.takeUnretainedValue()
    }

    /// The calling thread's carrier, unretained, for hot paths that borrow it (`_withUnsafeGuaranteedRef`: no
    /// retain and release per call).
    @inline(__always) static func currentUnretained() -> Unmanaged<Carrier>? {
        // Unmanaged: as `current`; the carrier outlives every call made on its own thread.
        qv_carrier_get().map { Unmanaged<Carrier>.fromOpaque($0) }
    }

    static func set(_ c: Carrier?) {
        // Unmanaged: unretained; see `current`.
        qv_carrier_set(c.map { Unmanaged.passUnretained($0).toOpaque() })
    }
}
