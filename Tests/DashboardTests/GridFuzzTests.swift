import Testing

@testable import Dashboard

/// Random drawing over many seeds: whatever is written, wherever, under whatever clip, the grid never
/// holds half a wide character and nothing lands outside the clip.
@Suite struct GridFuzzTests {
    /// SplitMix64: small, fast, deterministic per seed.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + Int(next() % UInt64(range.count))
        }
    }

    static let samples = ["a", "日本", "x日y", "──", "█▌", "🙂ok", "é", "a\u{0301}b", "\t", "long text here"]

    @Test(arguments: 0..<300) func randomWritesKeepTheInvariant(seed: Int) {
        var rng = Rng(state: UInt64(seed))
        let w = rng.int(1...12)
        let h = rng.int(1...5)
        var g = Grid(width: w, height: h, glyphs: seed % 2 == 0 ? .unicode : .ascii)
        for _ in 0..<40 {
            let clip = Rect(rng.int(-2...w), rng.int(-2...h), rng.int(0...w + 2), rng.int(0...h + 2))
            let before = g
            let p = Point(rng.int(-3...w + 1), rng.int(-1...h))
            g.clipped(to: clip) { g in
                switch rng.int(0...6) {
                case 0: g.text(at: p, Self.samples[rng.int(0...Self.samples.count - 1)], maxWidth: rng.int(0...8))
                case 1: g.put(rng.int(0...1) == 0 ? "日" : "x", x: p.x, y: p.y)
                case 2: g.box(Rect(p.x, p.y, rng.int(0...8), rng.int(0...4)), title: "t日")
                case 3: g.connector(from: p, to: Point(rng.int(-1...w), rng.int(-1...h)))
                case 4:
                    g.bar(at: p, width: rng.int(0...10), fraction: Double(rng.int(0...10)) / 10, label: "日", value: "9")
                case 5: g.sparkline(at: p, width: rng.int(0...6), values: [1, 5, 2, 8])
                default: g.fill(Rect(p.x, p.y, rng.int(0...4), rng.int(0...3)), with: "日")
                }
            }
            #expect(g.invariantViolations().isEmpty, "seed \(seed): \(g.invariantViolations())")
            // Outside the clip, a cell may change only as the blanked other half of a wide character cut by
            // a write inside the clip (so only right next to the clip's left or right edge).
            let inside = clip.intersection(g.bounds)
            for y in 0..<h {
                for x in 0..<w where !inside.contains(Point(x, y)) && g[x, y] != before[x, y] {
                    let besideEdge = (x == inside.x - 1 || x == inside.maxX) && y >= inside.y && y < inside.maxY
                    #expect(besideEdge && g[x, y].scalar == " ", "seed \(seed): (\(x),\(y)) changed outside \(clip)")
                }
            }
            #expect(g.clip == g.bounds)
        }
    }
}
