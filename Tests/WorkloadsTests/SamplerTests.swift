import Telemetry
import Testing

@testable import Runtime
@testable import Workloads

/// The sampling layer on synthetic runtime reads: deltas, windows and the ready → running delay are derived
/// here once (the dashboard draws them as they are).
@Suite struct SamplerTests {
    static func worker(_ id: Int, runs: UInt64, stolenIn: UInt64, busy: UInt64, state: SchedulerWorkerState = .parked)
        -> SchedulerMetrics.Worker
    {
        SchedulerMetrics.Worker(
            id: id, state: state, carrier: id, runs: runs, stealOps: 0, stolenIn: stolenIn, stolenOut: 0, parks: 0,
            unparks: 0, queueDepth: 0, queueCapacity: 256, maxQueueDepth: 0, busyNanos: busy, searchNanos: 0,
            userNanos: busy,
            currentFiber: "web-\(id)", currentKind: "io")
    }

    static func metrics(_ workers: [SchedulerMetrics.Worker], delay: SchedulerMetrics.Delay = .init())
        -> SchedulerMetrics
    {
        SchedulerMetrics(
            workers: workers, injectorDepth: 3, fibers: .init(), delay: delay, spawned: 0, finished: 0,
            carrierThreads: workers.count, spareCarriers: 0, blocked: [], timersPending: 0, ioWaiters: 0,
            droppedEvents: 0, hogsDetected: 0, hogQueueMoves: 0)
    }

    /// The live path (rows made inside the scheduler's pass) gives the snapshot that mapping the same reads afterwards
    /// gives — rows, deltas, busy shares, names, events — on the first sample (no deltas) and the next ones.
    @Test func theLivePathGivesWhatMappingItsReadsGives() throws {
        let s = try Scheduler(.init(carriers: 4))
        defer { s.shutdown() }
        var live = FiberSampler(sessionStart: 5)
        var mapped = FiberSampler(sessionStart: 5)
        let hs = (0..<60).map { k in
            s.spawn(name: "l-\(k % 4)", kind: "cpu") { () -> Int in
                Scheduler.sleep(nanoseconds: UInt64(k % 3) * 200_000)
                return k
            }
        }
        for round in 0..<3 {
            let time = 0.5 + Double(round) * 0.25
            var a = Snapshot(time: time)
            live.sample(s, into: &a)
            var b = Snapshot(time: time)
            let r = live.reads
            mapped.sample(r.metrics, interval: r.interval, events: r.events, into: &b)
            #expect(a == b, "round \(round)")
            #expect(a.workers.count == 4)
            #expect(a.workers.allSatisfy { $0.runsInInterval == nil } == (round == 0))
        }
        #expect(hs.compactMap { $0.join(timeoutNanos: 30_000_000_000) }.count == 60)
    }

    /// A drain's records become the snapshot's events one for one, in order: the figures converted (seconds since the
    /// session start, milliseconds), names kept (heap strings that outlive the records), none for no records.
    @Test func aDrainsRecordsBecomeTheSnapshotsEventsInOrder() {
        let long = String(repeating: "f", count: 30)
        var records = [
            RuntimeEventRecord(timeNanos: 3_500_000_000, kind: .steal, worker: 2, other: 5, count: 7),
            RuntimeEventRecord(timeNanos: 1_000, kind: .blockingEnd, worker: 1, durationNanos: 2_500_000, name: long),
            RuntimeEventRecord(timeNanos: 2_000_000_000, kind: .slowCallback, durationNanos: 1_000_000, name: "cb"),
        ]
        let events = RuntimeEvent.events(of: records, sessionStart: 1_000_000_000)
        records.removeAll()
        #expect(
            events == [
                RuntimeEvent(time: 2.5, kind: .steal, worker: 2, other: 5, count: 7),
                // Before the session started: time 0, not negative.
                RuntimeEvent(time: 0, kind: .blockingEnd, worker: 1, durationMs: 2.5, name: long),
                RuntimeEvent(time: 1, kind: .slowCallback, durationMs: 1, name: "cb"),
            ])
        #expect(RuntimeEvent.events(of: [], sessionStart: 0).isEmpty)
    }

    @Test func intervalDeltasAreUnknownOnTheFirstSampleThenCounted() {
        var sampler = FiberSampler(sessionStart: 0)
        var a = Snapshot(time: 1)
        sampler.sample(Self.metrics([Self.worker(0, runs: 100, stolenIn: 10, busy: 0)]), events: [], into: &a)
        #expect(a.workers[0].runsInInterval == nil && a.workers[0].stolenInInterval == nil)
        #expect(a.workers[0].lastFiber == nil)
        var b = Snapshot(time: 1.1)
        sampler.sample(Self.metrics([Self.worker(0, runs: 140, stolenIn: 14, busy: 0)]), events: [], into: &b)
        #expect(b.workers[0].runsInInterval == 40 && b.workers[0].stolenInInterval == 4)
        // Parked now, but a fiber ran in the interval: "what ran" names it, "running now" does not.
        #expect(b.workers[0].currentFiber == nil && b.workers[0].lastFiber == "web-0")
        var c = Snapshot(time: 1.2)
        sampler.sample(Self.metrics([Self.worker(0, runs: 140, stolenIn: 14, busy: 0)]), events: [], into: &c)
        #expect(c.workers[0].runsInInterval == 0 && c.workers[0].lastFiber == nil)
    }

    /// A row the mapping fills in place (a blank row's bytes, then each field) is the row built whole from the same
    /// read: every field, and names that are heap strings outliving the read they came from; a parked worker with no
    /// names in the read or the interval has none.
    @Test func aMappedRowIsTheWholeRowOfItsRead() {
        var sampler = FiberSampler(sessionStart: 0)
        let long = String(repeating: "x", count: 24)
        func read(_ runs: UInt64) -> SchedulerMetrics {
            var w = Self.worker(0, runs: runs, stolenIn: 3, busy: 50, state: .running)
            w.stealOps = 7
            w.stolenOut = 2
            w.parks = 4
            w.unparks = 5
            w.queueDepth = 6
            w.queueCapacity = 128
            w.maxQueueDepth = 9
            w.currentFiber = "fiber \(long) \(runs)"
            w.currentKind = "kind \(long)"
            var idle = Self.worker(1, runs: runs, stolenIn: 0, busy: 0)
            idle.currentFiber = nil
            idle.currentKind = nil
            return Self.metrics([w, idle])
        }
        var a = Snapshot(time: 1)
        sampler.sample(read(10), events: [], into: &a)
        var b = Snapshot(time: 1.5)
        do {
            let interval = SchedulerMetrics.Interval(
                workers: [
                    .init(id: 0, queueHighWater: 11, lastFiber: "last \(long)", lastKind: "cpu", runs: 3),
                    .init(id: 1, queueHighWater: 0, lastFiber: nil, lastKind: nil, runs: 0),
                ],
                injectorHighWater: 0, startNanos: 0, endNanos: 1)
            sampler.sample(read(30), interval: interval, events: [], into: &b)
        }
        #expect(
            b.workers[0]
                == WorkerSnapshot(
                    id: 0, state: .running, runs: 30, stealOps: 7, stolenIn: 3, stolenOut: 2, parks: 4, unparks: 5,
                    queueDepth: 6, queueCapacity: 128, maxQueueDepth: 9, queuePeak: 11, busyNanos: 50, busyRatio: 0,
                    spinRatio: 0, currentFiber: "fiber \(long) 30", currentKind: "kind \(long)", runsInInterval: 20,
                    stolenInInterval: 0, lastFiber: "last \(long)", lastKind: "cpu"))
        #expect(
            b.workers[1]
                == WorkerSnapshot(
                    id: 1, state: .parked, runs: 30, queueCapacity: 256, queuePeak: 0, spinRatio: 0, runsInInterval: 20,
                    stolenInInterval: 0))
        // The first sample's rows: no deltas, no peaks, what ran unknown.
        #expect(a.workers[1] == WorkerSnapshot(id: 1, state: .parked, runs: 10, queueCapacity: 256))
    }

    /// An interval read whose workers come in another order than the metrics' (a read that raced a restart) is
    /// matched by id; a worker it lacks has no peak and falls back to the fiber last resumed, and a running worker
    /// names the fiber running now.
    @Test func anIntervalInAnotherOrderIsMatchedById() {
        var sampler = FiberSampler(sessionStart: 0)
        let m = Self.metrics([
            Self.worker(0, runs: 10, stolenIn: 0, busy: 0, state: .running),
            Self.worker(1, runs: 20, stolenIn: 0, busy: 0),
            Self.worker(2, runs: 30, stolenIn: 0, busy: 0),
        ])
        let interval = SchedulerMetrics.Interval(
            workers: [
                .init(id: 2, queueHighWater: 9, lastFiber: "two", lastKind: "cpu", runs: 1),
                .init(id: 0, queueHighWater: 4, lastFiber: nil, lastKind: nil, runs: 0),
            ],
            injectorHighWater: 0, startNanos: 0, endNanos: 1)
        var a = Snapshot(time: 1)
        sampler.sample(m, interval: interval, events: [], into: &a)
        #expect(a.workers.map(\.queuePeak) == [4, nil, 9])
        #expect(a.workers.map(\.lastFiber) == [nil, nil, "two"])
        #expect(a.workers[0].currentFiber == "web-0" && a.workers[0].currentKind == "io")
        #expect(a.workers[1].currentFiber == nil)
        var b = Snapshot(time: 1.1)
        var later = m
        later.workers[1].runs = 25
        sampler.sample(later, interval: interval, events: [], into: &b)
        // Worker 1 is not in the interval read: what ran is the fiber last resumed there, as it ran.
        #expect(b.workers[1].lastFiber == "web-1" && b.workers[1].runsInInterval == 5)
        #expect(b.workers[1].queuePeak == nil)
    }

    /// The panel named "ready → running" must show the runtime's sampled ready → running delay, not the
    /// heartbeat's lateness (which stays in `lag`, labelled heartbeat lag).
    /// The scheduler's interval read (peaks since the previous take, the last named fiber) and its split of
    /// busy time reach the snapshot as they are: busy is time running fibers, spin the time searching.
    @Test func intervalPeaksWhatRanAndSearchTimeComeFromTheScheduler() {
        var sampler = FiberSampler(sessionStart: 0)
        func read(user: UInt64, search: UInt64) -> SchedulerMetrics {
            var w = Self.worker(0, runs: 10, stolenIn: 0, busy: user + search)
            w.userNanos = user
            w.searchNanos = search
            return Self.metrics([w])
        }
        let interval = SchedulerMetrics.Interval(
            workers: [.init(id: 0, queueHighWater: 37, lastFiber: "batch-3", lastKind: "cpu", runs: 5)],
            injectorHighWater: 12, startNanos: 0, endNanos: 1)
        var a = Snapshot(time: 1)
        sampler.sample(read(user: 0, search: 0), interval: interval, events: [], into: &a)
        #expect(a.workers[0].queuePeak == 37 && a.injectorPeak == 12)
        #expect(a.workers[0].lastFiber == "batch-3" && a.workers[0].lastKind == "cpu")
        #expect(a.workers[0].spinRatio == nil)
        var b = Snapshot(time: 1.5)
        // Half a second later: 100 ms running fibers, 200 ms searching.
        sampler.sample(read(user: 100_000_000, search: 200_000_000), events: [], into: &b)
        #expect(abs(b.workers[0].busyRatio - 0.2) < 1e-9)
        #expect(abs((b.workers[0].spinRatio ?? -1) - 0.4) < 1e-9)
        // Without an interval read the peaks are unknown, not 0.
        #expect(b.workers[0].queuePeak == nil && b.injectorPeak == nil)
    }

    @Test func readyToRunningIsTheRuntimesSampledDelay() throws {
        var sampler = FiberSampler(sessionStart: 0, delaySampling: 64)
        var hist = [UInt64](repeating: 0, count: DelayHistogram.buckets)
        hist[12] = 90
        hist[20] = 10
        let delay = SchedulerMetrics.Delay(
            samples: 100, meanNanos: 0, p50Nanos: 8192, p99Nanos: 2_097_152, maxNanos: 1_500_000, histogram: hist)
        var s = Snapshot(time: 1)
        sampler.sample(
            Self.metrics([Self.worker(0, runs: 1, stolenIn: 0, busy: 0)], delay: delay), events: [], into: &s)
        let d = try #require(s.readyDelay)
        #expect(d.samples == 100 && d.sampling == 64)
        #expect(d.p50Ms == 0.008192 && d.p99Ms == 2.097152 && d.maxMs == 1.5)
        #expect(d.log2Buckets == hist)
        #expect(s.busyWindowSeconds == FiberSampler.busyWindow)
    }

    static func loop(busy: UInt64, jobs: UInt64) -> LoopMetrics {
        LoopMetrics(
            id: 0, name: "loop-0", readyDepth: 0, inboxDepth: 0, readyDepthHighWater: 0, maxReadyDepth: 0,
            timersPending: 0, tasksAlive: 0, jobsRun: jobs,
            slowCallbacks: 0, busyNanos: busy, current: nil, currentRunningNanos: 0, lag: LoopLagSummary(),
            queueDelay: LoopDurationSummary(), runTime: LoopDurationSummary(), droppedEvents: 0, fdWaiters: 0)
    }

    /// Carriers and loops share one busy definition: the trailing `BusyWindow.seconds`, not the last interval
    /// (a loop busy for the first half second and idle for the next frame is 50 % busy over the window).
    @Test func loopBusyCoversTheSameWindowAsCarriers() throws {
        var loops = LoopSampler(sessionStart: 0)
        var fibers = FiberSampler(sessionStart: 0)
        var last = (Snapshot(), Snapshot())
        for (t, busy) in [(0.0, UInt64(0)), (0.5, 500_000_000), (1.0, 500_000_000)] {
            var l = Snapshot(time: t, model: .eventLoop)
            loops.sample([Self.loop(busy: busy, jobs: 0)], pools: [], events: [], into: &l)
            var f = Snapshot(time: t)
            fibers.sample(Self.metrics([Self.worker(0, runs: 0, stolenIn: 0, busy: busy)]), events: [], into: &f)
            last = (l, f)
        }
        let loopBusy = try #require(last.0.loops[0].busyRatio)
        #expect(abs(loopBusy - 0.5) < 1e-9, "loop busy \(loopBusy)")
        #expect(last.0.loops[0].busyRatio == last.1.workers[0].busyRatio)
        #expect(last.0.busyWindowSeconds == 1 && last.1.busyWindowSeconds == 1)
    }
    /// Each pool box is one real pool thread as the pool reports it (idle, or its job's label and for how long),
    /// and every depth carries the runtime's high-water mark since the previous read.
    @Test func poolThreadsAndPeaksComeFromThePoolAndLoopReads() {
        var sampler = LoopSampler(sessionStart: 0)
        var loop = Self.loop(busy: 0, jobs: 0)
        loop.readyDepth = 2
        loop.readyDepthHighWater = 40
        let pool = ThreadPoolMetrics(
            threads: 2, busy: 1, queueDepth: 0, queueDepthHighWater: 7, maxQueueDepth: 9, completed: 3, shared: false,
            workers: [
                PoolThreadMetrics(thread: "p-0", task: nil, runningSinceNanos: nil, busyNanos: 0, tasksRun: 1),
                PoolThreadMetrics(
                    thread: "p-1", task: "blocking", runningSinceNanos: 1_000_000_000, busyNanos: 0, tasksRun: 2),
            ])
        var s = Snapshot(time: 1, model: .eventLoop)
        sampler.sample([loop], pools: [pool], events: [], nowNanos: 1_050_000_000, into: &s)
        #expect(s.loops[0].readyPeak == 40 && s.loops[0].readyDepth == 2)
        let p = s.pool
        #expect(p?.queuePeak == 7)
        #expect(p?.threadStates?.map(\.kind) == [nil, "blocking"])
        #expect(p?.threadStates?.map(\.runningMs) == [0, 50])
    }
}
