// Presets: a scheduler model, its parameters and a workload, read from a TOML file.
//
// # The file format (documented field by field in docs/presets.md)
//
//     name = "vt-steal"                  # short name: --preset vt-steal
//     title = "Virtual threads, work stealing"
//     explain = """What to watch for…"""
//     [scheduler]
//     model = "virtual-threads"          # event-loop | loop-per-thread | virtual-threads | green-threads
//     carriers = 2
//     [task.web]                         # one table per task spec; `web` is its label on screen
//     kind = "io"
//     rate = 200
//     duration_ms = [2, 8]
//
// # Errors: one line, exact, never a crash
//
// Every problem becomes one `PresetError` rendered as `FILE:LINE: FIELD RULE`, e.g.
// `presets/vt.toml:12: scheduler.carriers must be between 1 and 256`. Unknown fields are errors:
// a typo must not silently fall back to a default, because the user would then watch the wrong
// experiment. TOMLKit reports lines only for syntax errors, so the line of a field comes from
// `TOMLLineIndex`, a small scanner over the text that maps dotted key paths to lines.
//
// Rejected: decoding with `TOMLDecoder` into Codable structs. It silently ignores unknown keys and
// its errors name Swift coding paths, not the user's field and rule.

import Foundation
import Runtime
import TOMLKit
import Telemetry

/// A preset: everything needed to start a model and drive a workload on it.
public struct Preset: Sendable, Equatable {
    /// Short name (`--preset NAME`).
    public var name: String
    /// One-line title.
    public var title: String
    /// One paragraph: what to watch for.
    public var explain: String
    public var scheduler: SchedulerConfig
    public var workload: Workload
    /// The file it came from (as given or found), for `qvtop presets` and error lines.
    public var source: String
    /// The TOML text it was parsed from ("" for a preset built in code), kept so that recordings
    /// store it without reading the file again.
    public var text: String

    public init(
        name: String, title: String, explain: String, scheduler: SchedulerConfig, workload: Workload,
        source: String = "", text: String = ""
    ) {
        self.name = name
        self.title = title
        self.explain = explain
        self.scheduler = scheduler
        self.workload = workload
        self.source = source
        self.text = text
    }
}

/// The scheduler half of a preset. Fields a model does not use are rejected at parse time. The
/// fiber policies are the runtime's own enums (their raw values are the TOML spellings).
public struct SchedulerConfig: Sendable, Equatable {
    public var model: SchedulerModel
    /// Fiber models: carrier threads (green-threads: exactly 1).
    public var carriers: Int
    /// What an idle carrier steals from a victim's queue.
    public var steal: Scheduler.StealPolicy
    /// What a carrier does when a fiber enters a `blocking {}` region: held (`pin`, Java) or its
    /// queue passed to a spare carrier (`handoff`, Go).
    public var blocking: BlockingPolicy
    /// Loop models: number of loops (event-loop: exactly 1).
    public var loops: Int
    /// Loop models: `to_thread` pool threads (0 = no pool).
    public var pool: Int
    /// loop-per-thread: one pool shared by every loop instead of one per loop.
    public var sharedPool: Bool
    /// Loop models: task kinds whose body runs in `to_thread` instead of on the loop.
    public var offload: [TaskKind]
    /// Heartbeat period for loop lag / scheduling delay, ms.
    public var heartbeatMs: Double
    /// Loop models: a job longer than this is a slow callback, ms.
    public var slowCallbackMs: Double
    /// Fiber models: a fiber holding its carrier this long without a scheduling point is reported by the
    /// scheduler's monitor as a blocking region, ms (0 = no monitor).
    public var hogThresholdMs: Double = 10
    // The asyncio invariant (issue 15).
    /// asyncio-mn: threads of the M:N event loop (the single loop beside it has one).
    public var mnLoopThreads: Int = 4
    // Plain OS threads (the threads model).
    /// threads: a new thread per task up to a cap, or a fixed pool (`[scheduler] threads = { mode = … }`).
    public var threads: ThreadsMode = .perTask(cap: ThreadsMode.defaultCap)

    public init(
        model: SchedulerModel, carriers: Int = 2, steal: Scheduler.StealPolicy = .half,
        blocking: BlockingPolicy = .handoff, loops: Int = 1,
        pool: Int = 0, sharedPool: Bool = false, offload: [TaskKind] = [], heartbeatMs: Double = 1,
        slowCallbackMs: Double = 10
    ) {
        self.model = model
        self.carriers = carriers
        self.steal = steal
        self.blocking = blocking
        self.loops = loops
        self.pool = pool
        self.sharedPool = sharedPool
        self.offload = offload
        self.heartbeatMs = heartbeatMs
        self.slowCallbackMs = slowCallbackMs
    }
}

/// One problem with one preset file, rendered as one line: `FILE:LINE: MESSAGE` (LINE when known).
public struct PresetError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    /// The field and the rule, e.g. `scheduler.carriers must be between 1 and 256`.
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

// MARK: - Parsing

extension Preset {
    /// Parses preset TOML `text`; `file` is used in error lines and kept as `source`.
    public static func parse(_ text: String, file: String) throws(PresetError) -> Preset {
        let root: TOMLTable
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PresetError(file: file, line: error.source.begin.line, message: "invalid TOML: \(error.description)")
        } catch {
            throw PresetError(file: file, message: "invalid TOML: \(error)")
        }
        let index = TOMLLineIndex(text)
        let reader = FieldReader(table: root, path: "", file: file, index: index)
        var preset = try PresetParser(file: file, index: index).preset(reader)
        preset.text = text
        return preset
    }

    /// Reads and parses the file at `path`. `display` is how the path appears in error lines.
    public static func load(path: String, display: String? = nil) throws(PresetError) -> Preset {
        let shown = display ?? path
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
                throw PresetError(file: shown, message: isDir.boolValue ? "is a directory" : "cannot be read")
            }
            throw PresetError(file: shown, message: "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PresetError(file: shown, message: "is not UTF-8 text")
        }
        return try parse(text, file: shown)
    }
}

/// Turns the TOML tree into a `Preset`, applying every rule. One instance per file.
private struct PresetParser {
    var file: String
    var index: TOMLLineIndex

    static let schedulerFieldsByModel: [SchedulerModel: [String]] = [
        .eventLoop: ["model", "loops", "pool", "offload", "heartbeat_ms", "slow_callback_ms"],
        .loopPerThread: ["model", "loops", "pool", "shared_pool", "offload", "heartbeat_ms", "slow_callback_ms"],
        .virtualThreads: ["model", "carriers", "steal", "blocking", "heartbeat_ms", "hog_threshold_ms"],
        .greenThreads: ["model", "carriers", "blocking", "heartbeat_ms", "hog_threshold_ms"],
        // The asyncio invariant (issue 15).
        .asyncioMN: ["model", "threads", "heartbeat_ms", "slow_callback_ms"],
        .threads: ["model", "threads", "heartbeat_ms"],
    ]
    static let commonTaskFields = ["kind", "rate", "population", "duration_ms", "placement", "max_in_flight"]
    static let taskFieldsByKind: [TaskKind: [String]] = [
        .io: ["io", "reset_share", "timeout_ms"], .cpu: [], .blocking: ["call"], .fanout: ["children", "child"],
        .chatty: ["producers", "consumers", "messages", "capacity"],
        .http: ["requests", "body_bytes", "duplex", "reset_share"],
    ]

    func preset(_ r: FieldReader) throws(PresetError) -> Preset {
        try r.rejectUnknown(allowed: ["name", "title", "explain", "seed", "scheduler", "task", "invariant", "park"])
        let name = try r.string("name", required: true)!
        guard !name.isEmpty, name.count <= 32,
            name.unicodeScalars.allSatisfy({
                CharacterSet.lowercaseLetters.contains($0) || "0123456789-".unicodeScalars.contains($0)
            })
        else {
            throw r.error("name", "name must be 1 to 32 characters of a-z, 0-9 and -")
        }
        let title = try r.string("title", required: true)!
        guard !title.isEmpty, title.count <= 80 else { throw r.error("title", "title must be 1 to 80 characters") }
        let explain = try r.string("explain", required: true)!
        guard !explain.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw r.error("explain", "explain must not be empty")
        }
        let seed = try r.int("seed", in: 0...Int.max) ?? 0x5EED
        let schedulerReader = try r.table("scheduler", required: true)!
        let scheduler = try schedulerConfig(schedulerReader)
        // The asyncio invariant (issue 15): asyncio-mn runs the [invariant] workload instead of task tables.
        let invariant = try invariantSpec(r, scheduler: scheduler)
        let tasks =
            invariant != nil ? [] : try taskSpecs(r.table("task", required: true)!, scheduler: scheduler)
        try checkOffloadHasWork(scheduler, tasks, schedulerReader)
        let drawsDurations = tasks.contains { t in
            if case .fixed = t.duration { return false }
            return true
        }
        if r.has("seed") && !drawsDurations {
            throw r.error("seed", "seed has no effect: every duration_ms is fixed (nothing is drawn)")
        }
        var workload = Workload(tasks: tasks, seed: UInt64(seed), park: try parkSpec(r, scheduler: scheduler))
        workload.invariant = invariant
        return Preset(
            name: name, title: title, explain: explain, scheduler: scheduler, workload: workload, source: file)
    }

    // The asyncio invariant (issue 15).
    /// The `[invariant]` table: required for asyncio-mn (which has no task tables), rejected elsewhere.
    func invariantSpec(_ r: FieldReader, scheduler: SchedulerConfig) throws(PresetError) -> InvariantSpec? {
        guard scheduler.model == .asyncioMN else {
            if r.has("invariant") {
                throw r.error("invariant", "invariant: an [invariant] table needs scheduler.model = \"asyncio-mn\"")
            }
            return nil
        }
        if r.has("task") {
            throw r.error(
                "task", "task: model asyncio-mn runs the [invariant] workload; it takes no [task.NAME] tables")
        }
        guard let t = try r.table("invariant", required: true) else { return nil }
        try t.rejectUnknown(allowed: ["tasks", "steps", "window_us", "cache_keys", "pause_ms"])
        var spec = InvariantSpec()
        spec.tasks = try t.int("tasks", in: 2...256) ?? spec.tasks
        spec.steps = try t.int("steps", in: 1...10_000) ?? spec.steps
        spec.windowMicros = try t.double("window_us", in: 0...10_000) ?? spec.windowMicros
        spec.cacheKeys = try t.int("cache_keys", in: 1...4096) ?? spec.cacheKeys
        spec.pauseMs = try t.double("pause_ms", in: 0...10_000) ?? spec.pauseMs
        return spec
    }

    /// `park = { count = N, on = "sleep" | "socket" }` (Parking.swift; the threads model's: ThreadParking.swift).
    /// Fiber models, and the threads model in per-task mode (a thread of its own per parked task).
    func parkSpec(_ r: FieldReader, scheduler: SchedulerConfig) throws(PresetError) -> ParkSpec? {
        guard let t = try r.table("park") else { return nil }
        try t.rejectUnknown(allowed: ["count", "on"])
        var most = ParkSpec.maxCount
        if scheduler.model == .threads {
            guard case .perTask = scheduler.threads else {
                throw r.error("park", "park needs threads.mode = \"per-task\" (a thread of its own per parked task)")
            }
            most = ThreadParker.maxCount
        } else if !scheduler.model.usesFibers {
            throw r.error("park", "park needs a fiber model (virtual-threads or green-threads) or model threads")
        }
        guard let count = try t.int("count", in: 1...most) else {
            throw r.error("park", "park.count is required")
        }
        return ParkSpec(count: count, on: try t.enumeration("on", ParkWait.self) ?? .sleep)
    }

    func schedulerConfig(_ r: FieldReader) throws(PresetError) -> SchedulerConfig {
        let modelName = try r.string("model", required: true)!
        guard let model = SchedulerModel(rawValue: modelName) else {
            throw r.error(
                "model",
                "scheduler.model must be one of \(SchedulerModel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let allowed = Self.schedulerFieldsByModel[model]!
        for key in r.keys where !allowed.contains(key) {
            throw r.error(
                key,
                "scheduler.\(key) is not a field of model \(model.rawValue) (fields: \(allowed.joined(separator: ", ")))"
            )
        }
        var c = SchedulerConfig(model: model)
        switch model {
        case .eventLoop:
            c.loops = try r.int("loops", in: 1...1, rule: "scheduler.loops must be 1 for model event-loop") ?? 1
        case .loopPerThread:
            c.loops = try r.int("loops", in: 1...64) ?? 2
            c.sharedPool = try r.bool("shared_pool") ?? false
        case .virtualThreads:
            c.carriers = try r.int("carriers", in: 1...256) ?? 2
            c.steal = try r.enumeration("steal", Scheduler.StealPolicy.self) ?? .half
            c.blocking = try r.enumeration("blocking", BlockingPolicy.self) ?? .handoff
            if c.carriers == 1 && r.has("steal") {
                throw r.error(
                    "steal", "scheduler.steal needs carriers of at least 2 (one carrier has nobody to steal from)")
            }
        case .greenThreads:
            c.carriers =
                try r.int("carriers", in: 1...1, rule: "scheduler.carriers must be 1 for model green-threads") ?? 1
            c.steal = .none
            c.blocking = try r.enumeration("blocking", BlockingPolicy.self) ?? .pin
        case .asyncioMN:
            c.mnLoopThreads = try r.int("threads", in: 2...64) ?? 4
        case .threads:
            c.threads = try threadsMode(r)
        }
        if model == .threads {
            // Plain OS threads: no pool, offload or slow callbacks (loops), no hog monitor (fibers).
        } else if !model.usesFibers {
            c.pool = try r.int("pool", in: 0...256) ?? 0
            let names = try r.stringArray("offload") ?? []
            var kinds: [TaskKind] = []
            for n in names {
                // Not io: an io wait already leaves the loop free, there is nothing to offload.
                guard let k = TaskKind(rawValue: n), k == .cpu || k == .blocking else {
                    throw r.error("offload", "scheduler.offload entries must be cpu or blocking (got \"\(n)\")")
                }
                if !kinds.contains(k) { kinds.append(k) }
            }
            c.offload = kinds
            if !kinds.isEmpty && c.pool == 0 {
                throw r.error("offload", "scheduler.offload needs scheduler.pool of at least 1")
            }
            if kinds.isEmpty && c.pool > 0 {
                throw r.error("pool", "scheduler.pool needs scheduler.offload (nothing runs in to_thread otherwise)")
            }
            if c.sharedPool && c.pool == 0 {
                throw r.error("shared_pool", "scheduler.shared_pool needs scheduler.pool of at least 1")
            }
            c.slowCallbackMs = try r.double("slow_callback_ms", in: 0.1...10_000) ?? 10
        } else {
            c.hogThresholdMs = try r.double("hog_threshold_ms", in: 0...10_000) ?? 10
        }
        c.heartbeatMs = try r.double("heartbeat_ms", in: 0.1...1000) ?? 1
        return c
    }

    /// threads: `threads = { mode = "per-task", cap = N }` or `{ mode = "pool", size = N }` (default: per-task,
    /// cap `ThreadsMode.defaultCap`). A field of the other mode is rejected: it would have no effect.
    func threadsMode(_ scheduler: FieldReader) throws(PresetError) -> ThreadsMode {
        guard let r = try scheduler.table("threads") else { return .perTask(cap: ThreadsMode.defaultCap) }
        let mode = try r.string("mode") ?? "per-task"
        let fields = ["per-task": ["mode", "cap"], "pool": ["mode", "size"]]
        guard let allowed = fields[mode] else {
            throw r.error("mode", "scheduler.threads.mode must be one of per-task, pool")
        }
        for key in r.keys where !allowed.contains(key) {
            throw r.error(
                key,
                "scheduler.threads.\(key) is not a field of mode \(mode) (fields: \(allowed.joined(separator: ", ")))")
        }
        if mode == "pool" {
            return .pool(size: try r.int("size", in: 1...ThreadsMode.limit) ?? 64)
        }
        return .perTask(cap: try r.int("cap", in: 1...ThreadsMode.limit) ?? ThreadsMode.defaultCap)
    }

    /// threads: what a plain OS thread cannot run yet, and what a fixed pool cannot run at all.
    func checkThreadsCanRun(_ c: SchedulerConfig, _ spec: TaskSpec, _ r: FieldReader) throws(PresetError) {
        guard c.model == .threads else { return }
        if spec.kind == .io && spec.io == .socket {
            throw r.error(
                "io", "\(r.path).io = \"socket\" is not available on model threads (its loopback server runs on fibers)"
            )
        }
        if case .pool = c.threads, spec.kind == .fanout || spec.kind == .chatty || (spec.kind == .http && spec.duplex) {
            throw r.error(
                "kind",
                "\(r.path).kind = \"\(spec.kind.rawValue)\" needs threads.mode = \"per-task\" (a task waiting for "
                    + "tasks queued behind it on a fixed pool can deadlock the pool)")
        }
    }

    /// Each offloaded kind must have work to offload: `cpu` covers cpu tasks, cpu fan-out children and
    /// chatty consumers' work per message; `blocking` covers blocking tasks.
    func checkOffloadHasWork(_ c: SchedulerConfig, _ tasks: [TaskSpec], _ r: FieldReader) throws(PresetError) {
        for kind in c.offload {
            let has = tasks.contains { t in
                switch kind {
                case .cpu: t.kind == .cpu || t.kind == .chatty || (t.kind == .fanout && t.child == .cpu)
                default: t.kind == kind
                }
            }
            guard has else {
                throw r.error(
                    "offload", "scheduler.offload lists \(kind.rawValue), but no task does \(kind.rawValue) work")
            }
        }
    }

    func taskSpecs(_ tasks: FieldReader, scheduler: SchedulerConfig) throws(PresetError) -> [TaskSpec] {
        // File order, not the table's (sorted) key order: the dashboard lists kinds as the file does.
        let names = tasks.keys
        guard !names.isEmpty else {
            throw PresetError(
                file: file, line: index.line(of: "task"), message: "task: a preset needs at least one [task.NAME] table"
            )
        }
        guard names.count <= 16 else { throw tasks.error("", "task: at most 16 task tables") }
        var specs: [TaskSpec] = []
        for name in names {
            guard !name.isEmpty, name.count <= 16,
                name.unicodeScalars.allSatisfy({
                    CharacterSet.alphanumerics.contains($0) || "-_".unicodeScalars.contains($0)
                })
            else {
                throw tasks.error(
                    name, "task.\(name): task names must be 1 to 16 characters of letters, digits, - and _")
            }
            guard let t = try tasks.table(name, required: true) else { continue }
            specs.append(try taskSpec(t, name: name, scheduler: scheduler))
        }
        return specs
    }

    func taskSpec(_ r: FieldReader, name: String, scheduler: SchedulerConfig) throws(PresetError) -> TaskSpec {
        let kindName = try r.string("kind", required: true)!
        guard let kind = TaskKind(rawValue: kindName) else {
            throw r.error(
                "kind", "\(r.path).kind must be one of \(TaskKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let allowed = Self.commonTaskFields + Self.taskFieldsByKind[kind]!
        for key in r.keys where !allowed.contains(key) {
            throw r.error(
                key,
                "\(r.path).\(key) is not a field of kind \(kind.rawValue) (fields: \(allowed.joined(separator: ", ")))")
        }
        let rate = try r.double("rate", in: 0.1...100_000)
        let population = try r.int("population", in: 1...TaskSpec.populationLimit)
        let arrival: Arrival
        switch (rate, population) {
        case (let rate?, nil): arrival = .rate(rate)
        case (nil, let population?): arrival = .population(population)
        default: throw r.error("", "\(r.path) needs exactly one of rate or population")
        }
        var spec = TaskSpec(
            name: name, kind: kind, arrival: arrival,
            duration: try r.distribution("duration_ms") ?? .fixed(kind == .chatty ? 0 : 1),
            placement: try r.enumeration("placement", Placement.self) ?? .spread)
        if spec.placement == .first && scheduler.model == .threads {
            throw r.error(
                "placement",
                "\(r.path).placement has no effect on model threads (there are no run queues: the kernel places threads)"
            )
        }
        if spec.placement == .first && !scheduler.model.usesFibers && scheduler.loops == 1 {
            throw r.error(
                "placement",
                "\(r.path).placement = \"first\" needs more than one loop (every task is on loop 0 already)")
        }
        if let cap = try r.int("max_in_flight", in: 1...TaskSpec.maxInFlightLimit) {
            guard rate != nil else {
                throw r.error(
                    "max_in_flight", "\(r.path).max_in_flight needs rate (a population never exceeds its size)")
            }
            spec.maxInFlight = cap
        }
        switch kind {
        case .io:
            spec.io = try r.enumeration("io", IOMode.self) ?? .sleep
            spec.resetShare = try r.double("reset_share", in: 0...1) ?? 0
            spec.timeoutMs = try r.double("timeout_ms", in: 0.1...60_000)
            for key in ["reset_share", "timeout_ms"] where spec.io != .socket && r.has(key) {
                throw r.error(key, "\(r.path).\(key) needs io = \"socket\" (only the loopback server can fail)")
            }
        case .cpu: break
        case .blocking: spec.call = try r.enumeration("call", BlockingCall.self) ?? .nanosleep
        case .fanout:
            spec.children = try r.int("children", in: 1...1000) ?? 4
            let child = try r.string("child") ?? "cpu"
            guard let c = TaskKind(rawValue: child), c == .cpu || c == .io else {
                throw r.error("child", "\(r.path).child must be one of cpu, io")
            }
            spec.child = c
        case .chatty:
            spec.producers = try r.int("producers", in: 1...64) ?? 1
            spec.consumers = try r.int("consumers", in: 1...64) ?? 1
            spec.messages = try r.int("messages", in: 1...100_000) ?? 100
            spec.capacity = try r.int("capacity", in: 0...65_536) ?? 16
        case .http:
            spec.requests = try r.int("requests", in: 1...1000) ?? 4
            spec.bodyBytes = try r.int("body_bytes", in: 0...HTTPHead.maxBody) ?? 256
            spec.duplex = try r.bool("duplex") ?? false
            spec.resetShare = try r.double("reset_share", in: 0...1) ?? 0
        }
        try checkThreadsCanRun(scheduler, spec, r)
        return spec
    }
}

/// Typed access to one TOML table with its dotted path, so each error names the field and its line.
private struct FieldReader {
    var table: TOMLTable
    /// Dotted path of this table ("" for the root, "scheduler", "task.web").
    var path: String
    var file: String
    var index: TOMLLineIndex

    /// Keys in file order, so the first error reported is the first one in the file.
    var keys: [String] {
        table.keys.sorted { (index.line(of: full($0)) ?? 0, $0) < (index.line(of: full($1)) ?? 0, $1) }
    }

    func full(_ key: String) -> String {
        if key.isEmpty { return path }
        return path.isEmpty ? key : "\(path).\(key)"
    }

    func error(_ key: String, _ message: String) -> PresetError {
        PresetError(file: file, line: index.line(of: full(key)), message: message)
    }

    func rejectUnknown(allowed: [String]) throws(PresetError) {
        for key in keys where !allowed.contains(key) {
            throw error(key, "\(full(key)) is not a known field (fields: \(allowed.joined(separator: ", ")))")
        }
    }

    func has(_ key: String) -> Bool { table[key] != nil }

    private func value(_ key: String, required: Bool) throws(PresetError) -> TOMLValueConvertible? {
        guard let v = table[key] else {
            if required { throw error("", "\(full(key)) is required") }
            return nil
        }
        return v
    }

    func string(_ key: String, required: Bool = false) throws(PresetError) -> String? {
        guard let v = try value(key, required: required) else { return nil }
        guard let s = v.string else { throw error(key, "\(full(key)) must be a string") }
        return s
    }

    func bool(_ key: String) throws(PresetError) -> Bool? {
        guard let v = try value(key, required: false) else { return nil }
        guard let b = v.bool else { throw error(key, "\(full(key)) must be true or false") }
        return b
    }

    func int(_ key: String, in range: ClosedRange<Int>, rule: String? = nil) throws(PresetError) -> Int? {
        guard let v = try value(key, required: false) else { return nil }
        guard v.type == .int, let i = v.int else { throw error(key, "\(full(key)) must be an integer") }
        guard range.contains(i) else {
            throw error(key, rule ?? "\(full(key)) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return i
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws(PresetError) -> Double? {
        guard let v = try value(key, required: false) else { return nil }
        guard let d = Self.number(v) else { throw error(key, "\(full(key)) must be a number") }
        guard range.contains(d) else {
            throw error(
                key, "\(full(key)) must be between \(Self.show(range.lowerBound)) and \(Self.show(range.upperBound))")
        }
        return d
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws(PresetError) -> E?
    where E.RawValue == String {
        guard let s = try string(key) else { return nil }
        guard let e = E(rawValue: s) else {
            throw error(key, "\(full(key)) must be one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return e
    }

    func stringArray(_ key: String) throws(PresetError) -> [String]? {
        guard let v = try value(key, required: false) else { return nil }
        guard let a = v.array else { throw error(key, "\(full(key)) must be an array of strings") }
        var out: [String] = []
        for item in a {
            guard let s = item.string else { throw error(key, "\(full(key)) must be an array of strings") }
            out.append(s)
        }
        return out
    }

    func table(_ key: String, required: Bool = false) throws(PresetError) -> FieldReader? {
        guard let v = try value(key, required: required) else { return nil }
        guard let t = v.table else { throw error(key, "\(full(key)) must be a table ([\(full(key))])") }
        return FieldReader(table: t, path: full(key), file: file, index: index)
    }

    /// `duration_ms = 5` (fixed), `[2, 8]` (uniform) or `{ mean = 5, max = 50 }` (exponential, clipped).
    func distribution(_ key: String) throws(PresetError) -> Distribution? {
        guard let v = try value(key, required: false) else { return nil }
        let shape = "\(full(key)) must be a number, [low, high] or { mean = M, max = X }"
        let limit = 0.0...60_000.0
        let outOfRange = "\(full(key)) must be between 0 and 60000 ms"
        if let d = Self.number(v) {
            guard limit.contains(d) else { throw error(key, outOfRange) }
            return .fixed(d)
        }
        if let a = v.array {
            guard a.count == 2, let lo = Self.number(a[0]), let hi = Self.number(a[1]) else { throw error(key, shape) }
            guard limit.contains(lo), limit.contains(hi) else { throw error(key, outOfRange) }
            guard lo <= hi else { throw error(key, "\(full(key)) must be [low, high] with low <= high") }
            return .uniform(lo, hi)
        }
        if let t = v.table {
            for k in t.keys where k != "mean" && k != "max" {
                throw error(key, "\(full(key)).\(k) is not a known field (fields: mean, max)")
            }
            guard let meanV = t["mean"], let mean = Self.number(meanV) else { throw error(key, shape) }
            let max = t["max"].flatMap { Self.number($0) } ?? mean * 10
            guard limit.contains(mean), limit.contains(max) else { throw error(key, outOfRange) }
            guard max >= mean else { throw error(key, "\(full(key)).max must be at least the mean") }
            return .exponential(mean: mean, max: max)
        }
        throw error(key, shape)
    }

    /// A TOML integer or float as a Double.
    static func number(_ v: TOMLValueConvertible) -> Double? {
        switch v.type {
        case .int: return v.int.map(Double.init)
        case .double: return v.double.flatMap { $0.isFinite ? $0 : nil }
        default: return nil
        }
    }

    static func show(_ d: Double) -> String { d == d.rounded() ? String(Int(d)) : String(d) }
}

/// Maps dotted key paths (`scheduler.carriers`, `task.web`, `task.web.rate`) to 1-based line numbers.
///
/// A line-oriented scan good enough for error messages: table headers, `key = value` lines,
/// dotted and quoted keys, comments, and multi-line strings and arrays (their inner lines are skipped).
/// It never fails; an unknown path simply has no line.
struct TOMLLineIndex: Sendable {
    private var lines: [String: Int] = [:]

    init(_ text: String) {
        var prefix = ""
        var inMultilineString: String? = nil
        var bracketDepth = 0
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = i + 1
            var line = Substring(raw)
            if let delim = inMultilineString {
                if line.contains(delim) { inMultilineString = nil }
                continue
            }
            if bracketDepth > 0 {
                bracketDepth += Self.depthChange(Self.stripComment(line))
                continue
            }
            line = Self.stripComment(line)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("[") {
                let inner = trimmed.trimmingCharacters(in: CharacterSet(charactersIn: "[] \t"))
                prefix = Self.normalize(inner)
                if lines[prefix] == nil { lines[prefix] = lineNo }
                continue
            }
            guard let eq = trimmed.firstIndex(of: "=") else { continue }
            let key = Self.normalize(String(trimmed[..<eq]))
            let full = prefix.isEmpty ? key : "\(prefix).\(key)"
            // Record every dotted parent too, so `a.b.c = 1` gives `a.b` a line.
            var parts = full.split(separator: ".").map(String.init)
            while !parts.isEmpty {
                let p = parts.joined(separator: ".")
                if lines[p] == nil { lines[p] = lineNo }
                parts.removeLast()
            }
            let value = trimmed[trimmed.index(after: eq)...]
            for delim in ["\"\"\"", "'''"] where value.components(separatedBy: delim).count == 2 {
                inMultilineString = delim
            }
            if inMultilineString == nil { bracketDepth = max(0, Self.depthChange(Substring(value))) }
        }
    }

    func line(of path: String) -> Int? {
        var parts = path.split(separator: ".").map(String.init)
        while !parts.isEmpty {
            if let l = lines[parts.joined(separator: ".")] { return l }
            parts.removeLast()
        }
        return nil
    }

    /// `a . "b"` → `a.b`.
    private static func normalize(_ key: String) -> String {
        key.split(separator: ".").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'")) }
            .joined(separator: ".")
    }

    /// Drops a `#` comment that is not inside a string.
    private static func stripComment(_ line: Substring) -> Substring {
        var quote: Character? = nil
        for idx in line.indices {
            let c = line[idx]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" {
                return line[..<idx]
            }
        }
        return line
    }

    /// Net `[`/`]` nesting of a value fragment, ignoring brackets inside strings.
    private static func depthChange(_ s: Substring) -> Int {
        var depth = 0
        var quote: Character? = nil
        for c in s {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "[" || c == "{" {
                depth += 1
            } else if c == "]" || c == "}" {
                depth -= 1
            }
        }
        return depth
    }
}
