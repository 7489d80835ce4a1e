// PythonStream: the Python agent's line stream (docs/python-agent.md) → `Snapshot`s.
//
// Part of the one sampling layer: where a Swift model's sampler reads runtime metrics, this reads
// what qvtop's agent (python/qvtop_agent) measured inside a CPython program and sent as JSON lines.
// Pure: bytes in, lines and snapshots out, no process, no clock (PythonSource feeds it), so every
// fault of a stream (garbage, truncation, a newer format) is tested without a Python.
//
// Mapping to the snapshot contract (docs/figures.md says the same per figure):
// - one `LoopSnapshot` per loop the program runs; ready queue, timers and the busy share come from
//   the loop's private attributes and are absent (nil in the stream) where a loop lacks them
//   (uvloop; gevent's hub has no task census): nil in `LoopSnapshot` too, so "n/a" on screen and
//   `null` in JSON, never 0.
// - tasks by what they await → `FiberCounts`: sleep → parkedSleep, socket → parkedIO, queue →
//   parkedChannel, lock → parkedMutex, future and to_thread → parkedJoin (a `to_thread` wait is a
//   wait on an executor future), ready → runnable, the loop's current task → running.
//   The same census unmerged, in the agent's own eight states, → `Snapshot.taskCensus` (the Tasks panel).
// - ready → running delay: nil (the agent does not time each job: that would wrap every callback).
// - the default executor → `PoolSnapshot`, one `PoolThreadSnapshot` per real thread.
// - gevent's hub → `LoopSnapshot.gevent`: greenlet switches (cumulative, and per second between two
//   snapshots on the agent's clock), gevent's monitor-thread reports (nil when the program did not enable
//   the monitor) and its last named report; a loop streamed without `tasks` (the hub has no census) sets
//   `Snapshot.tasksUncounted`, so the task counts are "n/a", not 0.
// - events: slowCallback (a stall, named from the loop thread's stack) and blockingEnd (a GC pause
//   on a loop's thread); times are the agent's, moved onto the session clock by `offset`.
//
// Ownership: a value owned by one thread (PythonSource's reader thread).

import Foundation
import Telemetry

/// A stream the agent sent that qvtop cannot read: each renders as one line.
public enum PythonStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    case notJSON(line: Int, excerpt: String)
    case newerFormat(Int)
    case noHello(line: Int)
    case truncated(bytes: Int)

    public var description: String {
        switch self {
        case .notJSON(let line, let excerpt):
            return "the agent's stream is garbled at line \(line): \(excerpt)"
        case .newerFormat(let v):
            return
                "the agent speaks stream format \(v); this qvtop reads format \(PythonStream.formatVersion) (use the agent shipped with it)"
        case .noHello(let line):
            return "the agent's stream did not start with a hello line (line \(line))"
        case .truncated(let bytes):
            return "the agent's stream ended in the middle of a line (\(bytes) bytes unread): truncated"
        }
    }
}

/// One decoded line of the stream (docs/python-agent.md).
public enum AgentLine: Sendable, Equatable {
    case hello(AgentHello)
    case snapshot(AgentSnapshot)
    case exception(time: Double, error: String)
    case exit(time: Double)
    case agentError(String)
    /// A line of a type this version does not know (the format allows new types within a version).
    case other(String)
}

public struct AgentHello: Codable, Sendable, Equatable {
    public var format: Int
    public var agent: String?
    public var python: String?
    public var implementation: String?
    public var pid: Int?
    public var script: String?
    public var t: Double?
}

public struct AgentSnapshot: Codable, Sendable, Equatable {
    /// A loop's `tasks`: the agent's census in its eight states (its `total` is their sum, so it is not kept).
    public typealias Tasks = TaskCensus
    public struct Lag: Codable, Sendable, Equatable {
        public var p50Ms: Double
        public var p99Ms: Double
        public var maxMs: Double
        public var slotP99Ms: Double
        public var recentMs: Double
        public var buckets: [UInt64]
    }
    public struct Loop: Codable, Sendable, Equatable {
        public var id: Int
        public var impl: String?
        public var running: Bool?
        public var ready: Int?
        public var readyPeak: Int?
        public var readyMax: Int?
        public var timers: Int?
        public var tasks: Tasks?
        public var jobs: UInt64?
        public var slow: UInt64?
        public var busy: Double?
        public var current: String?
        public var lastTask: String?
        public var lag: Lag?
        // gevent hub figures: nil for asyncio loops.
        public var switches: UInt64?
        public var monitorReports: UInt64?
        public var monitorThread: Bool?
        public var monitorLast: MonitorReport?
    }
    /// gevent's monitor thread's last named blocking report (`loops[].monitor_last`).
    public struct MonitorReport: Codable, Sendable, Equatable {
        public var t: Double
        public var name: String
        public var atLeastMs: Double
    }
    public struct PoolThread: Codable, Sendable, Equatable {
        public var id: Int
        public var kind: String?
        public var runningMs: Double?
    }
    public struct Pool: Codable, Sendable, Equatable {
        public var threads: Int
        public var busy: Int
        public var queue: Int
        public var completed: UInt64?
        public var threadStates: [PoolThread]?
    }
    public struct Kind: Codable, Sendable, Equatable {
        public var kind: String
        public var started: UInt64
        public var completed: UInt64
        public var inFlight: Int
        public var p50Ms: Double
        public var p99Ms: Double
        public var throughput: Double
    }
    public struct Event: Codable, Sendable, Equatable {
        public var t: Double
        public var kind: String
        public var loop: Int?
        public var durationMs: Double?
        public var name: String?
    }
    public var t: Double
    public var loops: [Loop]
    public var pool: Pool?
    public var kinds: [Kind]?
    public var events: [Event]?
    public var droppedEvents: UInt64?
    public var droppedLines: UInt64?
}

/// Splits the agent's bytes into lines and decodes them. Owned by one thread.
public struct PythonStream: Sendable {
    /// The stream format this qvtop reads (python/qvtop_agent FORMAT_VERSION).
    public static let formatVersion = 1
    private var buffer: [UInt8] = []
    private var lineNumber = 0
    private var sawHello = false

    public init() {}

    /// Decodes every complete line in `bytes` (appended to what is buffered). Throws on the first bad line.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(PythonStreamError) -> [AgentLine] {
        buffer.append(contentsOf: bytes)
        var lines: [AgentLine] = []
        var start = 0
        while let nl = buffer[start...].firstIndex(of: 10) {
            let line = Array(buffer[start..<nl])
            start = nl + 1
            lineNumber += 1
            if line.isEmpty { continue }
            lines.append(try decode(line))
        }
        buffer.removeFirst(start)
        return lines
    }

    /// Call at end of stream: a partial last line is a truncated stream.
    public func finish() throws(PythonStreamError) {
        if !buffer.isEmpty { throw .truncated(bytes: buffer.count) }
    }

    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    private struct Head: Decodable {
        var type: String
        var t: Double?
        var error: String?
        var format: Int?
    }

    private mutating func decode(_ line: [UInt8]) throws(PythonStreamError) -> AgentLine {
        let data = Data(line)
        let excerpt = String(decoding: line.prefix(60), as: UTF8.self)
        guard let head = try? Self.decoder.decode(Head.self, from: data) else {
            throw .notJSON(line: lineNumber, excerpt: excerpt)
        }
        if !sawHello {
            guard head.type == "hello", let format = head.format else { throw .noHello(line: lineNumber) }
            if format > Self.formatVersion { throw .newerFormat(format) }
        }
        do {
            switch head.type {
            case "hello":
                sawHello = true
                return .hello(try Self.decoder.decode(AgentHello.self, from: data))
            case "snapshot":
                return .snapshot(try Self.decoder.decode(AgentSnapshot.self, from: data))
            case "exception":
                return .exception(time: head.t ?? 0, error: head.error ?? "an exception")
            case "exit":
                return .exit(time: head.t ?? 0)
            case "agent_error":
                return .agentError(head.error ?? "unknown")
            default:
                return .other(head.type)
            }
        } catch {
            throw .notJSON(line: lineNumber, excerpt: excerpt)
        }
    }
}

/// Agent snapshots → `Snapshot`s. Owned by one thread; call `snapshot` in stream order.
public struct PythonSampler: Sendable {
    /// Session time of the agent's time 0 (seconds): agent times + offset = session times.
    public var offset: Double = 0
    public var preset: String
    public var title: String
    private var lastJobs: [Int: UInt64] = [:]
    /// Per loop id: the previous snapshot's (agent time, cumulative greenlet switches), for the rate.
    private var lastSwitches: [Int: (t: Double, switches: UInt64)] = [:]

    public init(preset: String, title: String) {
        self.preset = preset
        self.title = title
    }

    /// The snapshot of `a` with `events` (of this and any skipped line, oldest first).
    public mutating func snapshot(_ a: AgentSnapshot, events: [AgentSnapshot.Event], sequence: UInt64) -> Snapshot {
        var s = Snapshot(
            time: a.t + offset, sequence: sequence, preset: preset, presetTitle: title,
            model: a.loops.count > 1 ? .loopPerThread : .eventLoop)
        var census = TaskCensus()
        var jobs: [Int: UInt64] = [:]
        var switches: [Int: (t: Double, switches: UInt64)] = [:]
        s.loops = a.loops.map { l in
            if let t = l.tasks { census.add(t) }
            if let j = l.jobs { jobs[l.id] = j }
            var loop = LoopSnapshot(
                id: l.id, readyDepth: l.ready, maxReadyDepth: l.readyMax, readyPeak: l.readyPeak,
                timersPending: l.timers, tasksAlive: l.tasks?.total, jobsRun: l.jobs, slowCallbacks: l.slow ?? 0,
                busyRatio: l.busy, current: l.current,
                jobsInInterval: l.jobs.flatMap { j in lastJobs[l.id].flatMap { j >= $0 ? j - $0 : nil } },
                lastTask: l.lastTask,
                lag: l.lag.map(LagSummary.init) ?? LagSummary(), readyDelay: nil)
            if let n = l.switches {
                switches[l.id] = (a.t, n)
                loop.gevent = GeventHubSnapshot(
                    switches: n, switchesPerSecond: Self.rate(n, at: a.t, since: lastSwitches[l.id]),
                    monitorReports: l.monitorThread == false ? nil : l.monitorReports,
                    lastReport: l.monitorLast.map {
                        GeventBlockingReport(time: $0.t + offset, name: $0.name, atLeastMs: $0.atLeastMs)
                    })
            }
            return loop
        }
        lastJobs = jobs
        lastSwitches = switches
        // Tasks by what they await as the fiber models' parked reasons: sleep → parkedSleep, socket → parkedIO,
        // queue → parkedChannel, lock → parkedMutex, future and to_thread → parkedJoin (a wait on an executor future).
        s.fibers = FiberCounts(
            total: census.total, running: census.running, runnable: census.ready, parkedSleep: census.sleep,
            parkedIO: census.socket, parkedChannel: census.queue, parkedMutex: census.lock,
            parkedJoin: census.future + census.toThread)
        // A loop without a census (a gevent hub streams `tasks: null`) leaves the counts unknown, not 0.
        if a.loops.contains(where: { $0.tasks == nil }) { s.tasksUncounted = true }
        // The census by state and await, only when every loop counted its tasks.
        if !a.loops.isEmpty && s.tasksUncounted == nil { s.taskCensus = census }
        s.lag = s.loops.max { $0.lag.maxMs < $1.lag.maxMs }?.lag ?? LagSummary()
        s.busyWindowSeconds = 1
        if let p = a.pool {
            s.pool = PoolSnapshot(
                threads: p.threads, busy: p.busy, queueDepth: p.queue, completed: p.completed ?? 0,
                threadStates: p.threadStates.map { ts in
                    ts.map { PoolThreadSnapshot(id: $0.id, kind: $0.kind, runningMs: $0.runningMs ?? 0) }
                })
        }
        s.taskKinds = (a.kinds ?? []).map {
            TaskKindStats(
                kind: $0.kind, started: $0.started, completed: $0.completed, inFlight: $0.inFlight, p50Ms: $0.p50Ms,
                p99Ms: $0.p99Ms, throughput: $0.throughput)
        }
        s.events = events.compactMap { e in
            let kind: EventKind
            switch e.kind {
            case "slowCallback": kind = .slowCallback
            case "blockingEnd": kind = .blockingEnd
            case "lagSpike": kind = .lagSpike
            default: return nil
            }
            return RuntimeEvent(
                time: e.t + offset, kind: kind, worker: e.loop ?? -1, durationMs: e.durationMs ?? 0, name: e.name)
        }
        s.droppedEvents = (a.droppedEvents ?? 0) + (a.droppedLines ?? 0)
        return s
    }
}

extension PythonSampler {
    /// Switches per second between the previous sample and this one (agent times); nil without a previous
    /// sample, when time did not advance, or when the count went back (a new hub).
    static func rate(_ n: UInt64, at t: Double, since prev: (t: Double, switches: UInt64)?) -> Double? {
        guard let prev, t > prev.t, n >= prev.switches else { return nil }
        return Double(n - prev.switches) / (t - prev.t)
    }
}

extension LagSummary {
    init(_ l: AgentSnapshot.Lag) {
        self.init(
            p50Ms: l.p50Ms, p99Ms: l.p99Ms, maxMs: l.maxMs, slotP99Ms: l.slotP99Ms, recentMs: l.recentMs,
            buckets: l.buckets)
    }
}
