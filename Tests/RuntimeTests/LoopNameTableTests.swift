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
