// Timers: one shared min-heap of deadlines for the whole scheduler.
//
// Rejected: per-worker heaps (Go ≥ 1.14) — they need timer stealing when a worker sleeps and make
// "when is the next deadline" a scan over workers; with ≤ 256 carriers and sleeps being a small share
// of scheduling operations, one heap behind a mutex is simpler and not a bottleneck here. A hashed wheel
// was rejected because its tick would put a floor under the 1 ms sleep precision the issue asks for.
//
// Any carrier expires due timers in its scheduling loop (one relaxed load of `nextDeadline` and, only when
// timers are pending, one clock read); the idle poller owner arms the poller's timerfd at `nextDeadline`.
import HeapModule
import Synchronization

struct TimerEntry<Element: AnyObject & Sendable>: Comparable {
    var deadline: UInt64
    var seq: UInt64
    var element: Element
    static func < (a: Self, b: Self) -> Bool { (a.deadline, a.seq) < (b.deadline, b.seq) }
    static func == (a: Self, b: Self) -> Bool { a.deadline == b.deadline && a.seq == b.seq }
}

public final class Timers<Element: AnyObject & Sendable>: Sendable {
    private struct State {
        var heap = Heap<TimerEntry<Element>>()
        var seq: UInt64 = 0
    }
    private let state = Locked(State())
    /// Earliest deadline (ns), `UInt64.max` when no timer is pending. Written under the lock.
    private let next = Atomic<UInt64>(.max)
    /// Timers pending, mirrored from the heap under the lock so `count` takes no lock (a gauge).
    private let pending = Atomic<Int>(0)

    public init() {}

    /// Any thread. Relaxed: a hint; `expire` re-checks under the lock.
    public var nextDeadline: UInt64 { next.load(ordering: .relaxed) }

    /// Adds a timer. Returns its id (for `isPending` and `cancel`) and whether it became the earliest (the idle
    /// poller must re-arm). Any thread.
    @discardableResult
    public func add(deadline: UInt64, _ element: Element) -> (id: UInt64, earliest: Bool) {
        state.withLock { s in
            s.seq &+= 1
            s.heap.insert(TimerEntry(deadline: deadline, seq: s.seq, element: element))
            let min = s.heap.min!.deadline
            // relaxed (both): published under the lock; readers treat them as hints / gauges.
            next.store(min, ordering: .relaxed)
            pending.store(s.heap.count, ordering: .relaxed)
            return (s.seq, min == deadline)
        }
    }

    /// True while the timer `id` has neither expired nor been cancelled. Any thread; O(n) — for the rare caller
    /// (a sleep woken early).
    public func isPending(_ id: UInt64) -> Bool {
        state.withLock { s in s.heap.unordered.contains { $0.seq == id } }
    }

    /// Removes the timer `id` if it is still pending (a sleep that ended early). Any thread; O(n), rare.
    public func cancel(_ id: UInt64) {
        state.withLock { s in
            guard s.heap.unordered.contains(where: { $0.seq == id }) else { return }
            s.heap = Heap(s.heap.unordered.filter { $0.seq != id })
            next.store(s.heap.min?.deadline ?? .max, ordering: .relaxed)  // relaxed: see add.
            pending.store(s.heap.count, ordering: .relaxed)  // relaxed: see add.
        }
    }

    /// Removes and returns every element whose deadline ≤ now. Any thread.
    public func expire(now: UInt64) -> [Element] {
        if nextDeadline > now { return [] }
        return state.withLock { s in
            var out: [Element] = []
            while let m = s.heap.min, m.deadline <= now { out.append(s.heap.removeMin().element) }
            next.store(s.heap.min?.deadline ?? .max, ordering: .relaxed)  // relaxed: see add.
            pending.store(s.heap.count, ordering: .relaxed)  // relaxed: see add.
            return out
        }
    }

    /// Timers pending (a gauge). Any thread; no lock.
    public var count: Int { pending.load(ordering: .relaxed) }  // relaxed: a gauge.

    /// Removes every timer and returns them, in no order (shutdown: the heap's own storage, no array of a million
    /// parked fibers built and copied; the elements live as long as the caller keeps it). Any thread.
    func drain() -> [TimerEntry<Element>] {
        state.withLock { s in
            defer { s.heap = Heap() }
            next.store(.max, ordering: .relaxed)  // relaxed: see add.
            pending.store(0, ordering: .relaxed)  // relaxed: see add.
            return s.heap.unordered
        }
    }
}
