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
    /// Busy ratios (time running user work) and search ratios (time looking for work: steal rounds, spins, shown
    /// apart from busy) over the trailing window, in one pass (BusyWindow: the same definition as loops').
    private var busy = BusyWindow()
    /// `runs` and `stolenIn` per carrier at the previous sample (empty before the first).
    private var lastRuns: [UInt64] = []
    private var lastStolenIn: [UInt64] = []
    /// The scheduler reads (`sample(_:into:)`), reused from sample to sample: once sized, the sampler allocates only
    /// the snapshot's own arrays.
    private var reads = SchedulerSample()

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
        // Swapped out for the call (no retain or release of its buffers) and back after it.
        var reads = SchedulerSample()
        swap(&reads, &self.reads)
        scheduler.sample(into: &reads)
        sample(reads.metrics, interval: reads.interval, events: reads.events, into: &snapshot)
        swap(&reads, &self.reads)
    }

    /// Fills the runtime's part of `snapshot` (workers, injector, fibers by state, events, drops) from one
    /// read taken at `snapshot.time` (seconds since the session started). Call once per read, in time order.
    /// `interval` is `Scheduler.takeInterval()` taken with the read (peaks since the previous take and what
    /// ran); without it those figures are nil (n/a).
    ///
    /// Cost: one allocation (the snapshot's workers, which the snapshot keeps) and one pass over the workers reading
    /// the reads' storage in place. Copying a `SchedulerMetrics.Worker` out of its array to read one field (what a
    /// closure `{ m.workers[$0].userNanos }` or a `map` over the array does) copies its four names with it: at 256
    /// carriers those copies were most of a sample's instructions.
    public mutating func sample(
        _ m: SchedulerMetrics, interval: SchedulerMetrics.Interval? = nil, events records: [RuntimeEventRecord],
        into snapshot: inout Snapshot
    ) {
        let time = snapshot.time
        let n = m.workers.count
        // Swapped out for the pass (unique, so refilled in place) and back at the end.
        var lastRuns: [UInt64] = []
        var lastStolenIn: [UInt64] = []
        swap(&lastRuns, &self.lastRuns)
        swap(&lastStolenIn, &self.lastStolenIn)
        defer {
            swap(&lastRuns, &self.lastRuns)
            swap(&lastStolenIn, &self.lastStolenIn)
        }
        // Deltas need a previous read of the same set of workers; the first sample's are unknown, not "all".
        let previous = !lastRuns.isEmpty && lastRuns.count == n
        if !previous {
            lastRuns = [UInt64](repeating: 0, count: n)
            lastStolenIn = [UInt64](repeating: 0, count: n)
        }
        let ivs = interval?.workers ?? []
        // Unsafe buffers: indices 0..<n of arrays held for the whole pass (n checked against each).
        // The busy and search shares are taken in the rows' own pass (one window: BusyWindow.withPass).
        busy.withPass(time: time, count: n) { window in
            m.workers.withUnsafeBufferPointer { mw in
                ivs.withUnsafeBufferPointer { iw in
                    // The interval's workers by id (the same set as the metrics' unless the read raced a restart). Both
                    // lists come in worker order, so the position is the id's; a dictionary only when they differ.
                    let aligned = interval != nil && iw.count == n && (0..<n).allSatisfy { iw[$0].id == mw[$0].id }
                    let taken =
                        interval != nil && !aligned
                        ? Dictionary(iw.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }) : nil
                    lastRuns.withUnsafeMutableBufferPointer { lastRuns in
                        lastStolenIn.withUnsafeMutableBufferPointer { lastStolenIn in
                            // Each row starts as a bit copy of a blank row, in the array's uninitialised storage, and is
                            // then filled field by field in place while its lines are in cache. Unsafe bit copy: the
                            // blank holds no references (its four names are nil), so its bytes are a valid copy. A
                            // repeated blank (`Array(repeating:count:)`) copied each name through the value witness,
                            // and a row built whole and `initialize`d was built in a temporary and copied with
                            // retains: either was most of the mapping's instructions.
                            let blank = WorkerSnapshot(id: 0)
                            let out = [WorkerSnapshot](unsafeUninitializedCapacity: n) { out, initialized in
                                withUnsafeBytes(of: blank) { blank in
                                    for i in 0..<n {
                                        let w = mw.baseAddress! + i
                                        let o = out.baseAddress! + i
                                        Self.copyRow(from: blank.baseAddress!, to: UnsafeMutableRawPointer(o))
                                        let runs = w.pointee.runs
                                        let stolenIn = w.pointee.stolenIn
                                        let (busyRatio, searchRatio) = window.ratios(
                                            i, w.pointee.userNanos, w.pointee.searchNanos)
                                        let ran = previous ? runs &- lastRuns[i] : nil
                                        if previous {
                                            o.pointee.spinRatio = searchRatio
                                            o.pointee.runsInInterval = ran
                                            o.pointee.stolenInInterval = stolenIn &- lastStolenIn[i]
                                        }
                                        lastRuns[i] = runs
                                        lastStolenIn[i] = stolenIn
                                        let state = w.pointee.state
                                        o.pointee.id = w.pointee.id
                                        o.pointee.state = WorkerState(state)
                                        o.pointee.runs = runs
                                        o.pointee.stealOps = w.pointee.stealOps
                                        o.pointee.stolenIn = stolenIn
                                        o.pointee.stolenOut = w.pointee.stolenOut
                                        o.pointee.parks = w.pointee.parks
                                        o.pointee.unparks = w.pointee.unparks
                                        o.pointee.queueDepth = w.pointee.queueDepth
                                        o.pointee.queueCapacity = w.pointee.queueCapacity
                                        o.pointee.maxQueueDepth = w.pointee.maxQueueDepth
                                        o.pointee.busyNanos = w.pointee.userNanos
                                        o.pointee.busyRatio = busyRatio
                                        // The scheduler keeps the last fiber's name after it parks or spins; the snapshot
                                        // says "the fiber running now", so a carrier with nothing on it shows none (not
                                        // "heartbeat"). The row's names start nil: only a name the read has is stored.
                                        if state != .parked && state != .spinning && state != .stopped {
                                            if let f = w.pointee.currentFiber { o.pointee.currentFiber = f }
                                            if let k = w.pointee.currentKind { o.pointee.currentKind = k }
                                        }
                                        // What ran: the interval's last named fiber when the scheduler reports it; else the
                                        // fiber last resumed on this carrier (the scheduler keeps its name until the next
                                        // resume) if any ran.
                                        if aligned {
                                            let iv = iw.baseAddress! + i
                                            o.pointee.queuePeak = iv.pointee.queueHighWater
                                            if let f = iv.pointee.lastFiber { o.pointee.lastFiber = f }
                                            if let k = iv.pointee.lastKind { o.pointee.lastKind = k }
                                        } else if let keyed = taken?[w.pointee.id] {
                                            o.pointee.queuePeak = keyed.queueHighWater
                                            o.pointee.lastFiber = keyed.lastFiber
                                            o.pointee.lastKind = keyed.lastKind
                                        } else if (ran ?? 0) > 0 {
                                            if let f = w.pointee.currentFiber { o.pointee.lastFiber = f }
                                            if let k = w.pointee.currentKind { o.pointee.lastKind = k }
                                        }
                                    }
                                }
                                initialized = n
                            }
                            snapshot.workers = out
                        }
                    }
                }
            }
        }
        snapshot.busyWindowSeconds = Self.busyWindow
        snapshot.readyDelay = DelaySummary(m.delay, sampling: delaySampling)
        snapshot.injectorDepth = m.injectorDepth
        snapshot.injectorPeak = interval?.injectorHighWater
        snapshot.fibers = FiberCounts(m.fibers)
        snapshot.events = records.map { RuntimeEvent($0, sessionStart: sessionStart) }
        snapshot.droppedEvents = m.droppedEvents
    }

    /// Copies one snapshot row's bytes (`MemoryLayout<WorkerSnapshot>.size`) from `from` to `to` as copies of at most
    /// 128 bytes, each of a constant size the compiler turns into a few vector moves: one `copyMemory` of the whole
    /// row (232 bytes) was a call to memcpy per row, a sixth of the mapping's instructions at 256 carriers.
    @inline(__always)
    private static func copyRow(from: UnsafeRawPointer, to: UnsafeMutableRawPointer) {
        let size = MemoryLayout<WorkerSnapshot>.size
        if size > 128 && size <= 256 {
            to.copyMemory(from: from, byteCount: 128)
            (to + 128).copyMemory(from: from + 128, byteCount: size - 128)
        } else {
            to.copyMemory(from: from, byteCount: size)
        }
    }
}
