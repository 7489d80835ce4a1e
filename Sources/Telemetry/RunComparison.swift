// RunComparison: two runs side by side, figure by figure (`qvtop compare A B`).
//
// Built from two `RunSummary` values only (so a live pair of runs and their recordings compare the same),
// it lists the headline figures in one order: heartbeat lag p99 and max, slot p99, ready → running p99
// and max, throughput; per task kind latency p50/p99, throughput, errors and drops; steals, busy spread. Like is
// compared with like: each figure is one definition read the same way on both sides (heartbeat lag with
// heartbeat lag, ready → running with ready → running — never one in place of the other). A figure one
// side cannot provide is nil on that side (JSON `null`, "n/a" on screen) and so is the difference:
//
// - ready → running: nil when the source measured none (`RunSummary.readyDelay`);
// - steals: nil for loop models (there is no stealing to count, so 0 would claim a measurement);
// - busy spread: nil with fewer than two carriers or loops (highest − lowest of one is no spread);
// - a task kind's figures: nil on the side whose workload has no such kind;
// - a task kind's errors and drops: nil also where the source did not count them (`TaskKindStats.errors`
//   and `.dropped` are nil: a format-1 recording). The errors figure carries the count by error kind
//   (`byKind`: reset, timeout, refused, other) in the JSON; the strip shows the total.
//
// The difference is B − A in the figure's unit. When the two workloads differ — other task kinds, or
// (when the caller could read both presets) the same kinds with other specs or seed — the comparison
// says so (`workloadNote`): a difference in latency then compares different work.
// Memory per parked task is not a figure of the strip yet: each side's summary carries it (`memory`, null when
// that run did not measure it), and the threads-vs-fibers comparison row comes with the threads model.

import Foundation

/// The headline figures of two runs, A and B, and their differences.
public struct RunComparison: Sendable, Equatable, Encodable {
    public var a: RunSummary
    public var b: RunSummary
    public var figures: [Figure]
    /// Nil when both runs have the same task kinds; else what differs (shown on the strip).
    public var workloadNote: String?

    /// One headline figure of both runs.
    public struct Figure: Sendable, Equatable, Encodable {
        /// The name on screen and in the JSON (`heartbeat lag p99`, `web p99`).
        public var name: String
        /// `ms`, `/s`, `fibers`, `ratio`, `tasks` (failed or dropped tasks, a count).
        public var unit: String
        public var a: Double?
        public var b: Double?
        /// True when any non-zero value is a fault (failed tasks, drops): the strip draws it red.
        public var alarm: Bool
        /// The errors figure's parts by error kind (`reset`, `timeout`, `refused`, `other`); nil for others.
        public var byKind: [String: Figure]?

        public init(
            name: String, unit: String, a: Double?, b: Double?, alarm: Bool = false, byKind: [String: Figure]? = nil
        ) {
            self.name = name
            self.unit = unit
            self.a = a
            self.b = b
            self.alarm = alarm
            self.byKind = byKind
        }

        /// B − A; nil when either side lacks the figure.
        public var difference: Double? {
            guard let a, let b else { return nil }
            return RunSummary.round(b - a)
        }

        enum CodingKeys: String, CodingKey { case name, unit, a, b, difference, byKind }

        /// Every key always present; a missing figure is `null`. `byKind` only on the errors figures.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(unit, forKey: .unit)
            try c.encode(a, forKey: .a)
            try c.encode(b, forKey: .b)
            try c.encode(difference, forKey: .difference)
            try c.encodeIfPresent(byKind, forKey: .byKind)
        }
    }

    /// `sameTaskSpecs`: whether the two presets' workloads (task specs and seed) are equal, when the caller
    /// knows (the recordings hold the presets' text); nil: judge by the task kinds alone.
    public init(a: RunSummary, b: RunSummary, sameTaskSpecs: Bool? = nil) {
        self.a = a
        self.b = b
        let kindsA = a.taskKinds.map(\.kind)
        let kindsB = b.taskKinds.map(\.kind)
        let kinds = kindsA + kindsB.filter { !kindsA.contains($0) }
        var f: [Figure] = []
        func add(_ name: String, _ unit: String, _ read: (RunSummary) -> Double?) {
            f.append(Figure(name: name, unit: unit, a: read(a), b: read(b)))
        }
        add("heartbeat lag p99", "ms") { $0.lag.p99Ms }
        add("heartbeat lag max", "ms") { $0.lag.maxMs }
        add("slot p99", "ms") { $0.lag.slotP99Ms }
        add("ready → running p99", "ms") { $0.readyDelay?.p99Ms }
        add("ready → running max", "ms") { $0.readyDelay?.maxMs }
        add("throughput", "/s") { s in RunSummary.round(s.taskKinds.reduce(0) { $0 + $1.throughput }, 1) }
        for k in kinds {
            add("\(k) p50", "ms") { s in s.taskKinds.first { $0.kind == k }?.p50Ms }
            add("\(k) p99", "ms") { s in s.taskKinds.first { $0.kind == k }?.p99Ms }
            add("\(k) /s", "/s") { s in s.taskKinds.first { $0.kind == k }?.throughput }
            func errors(_ s: RunSummary) -> TaskErrorCounts? { s.taskKinds.first { $0.kind == k }?.errors }
            var parts: [String: Figure] = [:]
            for e in TaskErrorKind.allCases {
                parts[e.rawValue] = Figure(
                    name: e.rawValue, unit: "tasks", a: errors(a).map { Double($0[e]) },
                    b: errors(b).map { Double($0[e]) }, alarm: true)
            }
            f.append(
                Figure(
                    name: "\(k) errors", unit: "tasks", a: errors(a).map { Double($0.total) },
                    b: errors(b).map { Double($0.total) }, alarm: true, byKind: parts))
            func dropped(_ s: RunSummary) -> Double? { s.taskKinds.first { $0.kind == k }?.dropped.map { Double($0) } }
            f.append(Figure(name: "\(k) dropped", unit: "tasks", a: dropped(a), b: dropped(b), alarm: true))
        }
        add("steals", "fibers") { s in s.model.usesFibers ? Double(s.totals.steals) : nil }
        add("busy spread", "ratio") { s in max(s.workers.count, s.loops.count) >= 2 ? s.totals.busySpread : nil }
        figures = f
        if Set(kindsA) == Set(kindsB) {
            workloadNote =
                sameTaskSpecs == false ? "workloads differ: the same task kinds at other rates, durations or seed" : nil
        } else {
            func list(_ k: [String]) -> String { k.isEmpty ? "none" : k.joined(separator: ", ") }
            workloadNote = "workloads differ: A runs \(list(kindsA)); B runs \(list(kindsB))"
        }
    }

    /// The figure named `name`, if listed.
    public func figure(_ name: String) -> Figure? { figures.first { $0.name == name } }

    enum CodingKeys: String, CodingKey { case a, b, figures, workloadNote, sameWorkload }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(a, forKey: .a)
        try c.encode(b, forKey: .b)
        try c.encode(figures, forKey: .figures)
        try c.encode(workloadNote == nil, forKey: .sameWorkload)
        try c.encode(workloadNote, forKey: .workloadNote)
    }

    /// One JSON object, keys sorted: `a` and `b` (each run's summary, as `run --headless --json` prints
    /// it), `figures` (in strip order), `sameWorkload`, `workloadNote`.
    public var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding plain structs of numbers and strings cannot fail.
        return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
    }
}
