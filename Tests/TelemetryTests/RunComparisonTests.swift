import Foundation
import Testing

@testable import Telemetry

/// `qvtop compare --headless --json`: both summaries and the differences as one object; like with like,
/// `null` where one side lacks a figure, and a note when the workloads differ.
@Suite struct RunComparisonTests {
    /// Two seconds of a fiber run: two carriers, 10 steals, ready → running measured, kinds web and db.
    static func fibers() -> [Snapshot] {
        (0...20).map { (i: Int) -> Snapshot in
            let t = Double(i) / 10
            return Snapshot(
                time: t, sequence: UInt64(i), preset: "vt-steal", presetTitle: "Virtual threads",
                model: .virtualThreads,
                workers: [
                    WorkerSnapshot(id: 0, runs: 100, stolenIn: 6, busyRatio: 0.9),
                    WorkerSnapshot(id: 1, runs: 80, stolenIn: 4, busyRatio: 0.5),
                ],
                lag: LagSummary(p50Ms: 0.5, p99Ms: 3, maxMs: 9, slotP99Ms: 4),
                readyDelay: DelaySummary(samples: 50, sampling: 64, p50Ms: 0.1, p99Ms: 1.5, maxMs: 2),
                taskKinds: [
                    TaskKindStats(kind: "web", started: 200, completed: UInt64(100 * i), p50Ms: 10, p99Ms: 40),
                    TaskKindStats(kind: "db", started: 20, completed: UInt64(10 * i), p50Ms: 30, p99Ms: 90),
                ])
        }
    }

    /// Two seconds of one asyncio loop: no steals, no ready → running, kinds web and db.
    static func loop(kinds: [String] = ["web", "db"]) -> [Snapshot] {
        (0...20).map { (i: Int) -> Snapshot in
            let t: Double = 0.05 + Double(i) / 10
            let done = UInt64(50 * i)
            let stats: [TaskKindStats] = kinds.map { TaskKindStats(kind: $0, completed: done, p50Ms: 20, p99Ms: 70) }
            return Snapshot(
                time: t, sequence: UInt64(i), preset: "asyncio", presetTitle: "One asyncio loop",
                model: .eventLoop, loops: [LoopSnapshot(id: 0, jobsRun: 500, busyRatio: 0.7)],
                lag: LagSummary(p50Ms: 2, p99Ms: 25, maxMs: 60, slotP99Ms: 50), taskKinds: stats)
        }
    }

    @Test func jsonHoldsBothSummariesAndTheDifferencesWithNullWhereASideLacksAFigure() throws {
        let a = try #require(RunSummary(Self.fibers()))
        let b = try #require(RunSummary(Self.loop()))
        let c = RunComparison(a: a, b: b)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(c.jsonText.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["a", "b", "figures", "sameWorkload", "workloadNote"])
        // `a` and `b` are exactly what `run --headless --json` prints for each run.
        let aJSON = try JSONSerialization.jsonObject(with: Data(a.jsonText.utf8)) as? NSDictionary
        #expect((object["a"] as? NSDictionary) == aJSON)
        #expect((object["b"] as? [String: Any])?["preset"] as? String == "asyncio")
        #expect(object["sameWorkload"] as? Bool == true)
        #expect(object["workloadNote"] is NSNull)

        let figures = try #require(object["figures"] as? [[String: Any]])
        func figure(_ name: String) throws -> [String: Any] {
            try #require(figures.first { $0["name"] as? String == name })
        }
        // Like with like: heartbeat lag against heartbeat lag, B − A.
        let lag = try figure("heartbeat lag p99")
        #expect(lag["a"] as? Double == 3 && lag["b"] as? Double == 25 && lag["difference"] as? Double == 22)
        #expect(lag["unit"] as? String == "ms")
        // The loop measured no ready → running: null on its side and in the difference, never 0.
        let ready = try figure("ready → running p99")
        #expect(ready["a"] as? Double == 1.5 && ready["b"] is NSNull && ready["difference"] is NSNull)
        // A loop does not steal: null, not 0. One loop has no spread: null.
        let steals = try figure("steals")
        #expect(steals["a"] as? Double == 10 && steals["b"] is NSNull)
        let spread = try figure("busy spread")
        #expect(spread["a"] as? Double != nil && spread["b"] is NSNull)
        // Per task kind, matched by name: web throughput 1000/s against 500/s.
        let web = try figure("web /s")
        #expect(web["a"] as? Double == 1000 && web["b"] as? Double == 500 && web["difference"] as? Double == -500)
        let total = try figure("throughput")
        #expect(total["a"] as? Double == 1100 && total["b"] as? Double == 1000)
        // Every figure has all five keys (the errors figures also their parts by error kind).
        for f in figures {
            let extra: Set<String> = (f["name"] as? String)?.hasSuffix(" errors") == true ? ["byKind"] : []
            #expect(Set(f.keys) == Set(["name", "unit", "a", "b", "difference"]).union(extra), "\(f)")
        }
    }

    @Test func differentWorkloadsAreSaidAndAKindOnOneSideIsNullOnTheOther() throws {
        let a = try #require(RunSummary(Self.fibers()))
        let b = try #require(RunSummary(Self.loop(kinds: ["web", "cpu"])))
        let c = RunComparison(a: a, b: b)
        #expect(c.workloadNote == "workloads differ: A runs web, db; B runs web, cpu")
        #expect(c.figure("db p99")?.a == 90 && c.figure("db p99")?.b == nil && c.figure("db p99")?.difference == nil)
        #expect(c.figure("cpu p99")?.a == nil && c.figure("cpu p99")?.b == 70)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(c.jsonText.utf8)) as? [String: Any])
        #expect(object["sameWorkload"] as? Bool == false)
    }

    @Test func theSameKindsWithOtherSpecsAreSaidToDiffer() throws {
        let a = try #require(RunSummary(Self.fibers()))
        let b = try #require(RunSummary(Self.loop()))
        #expect(RunComparison(a: a, b: b, sameTaskSpecs: true).workloadNote == nil)
        #expect(RunComparison(a: a, b: b).workloadNote == nil)
        let c = RunComparison(a: a, b: b, sameTaskSpecs: false)
        #expect(c.workloadNote == "workloads differ: the same task kinds at other rates, durations or seed")
    }

    /// `fibers()` whose web kind failed 3 resets and 2 timeouts and dropped 4 arrivals; db counted none.
    static func fibersWithErrors() -> [Snapshot] {
        fibers().map { (snapshot: Snapshot) -> Snapshot in
            var s = snapshot
            s.taskKinds[0].errors = TaskErrorCounts(reset: 3, timeout: 2)
            s.taskKinds[0].dropped = 4
            s.taskKinds[1].errors = TaskErrorCounts()
            s.taskKinds[1].dropped = 0
            return s
        }
    }

    @Test func errorsAndDropsPerTaskKindAreComparedAndNullWhereASideDidNotCountThem() throws {
        let a = try #require(RunSummary(Self.fibersWithErrors()))
        // `loop()` counts neither errors nor drops, as a format-1 recording reads.
        let b = try #require(RunSummary(Self.loop()))
        let c = RunComparison(a: a, b: b)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(c.jsonText.utf8)) as? [String: Any])
        let figures = try #require(object["figures"] as? [[String: Any]])
        func figure(_ name: String) throws -> [String: Any] {
            try #require(figures.first { $0["name"] as? String == name }, "no figure \(name)")
        }
        let webErrors = try figure("web errors")
        #expect(webErrors["a"] as? Double == 5 && webErrors["b"] is NSNull && webErrors["difference"] is NSNull)
        #expect(webErrors["unit"] as? String == "tasks")
        let byKind = try #require(webErrors["byKind"] as? [String: [String: Any]])
        #expect(Set(byKind.keys) == ["reset", "timeout", "refused", "other"])
        #expect(byKind["reset"]?["a"] as? Double == 3 && byKind["timeout"]?["a"] as? Double == 2)
        #expect(byKind["refused"]?["a"] as? Double == 0 && byKind["reset"]?["b"] is NSNull)
        let webDropped = try figure("web dropped")
        #expect(webDropped["a"] as? Double == 4 && webDropped["b"] is NSNull && webDropped["difference"] is NSNull)
        // Counted and none: 0, not null.
        let dbErrors = try figure("db errors")
        #expect(dbErrors["a"] as? Double == 0 && dbErrors["b"] is NSNull)
        #expect(try figure("db dropped")["a"] as? Double == 0)
        // Both sides counted: B − A per error kind and in total.
        let both = RunComparison(a: b, b: a)
        #expect(both.figure("web errors")?.difference == nil)
        let self2 = RunComparison(
            a: try #require(
                RunSummary(
                    Self.fibers().map { (x: Snapshot) -> Snapshot in
                        var s = x
                        s.taskKinds[0].errors = TaskErrorCounts(timeout: 7)
                        s.taskKinds[0].dropped = 1
                        return s
                    })), b: a)
        #expect(self2.figure("web errors")?.difference == -2)
        #expect(self2.figure("web errors")?.byKind?["timeout"]?.difference == -5)
        #expect(self2.figure("web errors")?.byKind?["reset"]?.difference == 3)
        #expect(self2.figure("web dropped")?.difference == 3)
        // Strip order: each kind's errors and drops follow its throughput.
        let names = c.figures.map(\.name)
        let web = try #require(names.firstIndex(of: "web /s"))
        #expect(Array(names[web...].prefix(3)) == ["web /s", "web errors", "web dropped"])
    }

    /// Memory per parked task (issue 15) is in each side's summary, `null` when that run did not measure it, and is
    /// no strip figure (never a row that reads 0 for "unknown").
    @Test func memoryPerParkedTaskIsNullInSummariesThatDidNotMeasureIt() throws {
        let c = RunComparison(
            a: try #require(RunSummary(Self.fibersWithErrors())), b: try #require(RunSummary(Self.loop())))
        #expect(!c.figures.contains { $0.name.contains("memory") || $0.name.contains("parked") })
        #expect(c.jsonText.components(separatedBy: "\"memory\":null").count == 3, "\(c.jsonText)")
    }
}
