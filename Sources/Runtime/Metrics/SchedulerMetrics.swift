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

/// One worker's published values. The counters `publish` stores in batches live in the worker's slot of the
/// scheduler's `PublishedCounters` table (one contiguous allocation, see there); the values written at other
/// times (state, the per-run gauges, thieves' `stolenOut`, the sampler's baselines) and the names are here, on
/// padding of their own.
///
/// Written by the worker's current thread at publish points (stores), except `stolenOut`, which thieves add
/// to directly (a rare event); read by any thread. All relaxed except the slot's publish generation (see
/// `PublishedCounters`): each value is an independent statistic and no reader infers anything about other
/// memory from it.
final class PublishedWorkerMetrics: Sendable {
    private let padHead: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    let state = Atomic<UInt8>(SchedulerWorkerState.running.rawValue)
    let stolenOut = Atomic<UInt64>(0)
    /// Peak local-queue depth since the sampler's last `Scheduler.takeInterval()`: raised by the owner at publish
    /// points (an atomic max), taken and reset by the sampler with an exchange.
    let queueHighWater = Atomic<Int>(0)
    /// The owner's `runs` counter, stored at every run (one plain store on x86_64): the monitor sees a carrier
    /// that has not switched fibers by the counter not moving (Go's `schedtick`, read by sysmon).
    let runTick = Atomic<UInt64>(0)
    /// Fibers run since the sampler's last `takeInterval()`'s reading of `runs` (sampler-owned baseline).
    let runsAtLastTake = Atomic<UInt64>(0)
    /// True while a fiber runs on this worker (stored around every resume; a plain store on x86_64).
    let hasCurrent = Atomic<Bool>(false)
    /// The batch-published counters: this worker's slot of `table`.
    let table: PublishedCounters
    let slot: PublishedCounters.Slot
    /// Name and kind of the fiber run last (`current`; nil when it had neither) and of the last *labelled* fiber
    /// run since the sampler took it (`last`); written with `withLockIfAvailable` so a reader holding the lock
    /// makes the worker skip one update rather than wait. A `SpinLock`: the worker's try is one compare-exchange and
    /// its unlock a plain store, on every run of a labelled fiber once observed (the monitor observes from the start);
    /// a pthread mutex's trylock and unlock were two atomic read-modify-writes and two library calls per run.
    let current = SpinLock<PublishedFiberNames>(PublishedFiberNames())
    private let padTail: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// Slot `index` of `table` (a scheduler's workers), or a table of its own (a retake worker, read apart).
    init(table: PublishedCounters = PublishedCounters(slots: 1), index: Int = 0) {
        self.table = table
        slot = table.slot(index)
    }

    /// Stores every counter that changed since the previous publish, then the slot's generation. Executed by the
    /// worker's current thread.
    func publish(_ c: WorkerCounters) {
        typealias W = PublishedCounters.Word
        let slot = self.slot
        var changed = false
        // A word whose value did not change is not stored: its cache line stays shared with the sampler, which
        // then reads it from its own cache (most histogram buckets, most of the time).
        @inline(__always) func put(_ k: Int, _ v: UInt64) -> Bool {
            if slot.load(k) == v { return false }
            slot.store(k, v)
            return true
        }
        if put(W.runs, c.runs) { changed = true }
        if put(W.stealOps, c.stealOps) { changed = true }
        if put(W.stolenIn, c.stolenIn) { changed = true }
        if put(W.parks, c.parks) { changed = true }
        if put(W.unparks, c.unparks) { changed = true }
        if put(W.maxQueueDepth, UInt64(c.maxQueueDepth)) { changed = true }
        if put(W.busyNanos, c.busyNanos) { changed = true }
        if put(W.searchNanos, c.searchNanos) { changed = true }
        if put(W.spawned, c.spawned) { changed = true }
        if put(W.finished, c.finished) { changed = true }
        for i in 0..<ParkReason.allCases.count {
            if put(W.fiberParks + i, c.fiberParks[i]) { changed = true }
            if put(W.fiberWakes + i, c.fiberWakes[i]) { changed = true }
        }
        // The delay group (sum, max, histogram) before its count, and the count last with a releasing store: a reader
        // that finds the count it cached skips the group's 42 words (see `PublishedCounters.Word.delayCount`).
        if put(W.delaySum, c.delaySum) { changed = true }
        if put(W.delayMax, c.delayMax) { changed = true }
        for i in 0..<DelayHistogram.buckets where put(W.histogram + i, c.delayHist[i]) { changed = true }
        if slot.load(W.delayCount) != c.delayCount {
            slot.storeReleasing(W.delayCount, c.delayCount)
            changed = true
        }
        if changed { slot.publishGeneration() }
    }
}

/// The batch-published counters of a scheduler's workers, in one allocation: slot i is worker i's, `slotWords`
/// 64-bit atomics (512 bytes) on 128-byte boundaries, so no two workers share a cache line (nor an adjacent-line
/// prefetch pair) and the sampler walks one array instead of one object per worker.
///
/// Ownership: a slot's words are stored only by the thread running its worker (`PublishedWorkerMetrics.publish`);
/// any thread loads them. Each publish that changed a word ends with a releasing store of the slot's generation
/// (`Word.generation`): a reader that loads the generation (acquiring) and finds the value it saw at its previous
/// read of the slot knows no publish has completed since, and keeps what it read then (`Scheduler.sample`).
///
/// Rejected: one `PublishedWorkerMetrics` object per worker holding every atomic (what this replaced): a sample of
/// 256 workers chased 256 objects plus 256 out-of-line buffers, retaining each; a seqlock per slot (a reader
/// retrying while a worker publishes): the counters are independent statistics, so a read that mixes two
/// publishes is as good as either, and a retry loop is a wait on a worker.
final class PublishedCounters: @unchecked Sendable {
    // @unchecked Sendable: the words are `Atomic`s in memory this object owns; the pointer is immutable after init.

    /// Word offsets in a slot. `0 ..< batchWords` are the counters a publish stores; `generation` follows them.
    enum Word {
        static let runs = 0
        static let stealOps = 1
        static let stolenIn = 2
        static let parks = 3
        static let unparks = 4
        static let maxQueueDepth = 5
        static let busyNanos = 6
        static let searchNanos = 7
        static let spawned = 8
        static let finished = 9
        /// Stored last of the delay group (`delaySum`, `delayMax`, `histogram`) with a releasing store: every
        /// record of a delay moves the count, so a reader whose acquiring load finds the count it cached has the
        /// group as cached too, and one that finds a new count sees the group's words stored before it.
        static let delayCount = 10
        static let delaySum = 11
        static let delayMax = 12
        /// Fiber parks, then wakes, by `ParkReason` (one word each).
        static let fiberParks = 13
        static let fiberWakes = fiberParks + ParkReason.allCases.count
        /// The delay histogram (`DelayHistogram.buckets` words).
        static let histogram = fiberWakes + ParkReason.allCases.count
        static let batchWords = histogram + DelayHistogram.buckets
        /// Publishes completed that changed a word (see the type's comment).
        static let generation = batchWords
    }
    static let slotWords = 64
    static let slotAlignment = 128

    /// One worker's slot: a pointer into the table, valid as long as the table.
    struct Slot: @unchecked Sendable {
        // @unchecked Sendable: points at atomics (see the table's comment for who stores them).
        let words: UnsafeMutablePointer<Atomic<UInt64>>
        // relaxed (load, store): independent statistics (see PublishedWorkerMetrics).
        @inline(__always) func load(_ k: Int) -> UInt64 { words[k].load(ordering: .relaxed) }
        @inline(__always) func store(_ k: Int, _ v: UInt64) { words[k].store(v, ordering: .relaxed) }
        /// The delay count (`Word.delayCount`), stored by the owner after the rest of its group. releasing: orders
        /// the group's stores before it, for a reader's `loadAcquiring`.
        @inline(__always) func storeReleasing(_ k: Int, _ v: UInt64) { words[k].store(v, ordering: .releasing) }
        /// acquiring: pairs with `storeReleasing` (a reader that sees the count sees the group stored before it).
        @inline(__always) func loadAcquiring(_ k: Int) -> UInt64 { words[k].load(ordering: .acquiring) }
        /// Ends a publish. Owner. releasing: orders the publish's stores before the new generation, for a reader's
        /// acquiring `generation` (the only non-relaxed word).
        @inline(__always) func publishGeneration() {
            words[Word.generation].store(load(Word.generation) &+ 1, ordering: .releasing)
        }
        /// acquiring: pairs with `publishGeneration` (a reader that sees generation n sees publish n's stores).
        @inline(__always) var generation: UInt64 { words[Word.generation].load(ordering: .acquiring) }
    }

    let slots: Int
    private let base: UnsafeMutablePointer<Atomic<UInt64>>

    init(slots: Int) {
        precondition(Word.generation < Self.slotWords, "PublishedCounters: a slot's words exceed slotWords")
        self.slots = slots
        let words = Swift.max(1, slots) * Self.slotWords
        // Raw memory bound once to the one type it holds.
        base = UnsafeMutableRawPointer.allocate(
            byteCount: words * MemoryLayout<Atomic<UInt64>>.stride, alignment: Self.slotAlignment
        ).bindMemory(to: Atomic<UInt64>.self, capacity: words)
        for i in 0..<words { (base + i).initialize(to: Atomic(0)) }
    }
    deinit {
        base.deinitialize(count: Swift.max(1, slots) * Self.slotWords)
        UnsafeMutableRawPointer(base).deallocate()
    }

    func slot(_ i: Int) -> Slot {
        precondition(i >= 0 && i < Swift.max(1, slots), "PublishedCounters.slot: index \(i) out of 0..<\(slots)")
        return Slot(words: base + i * Self.slotWords)
    }
}

/// What `PublishedWorkerMetrics.current` holds: the running fiber's label (nil between fibers or for an unnamed
/// one) and the last named one a reader has not yet taken. The carrier stores the immutable `TaskLabel` itself —
/// copying its two strings cost four retains and four releases of their buffers per run of a named fiber; readers
/// make the strings under the lock — in one of two slots that `current` and `last` point into: a label already in a
/// slot is only pointed at, so two named fibers taking turns on a worker (a channel ping-pong) publish with no
/// reference counting at all (one field per name cost two retains and two releases per run there).
struct PublishedFiberNames {
    private var slot0: TaskLabel?
    private var slot1: TaskLabel?
    /// The slot of the running fiber's label, and of the last named one not yet taken (-1: none). A running named
    /// fiber is always the last one too, so a new label goes into the slot `last` does not use.
    private var currentSlot: Int8 = -1
    private var lastSlot: Int8 = -1

    /// The carrier, at the start of a run: `label` is the fiber's (nil: unnamed).
    mutating func publish(running label: TaskLabel?) {
        guard let label else {
            currentSlot = -1
            return
        }
        let i: Int8
        if slot0 === label {
            i = 0
        } else if slot1 === label {
            i = 1
        } else if lastSlot == 0 {
            slot1 = label
            i = 1
        } else {
            slot0 = label
            i = 0
        }
        currentSlot = i
        lastSlot = i
    }

    private func label(_ i: Int8) -> TaskLabel? { i == 0 ? slot0 : i == 1 ? slot1 : nil }

    var current: (name: String, kind: String)? { label(currentSlot).map { ($0.name, $0.kind) } }
    var last: (name: String, kind: String)? {
        get { label(lastSlot).map { ($0.name, $0.kind) } }
        set {
            guard let newValue else {
                lastSlot = -1
                return
            }
            // Not the current slot (a reader's value, not a running fiber's).
            let label = TaskLabel(name: newValue.name, kind: newValue.kind)
            if currentSlot == 0 {
                slot1 = label
                lastSlot = 1
            } else {
                slot0 = label
                lastSlot = 0
            }
        }
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
