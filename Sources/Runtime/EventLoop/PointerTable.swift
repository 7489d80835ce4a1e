// PointerTable: task address → value. The loop keeps one: names of alive named tasks (looked up
// before every task job while named tasks are alive; the alive-task registry moved to `SlotList`,
// which needs no lookup by address). An open-addressing table with linear probing and backward-shift deletion, hashed by a
// Fibonacci multiply: a lookup is a multiply, a shift and usually one compare, where a Dictionary
// would run SipHash (~3% of a task switch in profiles).
//
// Ownership: owned by the loop thread (a field of the loop's thread state).

struct PointerTable<Value> {
    /// 0 = empty slot (no task lives at address 0).
    private var keys: [UInt] = Array(repeating: 0, count: 16)
    private var values: [Value?] = Array(repeating: nil, count: 16)
    private var shift: UInt = 64 - 4
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func slot(_ key: UInt) -> Int {
        Int(truncatingIfNeeded: (UInt64(key) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    @inline(__always)
    func lookup(_ key: UInt) -> Value? {
        let mask = keys.count - 1
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    mutating func set(_ key: UInt, _ value: Value) {
        precondition(key != 0, "PointerTable: key 0 is reserved")
        if (count + 1) * 4 > keys.count * 3 { grow() }
        let mask = keys.count - 1
        var i = slot(key)
        while keys[i] != 0 && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == 0 { count += 1 }
        keys[i] = key
        values[i] = value
    }

    mutating func remove(_ key: UInt) {
        let mask = keys.count - 1
        var i = slot(key)
        while keys[i] != key {
            if keys[i] == 0 { return }
            i = (i + 1) & mask
        }
        // Backward-shift deletion: pull later members of the probe run into the hole.
        var hole = i
        var j = (i + 1) & mask
        while keys[j] != 0 {
            let home = slot(keys[j])
            // Move j into the hole if its home is not in the (cyclic) range (hole, j].
            let inRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !inRange {
                keys[hole] = keys[j]
                values[hole] = values[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        keys[hole] = 0
        values[hole] = nil
        count -= 1
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldValues = values
        keys = Array(repeating: 0, count: oldKeys.count * 2)
        values = Array(repeating: nil, count: oldKeys.count * 2)
        shift -= 1
        count = 0
        for (k, v) in zip(oldKeys, oldValues) where k != 0 { set(k, v!) }
    }
}

extension PointerTable {
    /// Every value, in table order. For shutdown (cancel all), not for hot paths.
    var allValues: [Value] { values.compactMap { $0 } }
}

typealias TaskNameTable = PointerTable<String>
