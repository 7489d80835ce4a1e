// TimerHeap: the loop's pending timers (call_later / call_at / sleep / timeouts / heartbeat),
// ordered by (deadline, sequence) in a swift-collections min-heap.
//
// Cancellation is lazy, as in asyncio: `cancel` marks the handle and the entry stays in the heap
// until it reaches the top (O(1) cancel instead of O(n) removal). When cancelled entries exceed
// half of the heap (and 64), the heap is rebuilt without them so a loop that arms and cancels
// many timeouts does not grow without bound.
//
// Ownership: a TimerHeap and every `LoopTimer.callback/state` are owned by the loop thread.

import HeapModule

/// One armed timer. Created and mutated only on the loop thread; `LoopTimerHandle` is the
/// thread-safe face users hold.
final class LoopTimer {
    enum State { case armed, fired, cancelled }
    let deadline: UInt64
    let sequence: UInt64
    /// Name shown as the culprit when this timer's callback runs slow.
    let name: String?
    // protected by the loop thread
    var state: State = .armed
    // protected by the loop thread; released when the timer fires or is cancelled.
    var callback: (() -> Void)?

    init(deadline: UInt64, sequence: UInt64, name: String?, callback: @escaping () -> Void) {
        self.deadline = deadline
        self.sequence = sequence
        self.name = name
        self.callback = callback
    }
}

struct TimerHeap {
    private struct Entry: Comparable {
        let timer: LoopTimer
        static func < (a: Entry, b: Entry) -> Bool {
            a.timer.deadline != b.timer.deadline
                ? a.timer.deadline < b.timer.deadline : a.timer.sequence < b.timer.sequence
        }
        static func == (a: Entry, b: Entry) -> Bool { a.timer === b.timer }
    }

    private var heap = Heap<Entry>()
    private var nextSequence: UInt64 = 0
    /// Armed (not cancelled, not fired) timers.
    private(set) var pending = 0
    private var cancelledInHeap = 0

    /// Arms a timer. Loop thread only.
    mutating func add(deadline: UInt64, name: String?, callback: @escaping () -> Void) -> LoopTimer {
        nextSequence &+= 1
        let t = LoopTimer(deadline: deadline, sequence: nextSequence, name: name, callback: callback)
        heap.insert(Entry(timer: t))
        pending += 1
        return t
    }

    /// Cancels an armed timer; no effect on a fired or cancelled one. Returns true if it was armed.
    @discardableResult
    mutating func cancel(_ t: LoopTimer) -> Bool {
        guard t.state == .armed else { return false }
        t.state = .cancelled
        t.callback = nil
        pending -= 1
        cancelledInHeap += 1
        if cancelledInHeap > 64 && cancelledInHeap * 2 > heap.count {
            heap = Heap(heap.unordered.filter { $0.timer.state == .armed })
            cancelledInHeap = 0
        }
        return true
    }

    /// Deadline of the earliest armed timer, dropping cancelled entries from the top.
    mutating func nextDeadline() -> UInt64? {
        while let top = heap.min {
            if top.timer.state == .armed { return top.timer.deadline }
            _ = heap.popMin()
            cancelledInHeap -= 1
        }
        return nil
    }

    /// Removes and returns the earliest armed timer if it is due at `now`, marking it fired.
    mutating func popDue(now: UInt64) -> LoopTimer? {
        guard let d = nextDeadline(), d <= now, let e = heap.popMin() else { return nil }
        e.timer.state = .fired
        pending -= 1
        return e.timer
    }

    var isEmpty: Bool { pending == 0 }
}
