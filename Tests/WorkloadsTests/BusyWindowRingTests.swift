import Testing

@testable import Workloads

/// The busy window keeps its marks in a ring (no allocation per sample once warm); it must give exactly what the
/// definition gives (docs/figures.md: Δ busy / Δ wall over the oldest mark at least `seconds` old and every later one).
@Suite struct BusyWindowRingTests {
    /// The definition, as a list of marks (what the window kept before the ring).
    struct Reference {
        var marks: [(time: Double, busy: [UInt64])] = []
        mutating func ratios(time: Double, busy now: [UInt64]) -> [Double] {
            if marks.last?.busy.count != now.count { marks = [] }
            while marks.count > 1, marks[1].time <= time - BusyWindow.seconds { marks.removeFirst() }
            defer { marks.append((time, now)) }
            guard let first = marks.first, time > first.time else { return now.map { _ in 0 } }
            let wall = (time - first.time) * 1e9
            return now.enumerated().map { i, b in min(1, max(0, Double(b &- first.busy[i]) / wall)) }
        }
    }

    /// A seeded xorshift64 generator (the runs below are reproducible).
    struct XorShift {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    /// Seeded runs with sample intervals from 5 ms to 400 ms (the ring grows, wraps and shrinks its use), a change of
    /// the thread count midway (a new window), and busy times that sometimes go beyond the wall time (clamped).
    @Test func theRingGivesTheDefinitionsRatiosOverSeededRuns() {
        for seed in UInt64(1)...20 {
            var rng = XorShift(seed: seed &* 0x9E37_79B9_7F4A_7C15)
            func next() -> UInt64 { rng.next() }
            var window = BusyWindow()
            var reference = Reference()
            var time = 0.0
            var threads = 1 + Int(next() % 8)
            var busy = [UInt64](repeating: 0, count: threads)
            for step in 0..<400 {
                if step == 200 {
                    threads = 1 + Int(next() % 8)
                    busy = [UInt64](repeating: 0, count: threads)
                }
                let dt = Double(5 + next() % 396) / 1000
                time += dt
                for i in 0..<threads { busy[i] &+= next() % UInt64(dt * 1.2e9) }
                let got = window.ratios(time: time, busy: busy)
                let want = reference.ratios(time: time, busy: busy)
                #expect(got == want, "seed \(seed) step \(step)")
                if got != want { return }
            }
        }
    }

    /// The two-ratio pass (`withPass`: a carrier's busy and search time in one window) gives, for each series, exactly what the
    /// definition gives for that series alone, over the same seeded runs (growth, wrap, a change of thread count).
    @Test func thePairedPassGivesEachSeriesTheDefinitionsRatios() {
        for seed in UInt64(1)...20 {
            var rng = XorShift(seed: seed &* 0xD1B5_4A32_D192_ED03)
            func next() -> UInt64 { rng.next() }
            var window = BusyWindow()
            var refA = Reference()
            var refB = Reference()
            var time = 0.0
            var threads = 1 + Int(next() % 8)
            var a = [UInt64](repeating: 0, count: threads)
            var b = a
            var gotA: [Double]
            var gotB: [Double]
            for step in 0..<400 {
                if step == 200 {
                    threads = 1 + Int(next() % 8)
                    a = [UInt64](repeating: 0, count: threads)
                    b = a
                }
                let dt = Double(5 + next() % 396) / 1000
                time += dt
                for i in 0..<threads {
                    a[i] &+= next() % UInt64(dt * 1.2e9)
                    b[i] &+= next() % UInt64(dt * 0.5e9)
                }
                // The pass FiberSampler takes: each thread's pair as its own loop reaches it.
                (gotA, gotB) = window.withPass(time: time, count: threads) { pass in
                    let pairs = (0..<threads).map { pass.ratios($0, a[$0], b[$0]) }
                    return (pairs.map(\.0), pairs.map(\.1))
                }
                let wantA = refA.ratios(time: time, busy: a)
                let wantB = refB.ratios(time: time, busy: b)
                #expect(gotA == wantA && gotB == wantB, "seed \(seed) step \(step)")
                if gotA != wantA || gotB != wantB { return }
            }
        }
    }
}
