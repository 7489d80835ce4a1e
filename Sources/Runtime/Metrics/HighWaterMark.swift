// HighWaterMark: the maximum of a depth since the sampler last looked, and since the start.
//
// A depth read at 10 Hz misses every burst that comes and goes between two reads (tokio documents its queue
// depths as point-in-time gauges for that reason). So the thread that sees the depth change raises a mark, and
// the sampler takes it — reads and resets it — once per sample: a peak-hold meter. Neither side waits: a raise
// is one relaxed load when the depth is not a new maximum (the common case) and a compare-exchange loop when it
// is; a take is one exchange. A raise that races with a take lands in one interval or the other, never in none.
//
// Ownership: `raise` from any thread (the loop thread, producers, pool submitters); `take` from one sampler at a
// time (two samplers would split the intervals between them); `peek` and `sinceStart` from any thread.
import Synchronization

public final class HighWaterMark: Sendable {
    // relaxed (every atomic here): each value is a statistic read on its own; nothing else is published through
    // it, and the compare-exchange loops keep each maximum monotonic whatever the interleaving.
    private let interval = Atomic<Int>(0)
    private let ever = Atomic<Int>(0)

    public init() {}

    /// Records that the depth reached `depth`. Any thread.
    @inline(__always)
    public func raise(_ depth: Int) {
        if depth <= interval.load(ordering: .relaxed) { return }
        Self.raise(interval, to: depth)
        if depth > ever.load(ordering: .relaxed) { Self.raise(ever, to: depth) }
    }

    /// The maximum since the previous `take`, at least `current` (the depth now), and resets it. The sampler.
    public func take(current: Int) -> Int {
        max(interval.exchange(0, ordering: .relaxed), current)
    }

    /// The maximum since the previous `take`, at least `current`, without resetting it. Any thread.
    public func peek(current: Int) -> Int { max(interval.load(ordering: .relaxed), current) }

    /// The maximum since the mark was made, at least `current`. Any thread.
    public func sinceStart(current: Int) -> Int { max(ever.load(ordering: .relaxed), current) }

    private static func raise(_ a: borrowing Atomic<Int>, to v: Int) {
        var seen = a.load(ordering: .relaxed)
        while v > seen {
            let (done, now) = a.compareExchange(expected: seen, desired: v, ordering: .relaxed)
            if done { return }
            seen = now
        }
    }
}
