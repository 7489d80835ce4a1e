// FiberSampler: one read of a fiber scheduler (`SchedulerMetrics` + drained event records) → the
// runtime part of a `Snapshot`.
//
// The one sampling layer (with LoopSampler and RuntimeMapping): the live source, the headless run
// and the benchmarks all build fiber snapshots here, so every figure is derived once. Interval
// maths (busy shares over a window, deltas between two reads) happens here and nowhere else: the
// dashboard only draws what a snapshot says.
//
// Ownership: a sampler is a value owned by the one thread that samples (the UI or headless thread,
// or a benchmark's sampler thread). It reads the runtime only through `Scheduler.sample(into:eachWorker:)`
// (metrics, interval and events in one pass, non-blocking for carriers) into buffers it keeps, making each
// worker's snapshot row inside that pass, or its caller passes the reads in (`sample(_:interval:events:into:)`,
// what tests use); both make rows with the one `Rows.map`.

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
    /// the snapshot's own arrays. (Readable in the module: a test maps the same reads the other way.)
    private(set) var reads = SchedulerSample()

    /// Seconds a carrier's busy share covers (`BusyWindow.seconds`).
    public static let busyWindow = BusyWindow.seconds

    public init(sessionStart: UInt64, delaySampling: Int = 64) {
        self.sessionStart = sessionStart
        self.delaySampling = delaySampling
    }

    /// Reads `scheduler` (`Scheduler.sample(into:eachWorker:)`: metrics, the interval and the events in one pass, into
    /// this sampler's buffers) and fills the runtime's part of `snapshot` with the figures
    /// `sample(_:interval:events:into:)` gives for the same reads. What the live source does each frame.
    ///
    /// Each worker's snapshot row is made inside the scheduler's pass, right after the pass has written that worker's
    /// row and interval row, so it reads them while they are in cache: mapped in a second pass, every row was read
    /// again from memory (at 256 carriers, a sixth of a sample's cache misses).
    public mutating func sample(_ scheduler: Scheduler, into snapshot: inout Snapshot) {
        // Swapped out for the call (no retain or release of its buffers) and back after it.
        var reads = SchedulerSample()
        swap(&reads, &self.reads)
        defer { swap(&reads, &self.reads) }
        let n = scheduler.workerCount
        let time = snapshot.time
        snapshot.workers = withUnsafeMutablePointer(to: &reads) { reads in
            mapRows(count: n, time: time, PassRows(scheduler: .passUnretained(scheduler), reads: reads))
        }
        fillRest(reads.metrics, interval: reads.interval, events: reads.events, into: &snapshot)
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
        snapshot.workers = mapRows(
            count: m.workers.count, time: snapshot.time,
            ReadRows(workers: m.workers, intervals: interval?.workers ?? [], hasInterval: interval != nil))
        fillRest(m, interval: interval, events: records, into: &snapshot)
    }

    /// The snapshot's figures besides the workers' rows, from the same read.
    private func fillRest(
        _ m: SchedulerMetrics, interval: SchedulerMetrics.Interval?, events records: [RuntimeEventRecord],
        into snapshot: inout Snapshot
    ) {
        snapshot.busyWindowSeconds = Self.busyWindow
        snapshot.readyDelay = DelaySummary(m.delay, sampling: delaySampling)
        snapshot.injectorDepth = m.injectorDepth
        snapshot.injectorPeak = interval?.injectorHighWater
        snapshot.fibers = FiberCounts(m.fibers)
        snapshot.events = RuntimeEvent.events(of: records, sessionStart: sessionStart)
        snapshot.droppedEvents = m.droppedEvents
    }

    /// The snapshot's `count` worker rows at `time`, made by `source` (its `make` calls `map` once for each worker
    /// `0 ..< count`: the array's rows are initialised by those calls). The per-worker state (the previous sample's
    /// runs, the busy window) is refilled in place.
    private mutating func mapRows<S: RowSource>(count n: Int, time: Double, _ source: S) -> [WorkerSnapshot] {
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
        // The busy and search shares are taken in the rows' own pass (one window: BusyWindow.withPass).
        return busy.withPass(time: time, count: n) { window in
            // Unsafe buffers: indices 0..<n of arrays of n held for the pass.
            lastRuns.withUnsafeMutableBufferPointer { lastRuns in
                lastStolenIn.withUnsafeMutableBufferPointer { lastStolenIn in
                    // Each row starts as a bit copy of a blank row, in the array's uninitialised storage (Rows.map).
                    let blank = WorkerSnapshot(id: 0)
                    return withUnsafeBytes(of: blank) { blank in
                        [WorkerSnapshot](
                            madeInPlace: MadeRows(
                                count: n, source: source,
                                rows: Rows(
                                    out: nil, blank: blank.baseAddress!, window: window, previous: previous,
                                    lastRuns: lastRuns.baseAddress!, lastStolenIn: lastStolenIn.baseAddress!)))
                    }
                }
            }
        }
    }

    /// What makes a sample's rows: `make` calls `rows.map` once for each worker `0 ..< count` of the pass.
    private protocol RowSource {
        func make(_ rows: Rows)
    }

    /// The rows made inside the scheduler's own pass (`sample(_:into:)`), right after the pass has written each
    /// worker's row and interval row.
    ///
    /// Plain bits (nothing reference counted): the array's making copies it as a generic value, which for a value
    /// holding a reference went through its type's value witnesses, code and metadata cold by the next sample.
    private struct PassRows: RowSource {
        // Unmanaged: `sample(_:into:)`'s caller holds the scheduler for the call, and this value lives only in it.
        let scheduler: Unmanaged<Scheduler>
        // Unsafe pointer: the sampler's reads, held (and not otherwise touched) by `sample(_:into:)` for the call.
        let reads: UnsafeMutablePointer<SchedulerSample>

        func make(_ rows: Rows) {
            let scheduler = scheduler.takeUnretainedValue()
            let n = scheduler.workerCount
            var visited = 0
            scheduler.sample(into: &reads.pointee) { i, w, iv in
                rows.map(i, w, interval: iv)
                visited += 1
            }
            // Every row of the array is initialised only if the pass visited each worker once (it visits
            // `workerCount`, which never changes).
            precondition(visited == n, "FiberSampler.sample: the pass visited \(visited) of \(n) workers")
        }
    }

    /// The rows of reads a caller passes in (`sample(_:interval:events:into:)`).
    private struct ReadRows: RowSource {
        let workers: [SchedulerMetrics.Worker]
        let intervals: [SchedulerMetrics.Interval.Worker]
        /// Tested once: a test of the optional interval per row copied and destroyed it through an outlined witness
        /// each time.
        let hasInterval: Bool

        func make(_ rows: Rows) {
            let n = workers.count
            // Unsafe buffers: indices 0..<n of arrays held for the pass (n checked against each).
            workers.withUnsafeBufferPointer { mw in
                intervals.withUnsafeBufferPointer { iw in
                    // The interval's row of a worker: both lists come in worker order, so it is the one at the same
                    // position when its id agrees (checked per row, on the line the row's figures are read from: a
                    // pass of its own over both lists' ids missed the cache on every row); else the one with its id,
                    // from a dictionary made at the first disagreement (a read that raced a restart).
                    var taken: [Int: SchedulerMetrics.Interval.Worker]? = nil
                    for i in 0..<n {
                        let w = mw.baseAddress! + i
                        let id = w.pointee.id
                        // In place (`pointee`): a subscript copies the row and its two names out.
                        if !hasInterval {
                            rows.map(i, w, interval: nil)
                        } else if i < iw.count && (iw.baseAddress! + i).pointee.id == id {
                            rows.map(i, w, interval: iw.baseAddress! + i)
                        } else if var keyed = FiberSampler.byID(iw, &taken)[id] {
                            withUnsafePointer(to: &keyed) { rows.map(i, w, interval: $0) }
                        } else {
                            rows.map(i, w, interval: nil)
                        }
                    }
                }
            }
        }
    }

    /// A sample's rows, made by `source` in the snapshot array's new storage (`Array(madeInPlace:)`).
    private struct MadeRows<S: RowSource>: InPlaceFill {
        let count: Int
        let source: S
        /// The pass's rows, but for where they go (`out`, the array's storage: known at `fill`).
        let rows: Rows

        func fill(_ out: UnsafeMutableBufferPointer<WorkerSnapshot>) {
            var r = rows
            r.out = out.baseAddress!
            source.make(r)
        }
    }

    /// One sample's snapshot rows being made, and what making row `i` reads and updates: valid only inside the
    /// `mapRows` call that made it (its pointers are that call's buffers, each of the pass's `count` rows).
    private struct Rows {
        /// Where the rows go (nil until `MadeRows.fill` has the array's storage).
        var out: UnsafeMutablePointer<WorkerSnapshot>!
        /// A blank row's bytes (`WorkerSnapshot(id: 0)`).
        let blank: UnsafeRawPointer
        let window: BusyWindow.Pass
        /// Whether `lastRuns` and `lastStolenIn` hold the previous sample's figures (else the deltas are n/a).
        let previous: Bool
        let lastRuns: UnsafeMutablePointer<UInt64>
        let lastStolenIn: UnsafeMutablePointer<UInt64>

        /// Makes row `i` (uninitialised before) from worker `i`'s row `w` and its interval row `iv` (nil: no interval
        /// read, or none for this worker). Once per row per sample.
        ///
        /// The row starts as a bit copy of the blank and is then filled field by field in place while its lines are in
        /// cache. Unsafe bit copy: the blank holds no references (its four names are nil), so its bytes are a valid
        /// copy. A repeated blank (`Array(repeating:count:)`) copied each name through the value witness, and a row
        /// built whole and `initialize`d was built in a temporary and copied with retains: either was most of the
        /// mapping's instructions.
        @inline(__always)
        func map(
            _ i: Int, _ w: UnsafePointer<SchedulerMetrics.Worker>,
            interval iv: UnsafePointer<SchedulerMetrics.Interval.Worker>?
        ) {
            let o = out + i
            copyRow(from: blank, to: UnsafeMutableRawPointer(o))
            let runs = w.pointee.runs
            let stolenIn = w.pointee.stolenIn
            let (busyRatio, searchRatio) = window.ratios(i, w.pointee.userNanos, w.pointee.searchNanos)
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
            // The scheduler keeps the last fiber's name after it parks or spins; the snapshot says "the fiber running
            // now", so a carrier with nothing on it shows none (not "heartbeat"). The row's names start nil: only a
            // name the read has is stored.
            if state != .parked && state != .spinning && state != .stopped {
                if let f = w.pointee.currentFiber { o.pointee.currentFiber = f }
                if let k = w.pointee.currentKind { o.pointee.currentKind = k }
            }
            // What ran: the interval's last named fiber when the scheduler reports it; else the fiber last resumed on
            // this carrier (the scheduler keeps its name until the next resume) if any ran.
            if let iv {
                o.pointee.queuePeak = iv.pointee.queueHighWater
                if let f = iv.pointee.lastFiber { o.pointee.lastFiber = f }
                if let k = iv.pointee.lastKind { o.pointee.lastKind = k }
            } else if (ran ?? 0) > 0 {
                if let f = w.pointee.currentFiber { o.pointee.lastFiber = f }
                if let k = w.pointee.currentKind { o.pointee.lastKind = k }
            }
        }

        /// Copies one snapshot row's bytes (`MemoryLayout<WorkerSnapshot>.size`) from `from` to `to` as copies of at
        /// most 128 bytes, each of a constant size the compiler turns into a few vector moves: one `copyMemory` of the
        /// whole row (232 bytes) was a call to memcpy per row, a sixth of the mapping's instructions at 256 carriers.
        @inline(__always)
        private func copyRow(from: UnsafeRawPointer, to: UnsafeMutableRawPointer) {
            let size = MemoryLayout<WorkerSnapshot>.size
            if size > 128 && size <= 256 {
                to.copyMemory(from: from, byteCount: 128)
                (to + 128).copyMemory(from: from + 128, byteCount: size - 128)
            } else {
                to.copyMemory(from: from, byteCount: size)
            }
        }
    }

    /// The interval's rows by worker id (the first of an id), made on the first call and kept in `taken`.
    @inline(never)
    private static func byID(
        _ rows: UnsafeBufferPointer<SchedulerMetrics.Interval.Worker>,
        _ taken: inout [Int: SchedulerMetrics.Interval.Worker]?
    ) -> [Int: SchedulerMetrics.Interval.Worker] {
        if let t = taken { return t }
        let t = Dictionary(rows.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        taken = t
        return t
    }
}
