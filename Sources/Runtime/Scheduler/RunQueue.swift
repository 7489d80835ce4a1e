// RunQueue: a worker's bounded local run queue (tokio's multi-thread `queue.rs`, ported).
//
// # Shape
//
// A ring of `capacity` slots (a power of two) indexed by wrapping 32-bit counters:
//
//     head = (steal: UInt32, real: UInt32) packed in one UInt64     written by the owner (pop) and thieves (CAS)
//     tail = UInt32                                                   written by the owner only
//
// Slots `[real, tail)` are queued. `steal != real` means a thief has claimed `[steal, real)` and is still
// copying those slots out; until it publishes `head = (real, real)` the owner must not overwrite them, so the
// owner's "is there room" test is `tail - steal < capacity`, and only one thief may be active at a time.
//
// # Ownership
//
// The queue is split into two handle types so the compiler keeps the roles apart:
// - `LocalQueue` — the owner worker only (push, pop, overflow to the injector). Not `Sendable`.
// - `StealQueue` — any worker (steal into its own queue, length gauge). `Sendable`.
//
// # Why this and not Chase-Lev
//
// Chase-Lev pops LIFO and needs a seq-cst fence on every owner pop; this ring pops FIFO (fairer for a
// scheduler whose fibers yield), the owner's fast path is one acquire load + one release store, and a thief
// moves half a queue with one claim CAS plus one release CAS (tokio's measured design). Overflow moves half
// of the queue to the injector in one batch so the next overflow is far away.
//
// Orderings (each justified at its use):
// - the owner reads `tail` relaxed: only the owner writes it;
// - `tail` is stored release so a thief that loads it acquire sees the slot the owner wrote first;
// - `head` CASes are acquire-release: a successful thief claim must see the slots' contents (acquire) and the
//   final release CAS tells the owner the slots are free to overwrite (release).
import CRuntime
import Synchronization

/// Storage shared by the two handles. Slots are plain memory; the head/tail atomics order every access.
public final class RunQueueStorage<Element: AnyObject>: @unchecked Sendable {
    // @unchecked Sendable: `slots` is raw memory whose accesses are ordered by `head`/`tail` (see the essay);
    // everything else is atomic or immutable.
    // Layout: what the owner's push reads (capacity, mask, slots, its cached `steal`, tail) shares one cache line;
    // `head`, which thieves CAS, sits on its own line behind padding, so a steal does not evict the owner's
    // fields (Swift lays out stored properties in declaration order). The first pad keeps the object header (its
    // reference count, retained by whoever holds a handle) off the owner's line too.
    private let padAfterHeader: CacheLinePad = cacheLinePad
    let capacity: UInt32
    let mask: UInt32
    /// Retained element pointers (Unmanaged, +1). Owned by whoever holds the index range (essay).
    let slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// owner: the `steal` index of `head` as last loaded by the owner. `steal` only moves forward, so
    /// `tail - ownerSteal < capacity` proves there is room without loading `head` (a cache line thieves write).
    @exclusivity(unchecked) var ownerSteal: UInt32 = 0
    /// owner: the deepest the queue was at a `pop` since `takeHighWater` (`tail - real` there, both already
    /// loaded: no extra load of `head`). A gauge's peak, reset by its reader (the owner, when it publishes).
    @exclusivity(unchecked) var ownerHighWater: UInt32 = 0
    let tail = Atomic<UInt32>(0)
    private let pad: CacheLinePad = cacheLinePad
    let head = Atomic<UInt64>(0)
    private let padAfter: CacheLinePad = cacheLinePad

    init(capacity: Int) {
        precondition(
            capacity >= 2 && capacity <= 1 << 16 && capacity & (capacity - 1) == 0,
            "RunQueue: capacity must be a power of two in 2…65536")
        self.capacity = UInt32(capacity)
        self.mask = UInt32(capacity - 1)
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
    }

    deinit {
        // Release whatever is still queued (shutdown with fibers left behind).
        let (_, real) = unpack(head.load(ordering: .sequentiallyConsistent))
        let t = tail.load(ordering: .sequentiallyConsistent)
        var i = real
        while i != t {
            if let p = slots[Int(i & mask)] { Unmanaged<Element>.fromOpaque(p).release() }
            i &+= 1
        }
        slots.deallocate()
    }

    @inline(__always) func unpack(_ v: UInt64) -> (steal: UInt32, real: UInt32) {
        (UInt32(truncatingIfNeeded: v >> 32), UInt32(truncatingIfNeeded: v))
    }
    @inline(__always) func pack(_ steal: UInt32, _ real: UInt32) -> UInt64 {
        UInt64(steal) << 32 | UInt64(real)
    }

    /// Queued elements, approximate when read by a non-owner (a gauge for metrics). Any thread.
    var count: Int {
        // relaxed: a gauge; the two loads may be from slightly different instants, so clamp.
        let (steal, _) = unpack(head.load(ordering: .relaxed))
        let t = tail.load(ordering: .relaxed)
        return Int(min(t &- steal, capacity))
    }
}

/// Where `LocalQueue.push` sends overflow: half the queue plus the pushed element, as one batch.
public protocol OverflowSink<Element>: AnyObject {
    associatedtype Element: AnyObject
    /// Appends `count` elements, the `i`-th being `element(i)` (called once per index, in order, possibly
    /// under the sink's lock). No temporary array: the batch goes straight from the ring into the sink
    /// (a 129-pointer array is a "large" malloc request that made glibc consolidate its fastbins).
    func pushBatch(count: Int, _ element: (Int) -> Element)
    /// The same with retained pointers (`Unmanaged` +1 each, which the sink takes over): a ring's slots move
    /// into the sink as they are, with no retain and release per element.
    func pushRetainedBatch(count: Int, _ pointer: (Int) -> UnsafeMutableRawPointer)
}

extension OverflowSink {
    /// Default: takes each element back as a reference (for sinks that store references).
    public func pushRetainedBatch(count: Int, _ pointer: (Int) -> UnsafeMutableRawPointer) {
        // Unmanaged: takes over the +1 each pointer carries.
        pushBatch(count: count) { Unmanaged<Element>.fromOpaque(pointer($0)).takeRetainedValue() }
    }
}

/// The owner's handle. Executed only by the owner worker; not Sendable on purpose.
public struct LocalQueue<Element: AnyObject> {
    public let storage: RunQueueStorage<Element>

    public init(storage: RunQueueStorage<Element>) { self.storage = storage }

    public var capacity: Int { Int(storage.capacity) }
    /// The deepest the queue was at a `pop` since the previous call (then reset). Owner.
    public func takeHighWater() -> Int {
        defer { storage.ownerHighWater = 0 }
        return Int(storage.ownerHighWater)
    }
    /// Exact for the owner (up to concurrent steals, which only shrink it).
    public var count: Int { storage.count }
    public var isEmpty: Bool {
        // acquiring: pairs with thieves' releasing CAS on head (their claims are seen).
        let (_, real) = storage.unpack(storage.head.load(ordering: .acquiring))
        // relaxed: only the owner (us) writes tail.
        return real == storage.tail.load(ordering: .relaxed)
    }

    /// Appends `element`; on a full queue moves half of it plus `element` to `overflow`.
    /// Returns the number of elements moved to `overflow` (0 on the fast path). `fresh`: no other thread can reach
    /// `element` yet (a task record just made by `spawn`), so the fast path's retain may be non-atomic
    /// (`freshRetainedPointer`); the other paths retain atomically either way.
    @discardableResult
    public func push<S: OverflowSink>(_ element: Element, overflow: S, fresh: Bool = false) -> Int
    where S.Element == Element {
        let s = storage
        if pushFast({ fresh ? freshRetainedPointer(element) : retainedPointer(element) }) { return 0 }
        while true {
            // acquiring: a thief's releasing CAS that freed slots happens before we overwrite them.
            let (steal, real) = s.unpack(s.head.load(ordering: .acquiring))
            s.ownerSteal = steal
            let t = s.tail.load(ordering: .relaxed)  // relaxed: only the owner writes tail.
            if t &- steal < s.capacity {
                s.slots[Int(t & s.mask)] = retainedPointer(element)
                // release: a thief that acquires tail sees the slot written above.
                s.tail.store(t &+ 1, ordering: .releasing)
                return 0
            }
            if steal != real {
                // A thief is mid-steal: the queue will have room soon; don't fight it, hand this one over.
                overflow.pushBatch(count: 1) { _ in element }
                return 1
            }
            if let moved = pushOverflow(element, real: real, tail: t, overflow: overflow) { return moved }
            // Lost the race with a thief: retry; the queue has room now.
        }
    }

    /// `push` of a task passed as a +1 (`Unmanaged`, e.g. the one a run took out of a queue), which the queue's slot
    /// takes over as it is: no retain on the fast path. A full queue (by the cached `steal`) takes the general path,
    /// which retains for itself; the +1 passed in is released after it.
    @discardableResult @inline(__always)
    public func push<S: OverflowSink>(retained pointer: UnsafeMutableRawPointer, overflow: S) -> Int
    where S.Element == Element {
        if pushFast({ pointer }) { return 0 }
        // Unmanaged: takes over the +1 passed in; `push` keeps its own reference, this one is dropped at return.
        return push(Unmanaged<Element>.fromOpaque(pointer).takeRetainedValue(), overflow: overflow)
    }

    /// The push's fast path: room by the owner's cached `steal` (only ever behind the real one), no load of `head`.
    /// The slots below it were freed by thieves' releasing CASes that an earlier acquiring load of ours saw. `pointer`
    /// makes the +1 the slot stores (called only when there is room, before the store that publishes it).
    @inline(__always)
    private func pushFast(_ pointer: () -> UnsafeMutableRawPointer) -> Bool {
        let s = storage
        let t0 = s.tail.load(ordering: .relaxed)  // relaxed: only the owner writes tail.
        guard t0 &- s.ownerSteal < s.capacity else { return false }
        s.slots[Int(t0 & s.mask)] = pointer()
        // release: a thief that acquires tail sees the slot written above.
        s.tail.store(t0 &+ 1, ordering: .releasing)
        return true
    }

    /// Claims the older half of the queue with one CAS and hands it, plus `element`, to `overflow`.
    private func pushOverflow<S: OverflowSink>(_ element: Element, real: UInt32, tail: UInt32, overflow: S) -> Int?
    where S.Element == Element {
        let s = storage
        let half = s.capacity / 2
        precondition(tail &- real == s.capacity, "RunQueue.pushOverflow: queue is not full")
        let prev = s.pack(real, real)
        let next = s.pack(real &+ half, real &+ half)
        // acquiring-and-releasing: pairs with thieves' CASes on head; on success the claimed slots are ours.
        guard s.head.compareExchange(expected: prev, desired: next, ordering: .acquiringAndReleasing).exchanged
        else { return nil }
        let last = retainedPointer(element)
        overflow.pushRetainedBatch(count: Int(half) + 1) { i in
            if i == Int(half) { return last }
            let idx = Int((real &+ UInt32(i)) & s.mask)
            // safety: slot was pushed retained by us and claimed by the CAS above; its +1 moves to the sink.
            let p = s.slots[idx]!
            s.slots[idx] = nil
            return p
        }
        return Int(half) + 1
    }

    /// Free slots for `pushMany` (exact for the owner: thieves only make room). Owner only.
    public var freeSlots: Int {
        let s = storage
        // acquiring: a thief's releasing CAS that freed slots happens before we overwrite them.
        let (steal, _) = s.unpack(s.head.load(ordering: .acquiring))
        let t = s.tail.load(ordering: .relaxed)  // relaxed: only the owner writes tail.
        return Int(s.capacity &- (t &- steal))
    }

    /// Appends up to `max` elements from `next` (until it returns nil) with one tail store, never overflowing;
    /// the caller keeps `max ≤ freeSlots`. Returns how many were appended. Owner only. (The injector fills an
    /// empty queue this way under its lock, with no temporary array.)
    @discardableResult
    public func pushMany(max: Int, _ next: () -> Element?) -> Int {
        pushManyRetained(max: max) { next().map { retainedPointer($0) } }
    }

    /// `pushMany` of retained pointers (`Unmanaged` +1 each), which the queue's slots take over as they are.
    @discardableResult
    public func pushManyRetained(max: Int, _ next: () -> UnsafeMutableRawPointer?) -> Int {
        let s = storage
        let free = freeSlots
        precondition(max <= free, "RunQueue.pushManyRetained: more than the free slots")
        let t = s.tail.load(ordering: .relaxed)  // relaxed: only the owner writes tail.
        var n: UInt32 = 0
        while Int(n) < max, let p = next() {
            s.slots[Int((t &+ n) & s.mask)] = p
            n &+= 1
        }
        // release: a thief that acquires tail sees the slots written above.
        if n > 0 { s.tail.store(t &+ n, ordering: .releasing) }
        return Int(n)
    }

    /// Removes the oldest element. Executed only by the owner.
    public func pop() -> Element? {
        // Unmanaged: takes over the +1 the slot held.
        popRetained().map { Unmanaged<Element>.fromOpaque($0).takeRetainedValue() }
    }

    /// `pop` handing over the slot's +1 as it is (`Unmanaged`): the scheduler's run carries it to where the task goes
    /// next with no reference counting. Executed only by the owner.
    @inline(__always)
    public func popRetained() -> UnsafeMutableRawPointer? {
        let s = storage
        // acquire: see thieves' head updates before deciding.
        var head = s.head.load(ordering: .acquiring)
        while true {
            let (steal, real) = s.unpack(head)
            let t = s.tail.load(ordering: .relaxed)  // relaxed: only the owner writes tail.
            if real == t { return nil }
            if t &- real > s.ownerHighWater { s.ownerHighWater = t &- real }
            let nextReal = real &+ 1
            let next = steal == real ? s.pack(nextReal, nextReal) : s.pack(steal, nextReal)
            // acquiring-and-releasing: orders our slot read after the claim and pairs with thieves' CASes.
            let (ok, actual) = s.head.compareExchange(
                expected: head, desired: next, successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
            if ok {
                let idx = Int(real & s.mask)
                // safety: index `real` was claimed by the CAS; its slot holds a +1 pointer we now own.
                let p = s.slots[idx]!
                s.slots[idx] = nil
                return p
            }
            head = actual
        }
    }
}

/// Any worker's handle onto another worker's queue.
public struct StealQueue<Element: AnyObject>: Sendable {
    public let storage: RunQueueStorage<Element>

    public init(storage: RunQueueStorage<Element>) { self.storage = storage }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.count == 0 }

    /// Moves up to `limit` (≥1) elements, never more than half (rounded up), from this queue into `dst`
    /// (the caller's own queue) and returns one of them to run now plus how many were taken in total.
    /// Executed by the owner of `dst`, any thread for `self`.
    public func steal(into dst: LocalQueue<Element>, limit: UInt32) -> (Element, Int)? {
        let d = dst.storage
        // relaxed: the caller owns dst's tail.
        let dstTail = d.tail.load(ordering: .relaxed)
        let (dstSteal, _) = d.unpack(d.head.load(ordering: .acquiring))
        // Only steal into an at most half-full queue so the copy can never overrun dst.
        if dstTail &- dstSteal > d.capacity / 2 { return nil }
        var n = stealInto2(dst: d, dstTail: dstTail, limit: limit)
        if n == 0 { return nil }
        let total = Int(n)
        n -= 1
        let retIdx = Int((dstTail &+ n) & d.mask)
        // safety: we wrote this slot in stealInto2 (not yet published); take over its +1.
        let ret = Unmanaged<Element>.fromOpaque(d.slots[retIdx]!).takeRetainedValue()
        d.slots[retIdx] = nil
        if n > 0 {
            // release: publish the copied slots to thieves of dst.
            d.tail.store(dstTail &+ n, ordering: .releasing)
        }
        return (ret, total)
    }

    private func stealInto2(dst: RunQueueStorage<Element>, dstTail: UInt32, limit: UInt32) -> UInt32 {
        let s = storage
        // acquiring: pairs with the owner's and other thieves' releasing CASes on head.
        var prev = s.head.load(ordering: .acquiring)
        var next: UInt64
        var n: UInt32
        var first: UInt32
        // Claim: move `real` forward by n, leaving `steal` behind so the owner keeps off the range.
        while true {
            let (steal, real) = s.unpack(prev)
            // acquire: see the slots the owner pushed before publishing tail.
            let t = s.tail.load(ordering: .acquiring)
            if steal != real { return 0 }  // another thief is active
            n = t &- real
            n = n - n / 2
            n = min(n, limit)
            if n == 0 { return 0 }
            first = steal
            next = s.pack(steal, real &+ n)
            let (ok, actual) = s.head.compareExchange(
                expected: prev, desired: next, successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
            if ok { break }
            prev = actual
        }
        precondition(n <= s.capacity / 2 + 1, "RunQueue.steal: steal overran the source")
        for i in 0..<n {
            let src = Int((first &+ i) & s.mask)
            let dstIdx = Int((dstTail &+ i) & dst.mask)
            // safety: [first, first+n) is claimed by us; the +1 moves from src's slot to dst's slot.
            dst.slots[dstIdx] = s.slots[src]
            s.slots[src] = nil
        }
        // Release the claim: head.steal catches up with head.real (the owner may have popped meanwhile).
        prev = next
        while true {
            let (_, real) = s.unpack(prev)
            let done = s.pack(real, real)
            // release: the owner may overwrite the copied slots only after seeing this.
            let (ok, actual) = s.head.compareExchange(
                expected: prev, desired: done, successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
            if ok { return n }
            let (st, re) = s.unpack(actual)
            precondition(st != re, "RunQueue.steal: claim vanished")
            prev = actual
        }
    }
}

/// `Unmanaged.passRetained(object).toOpaque()`, with the retain done by an opaque C call so that it stays
/// before the atomic store that publishes the pointer. With `passRetained`, the release build retained *after*
/// `tail.store` (the ARC optimizer sinks its own retains past atomics): a thief could steal, run and release
/// the task first, freeing it under its spawner (the `spawn` benchmark's heap corruption, ~1 run in 40).
@inline(__always)
@usableFromInline func retainedPointer<T: AnyObject>(_ object: T) -> UnsafeMutableRawPointer {
    // Unmanaged: the +1 taken here is owned by whoever receives the pointer (see the callers).
    qv_retain_object(Unmanaged.passUnretained(object).toOpaque())!
}

/// `retainedPointer` for an object no other thread can reach yet: the increment is non-atomic
/// (`qv_retain_fresh_object`, also an opaque call, so it too stays before the store that publishes the pointer;
/// that release store orders it before every other thread's access to the count). Saves the locked
/// read-modify-write of `swift_retain` on the spawner's path.
@inline(__always)
func freshRetainedPointer<T: AnyObject>(_ object: T) -> UnsafeMutableRawPointer {
    // Unmanaged: as retainedPointer.
    qv_retain_fresh_object(Unmanaged.passUnretained(object).toOpaque())!
}

/// 64 bytes of padding between stored properties that different threads write (classes lay out stored
/// properties in declaration order), so they do not share a cache line.
typealias CacheLinePad = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
let cacheLinePad: CacheLinePad = (0, 0, 0, 0, 0, 0, 0, 0)

/// Makes a queue of `capacity` and returns its two handles.
public func makeRunQueue<Element: AnyObject>(capacity: Int) -> (LocalQueue<Element>, StealQueue<Element>) {
    let s = RunQueueStorage<Element>(capacity: capacity)
    return (LocalQueue(storage: s), StealQueue(storage: s))
}
