// SlotList: the loop's registry of alive spawned tasks (cancelled at shutdown). Insert returns a
// slot index that the task keeps; remove takes it back. A freed slot is reused first (LIFO), so a
// batch of 10,000 spawned-then-awaited tasks touches a few hot cache lines, where the hash table
// used before (`PointerTable`, keyed by task address) hit a random slot of a 16 K-entry table on
// every insert and remove: ~25 % of `loop.spawn`'s cost over a bare `Task(executorPreference:)`.
//
// Ownership: owned by the loop thread (a field of the loop's thread state).

struct SlotList<Value> {
    private var slots: [Value?] = []
    private var free: [Int] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// Stores `value`; returns its slot, valid until `remove(_:)`.
    @inline(__always)
    mutating func insert(_ value: Value) -> Int {
        count += 1
        if let i = free.popLast() {
            slots[i] = value
            return i
        }
        slots.append(value)
        return slots.count - 1
    }

    /// Frees a slot returned by `insert(_:)`. Each slot exactly once.
    @inline(__always)
    mutating func remove(_ slot: Int) {
        precondition(slots[slot] != nil, "SlotList: slot \(slot) removed twice")
        slots[slot] = nil
        free.append(slot)
        count -= 1
    }

    /// Every stored value, in slot order. For shutdown (cancel all), not for hot paths.
    var allValues: [Value] { slots.compactMap { $0 } }
}
