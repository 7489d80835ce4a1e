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
// Ownership: a value owned by the one sampling thread (inside a FiberSampler or LoopSampler).

/// Trailing-window busy ratios of a set of threads (by index).
public struct BusyWindow: Sendable {
    /// Seconds covered (also `Snapshot.busyWindowSeconds`).
    public static let seconds = 1.0
    /// (time, busy nanoseconds per thread) at recent samples, oldest first, spanning about `seconds`.
    private var marks: [(time: Double, busy: [UInt64])] = []

    /// The ratios at `time` for the cumulative busy nanoseconds `now` (one per thread), then remembers them.
    /// 0 for each thread on the first sample (no window yet) or after the set of threads changed.
    mutating func ratios(time: Double, busy now: [UInt64]) -> [Double] {
        if marks.last?.busy.count != now.count { marks = [] }
        while marks.count > 1, marks[1].time <= time - Self.seconds { marks.removeFirst() }
        defer { marks.append((time, now)) }
        guard let first = marks.first, time > first.time else { return now.map { _ in 0 } }
        let wall = (time - first.time) * 1e9
        return now.enumerated().map { i, b in min(1, max(0, Double(b &- first.busy[i]) / wall)) }
    }
}
