// LagRecorder: the one heartbeat-lag recorder, for event loops and for fiber heartbeats.
//
// # Model
// A heartbeat is due on a grid, origin + k × period (the anchors' W4). Each tick records how late it
// ran (`late`), and every grid slot that passed meanwhile counts as late until the tick ran (`slots`):
// a 50 ms stall at a 1 ms period is one late tick but fifty late slots, which is what a user waiting
// on that thread felt. The next deadline is the first slot after the tick. `buckets` counts ticks by
// lateness with one bucket table, `LoopLagSummary.bucketBoundsMs` (Telemetry's `LagSummary` draws the
// same bounds). Histograms are HdrHistogram in nanoseconds, 2 significant digits, up to one hour.
//
// # Who owns it
// - An event loop keeps a `LagRecorder` in its loop-thread state: only the loop thread ticks it; it
//   publishes copies at maintenance points (EventLoop's metrics) and never waits for a reader.
// - A fiber heartbeat uses `SharedLagRecorder`: the heartbeat fiber ticks, a sampler on any thread
//   reads. The fiber migrates between carriers across its sleeps, so the recorder sits behind a
//   `SpinLock` (never `Synchronization.Mutex`: docs/ARCHITECTURE.md, "Fiber code and thread
//   identity"). A reader holds the lock only to copy the recorder (the histograms' storage is shared
//   copy-on-write, so that is a few retains); percentiles are computed outside it.
//
// Rejected: one recorder per carrier merged by the sampler (the heartbeat is one fiber; it needs no
// merge, only a lock that survives its migration); recording in microseconds as the fiber models did
// (two recorders, two resolutions, two bucket loops for one figure).

import Histogram

/// Heartbeat lateness, as the dashboard draws it (same fields as `Telemetry.LagSummary`).
public struct LoopLagSummary: Sendable, Equatable {
    public var p50Ms: Double = 0
    public var p99Ms: Double = 0
    public var maxMs: Double = 0
    /// p99 over every heartbeat slot, a skipped slot counting as late until the heartbeat ran (anchors' W4).
    public var slotP99Ms: Double = 0
    /// Worst lateness since the previous read that asked to reset it.
    public var recentMs: Double = 0
    /// Counts per bucket; upper bounds in `bucketBoundsMs` (the same as `Telemetry.LagSummary`'s).
    public var buckets: [UInt64] = Array(repeating: 0, count: LoopLagSummary.bucketBoundsMs.count)
    /// Heartbeat ticks that fired, and grid slots skipped because the thread or carrier was busy.
    public var ticks: UInt64 = 0
    public var missedSlots: UInt64 = 0

    /// Upper bounds of `buckets`, ms; the last bucket is open-ended. Must equal `Telemetry.LagSummary.bucketBoundsMs`.
    public static let bucketBoundsMs: [Double] = [0.1, 0.5, 1, 2, 5, 10, 20, 50, 100, .infinity]

    public init() {}

    /// The summary of a recorder's histograms (`late`, `slots`: nanoseconds); `recentMaxNanos` becomes `recentMs`.
    init(late: Histogram<UInt64>, slots: Histogram<UInt64>, buckets: [UInt64], recentMaxNanos: UInt64, missed: UInt64) {
        if late.totalCount > 0 {
            p50Ms = Double(late.valueAtPercentile(50)) / 1e6
            p99Ms = Double(late.valueAtPercentile(99)) / 1e6
            maxMs = Double(late.max) / 1e6
        }
        if slots.totalCount > 0 { slotP99Ms = Double(slots.valueAtPercentile(99)) / 1e6 }
        recentMs = Double(recentMaxNanos) / 1e6
        self.buckets = buckets
        ticks = late.totalCount
        missedSlots = missed
    }
}

/// Histogram of nanosecond durations, 2 significant digits, up to 1 hour.
func makeNanosHistogram() -> Histogram<UInt64> {
    Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .two)
}

/// A heartbeat's bookkeeping: the grid, lateness per tick and per slot. A value owned by one thread
/// (a loop) or kept behind a lock (`SharedLagRecorder`).
public struct LagRecorder: Sendable {
    public let periodNanos: UInt64
    /// Lateness at or above which a tick is a spike worth an event (0: never). The loop emits the event.
    let spikeNanos: UInt64
    /// Grid origin and index of the next slot to fire (anchors' W4: t0 + k × period).
    var origin: UInt64 = 0
    var k: UInt64 = 1
    var late = makeNanosHistogram()
    var slots = makeNanosHistogram()
    var buckets = [UInt64](repeating: 0, count: LoopLagSummary.bucketBoundsMs.count)
    /// Worst lateness since the last reset, ns.
    var recentMax: UInt64 = 0
    var missed: UInt64 = 0

    /// A recorder whose grid starts at `origin` (ns on the caller's clock; the first tick is due one period later).
    public init(period: Duration, spike: Duration = .zero, origin: UInt64 = 0) {
        periodNanos = max(1, LoopTime.nanos(period))
        spikeNanos = LoopTime.nanos(spike)
        self.origin = origin
    }

    /// When the next tick is due (ns, the caller's clock).
    public var nextDeadline: UInt64 { origin &+ k &* periodNanos }

    /// Longest lateness the histograms hold (1 hour); a longer one is recorded as this (HdrHistogram would
    /// drop it, and the tick would go uncounted).
    static let maxRecordedNanos: UInt64 = 3_600_000_000_000
    /// Most skipped slots recorded one by one per tick (the latest-late first): a 100 s stall at 1 ms still
    /// ends in 100,000 records. `missedSlots` counts every one.
    static let maxSlotsPerTick: UInt64 = 100_000

    /// Records a tick that fired at `now`; returns its lateness. Advances `k` past every slot
    /// that has already passed (skipped slots count toward `slots` as late until `now`).
    @discardableResult
    public mutating func tick(now: UInt64) -> UInt64 {
        let scheduled = nextDeadline
        let lateness = now > scheduled ? now - scheduled : 0
        late.record(min(lateness, Self.maxRecordedNanos))
        recentMax = max(recentMax, lateness)
        let ms = Double(lateness) / 1e6
        var b = 0
        while b < LoopLagSummary.bucketBoundsMs.count - 1 && ms > LoopLagSummary.bucketBoundsMs[b] { b += 1 }
        buckets[b] += 1
        let nk = max(k + 1, (now > origin ? (now - origin) / periodNanos : 0) + 1)
        var j = k
        while j < nk && j - k < Self.maxSlotsPerTick {
            let slot = origin &+ j &* periodNanos
            slots.record(min(now > slot ? now - slot : 0, Self.maxRecordedNanos))
            j += 1
        }
        missed += nk - k - 1
        k = nk
        return lateness
    }

    /// Everything recorded so far; `recentMs` is the worst tick since the last `resetRecent()`.
    public func summary() -> LoopLagSummary {
        LoopLagSummary(late: late, slots: slots, buckets: buckets, recentMaxNanos: recentMax, missed: missed)
    }

    /// Starts a new "recent" window.
    public mutating func resetRecent() { recentMax = 0 }
}

/// A `LagRecorder` that one fiber (the heartbeat) ticks while any thread reads it. Fiber-safe: the
/// lock is a `SpinLock`, so the heartbeat may tick from whichever carrier it resumed on.
public final class SharedLagRecorder: Sendable {
    // protected by its lock: the heartbeat fiber ticks, readers copy.
    private let recorder: SpinLock<LagRecorder>
    public let periodNanos: UInt64

    /// `origin`: the grid's start (ns, `qv_now_ns` scale for a fiber heartbeat).
    public init(period: Duration, origin: UInt64 = 0) {
        let r = LagRecorder(period: period, origin: origin)
        periodNanos = r.periodNanos
        recorder = SpinLock(r)
    }

    /// Moves the grid's origin to `now` (call once, when the heartbeat starts).
    public func start(at now: UInt64) { recorder.withLock { $0.origin = now } }

    /// When the next tick is due.
    public var nextDeadline: UInt64 { recorder.withLock { $0.nextDeadline } }

    /// Records a tick at `now`; returns its lateness, ns.
    @discardableResult
    public func tick(now: UInt64) -> UInt64 { recorder.withLock { $0.tick(now: now) } }

    /// The summary so far. `resetRecent`: start a new recent window (one consumer — the sampler — passes true).
    public func summary(resetRecent: Bool) -> LoopLagSummary {
        let copy = recorder.withLock { r -> LagRecorder in
            let out = r
            if resetRecent { r.resetRecent() }
            return out
        }
        return copy.summary()
    }
}
