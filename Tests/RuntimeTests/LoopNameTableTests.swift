import Testing

@testable import Runtime

/// The loop's task-name table against a Dictionary, over seeded random insert/remove sequences.
@Suite struct LoopNameTableTests {
    /// SplitMix64: deterministic, seedable.
    private struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test(arguments: 0..<20) func matchesADictionary(seed: Int) {
        var rng = Rng(s: UInt64(seed))
        var table = TaskNameTable()
        var model: [UInt: String] = [:]
        // Few distinct keys (aligned like task addresses) so inserts, hits and removals collide.
        let universe = (0..<200).map { _ in UInt(rng.next() % 4096 + 1) << 4 }
        for step in 0..<5000 {
            let key = universe[Int(rng.next() % UInt64(universe.count))]
            if rng.next() % 3 == 0 {
                table.remove(key)
                model[key] = nil
            } else {
                table.set(key, "t\(step)")
                model[key] = "t\(step)"
            }
            #expect(table.count == model.count)
        }
        for key in universe { #expect(table.lookup(key) == model[key]) }
    }
}

/// The per-job log-linear histogram: bucket bounds are monotone and percentiles land within 12.5%.
@Suite struct LoopLogLinearHistogramTests {
    @Test func bucketsAreMonotoneAndContainTheirValues() {
        var last: UInt64 = 0
        for i in 1..<240 {  // up to ~2^61 ns; higher buckets exist only for overflowed clocks
            let lo = LogLinearHistogram.lowerBound(i)
            #expect(lo > last)
            #expect(LogLinearHistogram.index(lo) == i)
            #expect(LogLinearHistogram.index(LogLinearHistogram.lowerBound(i + 1) - 1) == i)
            last = lo
        }
    }

    @Test func percentilesAreClose() {
        var h = LogLinearHistogram()
        for v in 1...10_000 { h.record(UInt64(v) * 1000) }
        let p50 = Double(h.value(atPercentile: 50))
        let p99 = Double(h.value(atPercentile: 99))
        #expect(abs(p50 - 5_000_000) / 5_000_000 < 0.125)
        #expect(abs(p99 - 9_900_000) / 9_900_000 < 0.125)
        #expect(h.maxValue == 10_000_000)
        #expect(h.total == 10_000)
    }
}

/// The alive-task registry (`SlotList`) against a Dictionary, over seeded random insert/remove sequences.
@Suite struct LoopSlotListTests {
    /// The alive-task registry: slots come back LIFO, every stored value is listed once.
    @Test(arguments: 0..<10) func slotListMatchesADictionary(seed: Int) {
        var state = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        var list = SlotList<Int>()
        var model: [Int: Int] = [:]  // slot → value
        for step in 0..<3000 {
            if !model.isEmpty && next() % 2 == 0 {
                let slot = Array(model.keys)[Int(next() % UInt64(model.count))]
                list.remove(slot)
                model[slot] = nil
                // The slot freed last is the next one handed out.
                let again = list.insert(-step)
                #expect(again == slot)
                model[again] = -step
            } else {
                let slot = list.insert(step)
                #expect(model[slot] == nil)
                model[slot] = step
            }
            #expect(list.count == model.count)
        }
        #expect(list.allValues.sorted() == model.values.sorted())
    }
}
