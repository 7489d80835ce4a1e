// BusyWindow: the one definition of a busy ratio, for carriers, loops and pool threads alike.
//
// busy ratio = Δ busy nanoseconds / Δ wall nanoseconds over the trailing `seconds` (the oldest
// sample at least that old and every later one), clamped to 0…1. One window for every kind of
// thread: a carrier publishes its busy time in batches (every `injectorInterval` runs or at a park),
// so over one 100 ms frame a carrier running long CPU fibers read 0 %, 100 %, 0 %, 2 % … while it was
// busy throughout; a 1 s window smooths that for carriers, and loops use the same window so their
// bars compare. Rejected: the interval since the previous sample for loops (what they used before):
// two figures under one label that do not mean the same thing.
//

// Storage: the marks are a ring of rows in one flat array, grown (doubled) only when a faster sample rate needs
// more marks than it holds, so a sample allocates nothing once warm (256 carriers: an array per mark and a
// `removeFirst` shifting them was a good part of a sample's cost).
//
// Ownership: a value owned by the one sampling thread (inside a FiberSampler or LoopSampler).

/// Trailing-window busy ratios of a set of threads (by index).
public struct BusyWindow: Sendable {
    /// Seconds covered (also `Snapshot.busyWindowSeconds`).
    public static let seconds = 1.0
    /// The marks (time, busy nanoseconds per thread) at recent samples, oldest first, spanning about `seconds`: a
    /// ring of `times.count` slots from `first`, `marks` of them in use; mark j's row is
    /// `rows[j * |width| ..< (j + 1) * |width|]`.
    private var times: [Double] = []
    private var rows: [UInt64] = []
    private var first = 0
    private var marks = 0
    /// Words per row: threads (one ratio each), or minus twice the threads for two ratios each (`withPass`);
    /// `Int.min` before the first sample.
    private var width = Int.min

    /// The ratios at `time` for the cumulative busy nanoseconds `now` (one per thread), then remembers them.
    /// 0 for each thread on the first sample (no window yet) or after the set of threads changed.
    mutating func ratios(time: Double, busy now: [UInt64]) -> [Double] {
        var out: [Double] = []
        ratios(time: time, count: now.count, busy: { now[$0] }, into: &out)
        return out
    }

    /// `ratios(time:busy:)` for `count` threads whose busy nanoseconds are `busy(i)`, into `out` (refilled in
    /// place).
    mutating func ratios(time: Double, count: Int, busy: (Int) -> UInt64, into out: inout [Double]) {
        let (from, to, wall) = advance(time: time, width: count)
        if out.count != count { out = [Double](repeating: 0, count: count) }
        // Unsafe buffers: rows `from` and `to` are whole rows of `rows` (width == count); `out` has count slots.
        rows.withUnsafeMutableBufferPointer { rows in
            out.withUnsafeMutableBufferPointer { out in
                for i in 0..<count {
                    let now = busy(i)
                    out[i] = Self.ratio(now &- rows[from + i], wall)
                    rows[to + i] = now
                }
            }
        }
    }

    /// One sample's step of a two-ratio window (`withPass`): thread i's pair from its two cumulative values — a
    /// carrier's busy and search time — each exactly what `ratios(time:count:busy:into:)` of its own window would
    /// give. One row per mark holds both (thread i's at 2i and 2i + 1). A window keeps one kind of call: the other
    /// kind, or a new count, starts it afresh.
    struct Pass {
        /// The window's rows, valid for the `withPass` call that made this; `from` and `to` start the oldest mark's
        /// row and this sample's (two words a thread).
        fileprivate let rows: UnsafeMutableBufferPointer<UInt64>
        fileprivate let from: Int
        fileprivate let to: Int
        fileprivate let wall: Double

        /// Thread `i`'s two ratios for its cumulative values `a` and `b`, which this sample's mark records. Call once
        /// for every thread `0 ..< count` of the pass (a thread left out keeps an older mark's values in this one).
        @inline(__always) func ratios(_ i: Int, _ a: UInt64, _ b: UInt64) -> (Double, Double) {
            // Wrapping index maths: i is one of the pass's threads, so each index is in its row.
            let f = from &+ 2 &* i
            let t = to &+ 2 &* i
            let out = (BusyWindow.ratio(a &- rows[f], wall), BusyWindow.ratio(b &- rows[f &+ 1], wall))
            rows[t] = a
            rows[t &+ 1] = b
            return out
        }
    }

    /// Takes the two-ratio window's step for a sample of `count` threads at `time` and runs `body` with it, so a
    /// caller computes each thread's pair in its own pass over the threads (FiberSampler's rows).
    mutating func withPass<R>(time: Double, count: Int, _ body: (Pass) throws -> R) rethrows -> R {
        let (from, to, wall) = advance(time: time, width: -2 * count)
        // Unsafe buffer: rows `from` and `to` are whole rows of `rows` (2 × count words), held for the call.
        return try rows.withUnsafeMutableBufferPointer { rows in
            try body(Pass(rows: rows, from: from, to: to, wall: wall))
        }
    }

    /// The share `delta` nanoseconds are of `wall` (0 without a window yet), clamped to 0…1.
    @inline(__always) fileprivate static func ratio(_ delta: UInt64, _ wall: Double) -> Double {
        wall > 0 ? min(1, max(0, Double(delta) / wall)) : 0
    }

    /// One step of the window for a sample at `time`: drops the marks the window no longer needs, takes the next
    /// slot for this sample's mark (growing the ring when full) and returns where the oldest mark's row and the new
    /// one's start in `rows` and the wall nanoseconds between them (0: no window yet). `width`: the row's shape —
    /// threads for one ratio each, minus twice the threads for two (so the two kinds never share a window).
    private mutating func advance(time: Double, width: Int) -> (from: Int, to: Int, wall: Double) {
        if self.width != width {
            // A new set of threads (or kind of row): a new window.
            self.width = width
            times = []
            rows = []
            first = 0
            marks = 0
        }
        // Drop marks while the next one is old enough to start the window.
        while marks > 1, times[(first + 1) % times.count] <= time - Self.seconds {
            first = (first + 1) % times.count
            marks -= 1
        }
        if marks == times.count { grow() }
        let slot = (first + marks) % times.count
        let words = abs(width)
        let wall = marks > 0 && time > times[first] ? (time - times[first]) * 1e9 : 0
        let from = first * words
        times[slot] = time
        marks += 1
        return (from, slot * words, wall)
    }

    /// Doubles the ring, keeping the marks in order (from slot 0).
    private mutating func grow() {
        let words = abs(width)
        let slots = max(4, 2 * times.count)
        var newTimes = [Double](repeating: 0, count: slots)
        var newRows = [UInt64](repeating: 0, count: slots * words)
        for j in 0..<marks {
            let from = (first + j) % times.count
            newTimes[j] = times[from]
            for i in 0..<words { newRows[j * words + i] = rows[from * words + i] }
        }
        times = newTimes
        rows = newRows
        first = 0
    }
}
