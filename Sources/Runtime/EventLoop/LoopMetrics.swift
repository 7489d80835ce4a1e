// Loop metrics: what the loop measures about itself, and how it publishes it without blocking.
//
// "Count plainly, publish in batches" (tokio's worker Stats → WorkerMetrics): the loop thread keeps
// plain counters and HdrHistograms, and at maintenance points (every `publishInterval`, and before
// it sleeps) copies them into `LoopPublished`:
// - counters go into relaxed atomics (a reader may see them a few ms stale, never torn);
// - histograms and the culprit name go into a `Locked` the loop only *tries* to take
//   (`withLockIfAvailable`): if a reader holds it, the loop keeps its values and tries again at
//   the next maintenance point. The loop never waits for a reader.
// Readers (`EventLoop.metrics()`, any thread) do the expensive part: percentiles from the copies.

//
// Mapping to the snapshot contract (Telemetry/Snapshot.swift), for the sampler:
//   LoopSnapshot.id/readyDepth/maxReadyDepth/timersPending/tasksAlive/jobsRun/slowCallbacks
//                                  ← LoopMetrics fields of the same names (readyDepth includes the inbox;
//                                    readyDepthHighWater / inboxDepth are there for the peak-hold marker)
//   LoopSnapshot.busyRatio         ← Δ busyNanos / Δ wall nanoseconds between two samples
//   LoopSnapshot.current           ← LoopMetrics.current
//   LoopSnapshot.lag / Snapshot.lag ← LoopMetrics.lag (a LoopLagSummary of the loop's LagRecorder,
//                                    Runtime/Metrics/LagRecorder.swift);
//                                    call `metrics(resetRecent: true)` from the sampler only
//   Snapshot.events                ← EventLoop.drainEvents() / LoopGroup.drainEvents()
//                                    (RuntimeEventRecord: .slowCallback name + durationNanos,
//                                    .lagSpike durationNanos = lateness; worker = loop id)
//   Snapshot.droppedEvents         ← LoopMetrics.droppedEvents (sum over loops)
//   PoolSnapshot                   ← ThreadPool.metrics (threads, busy, queueDepth, completed, shared)
//   FiberCounts for loop models    ← tasksAlive (total); runnable ≈ readyDepth

import Histogram
import Synchronization

/// p50 / p99 / max of a per-job duration, ms.
public struct LoopDurationSummary: Sendable, Equatable {
    public var count: UInt64 = 0
    public var p50Ms: Double = 0
    public var p99Ms: Double = 0
    public var maxMs: Double = 0
    public init() {}

    init(_ h: Histogram<UInt64>) {
        count = h.totalCount
        if count > 0 {
            p50Ms = Double(h.valueAtPercentile(50)) / 1e6
            p99Ms = Double(h.valueAtPercentile(99)) / 1e6
            maxMs = Double(h.max) / 1e6
        }
    }
}

/// One loop's figures at one instant. Plain values.
public struct LoopMetrics: Sendable, Equatable {
    public var id: Int
    public var name: String
    /// Jobs runnable on this loop now, not running (gauge): its own ready queue (as of the loop's last job start)
    /// plus the cross-thread inbox (`inboxDepth`, exact at the read). A loop stuck in a long job shows its
    /// backlog growing here.
    public var readyDepth: Int
    /// The inbox part of `readyDepth` (gauge): jobs submitted from other threads (arrivals, `toThread`
    /// completions, resumptions from foreign threads) that the loop thread has not moved into its queue yet.
    public var inboxDepth: Int
    /// The highest `readyDepth` since the previous `metrics(resetRecent: true)` (a high-water mark the loop and
    /// the submitters raise; that call resets it), at least the `readyDepth` of this read. Jobs.
    public var readyDepthHighWater: Int
    /// The highest `readyDepth` since the loop started (never reset). Jobs.
    public var maxReadyDepth: Int
    public var timersPending: Int
    public var tasksAlive: Int
    public var jobsRun: UInt64
    public var slowCallbacks: UInt64
    /// Nanoseconds the loop thread spent running jobs (user work), cumulative counter; time polling or idle in
    /// the selector is not counted. A job counts when it ends (the running one: `currentRunningNanos`). Busy
    /// ratio over a window = Δ busyNanos / Δ monotonic time between two reads.
    public var busyNanos: UInt64
    /// Name of the task or callback running now (nil when idle or unnamed).
    public var current: String?
    /// Name of the last named job that finished since the previous `metrics(resetRecent: true)` (which resets
    /// it; nil: none did, or the loop could not publish it at that instant — it never waits for a reader).
    /// "What ran" in an interval, when nothing runs at the sampling instant.
    public var lastTask: String? = nil
    /// How long the current job has been running, ns (0 when idle). Shows a stall while it lasts.
    public var currentRunningNanos: UInt64
    public var lag: LoopLagSummary
    /// Per job: ready → started, and run time.
    public var queueDelay: LoopDurationSummary
    public var runTime: LoopDurationSummary
    /// Events dropped because the loop's ring was full, cumulative.
    public var droppedEvents: UInt64
    /// Tasks waiting on an fd now (readers + writers; gauge, as of the loop's last publish).
    public var fdWaiters: Int
}

/// Counters and copies published by the loop thread for readers on any thread.
final class LoopPublished: Sendable {
    // Sendable: atomics and `Locked` values only.
    // relaxed (every atomic below): independent statistics; a reader needs no ordering between
    // them or with other memory, only untorn values.
    /// The loop's own ready queue, stored at each job start (without the job) and at publish points.
    let readyDepth = Atomic<Int>(0)
    /// `readyDepth` + inbox: raised by the loop each iteration and by each cross-thread submission.
    let readyHighWater = HighWaterMark()
    let timersPending = Atomic<Int>(0)
    /// Published by the loop thread: spawned − ended (see `spawnedOffLoop`).
    let tasksAlive = Atomic<Int>(0)
    /// Tasks spawned from threads other than the loop's (any thread adds; the loop reads). Spawns
    /// on the loop thread count in a plain loop-thread counter instead: no atomic per spawn.
    let spawnedOffLoop = Atomic<Int>(0)
    let jobsRun = Atomic<UInt64>(0)
    let slowCallbacks = Atomic<UInt64>(0)
    /// Stored after every job.
    let busyNanos = Atomic<UInt64>(0)
    let fdWaiters = Atomic<Int>(0)
    /// Start time of the job running now, 0 when idle.
    let currentStart = Atomic<UInt64>(0)

    struct Copies: Sendable {
        var lag = makeNanosHistogram()
        var slots = makeNanosHistogram()
        var queueDelay = LogLinearHistogram()
        var runTime = LogLinearHistogram()
        var buckets = [UInt64](repeating: 0, count: LoopLagSummary.bucketBoundsMs.count)
        var ticks: UInt64 = 0
        var missed: UInt64 = 0
        /// Worst lateness not yet handed to a reader, ns.
        var recentMax: UInt64 = 0
    }
    let copies = Locked(Copies())
    /// Name of the named job running now (nil otherwise); valid only while `currentStart != 0`.
    let currentName = Locked<String?>(nil)
    /// Name of the last named job that finished: written by the loop thread with a try-lock at the end of a
    /// named job, taken (and reset) by the sampler.
    let lastName = Locked<String?>(nil)
}

/// Per-job durations (queue delay, run time), recorded twice per job on the hot path: a
/// log-linear histogram (4 sub-buckets per power of two, ≤ 12.5% error) is a count-leading-zeros
/// and an increment, where HdrHistogram's record was ~2.5% of a task switch and its 37 KB counts
/// array made every publish copy expensive. The heartbeat keeps HdrHistogram (one record per ms).
struct LogLinearHistogram: Sendable, Equatable {
    static let bucketCount = 256
    private(set) var counts = [UInt64](repeating: 0, count: LogLinearHistogram.bucketCount)
    private(set) var total: UInt64 = 0
    private(set) var maxValue: UInt64 = 0

    @inline(__always)
    static func index(_ v: UInt64) -> Int {
        if v < 4 { return Int(v) }
        let msb = 63 - v.leadingZeroBitCount
        return msb * 4 + Int((v >> UInt64(msb - 2)) & 3) - 4
    }

    /// Smallest value that lands in bucket `i`.
    static func lowerBound(_ i: Int) -> UInt64 {
        if i < 4 { return UInt64(i) }
        let msb = (i + 4) / 4
        let sub = UInt64((i + 4) % 4)
        return (4 + sub) << UInt64(msb - 2)
    }

    @inline(__always)
    mutating func record(_ v: UInt64) {
        counts[LogLinearHistogram.index(v)] &+= 1
        total &+= 1
        if v > maxValue { maxValue = v }
    }

    /// Value at percentile `p` (0…100): the middle of the bucket holding that rank.
    func value(atPercentile p: Double) -> UInt64 {
        if total == 0 { return 0 }
        let rank = max(1, UInt64((p / 100 * Double(total)).rounded(.up)))
        var seen: UInt64 = 0
        for i in 0..<counts.count {
            seen &+= counts[i]
            if seen >= rank {
                let lo = LogLinearHistogram.lowerBound(i)
                let hi = i + 1 < counts.count ? LogLinearHistogram.lowerBound(i + 1) : lo
                return min(maxValue, lo + (hi - lo) / 2)
            }
        }
        return maxValue
    }
}

extension LoopDurationSummary {
    init(_ h: LogLinearHistogram) {
        self.init()
        count = h.total
        if count > 0 {
            p50Ms = Double(h.value(atPercentile: 50)) / 1e6
            p99Ms = Double(h.value(atPercentile: 99)) / 1e6
            maxMs = Double(h.maxValue) / 1e6
        }
    }
}
