// Injector: the global FIFO queue (Go's `sched.runq`, tokio's `inject`).
//
// Takes spawns from outside the scheduler, local-queue overflow (half a queue per batch) and fibers whose
// carrier lost its worker in a handoff. Workers take from it in batches (Go's `globrunqget`) when their
// local queue is empty, and every `Scheduler.injectorInterval` ticks even when busy, for fairness.
//
// A mutex around a deque is enough: the hot paths (local push/pop) never touch it, and batching makes its
// lock rare. `depth` mirrors the count in an atomic so "is it empty?" costs one load, no lock.
import DequeModule
import Synchronization

public final class Injector<Element: AnyObject & Sendable>: OverflowSink, Sendable {
    private let queue = Locked<Deque<Element>>(Deque())
    private let depthGauge = Atomic<Int>(0)
    /// Set once by `closeAndDrain` (under the queue lock); `pushIfOpen` then refuses.
    private let closed = Atomic<Bool>(false)

    public init() {}

    /// Elements queued. Any thread; exact when read under quiescence, a gauge otherwise.
    public var depth: Int {
        // relaxed: a gauge / emptiness hint; the lock orders the real accesses.
        depthGauge.load(ordering: .relaxed)
    }
    public var isEmpty: Bool { depth == 0 }

    /// Any thread.
    public func push(_ element: Element) {
        queue.withLock { q in
            q.append(element)
            // relaxed: written under the lock; readers only use it as a hint.
            depthGauge.store(q.count, ordering: .relaxed)
        }
    }

    /// Appends unless the injector was closed (shutdown). Any thread. Under the lock, so an element is either
    /// in what `closeAndDrain` returns or refused here: never lost.
    public func pushIfOpen(_ element: Element) -> Bool {
        queue.withLock { q in
            if closed.load(ordering: .relaxed) { return false }  // relaxed: written under this lock.
            q.append(element)
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
            return true
        }
    }

    /// Any thread. One lock for the whole batch; `element(i)` runs under it (see `OverflowSink`).
    public func pushBatch(count: Int, _ element: (Int) -> Element) {
        if count <= 0 { return }
        queue.withLock { q in
            for i in 0..<count { q.append(element(i)) }
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
        }
    }

    /// Any thread. One lock for the whole batch.
    public func pushBatch(_ elements: [Element]) {
        pushBatch(count: elements.count) { elements[$0] }
    }

    /// Takes one element. Any thread.
    public func pop() -> Element? {
        if isEmpty { return nil }
        return queue.withLock { q in
            let e = q.popFirst()
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
            return e
        }
    }

    /// Takes up to `max` elements, at most `1/share` of the queue rounded up (Go: `sched.runqsize/gomaxprocs+1`)
    /// and at most one more than `dst`'s free slots: returns the first and moves the rest straight into `dst`
    /// (the caller's own queue) under the lock, with no temporary array. Executed by the owner of `dst`.
    public func popBatch(max: Int, share: Int, into dst: LocalQueue<Element>) -> Element? {
        if isEmpty { return nil }
        let room = dst.freeSlots
        return queue.withLock { q -> Element? in
            guard let first = q.popFirst() else { return nil }
            let n = Swift.min(max, (q.count + 1) / Swift.max(share, 1) + 1, q.count + 1, room + 1)
            if n > 1 { dst.pushMany(max: n - 1) { q.popFirst() } }
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
            return first
        }
    }

    /// Removes everything and refuses later `pushIfOpen`s (shutdown). Any thread.
    public func closeAndDrain() -> [Element] {
        queue.withLock { q in
            closed.store(true, ordering: .relaxed)  // relaxed: read under this lock.
            let all = q.arrayCopy()
            q.removeAll()
            depthGauge.store(0, ordering: .relaxed)  // relaxed: see push.
            return all
        }
    }

    /// Removes everything (shutdown). Any thread.
    public func drain() -> [Element] {
        queue.withLock { q in
            let all = q.arrayCopy()
            q.removeAll()
            depthGauge.store(0, ordering: .relaxed)  // relaxed: see push.
            return all
        }
    }
}

extension Collection {
    /// The elements as an Array; an empty collection gives `[]` without copying. A zero-element copy
    /// (Deque's, Dictionary.Values') writes a count of 0 into Swift's one shared empty-array storage, a
    /// benign race that ThreadSanitizer reports when two schedulers shut down at once (seen in CI).
    @inlinable
    func arrayCopy() -> [Element] { isEmpty ? [] : Array(self) }
}
