import Telemetry

@testable import Recording

/// SplitMix64: a tiny seeded generator, so every test input is reproducible from its seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Realistic synthetic sessions: a busy virtual-threads preset (8 carriers, steals, parks,
/// blocking regions, events every frame) and an event-loop preset with a pool.
enum Synthetic {
    static let names = ["fetch", "parse", "render", "db", "cache", "auth", "resize", "log"]

    static func busyFrames(count: Int, hz: Double = 10, seed: UInt64 = 1, workers: Int = 8) -> [Snapshot] {
        var rng = SeededRandom(seed: seed)
        var frames: [Snapshot] = []
        var s = Snapshot(preset: "vt-busy", presetTitle: "Virtual threads, busy", model: .virtualThreads)
        s.workers = (0..<workers).map { WorkerSnapshot(id: $0) }
        s.taskKinds = ["http", "db", "cpu", "timer"].map { TaskKindStats(kind: $0) }
        s.lag.buckets = Array(repeating: 0, count: LagSummary.bucketBoundsMs.count)
        for i in 0..<count {
            s.sequence = UInt64(i)
            s.time = Double(i) / hz + Double(rng.next() % 1000) / 1e6
            for w in s.workers.indices {
                var x = s.workers[w]
                x.state = [.running, .running, .running, .spinning, .parked, .pinned][Int(rng.next() % 6)]
                x.runs += 2000 + rng.next() % 3000
                x.stealOps += rng.next() % 20
                x.stolenIn += rng.next() % 40
                x.stolenOut += rng.next() % 40
                x.parks += rng.next() % 10
                x.unparks = x.parks - min(x.parks, rng.next() % 2)
                x.queueDepth = Int(rng.next() % 200)
                x.maxQueueDepth = max(x.maxQueueDepth, x.queueDepth)
                x.busyNanos += 60_000_000 + rng.next() % 40_000_000
                x.busyRatio = Double(rng.next() % 10_000) / 10_000
                x.currentFiber = rng.next() % 4 == 0 ? nil : "fiber-\(rng.next() % 5000)"
                x.currentKind = x.currentFiber == nil ? nil : names[Int(rng.next() % 4)]
                s.workers[w] = x
            }
            s.injectorDepth = Int(rng.next() % 50)
            s.fibers = FiberCounts(
                total: 10_000, running: workers, runnable: Int(rng.next() % 2000), parkedSleep: Int(rng.next() % 3000),
                parkedIO: Int(rng.next() % 3000), parkedChannel: Int(rng.next() % 500),
                parkedMutex: Int(rng.next() % 100), parkedJoin: Int(rng.next() % 100),
                blockedPinned: Int(rng.next() % 3), blockedHandoff: Int(rng.next() % 3))
            s.lag.p50Ms = Double(rng.next() % 1000) / 997
            s.lag.p99Ms = s.lag.p50Ms * 3.7
            s.lag.maxMs = max(s.lag.maxMs, s.lag.p99Ms * 1.9)
            s.lag.slotP99Ms = s.lag.p99Ms * 1.1
            s.lag.recentMs = Double(rng.next() % 5000) / 313
            for b in s.lag.buckets.indices { s.lag.buckets[b] += rng.next() % 100 }
            for k in s.taskKinds.indices {
                s.taskKinds[k].started += 100 + rng.next() % 200
                s.taskKinds[k].completed += 100 + rng.next() % 190
                s.taskKinds[k].inFlight = Int(rng.next() % 500)
                s.taskKinds[k].p50Ms = Double(rng.next() % 100_000) / 977
                s.taskKinds[k].p99Ms = s.taskKinds[k].p50Ms * 4.3
                s.taskKinds[k].throughput = Double(rng.next() % 100_000) / 7
            }
            s.events = (0..<(10 + Int(rng.next() % 20))).map { j in
                let t = s.time - 0.1 + Double(j) * 0.004
                switch rng.next() % 6 {
                case 0: return RuntimeEvent(time: t, kind: .workerPark, worker: Int(rng.next() % UInt64(workers)))
                case 1: return RuntimeEvent(time: t, kind: .workerUnpark, worker: Int(rng.next() % UInt64(workers)))
                case 2:
                    return RuntimeEvent(
                        time: t, kind: .blockingEnd, worker: Int(rng.next() % UInt64(workers)),
                        durationMs: Double(rng.next() % 50_000) / 1000, name: names[Int(rng.next() % 8)])
                case 3: return RuntimeEvent(time: t, kind: .spawnBatch, worker: -1, count: Int(rng.next() % 500))
                default:
                    let thief = Int(rng.next() % UInt64(workers))
                    return RuntimeEvent(
                        time: t, kind: .steal, worker: thief, other: (thief + 1) % workers,
                        count: 1 + Int(rng.next() % 64))
                }
            }
            s.droppedEvents += rng.next() % 2
            frames.append(s)
        }
        return frames
    }

    /// A short event-loop session with a pool, slow callbacks and lag spikes.
    static func loopFrames(count: Int, startTime: Double, startSequence: UInt64 = 0) -> [Snapshot] {
        (0..<count).map { i in
            var s = Snapshot(
                time: startTime + Double(i) * 0.1, sequence: startSequence + UInt64(i), preset: "asyncio",
                presetTitle: "One asyncio loop", model: .eventLoop)
            s.loops = [
                LoopSnapshot(
                    id: 0, readyDepth: i % 7, maxReadyDepth: 6, timersPending: 3, tasksAlive: 100 + i,
                    jobsRun: UInt64(i * 1000), slowCallbacks: UInt64(i / 3), busyRatio: 0.5 + Double(i % 5) / 10,
                    current: i % 2 == 0 ? "handler" : nil, lag: LagSummary(p50Ms: 0.2, p99Ms: 3.5, recentMs: Double(i)))
            ]
            s.pool = PoolSnapshot(threads: 4, busy: i % 5, queueDepth: i % 3, completed: UInt64(i * 2))
            s.events = [
                RuntimeEvent(
                    time: s.time - 0.05, kind: .slowCallback, worker: 0, durationMs: 120.5, name: "parse_json"),
                RuntimeEvent(time: s.time - 0.01, kind: .lagSpike, worker: 0, durationMs: 40),
            ]
            return s
        }
    }

    static let presetText = """
        # virtual-threads busy preset
        name = "vt-busy"
        title = "Virtual threads, busy"
        model = "virtual-threads"
        carriers = 8
        """

    static let metadata = RecordingMetadata(
        qvtopVersion: "0.1.0", columns: 120, rows: 40, cores: 2, startTime: 1_790_000_000.25, sampleHz: 10,
        extra: ["host": "test"])

    /// A small fixed recording: 6 busy frames (2 carriers), a preset switch to an event loop,
    /// 4 loop frames, two bookmarks, an end record. Used by the golden and truncation tests.
    static func small(version: UInt16 = RecordingFormat.version) -> (bytes: [UInt8], recording: Recording) {
        var busy = busyFrames(count: 6, seed: 7, workers: 2)
        var loop = loopFrames(count: 4, startTime: 0.7, startSequence: 6)
        if version >= 2 {
            busy = busy.enumerated().map { i, f in withFormat2Figures(f, i) }
            loop = loop.enumerated().map { i, f in withFormat2Figures(f, i) }
        }
        let p1 = PresetSwitch(time: 0, name: "vt-busy", title: "Virtual threads, busy", text: presetText)
        let p2 = PresetSwitch(time: 0.65, name: "asyncio", title: "One asyncio loop", text: "name = \"asyncio\"\n")
        let b1 = Bookmark(time: 0.3, label: "steal storm")
        let b2 = Bookmark(time: 0.9, label: "")
        var enc = RecordEncoder(version: version)
        var meta = metadata
        meta.formatVersion = Int(version)
        var bytes = enc.start(meta)
        enc.presetSwitch(p1, into: &bytes)
        for (i, f) in busy.enumerated() {
            enc.snapshot(f, into: &bytes)
            if i == 3 { enc.bookmark(b1, into: &bytes) }
        }
        enc.presetSwitch(p2, into: &bytes)
        for (i, f) in loop.enumerated() {
            enc.snapshot(f, into: &bytes)
            if i == 2 { enc.bookmark(b2, into: &bytes) }
        }
        let end = RecordingEnd(framesWritten: 10, framesDropped: 0)
        enc.end(end, into: &bytes)
        let recording = Recording(
            metadata: meta, frames: busy + loop, presetSwitches: [p1, p2], bookmarks: [b1, b2], end: end)
        return (bytes, recording)
    }

    /// `s` with every figure format 2 added, filled (some left nil, as a live source leaves them).
    static func withFormat2Figures(_ s: Snapshot, _ i: Int) -> Snapshot {
        var s = s
        s.busyWindowSeconds = 1
        s.injectorPeak = s.model.usesFibers ? s.injectorDepth + i : nil
        var buckets = [UInt64](repeating: 0, count: 40)
        buckets[10] = UInt64(100 + i)
        buckets[17] = UInt64(3 * i)
        s.readyDelay = DelaySummary(
            samples: UInt64(100 + 4 * i), sampling: s.model.usesFibers ? 64 : 1, p50Ms: 0.002, p99Ms: 0.26 + Double(i),
            maxMs: 4.5, log2Buckets: s.model.usesFibers ? buckets : nil)
        for w in s.workers.indices {
            s.workers[w].queuePeak = s.workers[w].queueDepth + 5 * i
            s.workers[w].spinRatio = w == 0 ? nil : 0.05
            s.workers[w].runsInInterval = i == 0 ? nil : UInt64(2000 + i)
            s.workers[w].stolenInInterval = i == 0 ? nil : UInt64(i)
            s.workers[w].lastFiber = "fiber-\(i)"
            s.workers[w].lastKind = w == 0 ? nil : "fetch"
        }
        for l in s.loops.indices {
            s.loops[l].readyPeak = (s.loops[l].readyDepth ?? 0) + i
            s.loops[l].jobsInInterval = UInt64(1000 + i)
            s.loops[l].lastTask = i % 2 == 0 ? "handler" : nil
            s.loops[l].readyDelay = s.readyDelay
        }
        if var pool = s.pool {
            pool.queuePeak = pool.queueDepth + 2
            pool.threadStates = (0..<pool.threads).map { k in
                PoolThreadSnapshot(
                    id: k, kind: k < pool.busy ? "blocking" : nil, runningMs: k < pool.busy ? 12.5 * Double(k + 1) : 0,
                    busyRatio: k == 3 ? nil : 0.25 * Double(k))
            }
            s.pool = pool
        }
        return s
    }
}
