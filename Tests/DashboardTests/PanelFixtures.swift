import Telemetry

@testable import Dashboard

/// Fixed, realistic snapshots of every model for the panel snapshot tests (deterministic: no clock, no randomness).
enum PanelFixtures {
    /// A deterministic wiggle for history series: 0…1 from the sequence number.
    static func wave(_ i: Int) -> Double { Double((i * 7) % 11) / 10 }

    static let fiberKinds = [
        TaskKindStats(
            kind: "batch", started: 3620, completed: 3598, inFlight: 22, p50Ms: 2.4, p99Ms: 9.8, throughput: 298),
        TaskKindStats(
            kind: "scatter", started: 241, completed: 236, inFlight: 5, p50Ms: 4.1, p99Ms: 12.6, throughput: 19.5),
        TaskKindStats(
            kind: "web", started: 18_450, completed: 18_250, inFlight: 200, p50Ms: 12.3, p99Ms: 20.9, throughput: 1490),
        TaskKindStats(kind: "disk", started: 24, completed: 23, inFlight: 1, p50Ms: 50.2, p99Ms: 51.7, throughput: 2),
    ]

    /// A fiber scheduler's sampled ready → running delay (1 in 64, log2 buckets of ns).
    static func fiberDelay(p99Ms: Double) -> DelaySummary {
        var b = [UInt64](repeating: 0, count: 40)
        b[11] = 4200
        b[13] = 2100
        b[16] = 600
        b[19] = 90
        b[25] = p99Ms > 10 ? 40 : 0
        return DelaySummary(
            samples: b.reduce(0, +), sampling: 64, p50Ms: 0.004, p99Ms: p99Ms, maxMs: p99Ms * 2.5, log2Buckets: b)
    }

    /// A loop's queue delay (every job; no histogram).
    static func loopDelay(p99Ms: Double) -> DelaySummary {
        DelaySummary(samples: 52_000, sampling: 1, p50Ms: 0.08, p99Ms: p99Ms, maxMs: p99Ms * 1.3)
    }

    /// Virtual threads, 4 carriers, work stealing, one carrier handed off, steals this interval.
    static func virtualThreads(_ i: Int = 40, carriers: Int = 4) -> Snapshot {
        let states: [WorkerState] = [.running, .running, .handedOff, .spinning, .parked, .running, .running, .running]
        let running: [(String, String)?] = [
            ("batch", "cpu"), ("scatter", "fanout"), ("disk", "blocking"), nil, nil, ("web", "io"), ("web", "io"),
            ("batch", "cpu"),
        ]
        let workers = (0..<carriers).map { k in
            WorkerSnapshot(
                id: k, state: states[k % states.count], runs: UInt64(12_000 + 1000 * k + 10 * i),
                stealOps: UInt64(40 + 3 * k), stolenIn: UInt64(k == 0 ? 0 : 100 * k + i),
                stolenOut: UInt64(k == 0 ? 300 + i : 0),
                parks: UInt64(20 * k), unparks: UInt64(20 * k), queueDepth: [96, 12, 0, 3, 0, 7, 1, 2][k % 8],
                queueCapacity: 256, maxQueueDepth: [180, 40, 20, 31, 5, 9, 8, 6][k % 8],
                queuePeak: [140, 30, 4, 41, 0, 12, 3, 2][k % 8],
                busyNanos: UInt64(max(0, 9 - k)) * 1_000_000_000,
                busyRatio: [0.97, 0.81, 0.64, 0.12, 0, 0.5, 0.4, 0.3][k % 8] * (0.9 + wave(i + k) / 10),
                currentFiber: running[k % 8].map { "\($0.0)-\(1000 + 37 * k)" }, currentKind: running[k % 8]?.1,
                runsInInterval: k == 4 ? 0 : 40, stolenInInterval: k == 0 ? 0 : 1,
                lastFiber: running[k % 8] == nil && k != 4 ? "web-\(2000 + k)" : nil,
                lastKind: running[k % 8] == nil && k != 4 ? "io" : nil)
        }
        var events: [RuntimeEvent] = []
        if carriers > 1 {
            events.append(RuntimeEvent(time: Double(i) / 10, kind: .steal, worker: 1, other: 0, count: 4))
            events.append(
                RuntimeEvent(time: Double(i) / 10, kind: .steal, worker: min(3, carriers - 1), other: 0, count: 2))
            events.append(RuntimeEvent(time: Double(i) / 10, kind: .steal, worker: 1, other: 0, count: 3))
        }
        if i % 10 == 3 {
            events.append(
                RuntimeEvent(
                    time: Double(i) / 10, kind: .blockingEnd, worker: min(2, carriers - 1),
                    durationMs: 50.4 + Double(i % 7), name: "disk-\(i)"))
        }
        if i % 10 == 7 {
            events.append(
                RuntimeEvent(time: Double(i) / 10, kind: .handoff, worker: min(2, carriers - 1), name: "disk-\(i)"))
        }
        return Snapshot(
            time: Double(i) / 10, sequence: UInt64(i), preset: "vt-handoff", presetTitle: "Virtual threads: handoff",
            model: .virtualThreads, workers: workers, injectorDepth: 7,
            fibers: FiberCounts(
                total: 1240, running: 3, runnable: 118, parkedSleep: 640, parkedIO: 210, parkedChannel: 160,
                parkedMutex: 9, parkedJoin: 99, blockedPinned: 0, blockedHandoff: 1),
            lag: LagSummary(
                p50Ms: 0.42, p99Ms: 6.8, maxMs: 23.5, slotP99Ms: 7.1, recentMs: 0.5 + 6 * wave(i),
                buckets: [210, 1830, 2410, 1210, 640, 120, 22, 3, 0, 0]),
            readyDelay: fiberDelay(p99Ms: 0.52), injectorPeak: 19, busyWindowSeconds: 1,
            taskKinds: fiberKinds, events: events, droppedEvents: 0)
    }

    /// Green threads (gevent): one carrier; a blocking call holds it, delay piles up.
    static func greenThreads(_ i: Int = 40) -> Snapshot {
        let w = WorkerSnapshot(
            id: 0, state: i % 2 == 1 ? .pinned : .running, runs: UInt64(40_000 + 100 * i), queueDepth: 143,
            queueCapacity: 256, maxQueueDepth: 201, busyNanos: 11_800_000_000, busyRatio: 0.99,
            currentFiber: "disk-\(i)", currentKind: "blocking")
        var events: [RuntimeEvent] = []
        if i % 5 == 0 {
            events.append(
                RuntimeEvent(
                    time: Double(i) / 10, kind: .blockingEnd, worker: 0, durationMs: 50 + Double(i % 3),
                    name: "disk-\(i)"))
            events.append(RuntimeEvent(time: Double(i) / 10, kind: .pin, worker: 0, name: "disk-\(i)"))
        }
        return Snapshot(
            time: Double(i) / 10, sequence: UInt64(i), preset: "gevent", presetTitle: "Green threads: one carrier",
            model: .greenThreads, workers: [w], injectorDepth: 0,
            fibers: FiberCounts(
                total: 420, running: 1, runnable: 143, parkedSleep: 200, parkedIO: 60, parkedChannel: 15,
                blockedPinned: 1),
            lag: LagSummary(
                p50Ms: 8.5, p99Ms: 52.1, maxMs: 61, slotP99Ms: 55, recentMs: 10 + 45 * wave(i),
                buckets: [4, 10, 30, 80, 200, 410, 380, 260, 12, 0]),
            readyDelay: fiberDelay(p99Ms: 48), busyWindowSeconds: 1,
            taskKinds: [fiberKinds[2], fiberKinds[3]], events: events, droppedEvents: 17)
    }

    /// asyncio: one loop; with `pool`, the to_thread preset (4 threads, 3 busy, queue 3).
    static func eventLoop(_ i: Int = 40, pool: Bool) -> Snapshot {
        let lagMs: Double = pool ? 0.3 + wave(i) : 5 + 50 * wave(i)
        let buckets: [UInt64] =
            pool ? [1200, 5400, 2100, 310, 12, 0, 0, 0, 0, 0] : [300, 900, 700, 400, 300, 220, 190, 150, 20, 0]
        let lag =
            pool
            ? LagSummary(p50Ms: 0.31, p99Ms: 1.9, maxMs: 3.2, slotP99Ms: 2, recentMs: lagMs, buckets: buckets)
            : LagSummary(p50Ms: 4.2, p99Ms: 52.3, maxMs: 61.8, slotP99Ms: 55, recentMs: lagMs, buckets: buckets)
        var loop = LoopSnapshot(
            id: 0, readyDepth: pool ? 12 : 31, maxReadyDepth: 40, timersPending: 34, tasksAlive: 212,
            jobsRun: UInt64(52_000 + 100 * i), slowCallbacks: pool ? 0 : UInt64(80 + i / 5),
            busyRatio: pool ? 0.63 : 0.99,
            current: pool ? "web-\(1700 + i)" : "hash-\(300 + i)", jobsInInterval: 480, lag: lag,
            readyDelay: loopDelay(p99Ms: pool ? 0.9 : 50))
        loop.readyPeak = pool ? 19 : 38
        var events: [RuntimeEvent] = []
        if !pool && i % 4 == 1 {
            events.append(
                RuntimeEvent(
                    time: Double(i) / 10, kind: .slowCallback, worker: 0, durationMs: 50.1 + Double(i % 5),
                    name: i % 8 == 1 ? "disk-\(i)" : "hash-\(i)"))
        }
        return Snapshot(
            time: Double(i) / 10, sequence: UInt64(i), preset: pool ? "to-thread" : "asyncio",
            presetTitle: pool
                ? "asyncio + to_thread: blocking work offloaded to a pool" : "asyncio: one loop, one thread",
            model: .eventLoop, loops: [loop],
            pool: pool
                ? PoolSnapshot(
                    threads: 4, busy: 3, queueDepth: 3, queuePeak: 7, completed: UInt64(1200 + i),
                    threadStates: [
                        PoolThreadSnapshot(id: 0, kind: "disk", runningMs: 12.5 + Double(i % 5)),
                        PoolThreadSnapshot(id: 1, kind: "disk", runningMs: 31),
                        PoolThreadSnapshot(id: 2),
                        PoolThreadSnapshot(id: 3, kind: "hash", runningMs: 4.2),
                    ]) : nil,
            fibers: FiberCounts(total: 212, running: 1, runnable: 12),
            lag: lag, readyDelay: loopDelay(p99Ms: pool ? 0.9 : 50), busyWindowSeconds: 1,
            taskKinds: [
                TaskKindStats(
                    kind: "web", started: 9000, completed: 8990, inFlight: 10, p50Ms: pool ? 3.1 : 48,
                    p99Ms: pool ? 6.2 : 110, throughput: 200),
                TaskKindStats(
                    kind: "hash", started: 2500, completed: 2499, inFlight: 1, p50Ms: 0.6, p99Ms: pool ? 1.4 : 51,
                    throughput: 50),
                TaskKindStats(
                    kind: "disk", started: 100, completed: 99, inFlight: 1, p50Ms: 50.3, p99Ms: pool ? 52 : 101,
                    throughput: 2),
            ],
            events: events)
    }

    /// A real CPython asyncio program with a to_thread pool, as the agent streams it: the task census by state
    /// and by what the tasks await (`Snapshot.taskCensus`) beside the loop.
    static func pythonAsyncio(_ i: Int = 40) -> Snapshot {
        var s = eventLoop(i, pool: true)
        s.preset = "py-to-thread"
        s.presetTitle = "CPython asyncio + to_thread [CPython]"
        s.taskCensus = TaskCensus(
            running: 1, ready: 12, sleep: 150 + i % 7, socket: 38, future: 3, lock: 2, queue: 1, toThread: 3)
        s.fibers = FiberCounts(total: s.taskCensus?.total ?? 0, running: 1, runnable: 12)
        s.loops[0].tasksAlive = s.taskCensus?.total
        return s
    }

    /// Loop per thread: 3 loops, optionally a shared to_thread pool.
    static func loopPerThread(_ i: Int = 40, sharedPool: Bool) -> Snapshot {
        let loops = (0..<3).map { (k: Int) -> LoopSnapshot in
            let hot = k == 1 && !sharedPool
            let recent: Double = hot ? 12 + 30 * wave(i) : 0.4 + wave(i + k)
            let lag = LagSummary(
                p50Ms: 0.3 + Double(k), p99Ms: hot ? 51 : 2.2, maxMs: hot ? 58 : 4, recentMs: recent)
            return LoopSnapshot(
                id: k, readyDepth: [4, 17, 0][k], maxReadyDepth: [22, 35, 9][k], timersPending: 10 + k,
                tasksAlive: 70 + k,
                jobsRun: UInt64(20_000 + 1000 * k + i), slowCallbacks: hot ? 14 : 0,
                busyRatio: [0.55, 0.93, 0.21][k], current: k == 2 ? nil : "web-\(500 + k)", lag: lag,
                readyDelay: loopDelay(p99Ms: 1 + Double(k)))
        }
        return Snapshot(
            time: Double(i) / 10, sequence: UInt64(i), preset: sharedPool ? "loops-shared-pool" : "loop-per-thread",
            presetTitle: sharedPool
                ? "3 loops on 3 threads, one shared to_thread pool" : "Loop per thread: 3 loops, 3 threads",
            model: .loopPerThread, loops: loops,
            pool: sharedPool
                ? PoolSnapshot(threads: 4, busy: 2, queueDepth: 1, completed: UInt64(800 + i), shared: true) : nil,
            lag: LagSummary(
                p50Ms: 0.5, p99Ms: sharedPool ? 2.4 : 51, maxMs: sharedPool ? 4 : 58, slotP99Ms: sharedPool ? 2.6 : 53,
                recentMs: sharedPool ? 0.9 : 12 + 30 * wave(i),
                buckets: [400, 1800, 900, 300, 80, 20, 9, 4, 0, 0]),
            readyDelay: loopDelay(p99Ms: sharedPool ? 1.1 : 49), busyWindowSeconds: 1,
            taskKinds: [
                TaskKindStats(
                    kind: "web", started: 30_000, completed: 29_990, inFlight: 10, p50Ms: 2.1, p99Ms: 7.7,
                    throughput: 600),
                TaskKindStats(
                    kind: "hash", started: 7500, completed: 7497, inFlight: 3, p50Ms: 0.6, p99Ms: 1.9, throughput: 150),
            ],
            events: sharedPool || i % 6 != 2
                ? []
                : [
                    RuntimeEvent(
                        time: Double(i) / 10, kind: .slowCallback, worker: 1, durationMs: 50.2, name: "disk-\(i)")
                ])
    }

    /// The history of `count` snapshots made by `make`, and the last snapshot.
    static func run(_ count: Int = 40, _ make: (Int) -> Snapshot) -> (Snapshot, PanelHistory) {
        var h = PanelHistory()
        var last = make(0)
        for i in 0..<count {
            last = make(i)
            h.append(last)
        }
        return (last, h)
    }

    /// Code listings like the presets side provides (its `TaskSource` bodies).
    static let code = [
        CodeListing(
            kind: "io",
            sync: #"""
                func io(ms: Double, mode: IOMode) throws {
                    if mode == .socket, let server {
                        try server.roundTrip(serverDelayMs: ms)  // each step parks the fiber
                    } else {
                        Scheduler.sleep(nanoseconds: UInt64(ms * 1e6))  // parks the fiber, not the carrier
                    }
                }
                """#,
            async: #"""
                func io(ms: Double, mode: IOMode) async throws {
                    if mode == .socket, let server {
                        try await server.roundTrip(on: loop, serverDelayMs: ms)
                    } else {
                        try await loop.sleep(for: .microseconds(Int64(ms * 1000)))
                    }
                }
                """#),
        CodeListing(
            kind: "cpu",
            sync: "func cpu(ms: Double) {\n    Work.spin(ms: ms)  // holds the carrier\n}",
            async: """
                func cpu(ms: Double) async throws {
                    if offload.contains(.cpu) {
                        try await loop.toThread { Work.spin(ms: ms) }
                    } else {
                        Work.spin(ms: ms)  // runs on the loop thread
                    }
                }
                """),
    ]
}

// Many workers (issue 15): the fixtures of ManyWorkersTests.
extension PanelFixtures {
    /// Virtual threads on `carriers` carriers: the 4-carrier fixture's figures repeated, with steals spread over
    /// many victim → thief pairs (a few heavy, many light) and every 37th carrier handed off.
    static func manyCarriers(_ i: Int = 40, carriers n: Int) -> Snapshot {
        var s = virtualThreads(i, carriers: n)
        s.presetTitle = "Virtual threads: \(n) carriers"
        for k in s.workers.indices {
            s.workers[k].queueDepth = [0, 1, 3, 5, 17, 70, 0, 2, 9, 0, 0, 40][(k * 5 + i) % 12]
            s.workers[k].busyRatio = [0.02, 0.2, 0.45, 0.75, 0.95, 1.0, 0.1][(k * 3 + i / 7) % 7]
            if k % 37 == 36 { s.workers[k].state = .handedOff }
        }
        for k in 0..<min(n, 24) {
            s.events.append(
                RuntimeEvent(
                    time: Double(i) / 10, kind: .steal, worker: (k * 7 + 3) % n, other: (k * 11 + 5) % n,
                    count: 1 + (k * 13) % 9))
        }
        return s
    }

    /// Loop per thread with `loops` loops (the 3-loop fixture's figures repeated), optionally a shared pool.
    static func manyLoops(_ i: Int = 40, loops n: Int, sharedPool: Bool) -> Snapshot {
        var s = loopPerThread(i, sharedPool: sharedPool)
        let three = s.loops
        s.loops = (0..<n).map { k in
            var l = three[k % 3]
            l.id = k
            l.readyDepth = (k * 5 + i) % 23
            l.busyRatio = [0.55, 0.93, 0.21, 0.7, 0.05][k % 5]
            return l
        }
        s.presetTitle = "Loop per thread: \(n) loops, \(n) threads"
        return s
    }
}
