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

/// One worker's published values, all in the worker's slot of the scheduler's `PublishedCounters` table (its layout
/// is there): the counters `publish` stores in batches, the gauges stored where they change (state, carrier, the
/// per-run tick and "a fiber runs here", the queue's peak, the event ring's tail and drops, thieves' `stolenOut`)
/// and the label of the last labelled fiber run. So a sample reads each worker's slot — its first two lines always,
/// the counters' lines when a publish moved them — and nothing else of the worker, bar the live queue depth of a
/// worker that runs (`Scheduler.sample`).
///
/// Written by the worker's current thread (plain stores into words it alone writes), except `stolenOut`, which
/// thieves add to (a rare event). Read by any thread. All relaxed except the slot's publish generation and the
/// label's sequence (see `PublishedCounters`): each value is an independent statistic and no reader infers anything
/// about other memory from it.
final class PublishedWorkerMetrics: Sendable {
    typealias G = PublishedCounters.Gauge
    /// The batch-published counters and the gauges: this worker's slot of `table`.
    let table: PublishedCounters
    let slot: PublishedCounters.Slot
    /// The label of the last long-labelled fiber run (a name or kind `PackedLabel` cannot hold), which readers take
    /// instead of the packed words when those say "long". Set by the worker with `withLockIfAvailable` (a reader
    /// holding the lock makes the worker skip one update, never wait), before it stores the words.
    let long = SpinLock<TaskLabel?>(nil)

    /// The worker's state (`SchedulerWorkerState`'s raw value), stored at publish points and state changes.
    var state: SlotGauge<UInt8> { slot.gauge(G.state) }
    /// Fibers thieves took from this worker's queue and LIFO slot (they add to it).
    var stolenOut: SlotGauge<UInt64> { slot.gauge(G.stolenOut) }
    /// The owner's `runs` counter, stored at every run (one plain store on x86_64): the monitor sees a carrier
    /// that has not switched fibers by the counter not moving (Go's `schedtick`, read by sysmon); readers of the
    /// label compare it with the label's run.
    var runTick: SlotGauge<UInt64> { slot.gauge(G.runTick) }
    /// True while a fiber runs on this worker (stored around every resume; a plain store on x86_64).
    var hasCurrent: SlotGauge<Bool> { slot.gauge(G.hasCurrent) }
    /// The carrier (thread index) running this worker.
    var carrier: SlotGauge<Int> { slot.gauge(G.carrier) }

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
        // that finds the count it cached skips the group's 22 words (see `PublishedCounters.Word.delayCount`).
        if put(W.delaySum, c.delaySum) { changed = true }
        if put(W.delayMax, c.delayMax) { changed = true }
        for i in 0..<W.histogramWords where put(W.histogram + i, PublishedCounters.packBuckets(c.delayHist, i)) {
            changed = true
        }
        if slot.load(W.delayCount) != c.delayCount {
            slot.storeReleasing(W.delayCount, c.delayCount)
            changed = true
        }
        if changed { slot.publishGeneration() }
    }

    /// Raises the queue's peak for the sampler's current interval to `peak` (fibers). Executed by the worker's current
    /// thread at its publish points. The word holds `interval << 32 | peak`: a peak stored in an earlier interval
    /// (one the sampler has taken since) is replaced, not raised, so the sampler never resets it — no
    /// read-modify-write on either side (the sampler's take is in `Scheduler.sample`).
    func publishQueuePeak(_ peak: Int) {
        let interval = table.interval & 0xFFFF_FFFF
        let old = slot.loadGauge(G.queuePeak)
        var p = UInt64(clamping: peak) & 0xFFFF_FFFF
        if old >> 32 == interval { p = max(p, old & 0xFFFF_FFFF) }
        let new = interval << 32 | p
        if new != old { slot.storeGauge(G.queuePeak, new) }
    }

    /// Publishes `label` as the label of the fiber about to run, run number `run` (the worker's `runs` now). Executed
    /// by the worker's current thread, at a run of a labelled fiber whose label is not the one published last: the
    /// label's packed words between two stores of the label's sequence (odd while writing; plain stores into words
    /// only this thread writes), so a reader that finds the same even sequence around its read has one label's words.
    func publishLabel(_ label: TaskLabel, run: UInt64) {
        if label.packed.isLong { _ = long.withLockIfAvailable { $0 = label } }
        let seq = slot.loadGauge(G.labelSeq)
        slot.storeGauge(G.labelSeq, seq &+ 1)
        // releasing: the odd sequence above is ordered before the words below (a reader's acquiring fence pairs).
        atomicMemoryFence(ordering: .releasing)
        label.packed.store(into: slot, at: G.label)
        slot.storeGauge(G.labelRun, run)
        slot.storeGauge(G.labelSeq, seq &+ 2, releasing: true)
    }

    /// Moves the published label's run to `run`: the fiber about to run has the label published last. Executed by the
    /// worker's current thread.
    @inline(__always) func republishLabel(run: UInt64) { slot.storeGauge(G.labelRun, run) }

    /// The names of `packed`, taking a long label's from `long`. Any thread.
    func names(of packed: PackedLabel) -> (name: String, kind: String)? {
        if let n = packed.names { return n }
        return long.withLock { l in l.map { ($0.name, $0.kind) } }
    }

    /// Name and kind of the fiber running or run last on this worker (nil: unnamed, or none published yet). Any
    /// thread; a few tries while the worker rewrites the label, then nil.
    func currentNames() -> (name: String, kind: String)? {
        for _ in 0..<4 {
            guard let l = slot.readLabel(knownSequence: .max), let packed = l.packed else { continue }
            return l.run != 0 && l.run == runTick.load(ordering: .relaxed) ? names(of: packed) : nil
        }
        return nil
    }
}

/// A fiber's name and kind packed into five words — the name's UTF-8 in 23 bytes and the kind's in 15, each with its
/// length in the last byte — made once per label, so a worker publishes the running fiber's label with plain stores
/// and a reader rebuilds the strings without touching the label object (no reference counting, no lifetime to
/// guard; a name of up to 15 bytes rebuilds as a small string, without allocating). A name or kind too long for its
/// bytes is marked long (length byte 255): readers take it from `PublishedWorkerMetrics.long` instead.
struct PackedLabel: Sendable, Equatable {
    static let wordCount = 5
    static let nameBytes = 23
    static let kindBytes = 15
    static let longMark: UInt8 = 255
    private(set) var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0, w4: UInt64 = 0

    init(name: String, kind: String) {
        withUnsafeMutableBytes(of: &self) { raw in
            Self.put(name, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<(Self.nameBytes + 1)]))
            Self.put(kind, into: UnsafeMutableRawBufferPointer(rebasing: raw[(Self.nameBytes + 1)..<40]))
        }
    }

    /// The words stored at `slot`'s gauges `first ..< first + wordCount`.
    init(from slot: PublishedCounters.Slot, at first: Int) {
        w0 = slot.loadGauge(first)
        w1 = slot.loadGauge(first + 1)
        w2 = slot.loadGauge(first + 2)
        w3 = slot.loadGauge(first + 3)
        w4 = slot.loadGauge(first + 4)
    }

    func store(into slot: PublishedCounters.Slot, at first: Int) {
        slot.storeGauge(first, w0)
        slot.storeGauge(first + 1, w1)
        slot.storeGauge(first + 2, w2)
        slot.storeGauge(first + 3, w3)
        slot.storeGauge(first + 4, w4)
    }

    private static func put(_ s: String, into b: UnsafeMutableRawBufferPointer) {
        let cap = b.count - 1
        var n = 0
        for byte in s.utf8 {
            if n == cap {
                b[cap] = longMark
                return
            }
            b[n] = byte
            n += 1
        }
        b[cap] = UInt8(n)
    }

    var isLong: Bool { UInt8(truncatingIfNeeded: w2 >> 56) == Self.longMark || UInt8(w4 >> 56) == Self.longMark }

    /// The name and kind, or nil when either is long.
    var names: (name: String, kind: String)? {
        if isLong { return nil }
        return withUnsafeBytes(of: self) { raw in
            let n = Int(raw[Self.nameBytes])
            let k = Int(raw[39])
            return (
                String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<n]), as: UTF8.self),
                String(
                    decoding: UnsafeRawBufferPointer(rebasing: raw[(Self.nameBytes + 1)..<(Self.nameBytes + 1 + k)]),
                    as: UTF8.self)
            )
        }
    }
}

/// A relaxed gauge word of a worker's slot (`PublishedCounters.Gauge`), typed. Only `.relaxed` can be passed: each
/// gauge is an independent statistic (see `PublishedWorkerMetrics`).
struct SlotGauge<Value: SlotGaugeValue>: @unchecked Sendable {
    // @unchecked Sendable: points at an atomic of the table, valid as long as the table.
    enum Ordering { case relaxed }
    let word: UnsafeMutablePointer<Atomic<UInt64>>
    // relaxed (all three): see the type's comment.
    @inline(__always) func load(ordering: Ordering) -> Value { Value(gaugeBits: word.pointee.load(ordering: .relaxed)) }
    @inline(__always) func store(_ v: Value, ordering: Ordering) { word.pointee.store(v.gaugeBits, ordering: .relaxed) }
}

extension SlotGauge where Value == UInt64 {
    // relaxed: as above.
    @inline(__always) func add(_ v: UInt64, ordering: Ordering) { _ = word.pointee.add(v, ordering: .relaxed) }
}

/// A value a gauge word holds.
protocol SlotGaugeValue {
    init(gaugeBits: UInt64)
    var gaugeBits: UInt64 { get }
}
extension UInt64: SlotGaugeValue {
    init(gaugeBits: UInt64) { self = gaugeBits }
    var gaugeBits: UInt64 { self }
}
extension UInt8: SlotGaugeValue {
    init(gaugeBits: UInt64) { self = UInt8(truncatingIfNeeded: gaugeBits) }
    var gaugeBits: UInt64 { UInt64(self) }
}
extension Int: SlotGaugeValue {
    init(gaugeBits: UInt64) { self = Int(truncatingIfNeeded: gaugeBits) }
    var gaugeBits: UInt64 { UInt64(truncatingIfNeeded: self) }
}
extension Bool: SlotGaugeValue {
    init(gaugeBits: UInt64) { self = gaugeBits != 0 }
    var gaugeBits: UInt64 { self ? 1 : 0 }
}

/// The published values of a scheduler's workers, in one allocation: slot i is worker i's, `slotWords` 64-bit atomics
/// (512 bytes) on 128-byte boundaries, so no two workers share a cache line (nor an adjacent-line prefetch pair) and
/// the sampler walks one array instead of one object per worker. A slot's first 16 words (one 128-byte pair) are the
/// gauges (`Gauge`), which a sample reads always; the counters (`Word`, at `Gauge.counters + k`) follow, the ones a
/// sample rereads when the generation moved first (lines 2–4), the delay group last (read when its count moved).
///
/// Ownership: a slot's words are stored only by the thread running its worker (`PublishedWorkerMetrics`), bar
/// `Gauge.stolenOut`, which thieves add to; any thread loads them. Each publish that changed a counter ends with a
/// releasing store of the slot's generation (`Gauge.generation`): a reader that loads the generation (acquiring)
/// and finds the value it saw at its previous read of the slot knows no publish has completed since, and keeps what
/// it read then (`Scheduler.sample`). Apart from the slots, the table keeps the samplers' own words (`Sampler`, per
/// worker, written only under the scheduler's `intervalLock` or `drainLock`) and the interval number workers read.
///
/// Rejected: one `PublishedWorkerMetrics` object per worker holding every atomic (what the table replaced): a sample
/// of 256 workers chased 256 objects plus 256 out-of-line buffers, retaining each; gauges and names outside the slot
/// (docs/performance.md, "Session 9"): a sample touched the name lock, the current-fiber line, the run queue and the event
/// ring of every worker, lines the carriers write on every run; a seqlock per slot (a reader retrying while a worker
/// publishes): the counters are independent statistics, so a read that mixes two publishes is as good as either,
/// and a retry loop is a wait on a worker (the label's sequence is never waited on: a torn read keeps the last one).
final class PublishedCounters: @unchecked Sendable {
    // @unchecked Sendable: the words are `Atomic`s in memory this object owns; the pointers are immutable after init.

    /// Gauge words: the first 16 words of a slot.
    enum Gauge {
        /// Publishes completed that changed a counter (see the type's comment).
        static let generation = 0
        static let state = 1
        static let carrier = 2
        static let hasCurrent = 3
        static let runTick = 4
        static let stolenOut = 5
        /// `interval << 32 | peak`: the local queue's peak depth in the sampler's interval `interval` (low 32 bits of
        /// `PublishedCounters.interval`), raised at publish points (`publishQueuePeak`).
        static let queuePeak = 6
        /// The event ring's producer count (`EventRing.produced`), stored after each event; and its drops.
        static let eventTail = 7
        static let eventsDropped = 8
        /// The label's sequence (odd while the worker writes it), the run it was last published for, and its
        /// `PackedLabel.wordCount` words.
        static let labelSeq = 9
        static let labelRun = 10
        static let label = 11
        /// Where the counters (`Word`) start.
        static let counters = 16
    }

    /// Counter offsets from `Gauge.counters`. `0 ..< batchWords` are the counters a publish stores: those a sample
    /// rereads on a new generation first, then the delay group.
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
        /// Fiber parks, then wakes, by `ParkReason` (one word each).
        static let fiberParks = 11
        static let fiberWakes = fiberParks + ParkReason.allCases.count
        static let delaySum = fiberWakes + ParkReason.allCases.count
        static let delayMax = delaySum + 1
        /// The delay histogram, two buckets a word (`packBuckets`): `histogramWords` words.
        static let histogram = delayMax + 1
        static let histogramWords = (DelayHistogram.buckets + 1) / 2
        static let batchWords = histogram + histogramWords
    }
    static let slotWords = 64

    /// Histogram word `i` of `buckets`: bucket 2i in the low 32 bits, bucket 2i + 1 in the high (each modulo 2^32).
    /// Half the lines of a word per bucket, for the publish that stores them and the sample that reads them; a
    /// reader takes each bucket's change as a wrapping 32-bit difference from the word it read before
    /// (`forEachBucketDelta`), so the sums it keeps are exact as long as it reads a slot before one bucket of it counts
    /// 2^32 more delays (at 1 sampled enqueue in 64, 2^38 enqueues of one worker between two samples).
    @inline(__always) static func packBuckets(_ buckets: [UInt64], _ i: Int) -> UInt64 {
        let lo = UInt64(UInt32(truncatingIfNeeded: buckets[2 * i]))
        let hi = 2 * i + 1 < buckets.count ? UInt64(UInt32(truncatingIfNeeded: buckets[2 * i + 1])) : 0
        return lo | hi << 32
    }

    /// Calls `add(bucket, increment)` for each bucket histogram word `k` holds (2k, and 2k + 1 unless that is past the
    /// last), its increment from the word's value `old` to `new` (wrapping, see `packBuckets`). Readers only.
    @inline(__always) static func forEachBucketDelta(
        ofWord k: Int, from old: UInt64, to new: UInt64, _ add: (_ bucket: Int, _ increment: UInt64) -> Void
    ) {
        add(2 * k, UInt64(UInt32(truncatingIfNeeded: new) &- UInt32(truncatingIfNeeded: old)))
        if 2 * k + 1 < DelayHistogram.buckets {
            add(2 * k + 1, UInt64(UInt32(truncatingIfNeeded: new >> 32) &- UInt32(truncatingIfNeeded: old >> 32)))
        }
    }
    static let slotAlignment = 128

    /// The samplers' words per worker (in their own allocation, apart from the slots the workers write).
    enum Sampler {
        /// The runs and run tick at the previous interval take, and the queue-peak word seen then (`intervalLock`).
        static let runsAtTake = 0
        static let tickAtTake = 1
        static let peakAtTake = 2
        /// The event tail (`Gauge.eventTail`) up to which the ring was last drained (`drainLock`).
        static let drainedTo = 3
        static let words = 4
        /// The first worker's words start after the interval word's own 128 bytes.
        static let first = 16
    }

    /// One worker's slot: a pointer into the table, valid as long as the table.
    struct Slot: @unchecked Sendable {
        // @unchecked Sendable: points at atomics (see the table's comment for who stores them).
        let words: UnsafeMutablePointer<Atomic<UInt64>>
        // relaxed (load, store, loadGauge, storeGauge): independent statistics (see PublishedWorkerMetrics).
        @inline(__always) func load(_ k: Int) -> UInt64 { words[Gauge.counters + k].load(ordering: .relaxed) }
        @inline(__always) func store(_ k: Int, _ v: UInt64) { words[Gauge.counters + k].store(v, ordering: .relaxed) }
        /// The delay count (`Word.delayCount`), stored by the owner after the rest of its group. releasing: orders
        /// the group's stores before it, for a reader's `loadAcquiring`.
        @inline(__always) func storeReleasing(_ k: Int, _ v: UInt64) {
            words[Gauge.counters + k].store(v, ordering: .releasing)
        }
        /// acquiring: pairs with `storeReleasing` (a reader that sees the count sees the group stored before it).
        @inline(__always) func loadAcquiring(_ k: Int) -> UInt64 {
            words[Gauge.counters + k].load(ordering: .acquiring)
        }
        @inline(__always) func loadGauge(_ g: Int) -> UInt64 { words[g].load(ordering: .relaxed) }
        @inline(__always) func storeGauge(_ g: Int, _ v: UInt64) { words[g].store(v, ordering: .relaxed) }
        /// acquiring / releasing: the label's sequence (see `PublishedWorkerMetrics.publishLabel` and `readLabel`).
        @inline(__always) func loadGauge(_ g: Int, acquiring: Bool) -> UInt64 { words[g].load(ordering: .acquiring) }
        @inline(__always) func storeGauge(_ g: Int, _ v: UInt64, releasing: Bool) {
            words[g].store(v, ordering: .releasing)
        }
        @inline(__always) func gauge<V: SlotGaugeValue>(_ g: Int) -> SlotGauge<V> { SlotGauge(word: words + g) }
        /// Ends a publish. Owner. releasing: orders the publish's stores before the new generation, for a reader's
        /// acquiring `generation` (the only non-relaxed counter-side word).
        @inline(__always) func publishGeneration() {
            words[Gauge.generation].store(loadGauge(Gauge.generation) &+ 1, ordering: .releasing)
        }
        /// acquiring: pairs with `publishGeneration` (a reader that sees generation n sees publish n's stores).
        @inline(__always) var generation: UInt64 { words[Gauge.generation].load(ordering: .acquiring) }

        /// The published label (`PublishedWorkerMetrics.publishLabel`) as one consistent read — the sequence, the run
        /// it was last published for, the packed words unless the sequence is `knownSequence` — or nil while the
        /// worker is writing it (the caller keeps what it read before). Any thread; never waits. Reads the slot's
        /// gauge lines only (a sampler reads them anyway), not the worker's objects.
        @inline(__always)
        func readLabel(knownSequence: UInt64) -> (sequence: UInt64, run: UInt64, packed: PackedLabel?)? {
            let s1 = loadGauge(Gauge.labelSeq, acquiring: true)
            if s1 & 1 != 0 { return nil }
            let run = loadGauge(Gauge.labelRun)
            let packed = s1 == knownSequence ? nil : PackedLabel(from: self, at: Gauge.label)
            // acquiring: the loads above are ordered before the sequence's reload (pairs with the writer's releasing
            // fence).
            atomicMemoryFence(ordering: .acquiring)
            if loadGauge(Gauge.labelSeq) != s1 { return nil }
            return (s1, run, packed)
        }
    }

    let slots: Int
    private let base: UnsafeMutablePointer<Atomic<UInt64>>
    /// The interval word (`interval`), then `Sampler.words` per worker.
    private let samplerBase: UnsafeMutablePointer<Atomic<UInt64>>

    init(slots: Int) {
        precondition(
            Gauge.label + PackedLabel.wordCount <= Gauge.counters
                && Gauge.counters + Word.batchWords <= Self.slotWords && Self.slotWords * 8 % Self.slotAlignment == 0,
            "PublishedCounters: a slot's words exceed slotWords")
        self.slots = slots
        let words = Swift.max(1, slots) * Self.slotWords
        // Raw memory bound once to the one type it holds.
        base = UnsafeMutableRawPointer.allocate(
            byteCount: words * MemoryLayout<Atomic<UInt64>>.stride, alignment: Self.slotAlignment
        ).bindMemory(to: Atomic<UInt64>.self, capacity: words)
        for i in 0..<words { (base + i).initialize(to: Atomic(0)) }
        let samplerWords = Sampler.first + Swift.max(1, slots) * Sampler.words
        samplerBase = UnsafeMutableRawPointer.allocate(
            byteCount: samplerWords * MemoryLayout<Atomic<UInt64>>.stride, alignment: Self.slotAlignment
        ).bindMemory(to: Atomic<UInt64>.self, capacity: samplerWords)
        for i in 0..<samplerWords { (samplerBase + i).initialize(to: Atomic(0)) }
    }
    deinit {
        base.deinitialize(count: Swift.max(1, slots) * Self.slotWords)
        UnsafeMutableRawPointer(base).deallocate()
        samplerBase.deinitialize(count: Sampler.first + Swift.max(1, slots) * Sampler.words)
        UnsafeMutableRawPointer(samplerBase).deallocate()
    }

    func slot(_ i: Int) -> Slot {
        precondition(i >= 0 && i < Swift.max(1, slots), "PublishedCounters.slot: index \(i) out of 0..<\(slots)")
        return Slot(words: base + i &* Self.slotWords)
    }

    /// Slot `i` of a pass over slots `0 ..< n` whose bound the caller checked once (`n <= slots`), with no check
    /// of its own: a sampler's pass over every worker.
    @inline(__always) func slot(inPass i: Int) -> Slot { Slot(words: base + i &* Self.slotWords) }

    /// The sampler's interval number: moved by one at every interval take (under `intervalLock`), read by workers
    /// at their publish points (`publishQueuePeak`). relaxed: a peak published against a stale number lands in the
    /// interval after, which the take allows for.
    var interval: UInt64 {
        get { samplerBase[0].load(ordering: .relaxed) }
        set { samplerBase[0].store(newValue, ordering: .relaxed) }
    }

    /// Sampler word `k` (`Sampler`) of worker `i`. Only samplers, under the lock named at `k`. relaxed: the lock
    /// orders them.
    /// (Wrapping index maths: `i` is a worker's index, `k` a `Sampler` word, so the index is in the table's range.)
    @inline(__always) func samplerWord(_ i: Int, _ k: Int) -> UInt64 {
        samplerBase[Sampler.first &+ i &* Sampler.words &+ k].load(ordering: .relaxed)
    }
    @inline(__always) func setSamplerWord(_ i: Int, _ k: Int, _ v: UInt64) {
        samplerBase[Sampler.first &+ i &* Sampler.words &+ k].store(v, ordering: .relaxed)
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
