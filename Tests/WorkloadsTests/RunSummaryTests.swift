import Foundation
import Telemetry
import Testing

@testable import Workloads

/// RunSummary is a pure function of snapshots: same input, same JSON; replay-safe.
@Suite struct RunSummaryTests {
    static func snapshots() -> [Snapshot] {
        (0..<5).map { i in
            let t = Double(i) * 0.5
            var s = Snapshot(time: t, sequence: UInt64(i), preset: "vt", presetTitle: "VT", model: .virtualThreads)
            s.workers = [
                WorkerSnapshot(
                    id: 0, runs: UInt64(100 * i), stealOps: UInt64(i), stolenIn: UInt64(2 * i), queueDepth: i,
                    maxQueueDepth: i, busyRatio: 0.8),
                WorkerSnapshot(id: 1, runs: UInt64(50 * i), stolenOut: UInt64(2 * i), queueDepth: 0, busyRatio: 0.2),
            ]
            s.fibers = FiberCounts(total: 10, parkedSleep: 3 + i, blockedPinned: i % 2)
            s.taskKinds = [
                TaskKindStats(kind: "web", started: UInt64(10 * i), completed: UInt64(9 * i), p50Ms: 2, p99Ms: 9)
            ]
            s.lag = LagSummary(p50Ms: 0.05, p99Ms: 1.2345678, maxMs: 51, slotP99Ms: 40)
            if i == 2 {
                s.events = [
                    RuntimeEvent(time: t, kind: .blockingEnd, worker: 0, durationMs: 40, name: "disk"),
                    RuntimeEvent(time: t, kind: .steal, worker: 1, other: 0, count: 2),
                ]
            }
            s.droppedEvents = UInt64(i)
            return s
        }
    }

    @Test func summarizesCountersMaximaAndCulprits() throws {
        let s = try #require(RunSummary(Self.snapshots()))
        #expect(s.preset == "vt")
        #expect(s.durationSeconds == 2)
        #expect(s.workers.map(\.runs) == [400, 200])
        #expect(s.workers[0].busyRatio == 0.8)
        #expect(s.workers[1].busyRatio == 0.2)
        #expect(s.workers[0].maxQueueDepth == 4)
        #expect(s.totals.steals == 8)
        #expect(s.totals.parkedMax == 7)
        #expect(s.totals.blockedMax == 1)
        #expect(s.totals.spawned == 40 && s.totals.completed == 36)
        #expect(s.taskKinds[0].throughput == 18)
        #expect(s.lag.p99Ms == 1.235)
        #expect(s.lag.slowCallbacks == [RunSummary.Culprit(name: "disk", count: 1, maxMs: 40, totalMs: 40)])
        #expect(s.droppedEvents == 4)
    }

    @Test func sameSnapshotsGiveTheSameJSONAfterACodableRoundTrip() throws {
        let snaps = Self.snapshots()
        let data = try JSONEncoder().encode(snaps)
        let replayed = try JSONDecoder().decode([Snapshot].self, from: data)
        #expect(RunSummary(snaps)?.jsonText == RunSummary(replayed)?.jsonText)
        let json = try #require(RunSummary(snaps)?.jsonText)
        #expect(json.hasPrefix("{\"droppedEvents\":4,"))
    }

    @Test func aPresetSwitchRestartsTheSummary() throws {
        var snaps = Self.snapshots()
        var other = Snapshot(time: 3, sequence: 5, preset: "asyncio", presetTitle: "A", model: .eventLoop)
        other.loops = [LoopSnapshot(id: 0, jobsRun: 7)]
        snaps.append(other)
        let s = try #require(RunSummary(snaps))
        #expect(s.preset == "asyncio" && s.snapshots == 1 && s.workers.isEmpty && s.loops.count == 1)
        #expect(RunSummary([Snapshot]()) == nil)
    }

    @Test func tableNamesTheCulprit() throws {
        let table = try #require(RunSummary(Self.snapshots())).table
        #expect(table.contains("blocking disk: 1×"))
        #expect(table.contains("heartbeat lag"))
        #expect(table.contains("ready → running  n/a"))
    }

    /// A figure the snapshots do not carry is `null` in the JSON, never 0 and never left out.
    @Test func unknownFiguresAreNullInTheJSON() throws {
        let json = try #require(RunSummary(Self.snapshots())?.jsonText)
        #expect(json.contains("\"readyDelay\":null"))
        #expect(json.contains("\"busyWindowSeconds\":null"))
        var known = Self.snapshots()
        known[known.count - 1].readyDelay = DelaySummary(samples: 9, sampling: 64, p50Ms: 0.004, p99Ms: 0.5, maxMs: 2)
        known[known.count - 1].busyWindowSeconds = 1
        let withDelay = try #require(RunSummary(known)?.jsonText)
        #expect(
            withDelay.contains(
                "\"readyDelay\":{\"maxMs\":2,\"p50Ms\":0.004,\"p99Ms\":0.5,\"samples\":9,\"sampling\":64}"))
        #expect(withDelay.contains("\"busyWindowSeconds\":1"))
        var loop = Snapshot(time: 1, preset: "asyncio", model: .eventLoop)
        loop.loops = [LoopSnapshot(id: 0)]
        let loopJSON = try #require(RunSummary([loop])?.jsonText)
        #expect(loopJSON.contains("\"readyDelayP99Ms\":null"))
        // A loop model has no carriers to steal or park, and this one no pool: null, not 0.
        for key in ["steals", "parkedMax", "blockedMax", "injectorMaxDepth", "poolMaxQueueDepth", "poolCompleted"] {
            #expect(loopJSON.contains("\"\(key)\":null"), "\(key): \(loopJSON)")
        }
        #expect(json.contains("\"steals\":8") && json.contains("\"poolCompleted\":null"))
        // The JSON reads back with the same figures.
        let back = try JSONDecoder().decode(RunSummary.self, from: Data(loopJSON.utf8))
        #expect(back == RunSummary([loop]))
    }
}

/// Per-kind stats and the lag recorder.
@Suite struct StatsTests {
    @Test func kindStatsCountsAndPercentiles() {
        let k = KindStats(name: "web", kind: .io)
        for i in 1...100 {
            k.begin()
            k.end(latencyNanos: UInt64(i) * 1_000_000)
        }
        k.begin()
        let s = k.snapshot(now: 1)
        #expect(s.started == 101 && s.completed == 100 && s.inFlight == 1)
        #expect(abs(s.p50Ms - 50) < 0.1)
        #expect(abs(s.p99Ms - 99) < 0.1)
        #expect(k.snapshot(now: 2).throughput == 0)
    }

    @Test func throughputCoversASecondNotOneFrame() {
        // Two completions a second, sampled at 8 Hz (exact binary times): every figure after the first
        // second reads 2/s, not 0 three frames out of four and 8/s in the fourth.
        let k = KindStats(name: "disk", kind: .blocking)
        var figures: [Double] = []
        for frame in 0...32 {
            if frame % 4 == 0 {
                k.begin()
                k.end(latencyNanos: 50_000_000)
            }
            figures.append(k.snapshot(now: Double(frame) * 0.125).throughput)
        }
        #expect(figures[0] == 0)
        for f in figures[8...] { #expect(abs(f - 2) < 0.01, "\(figures)") }
    }

    @Test func distributionsAreSeededAndBounded() {
        var a = SplitMix64(seed: 7)
        var b = SplitMix64(seed: 7)
        let d = Distribution.exponential(mean: 5, max: 20)
        for _ in 0..<1000 {
            let x = d.sample(&a)
            #expect(x == d.sample(&b))
            #expect(x >= 0 && x <= 20)
        }
        var r = SplitMix64(seed: 1)
        let u = Distribution.uniform(2, 4)
        for _ in 0..<100 {
            let x = u.sample(&r)
            #expect(x >= 2 && x <= 4)
        }
    }
}

/// Arrivals dropped at the in-flight cap are counted, per kind, where they happen.
@Suite struct DroppedArrivalTests {
    @Test func admitCountsEveryArrivalPastTheCap() {
        let stats = KindStats(name: "web", kind: .io)
        #expect(stats.admit(cap: 2) && stats.admit(cap: 2))
        #expect(!stats.admit(cap: 2) && !stats.admit(cap: 2))
        #expect(stats.started == 2 && stats.dropped == 2 && stats.inFlight == 2)
        stats.end(latencyNanos: 1_000_000)
        #expect(stats.admit(cap: 2))
        let snap = stats.snapshot(now: 1)
        #expect(snap.dropped == 2 && snap.started == 3 && snap.inFlight == 2)
    }

    @Test func summaryJSONHasDroppedAndNullWhenTheSourceLacksIt() throws {
        var a = Snapshot(time: 0, sequence: 0, preset: "p", presetTitle: "P", model: .eventLoop)
        a.taskKinds = [TaskKindStats(kind: "web", dropped: 7), TaskKindStats(kind: "old")]
        var b = a
        b.time = 1
        b.sequence = 1
        let s = try #require(RunSummary([a, b]))
        #expect(s.taskKinds.map(\.dropped) == [7, nil])
        #expect(s.jsonText.contains(#""dropped":7"#), "\(s.jsonText)")
        #expect(s.jsonText.contains(#""dropped":null"#), "\(s.jsonText)")
    }

    @Test func maxInFlightIsAPresetFieldOfRateTasksOnly() throws {
        func parse(_ task: String) throws -> Preset {
            try Preset.parse(
                """
                name = "p"
                title = "t"
                explain = "e"
                [scheduler]
                model = "event-loop"
                [task.web]
                kind = "io"
                \(task)
                """, file: "p.toml")
        }
        #expect(try parse("rate = 10\nmax_in_flight = 5").workload.tasks[0].maxInFlight == 5)
        #expect(try parse("rate = 10").workload.tasks[0].maxInFlight == TaskSpec.maxInFlightDefault)
        #expect(
            throws: PresetError(
                file: "p.toml", line: 9,
                message: "task.web.max_in_flight needs rate (a population never exceeds its size)")
        ) {
            try parse("population = 3\nmax_in_flight = 5")
        }
        #expect(
            throws: PresetError(
                file: "p.toml", line: 9, message: "task.web.max_in_flight must be between 1 and 1000000")
        ) {
            try parse("rate = 3\nmax_in_flight = 0")
        }
    }
}
