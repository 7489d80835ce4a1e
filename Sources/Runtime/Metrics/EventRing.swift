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
    /// Slot storage. Written only by the producer (slots in tail ..< head + capacity), read only by
    /// the consumer (slots in head ..< tail).
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
        self.slots.initialize(repeating: RuntimeEventRecord(timeNanos: 0, kind: .spawnBatch), count: c)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    /// Appends an event. Only the owning producer thread calls this. Never blocks: when the ring is
    /// full the event is dropped, the drop counted, and `false` returned.
    @discardableResult
    public func push(_ event: RuntimeEventRecord) -> Bool {
        // relaxed: `tail` is written only by this thread, so its own last store is visible to it.
        let t = tail.load(ordering: .relaxed)
        // acquiring: pairs with the consumer's releasing store of `head`, so its reads of the slots
        // it freed happen before we overwrite them.
        let h = head.load(ordering: .acquiring)
        if t &- h >= capacity {
            // relaxed: a statistic; readers need no ordering with other memory.
            droppedCount.add(1, ordering: .relaxed)
            return false
        }
        slots[t & mask] = event
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
        let n = Swift.min(t &- h, max)
        if n <= 0 { return 0 }
        // Geometric growth: an exact `reserveCapacity` per ring reallocated the whole buffer once per ring drained.
        if out.capacity < out.count + n { out.reserveCapacity(Swift.max(out.count + n, 2 * out.capacity)) }
        for i in 0..<n { out.append(slots[(h &+ i) & mask]) }
        // releasing: our slot reads above happen before the producer may overwrite them.
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

/// Drains several rings (one per producer) and merges their events by time.
///
/// Only the sampler calls `drainAll`.
public struct EventRingSet: Sendable {
    public let rings: [EventRing]
    public init(_ rings: [EventRing]) { self.rings = rings }

    /// All pending events of every ring, oldest first, at most `maxPerRing` from each.
    public func drainAll(maxPerRing: Int = .max) -> [RuntimeEventRecord] {
        var out: [RuntimeEventRecord] = []
        for ring in rings { ring.drain(into: &out, max: maxPerRing) }
        if rings.count > 1 { out.sort { $0.timeNanos < $1.timeNanos } }
        return out
    }

    /// Total drops over every ring.
    public var dropped: UInt64 { rings.reduce(0) { $0 + $1.dropped } }
}
