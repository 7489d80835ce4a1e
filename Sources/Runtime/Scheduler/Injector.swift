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

    /// Any thread. One lock for the whole batch.
    public func pushBatch(_ elements: [Element]) {
        if elements.isEmpty { return }
        queue.withLock { q in
            q.append(contentsOf: elements)
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
        }
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

    /// Takes up to `max` elements, at most `1/share` of the queue rounded up (Go: `sched.runqsize/gomaxprocs+1`).
    /// Any thread.
    public func popBatch(max: Int, share: Int) -> [Element] {
        if isEmpty { return [] }
        return queue.withLock { q in
            let n = Swift.min(max, q.count / Swift.max(share, 1) + 1, q.count)
            var out: [Element] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(q.removeFirst()) }
            depthGauge.store(q.count, ordering: .relaxed)  // relaxed: see push.
            return out
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
