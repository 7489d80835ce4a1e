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

extension Scheduler {
    /// Reads every published value. Any thread, any rate. Locks it takes: `retakeWorkers` (only the monitor takes it,
    /// to add a retake worker), each worker's name lock (workers only
    /// try it: `withLockIfAvailable`, so a reader makes them skip one update, never wait), and `carriersLock` with
    /// each carrier's `blockedInfo` for the carrier counts and the blocked list — taken by a carrier only when a
    /// `blocking {}` region begins or ends and by handoffs and spares, never in the scheduling loop; a reader
    /// holding them delays a region's begin or end by the few hundred ns of the copy. Timers and I/O waiter
    /// counts are atomic gauges.
    public func metrics() -> SchedulerMetrics {
        if !observed.load(ordering: .relaxed) { observed.store(true, ordering: .relaxed) }  // relaxed: a hint.
        var fc = SchedulerMetrics.FiberCounts()
        var spawned = externalSpawned.load(ordering: .relaxed)
        var finished = externalFinished.load(ordering: .relaxed)
        var parks = [UInt64](repeating: 0, count: ParkReason.allCases.count)
        var wakes = (0..<ParkReason.allCases.count).map { externalWakes.load($0) }
        var hist = [UInt64](repeating: 0, count: DelayHistogram.buckets)
        var dCount: UInt64 = 0
        var dSum: UInt64 = 0
        var dMax: UInt64 = 0
        var running = 0
        var ws: [SchedulerMetrics.Worker] = []
        // Retake workers (Monitor.swift) count in the totals, without a row of their own: their fibers are the
        // hogged workers' queues, run by spare carriers.
        let retakes = retakeWorkers.withLock { $0 }
        // relaxed (all loads): independent statistics (see PublishedWorkerMetrics).
        for (index, w) in (workers + retakes).enumerated() {
            let p = w.published
            spawned &+= p.spawned.load(ordering: .relaxed)
            finished &+= p.finished.load(ordering: .relaxed)
            for r in 0..<parks.count {
                parks[r] &+= p.wide.load(PublishedWorkerMetrics.parksOffset + r)
                wakes[r] &+= p.wide.load(PublishedWorkerMetrics.wakesOffset + r)
            }
            for i in 0..<hist.count { hist[i] &+= p.wide.load(PublishedWorkerMetrics.histOffset + i) }
            dCount &+= p.delayCount.load(ordering: .relaxed)
            dSum &+= p.delaySum.load(ordering: .relaxed)
            dMax = max(dMax, p.delayMax.load(ordering: .relaxed))
            if p.hasCurrent.load(ordering: .relaxed) { running += 1 }
            if index >= workers.count { continue }
            let cur = p.current.withLock { $0.current }
            let depth = w.stealer.count
            // Two relaxed loads of values published one after the other: userNanos below clamps at 0.
            let search = p.searchNanos.load(ordering: .relaxed)
            let busy = p.busyNanos.load(ordering: .relaxed)
            var state = SchedulerWorkerState(rawValue: p.state.load(ordering: .relaxed)) ?? .running
            // A worker whose carrier blocked and which now runs on a spare (Go's handoff) shows as handedOff
            // while the region lasts, whatever the spare is doing with it — distinct from `pinned`.
            if w.handoffsOutstanding.load(ordering: .relaxed) > 0 && state != .stopped { state = .handedOff }
            ws.append(
                SchedulerMetrics.Worker(
                    id: w.id, state: state,
                    carrier: w.carrierIndex.load(ordering: .relaxed), runs: p.runs.load(ordering: .relaxed),
                    stealOps: p.stealOps.load(ordering: .relaxed), stolenIn: p.stolenIn.load(ordering: .relaxed),
                    stolenOut: p.stolenOut.load(ordering: .relaxed), parks: p.parks.load(ordering: .relaxed),
                    unparks: p.unparks.load(ordering: .relaxed), queueDepth: depth,
                    queueCapacity: w.local.capacity,
                    maxQueueDepth: max(depth, p.maxQueueDepth.load(ordering: .relaxed)),
                    busyNanos: busy, searchNanos: search, userNanos: busy &- min(busy, search),
                    currentFiber: cur?.name, currentKind: cur?.kind))
        }
        fc.total = Int(clamping: Int64(bitPattern: spawned &- finished))
        func parked(_ r: ParkReason) -> Int {
            max(0, Int(clamping: Int64(bitPattern: parks[r.rawValue] &- wakes[r.rawValue])))
        }
        fc.parkedSleep = parked(.sleep)
        fc.parkedIO = parked(.io)
        fc.parkedChannel = parked(.channel)
        fc.parkedMutex = parked(.mutex)
        fc.parkedJoin = parked(.join)
        fc.blockedPinned = max(
            0, Int(clamping: Int64(bitPattern: pinBegins.load(ordering: .relaxed) &- pinEnds.load(ordering: .relaxed))))
        fc.blockedHandoff = max(
            0,
            Int(
                clamping: Int64(
                    bitPattern: handoffBegins.load(ordering: .relaxed) &- handoffEnds.load(ordering: .relaxed))))
        fc.running = max(0, running - fc.blockedPinned)
        fc.total = max(fc.total, 0)
        fc.runnable = max(0, fc.total - fc.running - fc.parked - fc.blockedPinned - fc.blockedHandoff)

        var delay = SchedulerMetrics.Delay()
        delay.samples = dCount
        delay.meanNanos = dCount == 0 ? 0 : Double(dSum) / Double(dCount)
        delay.maxNanos = dMax
        delay.histogram = hist
        delay.p50Nanos = min(percentile(hist, dCount, 0.50), max(dMax, 1))
        delay.p99Nanos = min(percentile(hist, dCount, 0.99), max(dMax, 1))

        let (threads, spares, blocked) = carriersLock.withLock { cs in
            (
                cs.threads.count, cs.spares.count,
                cs.all.compactMap { c -> SchedulerMetrics.BlockedCarrier? in
                    guard let b = c.blockedInfo.withLock({ $0 }) else { return nil }
                    return SchedulerMetrics.BlockedCarrier(
                        carrier: c.index, fiber: b.name, sinceNanos: b.since, policy: b.policy)
                }
            )
        }
        return SchedulerMetrics(
            workers: ws, injectorDepth: injector.depth, fibers: fc, delay: delay, spawned: spawned,
            finished: finished, carrierThreads: threads, spareCarriers: spares, blocked: blocked,
            timersPending: timers.count, ioWaiters: ioWaiterCount.load(ordering: .relaxed),
            droppedEvents: droppedEvents, hogsDetected: hogsDetected.load(ordering: .relaxed),
            hogQueueMoves: hogQueueMoves.load(ordering: .relaxed),
            hogRetakes: hogRetakes.load(ordering: .relaxed))  // relaxed: statistics.
    }

    /// Takes the interval's figures and starts the next interval: per worker the local queue's peak depth, the
    /// last labelled fiber run and the runs since the previous take; the injector's peak. Each peak is taken and
    /// reset with an exchange (workers never wait for the sampler); the names are read under the worker's
    /// name lock, which workers only try (`withLockIfAvailable`). One sampler at a time (serialised here by a
    /// lock only samplers take). Any thread.
    public func takeInterval() -> SchedulerMetrics.Interval {
        if !observed.load(ordering: .relaxed) { observed.store(true, ordering: .relaxed) }  // relaxed: a hint.
        return intervalLock.withLock { start in
            let now = qv_now_ns()
            defer { start = now }
            var ws: [SchedulerMetrics.Interval.Worker] = []
            // relaxed (all): independent statistics (see PublishedWorkerMetrics).
            for w in workers {
                let p = w.published
                let peak = max(p.queueHighWater.exchange(0, ordering: .relaxed), w.stealer.count)
                let last = p.current.withLock { names -> (name: String, kind: String)? in
                    defer { names.last = nil }
                    return names.last
                }
                let runs = p.runs.load(ordering: .relaxed)
                let before = p.runsAtLastTake.exchange(runs, ordering: .relaxed)
                ws.append(
                    .init(
                        id: w.id, queueHighWater: peak, lastFiber: last?.name, lastKind: last?.kind,
                        runs: runs &- before))
            }
            return SchedulerMetrics.Interval(
                workers: ws, injectorHighWater: injector.takeHighWater(), startNanos: start, endNanos: now)
        }
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
