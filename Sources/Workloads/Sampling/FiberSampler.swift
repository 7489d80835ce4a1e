// FiberSampler: one read of a fiber scheduler (`SchedulerMetrics` + drained event records) → the
// runtime part of a `Snapshot`.
//
// The one sampling layer (with LoopSampler and RuntimeMapping): the live source, the headless run
// and the benchmarks all build fiber snapshots here, so every figure is derived once. Interval
// maths (busy shares over a window, deltas between two reads) happens here and nowhere else: the
// dashboard only draws what a snapshot says.
//
// Ownership: a sampler is a value owned by the one thread that samples (the UI or headless thread,
// or a benchmark's sampler thread). It reads the runtime only through `Scheduler.sample(into:)` (metrics,
// interval and events in one pass, non-blocking for carriers) into buffers it keeps, or its caller passes
// the reads in (`sample(_:interval:events:into:)`, what tests use).

import Runtime
import Telemetry

/// Builds fiber-model snapshots from scheduler reads. Owned by one sampling thread.
public struct FiberSampler: Sendable {
    /// Origin of event times (monotonic ns).
    public let sessionStart: UInt64
    /// 1 in this many enqueues has its ready → running delay measured (the scheduler's `delaySampling`).
    public let delaySampling: Int
    /// Busy ratios (time running user work) over the trailing window (BusyWindow: the same definition as loops').
    private var busy = BusyWindow()
    /// Search ratios (time looking for work: steal rounds, spins) over the same window, shown apart from busy.
    private var search = BusyWindow()
    /// `runs` and `stolenIn` per carrier at the previous sample (empty before the first).
    private var lastRuns: [UInt64] = []
    private var lastStolenIn: [UInt64] = []
    /// The scheduler reads (`sample(_:into:)`) and the ratios, reused from sample to sample: once sized, the sampler
    /// allocates only the snapshot's own arrays.
    private var reads = SchedulerSample()
    private var ratios: [Double] = []
    private var searching: [Double] = []

    /// Seconds a carrier's busy share covers (`BusyWindow.seconds`).
    public static let busyWindow = BusyWindow.seconds

    public init(sessionStart: UInt64, delaySampling: Int = 64) {
        self.sessionStart = sessionStart
        self.delaySampling = delaySampling
    }

    /// Reads `scheduler` (`Scheduler.sample(into:)`: metrics, the interval and the events in one pass, into this
    /// sampler's buffers) and fills the runtime's part of `snapshot` as `sample(_:interval:events:into:)` does.
    /// What the live source does each frame.
    public mutating func sample(_ scheduler: Scheduler, into snapshot: inout Snapshot) {
        var reads = self.reads
        self.reads = SchedulerSample()
        scheduler.sample(into: &reads)
        sample(reads.metrics, interval: reads.interval, events: reads.events, into: &snapshot)
        self.reads = reads
    }

    /// Fills the runtime's part of `snapshot` (workers, injector, fibers by state, events, drops) from one
    /// read taken at `snapshot.time` (seconds since the session started). Call once per read, in time order.
    /// `interval` is `Scheduler.takeInterval()` taken with the read (peaks since the previous take and what
    /// ran); without it those figures are nil (n/a).
    public mutating func sample(
        _ m: SchedulerMetrics, interval: SchedulerMetrics.Interval? = nil, events records: [RuntimeEventRecord],
        into snapshot: inout Snapshot
    ) {
        let time = snapshot.time
        var ratios = self.ratios
        var searching = self.searching
        self.ratios = []
        self.searching = []
        busy.ratios(time: time, count: m.workers.count, busy: { m.workers[$0].userNanos }, into: &ratios)
        search.ratios(time: time, count: m.workers.count, busy: { m.workers[$0].searchNanos }, into: &searching)
        defer {
            self.ratios = ratios
            self.searching = searching
        }
        // The interval's workers by id (the same set as the metrics' unless the read raced a restart). Both lists
        // come in worker order, so the position is the id's; a dictionary only when they differ (256 carriers:
        // building one per sample cost more than the rest of this loop).
        let aligned = interval.map { iv in
            iv.workers.count == m.workers.count && zip(iv.workers, m.workers).allSatisfy { $0.id == $1.id }
        }
        let taken =
            aligned == false
            ? interval.map { iv in Dictionary(iv.workers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }) } : nil
        if lastRuns.count != ratios.count {
            lastRuns = []
            lastStolenIn = []
        }
        let previous = !lastRuns.isEmpty
        snapshot.workers = m.workers.enumerated().map { (i, w) in
            // The scheduler keeps the last fiber's name after it parks or spins; the snapshot says
            // "the fiber running now", so a carrier with nothing on it shows none (not "heartbeat").
            let hasFiber = w.state != .parked && w.state != .spinning && w.state != .stopped
            // Deltas need a previous read of the same runtime; the first sample's are unknown, not "all".
            let ran = previous ? w.runs &- lastRuns[i] : nil
            let stolen = previous ? w.stolenIn &- lastStolenIn[i] : nil
            // What ran: the interval's last named fiber when the scheduler reports it; else the fiber last
            // resumed on this carrier (the scheduler keeps its name until the next resume) if any ran.
            let iv = aligned == true ? interval?.workers[i] : taken?[w.id]
            let ranSome = (ran ?? 0) > 0
            let lastFiber = iv.map { $0.lastFiber } ?? (ranSome ? w.currentFiber : nil)
            let lastKind = iv.map { $0.lastKind } ?? (ranSome ? w.currentKind : nil)
            return WorkerSnapshot(
                id: w.id, state: WorkerState(w.state), runs: w.runs, stealOps: w.stealOps, stolenIn: w.stolenIn,
                stolenOut: w.stolenOut, parks: w.parks, unparks: w.unparks, queueDepth: w.queueDepth,
                queueCapacity: w.queueCapacity, maxQueueDepth: w.maxQueueDepth, queuePeak: iv?.queueHighWater,
                busyNanos: w.userNanos, busyRatio: ratios[i], spinRatio: previous ? searching[i] : nil,
                currentFiber: hasFiber ? w.currentFiber : nil, currentKind: hasFiber ? w.currentKind : nil,
                runsInInterval: ran, stolenInInterval: stolen, lastFiber: lastFiber, lastKind: lastKind)
        }
        lastRuns.removeAll(keepingCapacity: true)
        lastStolenIn.removeAll(keepingCapacity: true)
        for w in m.workers {
            lastRuns.append(w.runs)
            lastStolenIn.append(w.stolenIn)
        }
        snapshot.busyWindowSeconds = Self.busyWindow
        snapshot.readyDelay = DelaySummary(m.delay, sampling: delaySampling)
        snapshot.injectorDepth = m.injectorDepth
        snapshot.injectorPeak = interval?.injectorHighWater
        snapshot.fibers = FiberCounts(m.fibers)
        snapshot.events = records.map { RuntimeEvent($0, sessionStart: sessionStart) }
        snapshot.droppedEvents = m.droppedEvents
    }
}
