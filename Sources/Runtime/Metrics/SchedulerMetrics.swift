// Scheduler metrics: plain counters kept by each worker, published in batches into padded atomics.
//
// Tokio's rule (worker `Stats` → `WorkerMetrics`): the hot path increments plain integers that only the
// owning worker touches; at maintenance points (every `publishInterval` runs, before the worker parks,
// and when its state changes) it stores them into atomics a reader can load at any time. A reader never
// takes a lock a worker needs, so `Scheduler.metrics()` can run at any rate without slowing carriers.
//
// Fiber counts are derived from monotonic per-worker counters (spawned, finished, parks and wakes by
// reason, blocking begins and ends) summed over workers, rather than kept as shared up/down gauges:
// a shared gauge would be one contended cache line written on every spawn and wake.
import Synchronization

/// Why a fiber is parked. The raw value indexes per-reason counters.
public enum ParkReason: Int, Sendable, CaseIterable {
    case sleep = 0
    case io, channel, mutex, join
}

/// A blocking region's policy (see `Scheduler.Configuration.blocking`).
public enum BlockingPolicy: String, Sendable, CaseIterable, Codable {
    /// The carrier is held by the blocking call; its queue waits (or is stolen from) — Java's pinning.
    case pin
    /// The carrier's worker (queue and role) passes to a spare carrier while it blocks — Go's handoff.
    case handoff
}

/// What a worker is doing, as published. Mirrors `Telemetry.WorkerState`.
public enum SchedulerWorkerState: UInt8, Sendable {
    case running = 0
    /// `pinned`: its carrier is inside a `blocking {}` region under `pin` (the queue waits or is stolen).
    /// `handedOff`: its carrier is inside a region under `handoff` and the worker runs on a spare carrier.
    case spinning, parked, pinned, handedOff, stopped
}

/// Counters a worker keeps for itself. Executed only by the thread currently running that worker.
struct WorkerCounters {
    var runs: UInt64 = 0
    var stealOps: UInt64 = 0
    var stolenIn: UInt64 = 0
    var parks: UInt64 = 0
    var unparks: UInt64 = 0
    var maxQueueDepth: Int = 0
    var busyNanos: UInt64 = 0
    /// Part of `busyNanos` spent searching for work (see `Scheduler.beginSearch`).
    var searchNanos: UInt64 = 0
    var spawned: UInt64 = 0
    var finished: UInt64 = 0
    /// Parks and wakes per `ParkReason` (its raw value indexes them). Fixed storage, not arrays: every park and
    /// wake counts here, and an array's increment first checks that its buffer is uniquely referenced (a runtime
    /// call per park and per wake), and a copy of the counters retained both buffers.
    /// 5: `ParkReason.allCases.count`, which a generic argument cannot name (ParkWakeCountTests checks they agree).
    var fiberParks = InlineArray<5, UInt64>(repeating: 0)
    var fiberWakes = InlineArray<5, UInt64>(repeating: 0)
    /// Sampled ready → running delays: count, sum, max and a log2(ns) histogram.
    var delayCount: UInt64 = 0
    var delaySum: UInt64 = 0
    var delayMax: UInt64 = 0
    var delayHist = [UInt64](repeating: 0, count: DelayHistogram.buckets)
    /// Runs since the last publish.
    var sincePublish: Int = 0

    mutating func recordDelay(_ ns: UInt64) {
        delayCount &+= 1
        delaySum &+= ns
        if ns > delayMax { delayMax = ns }
        delayHist[DelayHistogram.bucket(ns)] &+= 1
    }
}

/// log2 buckets of nanoseconds: bucket i holds [2^i, 2^(i+1)).
public enum DelayHistogram {
    public static let buckets = 40
    @inline(__always) static func bucket(_ ns: UInt64) -> Int {
        ns == 0 ? 0 : Swift.min(buckets - 1, 63 - ns.leadingZeroBitCount)
    }
    /// Upper edge of bucket i, ns.
    public static func upperBound(_ i: Int) -> UInt64 { i >= 63 ? .max : (UInt64(1) << UInt64(i + 1)) }
}

/// One worker's published values, each on its own padding so workers never share a cache line.
///
/// Written by the worker's current thread at publish points (stores), except `stolenOut`, which thieves add
/// to directly (a rare event); read by any thread. All relaxed: each value is an independent statistic and
/// no reader infers anything about other memory from it.
final class PublishedWorkerMetrics: Sendable {
    private let padHead: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    let state = Atomic<UInt8>(SchedulerWorkerState.running.rawValue)
    let runs = Atomic<UInt64>(0)
    let stealOps = Atomic<UInt64>(0)
    let stolenIn = Atomic<UInt64>(0)
    let stolenOut = Atomic<UInt64>(0)
    let parks = Atomic<UInt64>(0)
    let unparks = Atomic<UInt64>(0)
    let maxQueueDepth = Atomic<Int>(0)
    let busyNanos = Atomic<UInt64>(0)
    let searchNanos = Atomic<UInt64>(0)
    /// Peak local-queue depth since the sampler's last `Scheduler.takeInterval()`: raised by the owner at publish
    /// points (an atomic max), taken and reset by the sampler with an exchange.
    let queueHighWater = Atomic<Int>(0)
    /// The owner's `runs` counter, stored at every run (one plain store on x86_64): the monitor sees a carrier
    /// that has not switched fibers by the counter not moving (Go's `schedtick`, read by sysmon).
    let runTick = Atomic<UInt64>(0)
    /// Fibers run since the sampler's last `takeInterval()`'s reading of `runs` (sampler-owned baseline).
    let runsAtLastTake = Atomic<UInt64>(0)
    let spawned = Atomic<UInt64>(0)
    let finished = Atomic<UInt64>(0)
    let delayCount = Atomic<UInt64>(0)
    let delaySum = Atomic<UInt64>(0)
    let delayMax = Atomic<UInt64>(0)
    /// True while a fiber runs on this worker (stored around every resume; a plain store on x86_64).
    let hasCurrent = Atomic<Bool>(false)
    /// Per-reason park/wake counters and the delay histogram, in one buffer of atomics.
    let wide: AtomicBuffer
    /// Name and kind of the fiber run last (`current`; nil when it had neither) and of the last *labelled* fiber
    /// run since the sampler took it (`last`); written with `withLockIfAvailable` so a reader holding the lock
    /// makes the worker skip one update rather than wait. A `SpinLock`: the worker's try is one compare-exchange and
    /// its unlock a plain store, on every run of a labelled fiber once observed (the monitor observes from the start);
    /// a pthread mutex's trylock and unlock were two atomic read-modify-writes and two library calls per run.
    let current = SpinLock<PublishedFiberNames>(PublishedFiberNames())
    private let padTail: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    static let parksOffset = 0
    static let wakesOffset = ParkReason.allCases.count
    static let histOffset = 2 * ParkReason.allCases.count

    init() {
        wide = AtomicBuffer(count: Self.histOffset + DelayHistogram.buckets)
    }

    /// Stores every counter. Executed by the worker's current thread.
    func publish(_ c: WorkerCounters) {
        // relaxed (all stores below): independent statistics, see the type's comment.
        runs.store(c.runs, ordering: .relaxed)
        stealOps.store(c.stealOps, ordering: .relaxed)
        stolenIn.store(c.stolenIn, ordering: .relaxed)
        parks.store(c.parks, ordering: .relaxed)
        unparks.store(c.unparks, ordering: .relaxed)
        maxQueueDepth.store(c.maxQueueDepth, ordering: .relaxed)
        busyNanos.store(c.busyNanos, ordering: .relaxed)
        searchNanos.store(c.searchNanos, ordering: .relaxed)
        spawned.store(c.spawned, ordering: .relaxed)
        finished.store(c.finished, ordering: .relaxed)
        delayCount.store(c.delayCount, ordering: .relaxed)
        delaySum.store(c.delaySum, ordering: .relaxed)
        delayMax.store(c.delayMax, ordering: .relaxed)
        for i in 0..<ParkReason.allCases.count {
            wide.store(Self.parksOffset + i, c.fiberParks[i])
            wide.store(Self.wakesOffset + i, c.fiberWakes[i])
        }
        for i in 0..<DelayHistogram.buckets { wide.store(Self.histOffset + i, c.delayHist[i]) }
    }
}

/// What `PublishedWorkerMetrics.current` holds: the running fiber's label (nil between fibers or for an unnamed
/// one) and the last named one a reader has not yet taken. The carrier stores the immutable `TaskLabel` itself — a
/// retain of one object per publication — where copying its two strings cost four retains and four releases of
/// their buffers per run of a named fiber; readers make the strings under the lock.
struct PublishedFiberNames {
    var currentLabel: TaskLabel?
    var lastLabel: TaskLabel?
    var current: (name: String, kind: String)? { currentLabel.map { ($0.name, $0.kind) } }
    var last: (name: String, kind: String)? {
        get { lastLabel.map { ($0.name, $0.kind) } }
        set { lastLabel = newValue.map { TaskLabel(name: $0.name, kind: $0.kind) } }
    }
}

/// A fixed array of atomic counters in raw memory (Swift arrays cannot hold `Atomic`).
final class AtomicBuffer: @unchecked Sendable {
    // @unchecked Sendable: the elements are `Atomic`s; the pointer itself is immutable after init.
    private let base: UnsafeMutablePointer<Atomic<UInt64>>
    let count: Int

    init(count: Int) {
        self.count = count
        base = .allocate(capacity: count)
        for i in 0..<count { (base + i).initialize(to: Atomic(0)) }
    }
    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }

    // relaxed (all three): independent statistics (see PublishedWorkerMetrics).
    @inline(__always) func store(_ i: Int, _ v: UInt64) { base[i].store(v, ordering: .relaxed) }
    @inline(__always) func load(_ i: Int) -> UInt64 { base[i].load(ordering: .relaxed) }
    @inline(__always) func add(_ i: Int, _ v: UInt64) { base[i].add(v, ordering: .relaxed) }
}
