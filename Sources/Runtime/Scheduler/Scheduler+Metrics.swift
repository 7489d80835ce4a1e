// The read side of the scheduler's metrics: loads published atomics, and takes only locks no worker's scheduling
// loop waits on (see `metrics()`).
import CRuntime
import Synchronization

/// One read of a scheduler's metrics. Counters are cumulative since the scheduler started; values published
/// in batches lag by at most `Scheduler.injectorInterval` runs per worker.
public struct SchedulerMetrics: Sendable, Equatable {
    public struct Worker: Sendable, Equatable {
        public var id: Int
        public var state: SchedulerWorkerState
        /// The carrier thread (index) running this worker now.
        public var carrier: Int
        public var runs: UInt64
        public var stealOps: UInt64
        public var stolenIn: UInt64
        public var stolenOut: UInt64
        public var parks: UInt64
        public var unparks: UInt64
        public var queueDepth: Int
        public var queueCapacity: Int
        public var maxQueueDepth: Int
        /// Nanoseconds not parked, cumulative (a counter, ns): `userNanos + searchNanos`. Published every 61 runs
        /// and at each park.
        public var busyNanos: UInt64
        /// Nanoseconds spent searching for work, cumulative (a counter, ns): from the moment the local queue, the
        /// LIFO slot, the injector and ready I/O had nothing until work is found or the worker parks — steal
        /// rounds and their spins included. Counted the same under every steal policy (without stealing the
        /// window ends at once, in a park). Published with `busyNanos`.
        public var searchNanos: UInt64
        /// Nanoseconds running user work, cumulative (a counter, ns): `busyNanos - searchNanos`, i.e. time inside
        /// fiber bodies plus the scheduler's per-run bookkeeping (a pop and two switches, tens of ns a run), never
        /// searching or parked. A busy ratio is its delta over the sampler's window divided by that window.
        public var userNanos: UInt64
        public var currentFiber: String?
        public var currentKind: String?
    }

    /// What one sampling interval saw: peaks and "what ran", reset by each `Scheduler.takeInterval()`.
    public struct Interval: Sendable, Equatable {
        public struct Worker: Sendable, Equatable {
            public var id: Int
            /// Peak local run-queue depth (fibers) since the previous take, at least the depth now (a gauge's
            /// high-water mark, reset by the take). The worker raises it at its publish points (every 61 runs and
            /// each park) from the depth it saw at each pop, so a burst shows even when it drained before the take.
            public var queueHighWater: Int
            /// Name and kind of the last fiber with a name or kind that ran on this worker in the interval (nil:
            /// none did — unnamed fibers only, or no run). Needs `metrics()` or `takeInterval()` to have been
            /// called once (publication of names starts then).
            public var lastFiber: String?
            public var lastKind: String?
            /// Fibers run (resumes) in the interval, as published (lags by at most 61 runs per worker).
            public var runs: UInt64
        }
        public var workers: [Worker]
        /// Peak injector depth (fibers) since the previous take, at least the depth now; reset by the take.
        public var injectorHighWater: Int
        /// The interval's bounds (monotonic ns, `qv_now_ns`): the previous take (or the scheduler's start) and now.
        public var startNanos: UInt64
        public var endNanos: UInt64
    }

    /// Fibers by state. `runnable` is derived (total − running − parked − blocked) and clamped at 0.
    public struct FiberCounts: Sendable, Equatable {
        public var total = 0
        public var running = 0
        public var runnable = 0
        public var parkedSleep = 0
        public var parkedIO = 0
        public var parkedChannel = 0
        public var parkedMutex = 0
        public var parkedJoin = 0
        public var blockedPinned = 0
        public var blockedHandoff = 0
        public var parked: Int { parkedSleep + parkedIO + parkedChannel + parkedMutex + parkedJoin }
    }

    /// Sampled ready → running delay (1 in `delaySampling` enqueues), cumulative. Percentiles are upper
    /// edges of log2 buckets (within 2×).
    public struct Delay: Sendable, Equatable {
        public var samples: UInt64 = 0
        public var meanNanos: Double = 0
        public var p50Nanos: UInt64 = 0
        public var p99Nanos: UInt64 = 0
        public var maxNanos: UInt64 = 0
        /// Raw log2 histogram: bucket i counts delays in [2^i, 2^(i+1)) ns.
        public var histogram: [UInt64] = []
    }

    /// A carrier inside a `blocking {}` region.
    public struct BlockedCarrier: Sendable, Equatable {
        public var carrier: Int
        public var fiber: String
        public var sinceNanos: UInt64
        public var policy: BlockingPolicy
    }

    public var workers: [Worker]
    public var injectorDepth: Int
    public var fibers: FiberCounts
    public var delay: Delay
    public var spawned: UInt64
    public var finished: UInt64
    public var carrierThreads: Int
    public var spareCarriers: Int
    public var blocked: [BlockedCarrier]
    public var timersPending: Int
    public var ioWaiters: Int
    public var droppedEvents: UInt64
    /// Fibers the monitor found holding their carrier past `hogThresholdNanos` (a counter).
    public var hogsDetected: UInt64
    /// Fibers spare carriers took from hogged workers' queues and LIFO slots under `handoff` (a counter;
    /// Monitor.swift, "Retake").
    public var hogQueueMoves: UInt64
    // The monitor's retakes (Monitor.swift).
    /// Retakes started: a spare carrier took over a hogged worker's queue (a counter).
    public var hogRetakes: UInt64 = 0
}

/// One sample of a scheduler — its metrics, the interval's figures and the drained events — in buffers the sampler
/// keeps from one sample to the next (`Scheduler.sample(into:)`), with its cache of each worker's counters as last
/// read. Once sized, a sample allocates nothing here: the arrays are refilled in place.
///
/// Ownership: a value owned by one sampling thread; a sample of a different scheduler starts the cache afresh.
public struct SchedulerSample: Sendable {
    /// What `Scheduler.metrics()` would return.
    public internal(set) var metrics = SchedulerMetrics.empty
    /// What `Scheduler.takeInterval()` would return.
    public internal(set) var interval = SchedulerMetrics.Interval(
        workers: [], injectorHighWater: 0, startNanos: 0, endNanos: 0)
    /// What `Scheduler.drainEvents()` would return: every event since the previous drain, oldest first.
    public internal(set) var events: [RuntimeEventRecord] = []
    /// The scheduler the cache belongs to, by its `serial` (0: none yet). A number, not a reference: a sample keeps
    /// no scheduler alive, a new scheduler never matches a freed one's cache, and a sample moves (the sampler swaps it
    /// in and out at each call) as plain bits, where a weak reference was a runtime call at each move.
    var owner: UInt64 = 0
    /// Per worker: the slot's publish generation, and the batch words summed over the workers (`Word.spawned` on:
    /// `cachedWords` of them) at the last read that found a new generation. The row's own counters (runs to search
    /// time) are not cached here: the metrics row holds them from that read.
    var generations: [UInt64] = []
    var rows: [UInt64] = []
    static let firstCachedWord = PublishedCounters.Word.spawned
    static let cachedWords = PublishedCounters.Word.batchWords - firstCachedWord
    /// Σ rows over the workers, per word (indexed by `Word`; wrapping, like the counters), except the histogram's:
    /// one total per bucket from `Word.histogram` on (`totalWords` in all).
    var totals: [UInt64] = []
    static let totalWords = PublishedCounters.Word.histogram + DelayHistogram.buckets
    /// The largest `delayMax` over the rows (each only grows).
    var delayMax: UInt64 = 0
    /// Per worker: the published label as last read whole, and what the rows' names were last set from; and the
    /// label's names, apart (read and written only when the label or what the rows show of it changes, so the
    /// lines every pass reads hold the keys alone).
    var labels: [LabelCache] = []
    var labelNames: [(name: String, kind: String)?] = []
    /// The drain's runs (one per ring with events), kept for their buffer.
    var eventRuns = EventRuns()
    /// The workers' rings with new events (`Scheduler.undrainedTail`), with their tails, found by the last
    /// `sample(into:)` pass or `drainEvents()`: the drain reads only these, and not each slot's line again.
    var ringsWithEvents: [(ring: Int, tail: UInt64)] = []

    /// A worker's label as last read whole — its sequence (`UInt64.max`: none read yet) and the run it was
    /// published for (its names are the worker's `labelNames`) — and the keys the row's current names and the
    /// interval row's last names were last set from (the sequence, and the top bit for "shown"), so an unchanged
    /// row's strings are neither copied nor reassigned.
    struct LabelCache: Sendable {
        var sequence: UInt64 = .max
        var run: UInt64 = 0
        var currentKey: UInt64 = .max
        var lastKey: UInt64 = .max
    }

    public init() {}
}

extension SchedulerMetrics.Worker {
    /// Worker `id` with every figure 0 and no names: a row `Scheduler.sample(into:)` then overwrites field by field.
    static func blank(id: Int, queueCapacity: Int) -> Self {
        .init(
            id: id, state: .running, carrier: 0, runs: 0, stealOps: 0, stolenIn: 0, stolenOut: 0, parks: 0, unparks: 0,
            queueDepth: 0, queueCapacity: queueCapacity, maxQueueDepth: 0, busyNanos: 0, searchNanos: 0, userNanos: 0,
            currentFiber: nil, currentKind: nil)
    }
}

extension SchedulerMetrics {
    /// No workers, every figure 0: the starting value `Scheduler.sample(into:)` fills.
    static var empty: SchedulerMetrics {
        SchedulerMetrics(
            workers: [], injectorDepth: 0, fibers: .init(), delay: .init(), spawned: 0, finished: 0, carrierThreads: 0,
            spareCarriers: 0, blocked: [], timersPending: 0, ioWaiters: 0, droppedEvents: 0, hogsDetected: 0,
            hogQueueMoves: 0)
    }
}

extension Scheduler {
    /// Reads every published value. Any thread, any rate. Locks it takes: `retakeWorkers` (only the monitor takes it,
    /// to add a retake worker), a worker's long-label lock only when its published label is too long to pack (workers
    /// only try it: `withLockIfAvailable`, so a reader makes them skip one update, never wait), and `carriersLock` for
    /// the carrier counts — taken by a carrier only when a `blocking {}` region begins or ends and by handoffs and
    /// spares, never in the scheduling loop — with each carrier's `blockedInfo` for the blocked list only while a
    /// region is in progress; a reader holding them delays a region's begin or end by the few hundred ns of the
    /// copy. Timers and I/O waiter counts are atomic gauges. Allocates its result: a sampler that reads every frame
    /// uses `sample(into:)`, which reuses its buffers.
    public func metrics() -> SchedulerMetrics {
        markObserved()
        var s = SchedulerSample()
        readMetrics(into: &s, takingInterval: false)
        return s.metrics
    }

    /// Takes the interval's figures and starts the next interval: per worker the local queue's peak depth, the
    /// last labelled fiber run and the runs since the previous take; the injector's peak. Workers never wait for
    /// the sampler: the take reads their slots and writes only samplers' words (`PublishedCounters.Sampler`) and
    /// the interval number. One sampler at a time (serialised here by a lock only samplers take). Any thread.
    public func takeInterval() -> SchedulerMetrics.Interval {
        markObserved()
        var s = SchedulerSample()
        intervalLock.withLock { start in
            let now = qv_now_ns()
            readMetrics(into: &s, takingInterval: true)
            s.interval.injectorHighWater = injector.takeHighWater()
            s.interval.startNanos = start
            s.interval.endNanos = now
            start = now
        }
        return s.interval
    }

    /// One sample: `metrics()`, `takeInterval()` and `drainEvents()` in one pass over the workers, into `sample`'s
    /// buffers (no allocation once they are sized). Per worker it reads the worker's slot: the gauges' two lines
    /// always, the counters only when the slot's generation moved (else the row's counters come from the cache), the
    /// delay histogram only when the delay count moved, the label's words only when its sequence moved, the run
    /// queue's depth only when the worker runs (parked and spinning workers have an empty queue), the event ring
    /// only when its published tail moved. Locks: those of `metrics()`, plus `drainLock` and `intervalLock`, which
    /// only samplers take. One sampler at a time per `SchedulerSample`; any thread.
    public func sample(into sample: inout SchedulerSample) {
        self.sample(into: &sample) { _, _, _ in }
    }

    /// Workers this scheduler samples (the rows of `SchedulerMetrics.workers`); fixed when it is made.
    public var workerCount: Int { workers.count }

    /// `sample(into:)`, calling `eachWorker` for each worker `0 ..< workerCount` in order, once, inside the pass: with
    /// the worker's index, its row of `sample.metrics.workers` and its row of `sample.interval.workers` (never nil
    /// here: a sample takes the interval; optional as the pass's other reads have none), right after the pass has
    /// written them, so a caller mapping them reads them while they are in cache. The pointers are valid only during
    /// the call; the rows are the same values `sample` holds after the call.
    public func sample(
        into sample: inout SchedulerSample,
        eachWorker visit: (
            Int, UnsafePointer<SchedulerMetrics.Worker>, UnsafePointer<SchedulerMetrics.Interval.Worker>?
        )
            -> Void
    ) {
        markObserved()
        drainLock.withLock { n in
            n &+= 1
            intervalLock.withLock { start in
                let now = qv_now_ns()
                readMetrics(into: &sample, takingInterval: true, findingEvents: true, visit: visit)
                sample.interval.injectorHighWater = injector.takeHighWater()
                sample.interval.startNanos = start
                sample.interval.endNanos = now
                start = now
            }
            drainAll(into: &sample)
        }
    }

    @inline(__always) private func markObserved() {
        if !observed.load(ordering: .relaxed) { observed.store(true, ordering: .relaxed) }  // relaxed: a hint.
    }

    /// Worker `i`'s local-queue peak in the interval being taken (at least `depth`, its depth now), from its published
    /// peak word: counted when the word changed since the previous take and belongs to this interval or the one
    /// before (a publish that read the interval number just before the previous take moved it). So a peak is never
    /// lost; one raised in a race with a take may count in both intervals. Caller holds `intervalLock`.
    @inline(__always)
    private func takeQueuePeak(_ i: Int, word: UInt64, depth: Int) -> Int {
        typealias S = PublishedCounters.Sampler
        let table = publishedCounters
        let seen = table.samplerWord(i, S.peakAtTake)
        table.setSamplerWord(i, S.peakAtTake, word)
        let now = table.interval & 0xFFFF_FFFF
        let of = word >> 32
        let counted = word != seen && (of == now || of == (now &- 1) & 0xFFFF_FFFF)
        return max(counted ? Int(word & 0xFFFF_FFFF) : 0, depth)
    }

    /// Fills `s.metrics` (and `s.interval` when `takingInterval`, the caller holding `intervalLock`) from the
    /// workers' slots, refreshing the cached rows of slots with a new generation. With `findingEvents` (the caller
    /// holding `drainLock` and draining next), also lists the rings with new events in `s.ringsWithEvents`. Any
    /// thread, one per `s`.
    ///
    /// `visit` is called for each worker `i` in order at the end of its step, with its row and (when taking the
    /// interval) its interval row, written.
    private func readMetrics(
        into s: inout SchedulerSample, takingInterval: Bool, findingEvents: Bool = false,
        visit: (Int, UnsafePointer<SchedulerMetrics.Worker>, UnsafePointer<SchedulerMetrics.Interval.Worker>?) -> Void =
            { _, _, _ in }
    ) {
        typealias W = PublishedCounters.Word
        let n = workers.count
        let words = W.batchWords
        let fresh = s.owner != serial || s.generations.count != n
        if fresh {
            // Generation 0 and all-zero words are exactly a slot nothing has published into yet (and a blank row).
            s.owner = serial
            s.generations = [UInt64](repeating: 0, count: n)
            s.rows = [UInt64](repeating: 0, count: n * SchedulerSample.cachedWords)
            s.totals = [UInt64](repeating: 0, count: SchedulerSample.totalWords)
            s.delayMax = 0
            s.labels = [SchedulerSample.LabelCache](repeating: .init(), count: n)
            s.labelNames = [(name: String, kind: String)?](repeating: nil, count: n)
        }
        // Moved out for the pass (unique, so refilled in place) and back at the end. Once sized, each worker's row
        // is overwritten field by field where it is: no row is built, copied or destroyed (a row holds two names,
        // and building rows by `append` copied and destroyed them, most of a sample's instructions at 256 workers).
        // (Swapped, not copied out: a copy and a store of [] are a retain and a release of each buffer.)
        var ws: [SchedulerMetrics.Worker] = []
        var iws: [SchedulerMetrics.Interval.Worker] = []
        var hist: [UInt64] = []
        var blocked: [SchedulerMetrics.BlockedCarrier] = []
        swap(&ws, &s.metrics.workers)
        swap(&iws, &s.interval.workers)
        swap(&hist, &s.metrics.delay.histogram)
        swap(&blocked, &s.metrics.blocked)
        // (Tested first: an empty list's header is the shared empty array, a line every sample has in cache.)
        if !blocked.isEmpty { blocked.removeAll(keepingCapacity: true) }
        let rowsMadeBlank = fresh || ws.count != n
        if rowsMadeBlank {
            ws = workers.map { SchedulerMetrics.Worker.blank(id: $0.id, queueCapacity: $0.local.capacity) }
        }
        var intervalRowsMadeBlank = false
        if !takingInterval {
            iws = []
        } else if iws.count != n {
            iws = (0..<n).map { .init(id: $0, queueHighWater: 0, lastFiber: nil, lastKind: nil, runs: 0) }
            intervalRowsMadeBlank = true
        }
        var running = 0
        // Each worker's delayMax only grows: the maximum over the workers is the cached one or a refreshed row's.
        var dMax = s.delayMax
        var dropped = detachedEvents.dropped
        let table = publishedCounters
        // The handed-off test reads each worker's own counter: only while a handed-off region is in progress.
        // relaxed (both): statistics.
        let handoffs = handoffBegins.load(ordering: .relaxed) != handoffEnds.load(ordering: .relaxed)
        var labels: [SchedulerSample.LabelCache] = []
        var labelNames: [(name: String, kind: String)?] = []
        swap(&labels, &s.labels)
        swap(&labelNames, &s.labelNames)
        var found: [(ring: Int, tail: UInt64)] = []
        swap(&found, &s.ringsWithEvents)
        found.removeAll(keepingCapacity: true)
        // Rows made blank above hold no names, whatever the keys say.
        if rowsMadeBlank || intervalRowsMadeBlank {
            for i in labels.indices {
                if rowsMadeBlank { labels[i].currentKey = .max }
                if intervalRowsMadeBlank { labels[i].lastKey = .max }
            }
        }
        typealias G = PublishedCounters.Gauge
        typealias S = PublishedCounters.Sampler
        // Unsafe buffers: indices 0..<n of arrays sized n above and held for the whole pass.
        workers.withUnsafeBufferPointer { wb in
            ws.withUnsafeMutableBufferPointer { ws in
                iws.withUnsafeMutableBufferPointer { iws in
                    s.generations.withUnsafeMutableBufferPointer { gens in
                        s.rows.withUnsafeMutableBufferPointer { rows in
                            s.totals.withUnsafeMutableBufferPointer { totals in
                                labels.withUnsafeMutableBufferPointer { labels in
                                    labelNames.withUnsafeMutableBufferPointer { labelNames in
                                        precondition(
                                            n <= table.slots,
                                            "Scheduler.readMetrics: \(n) workers, \(table.slots) slots")
                                        for i in 0..<n {
                                            let slot = table.slot(inPass: i)
                                            // Row word k of worker i: rows[r + k] (k from `firstCachedWord`; wrapping:
                                            // in the rows' range, which holds `cachedWords` per worker).
                                            let r = i &* SchedulerSample.cachedWords &- SchedulerSample.firstCachedWord
                                            let g = slot.generation
                                            let o = ws.baseAddress! + i
                                            if g != gens[i] {
                                                gens[i] = g
                                                @inline(__always) func refresh(_ k: Int, _ v: UInt64) {
                                                    totals[k] &+= v &- rows[r &+ k]
                                                    rows[r &+ k] = v
                                                }
                                                refresh(W.spawned, slot.load(W.spawned))
                                                refresh(W.finished, slot.load(W.finished))
                                                for k in W.fiberParks..<W.delaySum { refresh(k, slot.load(k)) }
                                                // The delay group only when its count moved (Word.delayCount): most
                                                // publishes record no delay (1 enqueue in `delaySampling` is measured).
                                                let count = slot.loadAcquiring(W.delayCount)
                                                if count != rows[r &+ W.delayCount] {
                                                    refresh(W.delayCount, count)
                                                    refresh(W.delaySum, slot.load(W.delaySum))
                                                    refresh(W.delayMax, slot.load(W.delayMax))
                                                    // Two buckets a word: each bucket's total moves by its wrapping
                                                    // 32-bit change (PublishedCounters.packBuckets).
                                                    for k in W.histogram..<words {
                                                        let v = slot.load(k)
                                                        let old = rows[r &+ k]
                                                        if v == old { continue }
                                                        rows[r &+ k] = v
                                                        PublishedCounters.forEachBucketDelta(
                                                            ofWord: k - W.histogram, from: old, to: v
                                                        ) { b, d in totals[W.histogram + b] &+= d }
                                                    }
                                                    dMax = max(dMax, rows[r &+ W.delayMax])
                                                }
                                                // The row's counters change only with a publish: an unchanged slot's row
                                                // is already right (it was written from the same words), so they go from
                                                // the slot into the row, with no cache of their own.
                                                // Two values published one after the other: userNanos below clamps at 0.
                                                let search = slot.load(W.searchNanos)
                                                let busy = slot.load(W.busyNanos)
                                                o.pointee.runs = slot.load(W.runs)
                                                o.pointee.stealOps = slot.load(W.stealOps)
                                                o.pointee.stolenIn = slot.load(W.stolenIn)
                                                o.pointee.parks = slot.load(W.parks)
                                                o.pointee.unparks = slot.load(W.unparks)
                                                o.pointee.maxQueueDepth = Int(
                                                    truncatingIfNeeded: slot.load(W.maxQueueDepth))
                                                o.pointee.busyNanos = busy
                                                o.pointee.searchNanos = search
                                                o.pointee.userNanos = busy &- min(busy, search)
                                            }
                                            // The gauges (the slot's first two lines, read whole). relaxed (all): independent
                                            // statistics (see PublishedWorkerMetrics).
                                            if slot.loadGauge(G.hasCurrent) != 0 { running += 1 }
                                            var state =
                                                SchedulerWorkerState(
                                                    rawValue: UInt8(truncatingIfNeeded: slot.loadGauge(G.state)))
                                                ?? .running
                                            // A parked or spinning worker's queue is empty (only its owner pushes, and only
                                            // while it runs fibers), so the run queue's lines are read only for one that runs.
                                            let depth =
                                                state == .parked || state == .spinning
                                                ? 0 : wb[i].stealer.storage.count
                                            // A worker whose carrier blocked and which now runs on a spare (Go's handoff)
                                            // shows as handedOff while the region lasts, whatever the spare is doing with it —
                                            // distinct from `pinned`.
                                            if handoffs && state != .stopped
                                                && wb[i].handoffsOutstanding.load(ordering: .relaxed) > 0
                                            {
                                                state = .handedOff
                                            }
                                            o.pointee.state = state
                                            o.pointee.carrier = Int(truncatingIfNeeded: slot.loadGauge(G.carrier))
                                            o.pointee.stolenOut = slot.loadGauge(G.stolenOut)
                                            o.pointee.queueDepth = depth
                                            // The published peak since the start (set above at a publish), or a depth
                                            // seen here if deeper.
                                            o.pointee.maxQueueDepth = max(o.pointee.maxQueueDepth, depth)
                                            dropped &+= slot.loadGauge(G.eventsDropped)
                                            // The ring's published tail is on the gauge line just read: a ring with new
                                            // events is listed for the drain, which then reads neither this line nor the
                                            // drained-to word again (each was a cache miss per worker there).
                                            if findingEvents, let tail = undrainedTail(i, slot) {
                                                found.append((i, tail))
                                            }
                                            // The label: its words only when its sequence moved (then rebuilt once), its
                                            // run always, from the slot's gauge lines; the worker's objects only for a
                                            // new label's names. A read that finds the worker writing keeps the last one.
                                            let lc = labels.baseAddress! + i
                                            let names = labelNames.baseAddress! + i
                                            if let l = slot.readLabel(knownSequence: lc.pointee.sequence) {
                                                lc.pointee.run = l.run
                                                if let packed = l.packed {
                                                    lc.pointee.sequence = l.sequence
                                                    // A long label's names are the worker's (`names(of:)`).
                                                    // _withUnsafeGuaranteedRef: the scheduler's `workers` array (held for
                                                    // the pass) keeps every worker and what it holds alive; no retain.
                                                    names.pointee =
                                                        packed.names
                                                        ?? Unmanaged.passUnretained(wb[i].published)
                                                        ._withUnsafeGuaranteedRef { $0.names(of: packed) }
                                                }
                                            }
                                            let tick = slot.loadGauge(G.runTick)
                                            let labelRun = lc.pointee.run
                                            // The fiber run last is the labelled one published last when their runs agree.
                                            let current = labelRun != 0 && labelRun == tick
                                            let key = lc.pointee.sequence | (current ? 1 << 63 : 0)
                                            if key != lc.pointee.currentKey {
                                                lc.pointee.currentKey = key
                                                o.pointee.currentFiber = current ? names.pointee?.name : nil
                                                o.pointee.currentKind = current ? names.pointee?.kind : nil
                                            }
                                            if takingInterval {
                                                let io = iws.baseAddress! + i
                                                // The last labelled fiber of the interval: the published label, if its run
                                                // came after the previous take's tick.
                                                let ran = labelRun > table.samplerWord(i, S.tickAtTake)
                                                table.setSamplerWord(i, S.tickAtTake, tick)
                                                let lastKey = lc.pointee.sequence | (ran ? 1 << 63 : 0)
                                                if lastKey != lc.pointee.lastKey {
                                                    lc.pointee.lastKey = lastKey
                                                    io.pointee.lastFiber = ran ? names.pointee?.name : nil
                                                    io.pointee.lastKind = ran ? names.pointee?.kind : nil
                                                }
                                                io.pointee.id = i
                                                io.pointee.queueHighWater = takeQueuePeak(
                                                    i, word: slot.loadGauge(G.queuePeak), depth: depth)
                                                // Only samplers (under `intervalLock`) write the baseline.
                                                let runs = o.pointee.runs
                                                io.pointee.runs = runs &- table.samplerWord(i, S.runsAtTake)
                                                table.setSamplerWord(i, S.runsAtTake, runs)
                                            }
                                            visit(
                                                i, UnsafePointer(o),
                                                takingInterval ? UnsafePointer(iws.baseAddress! + i) : nil)
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        swap(&labels, &s.labels)
        swap(&labelNames, &s.labelNames)
        swap(&found, &s.ringsWithEvents)
        // The next interval: workers' peaks published from here on are its own.
        if takingInterval { table.interval &+= 1 }
        s.delayMax = dMax
        // The totals over the workers' slots, plus what happens off a worker and the retake workers' slots (read
        // whole each time: they exist only while the monitor retakes).
        var spawned = s.totals[W.spawned] &+ externalSpawned.load(ordering: .relaxed)
        var finished = s.totals[W.finished] &+ externalFinished.load(ordering: .relaxed)
        let reasons = ParkReason.allCases.count
        var dCount = s.totals[W.delayCount]
        var dSum = s.totals[W.delaySum]
        hist.removeAll(keepingCapacity: true)
        for b in 0..<DelayHistogram.buckets { hist.append(s.totals[W.histogram + b]) }
        func parkedMinusWoken(_ r: Int, _ extra: (parks: UInt64, wakes: UInt64)) -> Int {
            let pk = s.totals[W.fiberParks + r] &+ extra.parks
            let wk = s.totals[W.fiberWakes + r] &+ externalWakes.load(r) &+ extra.wakes
            return max(0, Int(clamping: Int64(bitPattern: pk &- wk)))
        }
        // Empty (no allocation) unless there are retake workers.
        var extraParks: [UInt64] = []
        var extraWakes: [UInt64] = []
        let retakes = retakeWorkers.withLock { $0 }
        if !retakes.isEmpty {
            extraParks = [UInt64](repeating: 0, count: reasons)
            extraWakes = [UInt64](repeating: 0, count: reasons)
            // relaxed (all loads): independent statistics (see PublishedWorkerMetrics).
            for w in retakes {
                let slot = w.published.slot
                spawned &+= slot.load(W.spawned)
                finished &+= slot.load(W.finished)
                for r in 0..<reasons {
                    extraParks[r] &+= slot.load(W.fiberParks + r)
                    extraWakes[r] &+= slot.load(W.fiberWakes + r)
                }
                // A retake worker's buckets modulo 2^32 (they live for one retake, far fewer delays).
                for k in 0..<W.histogramWords {
                    PublishedCounters.forEachBucketDelta(ofWord: k, from: 0, to: slot.load(W.histogram + k)) { b, d in
                        hist[b] &+= d
                    }
                }
                dCount &+= slot.load(W.delayCount)
                dSum &+= slot.load(W.delaySum)
                dMax = max(dMax, slot.load(W.delayMax))
                if w.published.hasCurrent.load(ordering: .relaxed) { running += 1 }
            }
        }
        func parked(_ r: ParkReason) -> Int {
            parkedMinusWoken(
                r.rawValue, extraParks.isEmpty ? (0, 0) : (extraParks[r.rawValue], extraWakes[r.rawValue]))
        }
        var fc = SchedulerMetrics.FiberCounts()
        fc.total = max(0, Int(clamping: Int64(bitPattern: spawned &- finished)))
        fc.parkedSleep = parked(.sleep)
        fc.parkedIO = parked(.io)
        fc.parkedChannel = parked(.channel)
        fc.parkedMutex = parked(.mutex)
        fc.parkedJoin = parked(.join)
        // relaxed (all): statistics.
        fc.blockedPinned = max(
            0, Int(clamping: Int64(bitPattern: pinBegins.load(ordering: .relaxed) &- pinEnds.load(ordering: .relaxed))))
        fc.blockedHandoff = max(
            0,
            Int(
                clamping: Int64(
                    bitPattern: handoffBegins.load(ordering: .relaxed) &- handoffEnds.load(ordering: .relaxed))))
        fc.running = max(0, running - fc.blockedPinned)
        fc.runnable = max(0, fc.total - fc.running - fc.parked - fc.blockedPinned - fc.blockedHandoff)

        var delay = SchedulerMetrics.Delay()
        delay.samples = dCount
        delay.meanNanos = dCount == 0 ? 0 : Double(dSum) / Double(dCount)
        delay.maxNanos = dMax
        delay.p50Nanos = min(percentile(hist, dCount, 0.50), max(dMax, 1))
        delay.p99Nanos = min(percentile(hist, dCount, 0.99), max(dMax, 1))
        delay.histogram = hist

        // The blocked list needs each carrier's `blockedInfo`: only while a region is in progress (a region counts
        // its begin before it sets the info and clears the info before it counts its end).
        let anyBlocked = fc.blockedPinned + fc.blockedHandoff > 0
        let (threads, spares) = carriersLock.withLock { cs in
            if anyBlocked {
                for c in cs.all {
                    guard let b = c.blockedInfo.withLock({ $0 }) else { continue }
                    blocked.append(
                        SchedulerMetrics.BlockedCarrier(
                            carrier: c.index, fiber: b.name, sinceNanos: b.since, policy: b.policy))
                }
            }
            return (cs.threads.count, cs.spares.count)
        }
        for w in retakes { dropped &+= w.events.dropped }
        s.metrics = SchedulerMetrics(
            workers: ws, injectorDepth: injector.depth, fibers: fc, delay: delay, spawned: spawned,
            finished: finished, carrierThreads: threads, spareCarriers: spares, blocked: blocked,
            timersPending: timers.count, ioWaiters: ioWaiterCount.load(ordering: .relaxed),
            droppedEvents: dropped, hogsDetected: hogsDetected.load(ordering: .relaxed),
            hogQueueMoves: hogQueueMoves.load(ordering: .relaxed),
            hogRetakes: hogRetakes.load(ordering: .relaxed))  // relaxed: statistics.
        s.interval.workers = iws
    }

    /// Worker `i`'s published event tail (in `slot`'s gauge line) when it moved since the ring was last drained, else
    /// nil: a ring is read only then, and only up to that tail, not the ring's own (a line its worker writes at every
    /// event). acquiring: pairs with the worker's releasing store of the tail after the push (Worker.event), so the
    /// slots before it are visible to the drain. Caller holds `drainLock`.
    @inline(__always)
    private func undrainedTail(_ i: Int, _ slot: PublishedCounters.Slot) -> UInt64? {
        let tail = slot.loadGauge(PublishedCounters.Gauge.eventTail, acquiring: true)
        return tail != publishedCounters.samplerWord(i, PublishedCounters.Sampler.drainedTo) ? tail : nil
    }

    /// Lists the workers' rings with new events in `s.ringsWithEvents`, for `drainAll` (what a `sample(into:)` pass
    /// does on its way). Caller holds `drainLock`.
    func findRingsWithEvents(into s: inout SchedulerSample) {
        s.ringsWithEvents.removeAll(keepingCapacity: true)
        for i in 0..<eventRings.count {
            if let tail = undrainedTail(i, publishedCounters.slot(i)) { s.ringsWithEvents.append((i, tail)) }
        }
    }

    /// Drains the workers' rings listed in `s.ringsWithEvents` (just found by the caller: a `sample(into:)` pass or
    /// `findRingsWithEvents`), the retake workers' and the detached ring into `s.events`, oldest first (no allocation
    /// once the buffers are sized: `EventRuns` keeps the merge's). Caller holds `drainLock`.
    func drainAll(into s: inout SchedulerSample) {
        // relaxed: a statistic; the ring's own release/acquire publishes the event.
        let spawns = pendingExternalSpawns.exchange(0, ordering: .relaxed)
        if spawns > 0 { detachedEvent(.spawnBatch, count: Int32(clamping: spawns)) }
        // Swapped out for the pass (no retain or release) and back at the end.
        var events: [RuntimeEventRecord] = []
        swap(&events, &s.events)
        events.removeAll(keepingCapacity: true)
        var runs = EventRuns()
        swap(&runs, &s.eventRuns)
        for (i, tail) in s.ringsWithEvents where i < eventRings.count {
            drainRing(i, upTo: tail, into: &events, runs: &runs)
        }
        for w in retakeWorkers.withLock({ $0 }) { runs.add(w.events.drain(into: &events)) }
        runs.add(detachedEvents.drain(into: &events))
        // Each ring's events are in time order already: the rings' runs are merged.
        runs.merge(&events)
        swap(&events, &s.events)
        swap(&runs, &s.eventRuns)
    }

    /// Drains worker ring `i` up to `tail` (its `undrainedTail`) into `events`, counting the run, and records the tail
    /// as drained. Caller holds `drainLock`. (A method, not a nested function: one capturing `events` and `runs` costs
    /// a dynamic exclusivity check per call.)
    @inline(__always)
    private func drainRing(_ i: Int, upTo tail: UInt64, into events: inout [RuntimeEventRecord], runs: inout EventRuns)
    {
        publishedCounters.setSamplerWord(i, PublishedCounters.Sampler.drainedTo, tail)
        // _withUnsafeGuaranteedRef: the scheduler's `eventRings` array keeps every ring alive while `self` is; no
        // retain per ring.
        runs.add(
            Unmanaged.passUnretained(eventRings[i])._withUnsafeGuaranteedRef {
                $0.drain(into: &events, upTo: Int(truncatingIfNeeded: tail))
            })
    }

    private func percentile(_ hist: [UInt64], _ total: UInt64, _ q: Double) -> UInt64 {
        if total == 0 { return 0 }
        let target = UInt64((Double(total) * q).rounded(.up))
        var acc: UInt64 = 0
        for (i, n) in hist.enumerated() {
            acc &+= n
            if acc >= target { return DelayHistogram.upperBound(i) }
        }
        return DelayHistogram.upperBound(hist.count - 1)
    }
}
