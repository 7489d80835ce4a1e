// RunSummary: what `qvtop run --headless` prints, computed only from snapshots.
//
// The summary is a pure function of a sequence of `Snapshot` values: a live headless run and a
// replayed recording of it produce the same JSON. Nothing here reads a clock or a runtime.
//
// How each figure is derived (counters in snapshots are cumulative since the runtime started):
// - cumulative counters (runs, steals, parks, completed, latency percentiles, loop lag over the
//   whole run, dropped events) come from the last snapshot;
// - maxima over time (parked fibers, blocked fibers, queue depths) are the maximum over all snapshots;
// - busy ratio per worker/loop is the mean of each snapshot's interval ratio, weighted by the
//   interval's length (the first snapshot has no interval and no weight);
// - slow callbacks are the `slowCallback` events of every snapshot, grouped by culprit name.
// When the preset changes inside the sequence (a live switch), only the last preset's run counts.

import Foundation

/// The headless run summary (issue 6's field list). Codable; encode with `RunSummary.jsonText`.
public struct RunSummary: Codable, Sendable, Equatable {
    public var preset: String
    public var title: String
    public var model: SchedulerModel
    /// Seconds covered: last snapshot time − first snapshot time of the run.
    public var durationSeconds: Double
    public var snapshots: Int
    public var workers: [Worker]
    public var loops: [Loop]
    public var totals: Totals
    public var taskKinds: [Kind]
    /// Heartbeat lag (see `Snapshot.lag`), with the slow callbacks / blocking regions.
    public var lag: Lag
    /// True ready → running delay from the last snapshot; nil (JSON `null`) when the source has none.
    public var readyDelay: Delay?
    public var droppedEvents: UInt64
    // The asyncio invariant (issue 15).
    /// The invariant workload per runtime (asyncio-mn: the M:N loop, then the single loop), from the last
    /// snapshot; nil (JSON `null`) for every other model.
    public var invariant: [InvariantSnapshot]? = nil
    // Plain OS threads (the threads model).
    /// The threads model's figures over the run; nil (`null`) for every other model.
    public var threads: Threads?

    /// The threads model over the run: most threads alive at once, created, refused, most blocked at once.
    public struct Threads: Codable, Sendable, Equatable {
        /// "per-task" or "pool", and its cap or size.
        public var mode: String
        public var capacity: Int
        /// Most task threads alive at once (the model's peak-hold, so bursts between samples count).
        public var aliveMax: Int
        /// Task threads created, threads the system refused, tasks not started at the cap (cumulative, last sample).
        public var created: UInt64
        public var createFailed: UInt64
        public var refusedAtCap: UInt64
        /// Most tasks blocked in the kernel at once (sampled).
        public var blockedMax: Int
        // The pool's queue (issue 15, wave 3).
        /// Pool mode: most jobs waiting for a pool thread at once (the queue's peak-hold, else its sampled depth);
        /// nil (`null`) in per-task mode, which never queues.
        public var queueMax: Int? = nil

        /// `queueMax` is written as `null` when unknown, never left out.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(mode, forKey: .mode)
            try c.encode(capacity, forKey: .capacity)
            try c.encode(aliveMax, forKey: .aliveMax)
            try c.encode(created, forKey: .created)
            try c.encode(createFailed, forKey: .createFailed)
            try c.encode(refusedAtCap, forKey: .refusedAtCap)
            try c.encode(blockedMax, forKey: .blockedMax)
            try c.encode(queueMax, forKey: .queueMax)
        }
    }
    // Memory per parked task (issue 15).
    /// The last snapshot's memory figures (RSS, bytes per parked task, stacks); nil (`null`) when not measured.
    public var memory: MemorySnapshot?
    // The M:N loop's own heartbeat lag (issue 15, wave 3).
    /// asyncio-mn: the heartbeat lag of the M:N loop's heartbeat task over the run (last snapshot); nil (`null`)
    /// for every other model and for recordings made before it. The single loop's is `lag`.
    public var mnLoopLag: MNLoopLag? = nil

    /// Heartbeat lag of the M:N loop (see `MNLoopSnapshot.lag`), ms.
    public struct MNLoopLag: Codable, Sendable, Equatable {
        public var p50Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
        public var slotP99Ms: Double
    }

    public struct Worker: Codable, Sendable, Equatable {
        public var id: Int
        public var runs: UInt64
        public var stealsIn: UInt64
        public var stealsOut: UInt64
        public var stealOps: UInt64
        public var parks: UInt64
        public var busyRatio: Double
        public var maxQueueDepth: Int
    }

    public struct Loop: Codable, Sendable, Equatable {
        public var id: Int
        /// nil (`null`) when the loop's jobs are not counted (a real Python loop without the hook).
        public var jobsRun: UInt64?
        public var slowCallbacks: UInt64
        /// nil (`null`) when the loop's busy share was never measured.
        public var busyRatio: Double?
        /// nil (`null`) when the loop does not expose its ready queue (uvloop).
        public var maxReadyDepth: Int?
        public var lagP50Ms: Double
        public var lagP99Ms: Double
        public var lagMaxMs: Double
        /// Ready → running delay p99 of this loop's jobs; nil (`null`) when the source has none.
        public var readyDelayP99Ms: Double?
        // gevent hub figures (issue 16): `null` for every loop but a gevent hub.
        /// Greenlet switches, cumulative (last snapshot).
        public var greenletSwitches: UInt64? = nil
        /// Greenlet switches per second over the run: (last − first snapshot's switches) / their time apart.
        public var greenletSwitchesPerSecond: Double? = nil
        /// gevent monitor-thread blocking reports, cumulative; `null` also when the monitor was not enabled.
        public var geventMonitorReports: UInt64? = nil
        /// The culprit of the monitor's last named report.
        public var geventMonitorLastCulprit: String? = nil

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(jobsRun, forKey: .jobsRun)
            try c.encode(slowCallbacks, forKey: .slowCallbacks)
            try c.encode(busyRatio, forKey: .busyRatio)
            try c.encode(maxReadyDepth, forKey: .maxReadyDepth)
            try c.encode(lagP50Ms, forKey: .lagP50Ms)
            try c.encode(lagP99Ms, forKey: .lagP99Ms)
            try c.encode(lagMaxMs, forKey: .lagMaxMs)
            try c.encode(readyDelayP99Ms, forKey: .readyDelayP99Ms)  // `null` when unknown, not left out
            // gevent hub figures (issue 16).
            try c.encode(greenletSwitches, forKey: .greenletSwitches)
            try c.encode(greenletSwitchesPerSecond, forKey: .greenletSwitchesPerSecond)
            try c.encode(geventMonitorReports, forKey: .geventMonitorReports)
            try c.encode(geventMonitorLastCulprit, forKey: .geventMonitorLastCulprit)
        }
    }

    /// Ready → running delay (see `Snapshot.readyDelay`).
    public struct Delay: Codable, Sendable, Equatable {
        public var p50Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
        /// Delays measured, and 1 in how many ready events was measured.
        public var samples: UInt64
        public var sampling: Int
    }

    public struct Totals: Codable, Sendable, Equatable {
        /// Tasks started, all kinds (a fan-out parent's children are not counted separately).
        public var spawned: UInt64
        public var completed: UInt64
        /// Fibers stolen, all workers.
        public var steals: UInt64
        public var parkedMax: Int
        public var blockedMax: Int
        public var injectorMaxDepth: Int
        public var poolMaxQueueDepth: Int
        public var poolCompleted: UInt64
        /// Mean over intervals of (highest − lowest busy ratio among workers, or among loops): how far
        /// apart the carriers' busy bars are at any moment (0 = always level). Whole-run busy ratios
        /// hide this when the busy carrier changes from burst to burst.
        public var busySpread: Double
        /// Window of the busy ratios, seconds; nil (`null`) when unknown (a format-1 recording).
        public var busyWindowSeconds: Double?
        /// The run had carriers (a fiber model) / a `to_thread` pool. Without them the figures that need them
        /// (`steals`, `parkedMax`, `blockedMax`, `injectorMaxDepth` / `poolMaxQueueDepth`, `poolCompleted`) are
        /// written `null`, not 0; in Swift they read 0. Not keys of their own.
        public var hasFibers = true
        public var hasPool = true

        enum CodingKeys: String, CodingKey {
            case spawned, completed, steals, parkedMax, blockedMax, injectorMaxDepth, poolMaxQueueDepth
            case poolCompleted, busySpread, busyWindowSeconds
        }

        public init(
            spawned: UInt64, completed: UInt64, steals: UInt64, parkedMax: Int, blockedMax: Int, injectorMaxDepth: Int,
            poolMaxQueueDepth: Int, poolCompleted: UInt64, busySpread: Double, busyWindowSeconds: Double? = nil,
            hasFibers: Bool = true, hasPool: Bool = true
        ) {
            self.spawned = spawned
            self.completed = completed
            self.steals = steals
            self.parkedMax = parkedMax
            self.blockedMax = blockedMax
            self.injectorMaxDepth = injectorMaxDepth
            self.poolMaxQueueDepth = poolMaxQueueDepth
            self.poolCompleted = poolCompleted
            self.busySpread = busySpread
            self.busyWindowSeconds = busyWindowSeconds
            self.hasFibers = hasFibers
            self.hasPool = hasPool
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let steals = try c.decodeIfPresent(UInt64.self, forKey: .steals)
            let poolCompleted = try c.decodeIfPresent(UInt64.self, forKey: .poolCompleted)
            self.init(
                spawned: try c.decode(UInt64.self, forKey: .spawned),
                completed: try c.decode(UInt64.self, forKey: .completed),
                steals: steals ?? 0, parkedMax: try c.decodeIfPresent(Int.self, forKey: .parkedMax) ?? 0,
                blockedMax: try c.decodeIfPresent(Int.self, forKey: .blockedMax) ?? 0,
                injectorMaxDepth: try c.decodeIfPresent(Int.self, forKey: .injectorMaxDepth) ?? 0,
                poolMaxQueueDepth: try c.decodeIfPresent(Int.self, forKey: .poolMaxQueueDepth) ?? 0,
                poolCompleted: poolCompleted ?? 0, busySpread: try c.decode(Double.self, forKey: .busySpread),
                busyWindowSeconds: try c.decodeIfPresent(Double.self, forKey: .busyWindowSeconds),
                hasFibers: steals != nil, hasPool: poolCompleted != nil)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(spawned, forKey: .spawned)
            try c.encode(completed, forKey: .completed)
            // `null` when the run has no such part (never a 0 that means "unknown"), not left out.
            try c.encode(hasFibers ? steals : nil, forKey: .steals)
            try c.encode(hasFibers ? parkedMax : nil, forKey: .parkedMax)
            try c.encode(hasFibers ? blockedMax : nil, forKey: .blockedMax)
            try c.encode(hasFibers ? injectorMaxDepth : nil, forKey: .injectorMaxDepth)
            try c.encode(hasPool ? poolMaxQueueDepth : nil, forKey: .poolMaxQueueDepth)
            try c.encode(hasPool ? poolCompleted : nil, forKey: .poolCompleted)
            try c.encode(busySpread, forKey: .busySpread)
            try c.encode(busyWindowSeconds, forKey: .busyWindowSeconds)
        }
    }

    public struct Kind: Codable, Sendable, Equatable {
        public var kind: String
        public var started: UInt64
        public var completed: UInt64
        public var p50Ms: Double
        public var p99Ms: Double
        /// Completions per second over the run.
        public var throughput: Double
        /// Arrivals dropped at the spec's in-flight cap (null: the source did not count them).
        public var dropped: UInt64?
        /// Tasks that failed, by error kind: never completions (null: the source did not count them).
        public var errors: TaskErrorCounts?

        private enum CodingKeys: String, CodingKey {
            case kind, started, completed, p50Ms, p99Ms, throughput, dropped, errors
        }

        /// Written by hand so a figure the source lacks is `null`, not a missing key.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(started, forKey: .started)
            try c.encode(completed, forKey: .completed)
            try c.encode(p50Ms, forKey: .p50Ms)
            try c.encode(p99Ms, forKey: .p99Ms)
            try c.encode(throughput, forKey: .throughput)
            try c.encode(dropped, forKey: .dropped)
            try c.encode(errors, forKey: .errors)
        }
    }

    public struct Lag: Codable, Sendable, Equatable {
        public var p50Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
        public var slotP99Ms: Double
        public var slowCallbacks: [Culprit]
    }

    /// Slow callbacks (loops) or long blocking regions (fibers) of one culprit.
    public struct Culprit: Codable, Sendable, Equatable {
        public var name: String
        public var count: Int
        public var maxMs: Double
        public var totalMs: Double
        public init(name: String, count: Int, maxMs: Double, totalMs: Double) {
            self.name = name
            self.count = count
            self.maxMs = maxMs
            self.totalMs = totalMs
        }
    }

    /// Summarizes `snapshots` (oldest first). Nil when the sequence is empty.
    public init?(_ snapshots: some Sequence<Snapshot>) {
        var run: [Snapshot] = []
        for s in snapshots {
            if let last = run.last, last.preset != s.preset || s.sequence < last.sequence { run.removeAll() }
            run.append(s)
        }
        guard let first = run.first, let last = run.last else { return nil }
        preset = last.preset
        title = last.presetTitle
        model = last.model
        durationSeconds = Self.round(max(0, last.time - first.time))
        self.snapshots = run.count
        droppedEvents = last.droppedEvents
        memory = last.memory

        // Busy ratios weighted by interval length; maxima over all snapshots.
        var workerBusy: [Int: (weighted: Double, weight: Double)] = [:]
        var workerMaxQueue: [Int: Int] = [:]
        var loopBusy: [Int: (weighted: Double, weight: Double)] = [:]
        var loopMaxReady: [Int: Int] = [:]
        var parkedMax = 0
        var blockedMax = 0
        var injectorMax = 0
        var poolMax = 0
        var culprits: [String: Culprit] = [:]
        var culpritOrder: [String] = []
        var threadsAliveMax = 0
        var threadsBlockedMax = 0
        var threadsQueueMax: Int? = nil
        var previousTime: Double? = nil
        var spreadSum = 0.0
        var spreadWeight = 0.0
        for s in run {
            let dt = previousTime.map { max(0, s.time - $0) } ?? 0
            previousTime = s.time
            let ratios = s.workers.isEmpty ? s.loops.compactMap(\.busyRatio) : s.workers.map(\.busyRatio)
            if dt > 0, ratios.count > 1, let hi = ratios.max(), let lo = ratios.min() {
                spreadSum += (hi - lo) * dt
                spreadWeight += dt
            }
            for w in s.workers {
                if dt > 0 {
                    let acc = workerBusy[w.id] ?? (0, 0)
                    workerBusy[w.id] = (acc.weighted + w.busyRatio * dt, acc.weight + dt)
                }
                workerMaxQueue[w.id] = max(workerMaxQueue[w.id] ?? 0, w.maxQueueDepth, w.queueDepth)
            }
            for l in s.loops {
                if dt > 0, let busy = l.busyRatio {
                    let acc = loopBusy[l.id] ?? (0, 0)
                    loopBusy[l.id] = (acc.weighted + busy * dt, acc.weight + dt)
                }
                if let ready = l.readyDepth {
                    loopMaxReady[l.id] = max(loopMaxReady[l.id] ?? 0, l.maxReadyDepth ?? 0, ready)
                }
            }
            parkedMax = max(parkedMax, s.fibers.parked)
            blockedMax = max(blockedMax, s.fibers.blocked)
            injectorMax = max(injectorMax, s.injectorDepth)
            poolMax = max(poolMax, s.pool?.queueDepth ?? 0)
            if let t = s.threads {
                threadsAliveMax = max(threadsAliveMax, t.peakRecent, t.alive)
                threadsBlockedMax = max(threadsBlockedMax, t.blocked)
                if let d = t.queueDepth { threadsQueueMax = max(threadsQueueMax ?? 0, d, t.queuePeak ?? 0) }
            }
            for e in s.events where e.kind == .slowCallback || (e.kind == .blockingEnd && s.model.usesFibers) {
                let name = e.name ?? "?"
                if culprits[name] == nil { culpritOrder.append(name) }
                var c = culprits[name] ?? Culprit(name: name, count: 0, maxMs: 0, totalMs: 0)
                c.count += 1
                c.maxMs = max(c.maxMs, e.durationMs)
                c.totalMs += e.durationMs
                culprits[name] = c
            }
        }
        func ratio(_ acc: (weighted: Double, weight: Double)?, fallback: Double) -> Double {
            guard let acc, acc.weight > 0 else { return fallback }
            return Self.round(acc.weighted / acc.weight, 4)
        }
        workers = last.workers.map { w in
            Worker(
                id: w.id, runs: w.runs, stealsIn: w.stolenIn, stealsOut: w.stolenOut, stealOps: w.stealOps,
                parks: w.parks, busyRatio: ratio(workerBusy[w.id], fallback: w.busyRatio),
                maxQueueDepth: workerMaxQueue[w.id] ?? w.maxQueueDepth)
        }
        loops = last.loops.map { l in
            var loop = Loop(
                id: l.id, jobsRun: l.jobsRun, slowCallbacks: l.slowCallbacks,
                busyRatio: loopBusy[l.id] == nil ? l.busyRatio : ratio(loopBusy[l.id], fallback: 0),
                maxReadyDepth: loopMaxReady[l.id],
                lagP50Ms: Self.round(l.lag.p50Ms), lagP99Ms: Self.round(l.lag.p99Ms), lagMaxMs: Self.round(l.lag.maxMs),
                readyDelayP99Ms: l.readyDelay.map { Self.round($0.p99Ms) })
            // gevent hub figures (issue 16): the rate over the run, from the first snapshot that had the hub.
            if let g = l.gevent {
                loop.greenletSwitches = g.switches
                let firstSeen = run.lazy.compactMap { s in
                    s.loops.first { $0.id == l.id }?.gevent.map { (time: s.time, hub: $0) }
                }.first
                if let f = firstSeen, last.time > f.time, g.switches >= f.hub.switches {
                    let seconds = last.time - f.time
                    loop.greenletSwitchesPerSecond = Self.round(Double(g.switches - f.hub.switches) / seconds, 1)
                }
                loop.geventMonitorReports = g.monitorReports
                loop.geventMonitorLastCulprit = g.lastReport?.name
            }
            return loop
        }

        let seconds = Self.round(max(0, last.time - first.time))
        taskKinds = last.taskKinds.map { k in
            Kind(
                kind: k.kind, started: k.started, completed: k.completed, p50Ms: Self.round(k.p50Ms),
                p99Ms: Self.round(k.p99Ms),
                throughput: seconds > 0 ? Self.round(Double(k.completed) / seconds, 1) : 0, dropped: k.dropped,
                errors: k.errors)
        }
        totals = Totals(
            spawned: last.taskKinds.reduce(0) { $0 + $1.started },
            completed: last.taskKinds.reduce(0) { $0 + $1.completed },
            steals: last.workers.reduce(0) { $0 + $1.stolenIn }, parkedMax: parkedMax, blockedMax: blockedMax,
            injectorMaxDepth: injectorMax, poolMaxQueueDepth: poolMax, poolCompleted: last.pool?.completed ?? 0,
            busySpread: spreadWeight > 0 ? Self.round(spreadSum / spreadWeight, 4) : 0,
            busyWindowSeconds: last.busyWindowSeconds, hasFibers: last.model.usesFibers, hasPool: last.pool != nil)
        lag = Lag(
            p50Ms: Self.round(last.lag.p50Ms), p99Ms: Self.round(last.lag.p99Ms), maxMs: Self.round(last.lag.maxMs),
            slotP99Ms: Self.round(last.lag.slotP99Ms),
            slowCallbacks: culpritOrder.compactMap { culprits[$0] }.map {
                Culprit(name: $0.name, count: $0.count, maxMs: Self.round($0.maxMs), totalMs: Self.round($0.totalMs))
            }.sorted { ($0.totalMs, $1.name) > ($1.totalMs, $0.name) })
        if let t = last.threads {
            threads = Threads(
                mode: t.mode, capacity: t.capacity, aliveMax: threadsAliveMax, created: t.created,
                createFailed: t.createFailed, refusedAtCap: t.refusedAtCap, blockedMax: threadsBlockedMax,
                queueMax: threadsQueueMax)
        }
        if let d = last.readyDelay {
            readyDelay = Delay(
                p50Ms: Self.round(d.p50Ms, 6), p99Ms: Self.round(d.p99Ms, 6), maxMs: Self.round(d.maxMs, 6),
                samples: d.samples, sampling: d.sampling)
        }
        invariant = last.mnLoop?.invariant
        mnLoopLag = last.mnLoop?.lag.map {
            MNLoopLag(
                p50Ms: Self.round($0.p50Ms), p99Ms: Self.round($0.p99Ms), maxMs: Self.round($0.maxMs),
                slotP99Ms: Self.round($0.slotP99Ms))
        }
    }

    /// Optional figures are written as `null` when unknown (never left out, never 0): see docs/figures.md.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(preset, forKey: .preset)
        try c.encode(title, forKey: .title)
        try c.encode(model, forKey: .model)
        try c.encode(durationSeconds, forKey: .durationSeconds)
        try c.encode(snapshots, forKey: .snapshots)
        try c.encode(workers, forKey: .workers)
        try c.encode(loops, forKey: .loops)
        try c.encode(totals, forKey: .totals)
        try c.encode(taskKinds, forKey: .taskKinds)
        try c.encode(lag, forKey: .lag)
        try c.encode(readyDelay, forKey: .readyDelay)
        try c.encode(droppedEvents, forKey: .droppedEvents)
        try c.encode(invariant, forKey: .invariant)  // `null` when the model has none
        try c.encode(threads, forKey: .threads)
        try c.encode(memory, forKey: .memory)
        try c.encode(mnLoopLag, forKey: .mnLoopLag)  // `null` without an M:N loop heartbeat
    }

    /// Rounds to `places` decimals so the JSON is stable and readable.
    static func round(_ v: Double, _ places: Int = 3) -> Double {
        guard v.isFinite else { return 0 }
        let f = Foundation.pow(10.0, Double(places))
        return (v * f).rounded() / f
    }

    /// One JSON object, keys sorted (stable across runs and replays).
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain structs of numbers and strings cannot fail.
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }

    /// A readable table (what `--headless` prints without `--json`).
    public var table: String {
        var out: [String] = []
        func f(_ v: Double, _ places: Int = 2) -> String { String(format: "%.\(places)f", v) }
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
        out.append("preset   \(preset) — \(title)")
        out.append("model    \(model.rawValue)    duration \(f(durationSeconds, 1)) s    snapshots \(snapshots)")
        if !workers.isEmpty {
            out.append("")
            out.append(
                [
                    pad("worker", 7), lpad("runs", 10), lpad("steal in", 9), lpad("out", 7), lpad("parks", 8),
                    lpad("busy", 6), lpad("max q", 6),
                ].joined(separator: " "))
            for w in workers {
                out.append(
                    [
                        pad("\(w.id)", 7), lpad("\(w.runs)", 10), lpad("\(w.stealsIn)", 9), lpad("\(w.stealsOut)", 7),
                        lpad("\(w.parks)", 8), lpad(f(w.busyRatio), 6), lpad("\(w.maxQueueDepth)", 6),
                    ].joined(separator: " "))
            }
        }
        if !loops.isEmpty {
            out.append("")
            out.append(
                [
                    pad("loop", 7), lpad("jobs", 10), lpad("slow", 6), lpad("busy", 6), lpad("max rdy", 8),
                    lpad("lag p50", 8), lpad("p99", 8), lpad("max ms", 8),
                ].joined(separator: " "))
            for l in loops {
                out.append(
                    [
                        pad("\(l.id)", 7), lpad(l.jobsRun.map { "\($0)" } ?? "n/a", 10), lpad("\(l.slowCallbacks)", 6),
                        lpad(l.busyRatio.map { f($0) } ?? "n/a", 6),
                        lpad(l.maxReadyDepth.map { "\($0)" } ?? "n/a", 8), lpad(f(l.lagP50Ms), 8),
                        lpad(f(l.lagP99Ms), 8),
                        lpad(f(l.lagMaxMs), 8),
                    ].joined(separator: " "))
            }
        }
        out.append("")
        out.append(
            "totals   spawned \(totals.spawned)  completed \(totals.completed)  steals \(totals.steals)  "
                + "parked max \(totals.parkedMax)  blocked max \(totals.blockedMax)  busy spread \(f(totals.busySpread))"
        )
        out.append("")
        out.append(
            [
                pad("kind", 12), lpad("started", 9), lpad("completed", 10), lpad("p50 ms", 9), lpad("p99 ms", 9),
                lpad("per s", 9), lpad("dropped", 8), lpad("errors", 7),
            ].joined(separator: " "))
        for k in taskKinds {
            out.append(
                [
                    pad(k.kind, 12), lpad("\(k.started)", 9), lpad("\(k.completed)", 10), lpad(f(k.p50Ms), 9),
                    lpad(f(k.p99Ms), 9), lpad(f(k.throughput, 1), 9), lpad(k.dropped.map { "\($0)" } ?? "n/a", 8),
                    lpad(k.errors.map { "\($0.total)" } ?? "n/a", 7),
                ].joined(separator: " "))
        }
        out.append("")
        out.append(
            "heartbeat lag  p50 \(f(lag.p50Ms)) ms  p99 \(f(lag.p99Ms)) ms  max \(f(lag.maxMs)) ms  slot p99 \(f(lag.slotP99Ms)) ms"
        )
        if let d = readyDelay {
            out.append(
                "ready → running  p50 \(f(d.p50Ms, 3)) ms  p99 \(f(d.p99Ms, 3)) ms  max \(f(d.maxMs, 3)) ms  "
                    + "(\(d.samples) samples, 1 in \(d.sampling))")
        } else {
            out.append("ready → running  n/a")
        }
        for c in lag.slowCallbacks {
            out.append(
                "  \(model.usesFibers ? "blocking" : "slow callback") \(c.name): \(c.count)×, max \(f(c.maxMs)) ms, total \(f(c.totalMs)) ms"
            )
        }
        if let t = threads {
            out.append("")
            out.append(
                "threads  \(t.mode) \(t.capacity)    alive max \(t.aliveMax)    created \(t.created)    "
                    + "blocked max \(t.blockedMax)    refused: system \(t.createFailed), cap \(t.refusedAtCap)")
        }
        if droppedEvents > 0 { out.append("dropped events: \(droppedEvents)") }
        if let invariant {
            out.append("")
            out.append(
                [
                    pad("invariant", 10), lpad("threads", 8), lpad("rounds", 8), lpad("increments", 11),
                    lpad("lost", 8), lpad("fills", 8), lpad("dup fills", 10),
                ].joined(separator: " "))
            for i in invariant {
                out.append(
                    [
                        pad(i.runtime, 10), lpad("\(i.threads)", 8), lpad("\(i.rounds)", 8),
                        lpad("\(i.increments)", 11),
                        lpad("\(i.lostUpdates)", 8), lpad("\(i.cacheFills)", 8), lpad("\(i.duplicateFills)", 10),
                    ].joined(separator: " "))
            }
        }
        return out.joined(separator: "\n")
    }
}
