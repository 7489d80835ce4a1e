// MNLoopSampler: one read of the M:N event loop (`MultiLoopMetrics`) plus the invariant workload's totals →
// the `MNLoopSnapshot` section of a Snapshot (the asyncio invariant, issue 15).
//
// Part of the one sampling layer (see LoopSampler): busy shares over the same trailing window as carriers and
// loops (BusyWindow), jobs run since the previous sample, each thread's top victim from its steal table.
//
// Ownership: a value owned by the one sampling thread. Its caller reads the loop
// (`MultiLoop.metrics(resetRecent: true)`: the sampler is the only caller that resets) and passes the values in.

import Runtime
import Telemetry

/// Builds the M:N loop's snapshot section from loop reads. Owned by one sampling thread.
public struct MNLoopSampler: Sendable {
    private var busy = BusyWindow()
    /// `runs` per thread at the previous sample (empty before the first).
    private var lastRuns: [UInt64] = []

    public init() {}

    /// The section for one read taken at `time` (seconds since the session started). Call once per read, in
    /// time order. `lag`: the M:N loop's heartbeat task's recorder, read for this sample (nil: none, "n/a").
    public mutating func sample(
        _ m: MultiLoopMetrics, invariant: [InvariantSnapshot], lag: LoopLagSummary? = nil, time: Double
    ) -> MNLoopSnapshot {
        let ratios = busy.ratios(time: time, busy: m.threads.map(\.busyNanos))
        if lastRuns.count != m.threads.count { lastRuns = [] }
        let previous = !lastRuns.isEmpty
        let threads = m.threads.enumerated().map { (i, t) -> MNThreadSnapshot in
            var top: Int? = nil
            var topJobs: UInt64 = 0
            for (v, n) in t.stolenFrom.enumerated() where n > topJobs {
                top = v
                topJobs = n
            }
            return MNThreadSnapshot(
                id: t.index, state: MNThreadState(t.state), runs: t.runs,
                runsInInterval: previous ? t.runs &- lastRuns[i] : nil, stealOps: t.stealOps, stolenIn: t.stolenIn,
                stolenOut: t.stolenOut, parks: t.parks, queueDepth: t.queueDepth, queuePeak: t.queueHighWater,
                maxQueueDepth: t.maxQueueDepth, busyRatio: ratios[i], topVictim: top, topVictimJobs: topJobs)
        }
        lastRuns = m.threads.map(\.runs)
        var section = MNLoopSnapshot(
            threads: threads, injectorDepth: m.injectorDepth, tasksAlive: m.tasksAlive, invariant: invariant)
        section.lag = lag.map(LagSummary.init)
        return section
    }
}
