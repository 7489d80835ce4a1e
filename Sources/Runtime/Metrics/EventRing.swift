// EventRing: notable runtime events, from a runtime thread to the sampler, never blocking.
//
// Model. Each producer thread (a scheduler carrier, an event loop thread) owns one ring;
// the sampler (the only consumer) drains every ring at the UI rate. A ring is a classic
// single-producer / single-consumer bounded buffer: the producer owns `tail`, the consumer
// owns `head`, and each publishes its index with a release store that the other side reads
// with an acquire load. When the ring is full the producer drops the event and counts the
// drop (tokio-console's rule: telemetry never blocks the runtime); the UI shows the count.
//
// Rejected: a mutex-protected array (a sampler holding the lock would stall a carrier);
// one shared multi-producer ring (a CAS loop on every event, contention between carriers,
// and events of one worker interleaved with others' for no benefit: the sampler merges by
// time anyway); unbounded queues (a stalled UI would grow memory without bound).

import Synchronization

/// Kinds of notable runtime events. Mirrors `Telemetry.EventKind` for the runtime's own kinds.
public enum RuntimeEventKind: UInt8, Sendable, CaseIterable {
    /// `count` fibers/tasks spawned in one batch by `worker`.
    case spawnBatch
    /// `worker` (thief) took `count` fibers from `other` (victim).
    case steal
    /// `worker` went idle (parked its thread) / was woken.
    case workerPark, workerUnpark
    /// A blocking region began under the `pin` policy (carrier held) / under `handoff` (queue passed to `other`).
    case pin, handoff
    /// A blocking region began / ended; the end carries `durationNanos` and the fiber's `name`.
    case blockingBegin, blockingEnd
    /// A loop job ran longer than the slow-callback threshold: `durationNanos`, culprit `name`.
    case slowCallback
    /// Heartbeat lateness above the spike threshold: `durationNanos` is the lateness.
    case lagSpike
}

/// One event as the runtime records it: plain values, no allocation except an optional name.
public struct RuntimeEventRecord: Sendable, Equatable {
    /// Monotonic clock (`qv_now_ns`), nanoseconds.
    public var timeNanos: UInt64
    public var kind: RuntimeEventKind
    public var worker: Int32
    public var other: Int32
    public var count: Int32
    public var durationNanos: UInt64
    /// Culprit fiber/task name, when the kind has one.
    public var name: String?

    /// `other` of a `blockingBegin`/`blockingEnd` pair the scheduler's monitor found (a fiber that held its
    /// carrier past `hogThresholdNanos` outside any `blocking {}` region); -1 for annotated regions.
    public static let foundByMonitor = 1

    public init(
        timeNanos: UInt64, kind: RuntimeEventKind, worker: Int32 = -1, other: Int32 = -1, count: Int32 = 0,
        durationNanos: UInt64 = 0, name: String? = nil
    ) {
        self.timeNanos = timeNanos
        self.kind = kind
        self.worker = worker
        self.other = other
        self.count = count
        self.durationNanos = durationNanos
        self.name = name
    }
}

/// A bounded single-producer / single-consumer ring of `RuntimeEventRecord`.
///
/// Ownership: exactly one producer thread calls `push` (the ring's owner: a carrier or a loop
/// thread); exactly one consumer at a time calls `drain` (the sampler). `dropped` and `capacity`
/// may be read from any thread.
public final class EventRing: @unchecked Sendable {
    // @unchecked Sendable: slots are plain memory shared between one producer and one consumer;
    // the head/tail acquire-release protocol below orders every slot access, so no slot is ever
    // touched by both sides at once.

    public let capacity: Int
    private let mask: Int
    /// Slot storage. Initialised only by the producer (slots in tail ..< head + capacity, uninitialised until
    /// then), moved out only by the consumer (slots in head ..< tail, which leaves them uninitialised again): a record
    /// changes hands without a copy, so neither side retains or releases its name (the producer's overwrite of a
    /// drained slot released the old name on the worker's event path, and the drain's copy retained each one).
    private let slots: UnsafeMutablePointer<RuntimeEventRecord>
    /// Next slot the consumer reads. Written only by the consumer.
    private let head = Atomic<Int>(0)
    /// Keeps `head` and `tail` on different cache lines (no false sharing between the two sides).
    private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    /// Next slot the producer writes. Written only by the producer.
    private let tail = Atomic<Int>(0)
    /// Events dropped because the ring was full. Written only by the producer.
    private let droppedCount = Atomic<UInt64>(0)

    /// - Parameter capacity: rounded up to a power of two, at least 2.
    public init(capacity: Int = 4096) {
        var c = 2
        while c < capacity { c <<= 1 }
        self.capacity = c
        self.mask = c - 1
        self.slots = .allocate(capacity: c)
    }

    deinit {
        // The records pushed and not drained are the only initialised slots. relaxed (both): no other thread
        // holds the ring any more.
        let h = head.load(ordering: .relaxed)
        for i in h..<tail.load(ordering: .relaxed) { (slots + (i & mask)).deinitialize(count: 1) }
        slots.deallocate()
    }

    /// Appends an event. Only the owning producer thread calls this. Never blocks: when the ring is
    /// full the event is dropped, the drop counted, and `false` returned.
    @discardableResult
    public func push(_ event: RuntimeEventRecord) -> Bool {
        // relaxed: `tail` is written only by this thread, so its own last store is visible to it.
        let t = tail.load(ordering: .relaxed)
        // acquiring: pairs with the consumer's releasing store of `head`, so its moves out of the slots
        // it freed happen before we initialise them again.
        let h = head.load(ordering: .acquiring)
        if t &- h >= capacity {
            // relaxed: a statistic; readers need no ordering with other memory.
            droppedCount.add(1, ordering: .relaxed)
            return false
        }
        // The slot is uninitialised: never written, or moved out by a drain.
        (slots + (t & mask)).initialize(to: event)
        // releasing: publishes the slot write above to the consumer's acquiring load of `tail`.
        tail.store(t &+ 1, ordering: .releasing)
        return true
    }

    /// Moves up to `max` pending events, oldest first, into `out`. Only one consumer at a time
    /// calls this (the sampler). Never blocks the producer. Returns the number moved.
    @discardableResult
    public func drain(into out: inout [RuntimeEventRecord], max: Int = .max) -> Int {
        // relaxed: `head` is written only by the consumer side.
        let h = head.load(ordering: .relaxed)
        // acquiring: pairs with the producer's releasing store of `tail` (slot contents visible).
        let t = tail.load(ordering: .acquiring)
        return move(from: h, count: Swift.min(t &- h, max), into: &out)
    }

    /// `drain(into:)` of the events before `tail`, a count the producer published after pushing them (`produced`,
    /// stored with a releasing store after the push; the caller's acquiring load of it is what makes their slots
    /// visible here). Saves the load of the ring's own `tail`, a line the producer writes at every event, when the
    /// caller has the count already (`Scheduler.drainAll`). Only one consumer at a time; never blocks the producer.
    @discardableResult
    public func drain(into out: inout [RuntimeEventRecord], upTo tail: Int) -> Int {
        // relaxed: `head` is written only by the consumer side.
        let h = head.load(ordering: .relaxed)
        // A drain by the ring's own tail may have gone past `tail` meanwhile: then there is nothing before it.
        return move(from: h, count: tail &- h, into: &out)
    }

    /// Both drains' move: the `n` events from `h` (the consumer's head) into `out`, then the head past them. Consumer
    /// only; the caller made the slots visible (an acquiring load of a tail at least `h + n`).
    private func move(from h: Int, count n: Int, into out: inout [RuntimeEventRecord]) -> Int {
        if n <= 0 { return 0 }
        // Geometric growth: an exact `reserveCapacity` per ring reallocated the whole buffer once per ring drained.
        if out.capacity < out.count + n { out.reserveCapacity(Swift.max(out.count + n, 2 * out.capacity)) }
        // The ring's slots from `h`, moved out as at most two contiguous pieces (before and after the wrap), one bit
        // move each: an `append` per record checked the array's uniqueness and capacity once per record, and
        // appending a buffer copied each record through its value witness.
        let start = h & mask
        let first = Swift.min(n, capacity - start)
        out.append(madeInPlace: InPlaceMove(from: slots + start, count: first))
        if first < n { out.append(madeInPlace: InPlaceMove(from: slots, count: n - first)) }
        // releasing: our moves out of the slots above happen before the producer initialises them again.
        head.store(h &+ n, ordering: .releasing)
        return n
    }

    /// Events waiting to be drained (approximate while the producer runs).
    public var pending: Int {
        Swift.max(0, tail.load(ordering: .relaxed) &- head.load(ordering: .relaxed))
    }

    /// Events pushed so far (the producer's index). The producer (exact), or any thread (a gauge).
    public var produced: Int { tail.load(ordering: .relaxed) }  // relaxed: a count; `drain` orders the slots.

    /// Events dropped so far because the ring was full.
    public var dropped: UInt64 { droppedCount.load(ordering: .relaxed) }
}

/// The runs of a drain of several rings — each ring's events, in time order, one after the other in one array — and
/// their merge into one list in time order. Stable: events of equal time keep the order of their runs, and a run's
/// own order. Only the sampler that drained the rings uses it.
///
/// A merge, not a sort: the runs are already sorted, so the merge does O(n log runs) comparisons of plain keys (time,
/// position) and moves each record once, into its place. Rejected: `Array.sort` of the records (what this replaced):
/// its stable sort allocates, moves the records (a name each) through a generic buffer on every pass and was most of
/// a 256-carrier sample's drain (docs/performance.md, "Session 11").
struct EventRuns {
    /// Where each run starts, then the end of the last (`add`; empty until the first run, so a new value allocates
    /// nothing); the merge's buffers, kept between drains so a warm sampler's merge allocates nothing.
    private var bounds: [Int] = []
    private var next: [Int] = []
    private var keys: [Key] = []
    private var spare: [Key] = []

    init() {}

    /// Runs counted so far.
    var count: Int { Swift.max(0, bounds.count - 1) }

    /// Counts a drain that appended `drained` events (a ring with none adds no run). Call in drain order.
    mutating func add(_ drained: Int) {
        if drained <= 0 { return }
        if bounds.isEmpty { bounds.append(0) }
        bounds.append(bounds[bounds.count - 1] + drained)
    }

    /// Puts `events` (the drains counted by `add`, in the same order) in time order, then forgets the runs (keeping
    /// their buffers).
    mutating func merge(_ events: inout [RuntimeEventRecord]) {
        defer { bounds.removeAll(keepingCapacity: true) }
        let n = events.count
        let counted = bounds.last ?? 0
        precondition(n == counted, "EventRuns.merge: \(n) events for runs counting \(counted)")
        guard bounds.count > 2 else { return }
        // Keys: each event's time and position; the merges move keys, never records. Bottom-up: adjacent runs are
        // merged pairwise until one is left, ping-ponging between the two key buffers.
        keys.removeAll(keepingCapacity: true)
        spare.removeAll(keepingCapacity: true)
        events.withUnsafeBufferPointer { e in
            for i in 0..<n { keys.append(Key(time: e[i].timeNanos, index: i)) }
        }
        spare.append(contentsOf: keys)
        while bounds.count > 2 {
            next.removeAll(keepingCapacity: true)
            keys.withUnsafeBufferPointer { from in
                spare.withUnsafeMutableBufferPointer { to in
                    var r = 0
                    while r + 1 < bounds.count {
                        next.append(bounds[r])
                        if r + 2 < bounds.count {
                            Self.mergePair(from, to, bounds[r], bounds[r + 1], bounds[r + 2])
                        } else {
                            for i in bounds[r]..<bounds[r + 1] { to[i] = from[i] }
                        }
                        r += 2
                    }
                }
            }
            next.append(n)
            swap(&keys, &spare)
            swap(&bounds, &next)
        }
        // The records into key order, in place and with no scratch: position i takes the record at `keys[i].index`,
        // one cycle of the permutation at a time (bit moves: no name is retained or released); a position done is
        // marked by its key's index becoming its own. Unsafe moves: within a cycle each record is moved out once and
        // its place initialised again once (the keys are a permutation of 0..<n), with no call in between that can
        // throw or trap.
        events.withUnsafeMutableBufferPointer { e in
            let base = e.baseAddress!
            keys.withUnsafeMutableBufferPointer { k in
                for i in 0..<n where k[i].index != i {
                    let first = (base + i).move()
                    var j = i
                    while true {
                        let from = k[j].index
                        k[j].index = j
                        if from == i {
                            (base + j).initialize(to: first)
                            break
                        }
                        (base + j).moveInitialize(from: base + from, count: 1)
                        j = from
                    }
                }
            }
        }
    }

    private struct Key {
        var time: UInt64
        var index: Int
    }

    /// Merges the sorted key ranges `a ..< m` and `m ..< e` of `from` into `to[a ..< e]`, the left's first on ties.
    private static func mergePair(
        _ from: UnsafeBufferPointer<Key>, _ to: UnsafeMutableBufferPointer<Key>, _ a: Int, _ m: Int, _ e: Int
    ) {
        var i = a
        var j = m
        var o = a
        while i < m && j < e {
            if from[j].time < from[i].time {
                to[o] = from[j]
                j += 1
            } else {
                to[o] = from[i]
                i += 1
            }
            o += 1
        }
        while i < m {
            to[o] = from[i]
            i += 1
            o += 1
        }
        while j < e {
            to[o] = from[j]
            j += 1
            o += 1
        }
    }
}

/// Drains several rings (one per producer) and merges their events by time.
///
/// Only the sampler calls `drainAll`.
public struct EventRingSet: Sendable {
    public let rings: [EventRing]
    public init(_ rings: [EventRing]) { self.rings = rings }

    /// All pending events of every ring, oldest first, at most `maxPerRing` from each.
    public func drainAll(maxPerRing: Int = .max) -> [RuntimeEventRecord] {
        var out: [RuntimeEventRecord] = []
        var runs = EventRuns()
        for ring in rings { runs.add(ring.drain(into: &out, max: maxPerRing)) }
        runs.merge(&out)
        return out
    }

    /// Total drops over every ring.
    public var dropped: UInt64 { rings.reduce(0) { $0 + $1.dropped } }
}
