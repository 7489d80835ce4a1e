// Injector: the global FIFO queue (Go's `sched.runq`, tokio's `inject`).
//
// Takes spawns from outside the scheduler, local-queue overflow (half a queue per batch) and fibers whose
// carrier lost its worker in a handoff. Workers take from it in batches (Go's `globrunqget`) when their
// local queue is empty, and every `Scheduler.injectorInterval` ticks even when busy, for fairness.
//
// A mutex around a deque is enough: the hot paths (local push/pop) never touch it, and batching makes its
// lock rare. `depth` mirrors the count in an atomic so "is it empty?" costs one load, no lock.
//
// The deque holds *retained pointers* (the +1 the run queues' slots hold), not references: an overflow batch
// moves a ring slot's pointer in and `popBatch` moves it straight into the taker's ring, with no retain and
// release of every task in between (two atomic read-modify-writes per task on the taking carrier, on a line
// the spawner just wrote: most spawned tasks of the `spawn` benchmark take this path).
import DequeModule
import Synchronization

public final class Injector<Element: AnyObject & Sendable>: OverflowSink, Sendable {
    /// Retained `Element` pointers (Unmanaged, +1 each), owned by the queue while in it.
    private let queue = Locked<Deque<UnsafeMutableRawPointer>>(Deque())
    private let depthGauge = Atomic<Int>(0)
    /// Set once by `closeAndDrain` (under the queue lock); `pushIfOpen` then refuses.
    private let closed = Atomic<Bool>(false)

    public init() {}

    deinit {
        // Release whatever is still queued (a scheduler dropped without shutdown).
        queue.withLock { q in for p in q { Self.take(p).release() } }
    }

    /// The queue's +1 of `p`, as an `Unmanaged` for the caller to take over.
    @inline(__always) private static func take(_ p: UnsafeMutableRawPointer) -> Unmanaged<Element> {
        // Unmanaged: every pointer in the deque carries one retain, which the caller now owns.
        Unmanaged<Element>.fromOpaque(p)
    }

    /// The deepest the injector was since the previous `takeHighWater()` (a gauge's peak, elements). Raised by
    /// pushers under the lock, taken and reset by one reader with an exchange — the reader takes no lock.
    private let highWater = Atomic<Int>(0)

    /// Raises `highWater` to `depth`. Under the lock (pushers are serialised). A reset racing with it leaves the
    /// depth of this push, which is the depth now: never a stale peak.
    @inline(__always) private func noteDepth(_ depth: Int) {
        // relaxed (both): a statistic; the lock serialises the pushers.
        if depth > highWater.load(ordering: .relaxed) { highWater.store(depth, ordering: .relaxed) }
    }

    /// The injector's peak depth since the previous call (at least the depth now), and resets it. Any thread;
    /// one reader at a time (the sampler).
    public func takeHighWater() -> Int {
        // relaxed (both): statistics, see noteDepth.
        max(highWater.exchange(0, ordering: .relaxed), depthGauge.load(ordering: .relaxed))
    }

    /// Elements queued. Any thread; exact when read under quiescence, a gauge otherwise.
    public var depth: Int {
        // relaxed: a gauge / emptiness hint; the lock orders the real accesses.
        depthGauge.load(ordering: .relaxed)
    }
    public var isEmpty: Bool { depth == 0 }

    /// Any thread.
    public func push(_ element: Element) {
        // retainedPointer: the retain stays before the unlock that publishes the pointer (see RunQueue.swift).
        let p = retainedPointer(element)
        queue.withLock { q in
            q.append(p)
            // relaxed: written under the lock; readers only use it as a hint.
            depthGauge.store(q.count, ordering: .relaxed)
            noteDepth(q.count)
        }
    }

    /// Appends unless the injector was closed (shutdown). Any thread. Under the lock, so an element is either
    /// in what `closeAndDrain` returns or refused here: never lost.
    public func pushIfOpen(_ element: Element) -> Bool {
        let p = retainedPointer(element)  // see push
        let pushed = queue.withLock { q in
            if closed.load(ordering: .relaxed) { return false }  // relaxed: written under this lock.
            q.append(p)
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
            noteDepth(q.count)
            return true
        }
        if !pushed { Self.take(p).release() }
        return pushed
    }

    /// Any thread. One lock for the whole batch; `element(i)` runs under it (see `OverflowSink`).
    public func pushBatch(count: Int, _ element: (Int) -> Element) {
        pushRetainedBatch(count: count) { retainedPointer(element($0)) }
    }

    /// Any thread. Takes over the +1 of each pointer; one lock for the whole batch (see `OverflowSink`).
    /// The pointers are gathered `gatherChunk` at a time into a buffer on the stack and appended with one
    /// `append(contentsOf:)` each, which checks the deque's uniqueness and capacity once per chunk and copies the
    /// block: an `append` per element checked them for every task of a local queue's overflow.
    public func pushRetainedBatch(count: Int, _ pointer: (Int) -> UnsafeMutableRawPointer) {
        if count <= 0 { return }
        queue.withLock { q in
            withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer.self, capacity: Self.gatherChunk) { buf in
                var i = 0
                while i < count {
                    let n = Swift.min(Self.gatherChunk, count - i)
                    for k in 0..<n { buf.initializeElement(at: k, to: pointer(i + k)) }
                    // The deque copies the raw pointers (a trivial type): the buffer needs no deinitialization.
                    q.append(contentsOf: UnsafeBufferPointer(rebasing: buf[0..<n]))
                    i += n
                }
            }
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
            noteDepth(q.count)
        }
    }

    /// Pointers per gathered chunk of `pushRetainedBatch`: 512 bytes, under the 1 KiB up to which
    /// `withUnsafeTemporaryAllocation` uses the stack (a heap buffer of an overflow batch's 129 pointers would be
    /// a request glibc serves only after consolidating its fastbins).
    static var gatherChunk: Int { 64 }

    /// Any thread. One lock for the whole batch.
    public func pushBatch(_ elements: [Element]) {
        pushBatch(count: elements.count) { elements[$0] }
    }

    /// Takes one element. Any thread.
    public func pop() -> Element? {
        if isEmpty { return nil }
        let p = queue.withLock { q in
            let e = q.popFirst()
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
            return e
        }
        return p.map { Self.take($0).takeRetainedValue() }
    }

    /// Takes up to `max` elements, at most `1/share` of the queue rounded up (Go: `sched.runqsize/gomaxprocs+1`)
    /// and at most one more than `dst`'s free slots: returns the first and moves the rest straight into `dst`
    /// (the caller's own queue) under the lock, with no temporary array. Executed by the owner of `dst`.
    public func popBatch(max: Int, share: Int, into dst: LocalQueue<Element>) -> Element? {
        if isEmpty { return nil }
        let room = dst.freeSlots
        let first = queue.withLock { q -> UnsafeMutableRawPointer? in
            guard let first = q.first else { return nil }
            let count = q.count
            let n = Swift.min(max, count / Swift.max(share, 1) + 1, count, room + 1)
            // The deque's +1 moves into the ring's slot as it is: the batch is read in place, then removed with one
            // `removeFirst` (one uniqueness check per batch, not a `popFirst` per element).
            var next = q.index(after: q.startIndex)
            if n > 1 {
                dst.pushManyRetained(max: n - 1) {
                    defer { next += 1 }
                    return q[next]
                }
            }
            q.removeFirst(next - q.startIndex)
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
            return first
        }
        return first.map { Self.take($0).takeRetainedValue() }
    }

    /// Removes everything and refuses later `pushIfOpen`s (shutdown). Any thread.
    public func closeAndDrain() -> [Element] {
        queue.withLock { q in
            closed.store(true, ordering: .relaxed)  // relaxed: read under this lock.
            return takeAll(&q)
        }
    }

    /// Empties `q` into an array that owns its elements. Under the lock.
    private func takeAll(_ q: inout Deque<UnsafeMutableRawPointer>) -> [Element] {
        let all = q.map { Self.take($0).takeRetainedValue() }
        q.removeAll()
        depthGauge.store(0, ordering: .relaxed)  // relaxed: see push.
        return all
    }
}

extension Collection {
    /// The elements as an Array; an empty collection gives `[]` without copying. A zero-element copy
    /// (Deque's, Dictionary.Values') writes a count of 0 into Swift's one shared empty-array storage, a
    /// benign race that ThreadSanitizer reports when two schedulers shut down at once (seen in CI).
    @inlinable
    func arrayCopy() -> [Element] { isEmpty ? [] : Array(self) }
}
