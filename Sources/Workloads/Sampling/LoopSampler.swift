// LoopSampler: one read of a set of event loops (`LoopMetrics` per loop, `ThreadPoolMetrics` per
// pool, drained event records) → the runtime part of a `Snapshot`.
//
// Part of the one sampling layer (see FiberSampler): the live source, the headless run and the
// benchmarks build loop snapshots here. Interval maths (busy shares over BusyWindow, deltas) happens here only.
//
// Ownership: a value owned by the one sampling thread. Its caller reads the loops
// (`EventLoop.metrics(resetRecent: true)` — the sampler is the only caller that resets — and the
// event rings, both non-blocking for loop threads) and passes the values in.

import Runtime
import Telemetry

/// Builds loop-model snapshots from loop and pool reads. Owned by one sampling thread.
public struct LoopSampler: Sendable {
    /// Origin of event times (monotonic ns).
    public let sessionStart: UInt64
    /// Busy ratios over the trailing window (BusyWindow: the same definition as carriers').
    private var busy = BusyWindow()
    /// `jobsRun` per loop at the previous sample (empty before the first).
    private var lastJobs: [UInt64] = []
    /// Busy ratios of every pool thread (all pools, in order) over the same window.
    private var poolBusy = BusyWindow()

    public init(sessionStart: UInt64) { self.sessionStart = sessionStart }

    /// Fills the runtime's part of `snapshot` (loops, the worst loop's lag, pool, tasks alive, events, drops)
    /// from one read taken at `snapshot.time`. Call once per read, in time order.
    /// `nowNanos` is the monotonic time of the read (`Monotonic.now()`, the pools' clock): a pool thread's job
    /// has been running since its start until then.
    public mutating func sample(
        _ metrics: [LoopMetrics], pools: [ThreadPoolMetrics], events records: [RuntimeEventRecord],
        nowNanos: UInt64 = Monotonic.now(), into snapshot: inout Snapshot
    ) {
        let ratios = busy.ratios(time: snapshot.time, busy: metrics.map(\.busyNanos))
        if lastJobs.count != metrics.count { lastJobs = [] }
        let previous = !lastJobs.isEmpty
        snapshot.loops = metrics.enumerated().map { (i, m) in
            LoopSnapshot(
                id: m.id, readyDepth: m.readyDepth, maxReadyDepth: m.maxReadyDepth,
                readyPeak: m.readyDepthHighWater, timersPending: m.timersPending,
                tasksAlive: m.tasksAlive, jobsRun: m.jobsRun, slowCallbacks: m.slowCallbacks,
                busyRatio: ratios[i], current: m.current,
                jobsInInterval: previous ? m.jobsRun &- lastJobs[i] : nil, lastTask: m.lastTask, lag: LagSummary(m.lag),
                readyDelay: DelaySummary(m.queueDelay))
        }
        lastJobs = metrics.map(\.jobsRun)
        snapshot.busyWindowSeconds = BusyWindow.seconds
        snapshot.readyDelay = DelaySummary.worst(snapshot.loops.compactMap(\.readyDelay))
        // The worst loop's figures: the lag a user of this process would see.
        var lag = LagSummary()
        for l in snapshot.loops {
            lag.p50Ms = max(lag.p50Ms, l.lag.p50Ms)
            lag.p99Ms = max(lag.p99Ms, l.lag.p99Ms)
            lag.maxMs = max(lag.maxMs, l.lag.maxMs)
            lag.slotP99Ms = max(lag.slotP99Ms, l.lag.slotP99Ms)
            lag.recentMs = max(lag.recentMs, l.lag.recentMs)
            if lag.buckets.count < l.lag.buckets.count {
                lag.buckets += [UInt64](repeating: 0, count: l.lag.buckets.count - lag.buckets.count)
            }
            for (i, b) in l.lag.buckets.enumerated() { lag.buckets[i] += b }
        }
        snapshot.lag = lag
        if !pools.isEmpty {
            // Every real pool thread, all pools in order: idle, or the label of its job and for how long.
            let threads = pools.flatMap(\.workers)
            let threadBusy = poolBusy.ratios(time: snapshot.time, busy: threads.map(\.busyNanos))
            let now = nowNanos
            snapshot.pool = PoolSnapshot(
                threads: pools.reduce(0) { $0 + $1.threads }, busy: pools.reduce(0) { $0 + $1.busy },
                queueDepth: pools.reduce(0) { $0 + $1.queueDepth },
                queuePeak: pools.reduce(0) { $0 + $1.queueDepthHighWater },
                completed: pools.reduce(0) { $0 + $1.completed }, shared: pools.count == 1 && pools[0].shared,
                threadStates: threads.enumerated().map { i, t in
                    // A thread running a job whose label was not readable at this instant says "busy".
                    let kind = t.runningSinceNanos == nil ? nil : (t.task ?? "busy")
                    let ms = t.runningSinceNanos.map { Double(now &- min(now, $0)) / 1e6 } ?? 0
                    return PoolThreadSnapshot(
                        id: i, kind: kind, runningMs: ms, busyRatio: previous ? threadBusy[i] : nil)
                })
        }
        snapshot.fibers = FiberCounts(total: metrics.reduce(0) { $0 + $1.tasksAlive })
        snapshot.events = RuntimeEvent.events(of: records, sessionStart: sessionStart)
        snapshot.droppedEvents = metrics.reduce(0) { $0 + $1.droppedEvents }
    }
}
