// Snapshot: the immutable values the dashboard draws and a recording stores.
//
// The contract between the runtime side (samplers in Workloads, the replayer in
// Recording) and the UI side (Dashboard). A live session and a replayed one feed the
// UI the same values, so every field here is plain data: Sendable, Codable, Equatable.
// Counters are cumulative since the runtime started (a preset switch starts a new
// runtime, so they restart at zero); rates and ratios cover the interval since the
// previous snapshot. Times are seconds since the session started, on the monotonic
// clock; durations are milliseconds unless a name says otherwise.
//
// "No data" is not zero: an optional field is nil where the source cannot provide the figure (a
// recording of format 1 made before the figure existed, a runtime that does not expose it yet, a
// model without a pool). The screen shows "n/a" and the JSON `null`; docs/figures.md says when.
//
// Telemetry is a leaf module: it imports nothing of the runtime. The conversions from runtime
// metrics and events to these values live in one place, Workloads/Sampling/RuntimeMapping.swift.

/// The scheduler model a preset runs (see docs/presets.md).
public enum SchedulerModel: String, Codable, Sendable, CaseIterable {
    /// One asyncio-style loop on one thread, optional `to_thread` pool.
    case eventLoop = "event-loop"
    /// N loops on N threads in one process, tasks partitioned, optional shared pool.
    case loopPerThread = "loop-per-thread"
    /// Fibers on N carriers with work stealing (M:N).
    case virtualThreads = "virtual-threads"
    /// Fibers on exactly one carrier (gevent's model).
    case greenThreads = "green-threads"
    // The asyncio invariant (issue 15): an M:N event loop beside a single-threaded one.
    /// The same asyncio-style code on an M:N event loop (tasks resumed on any of N threads, stealing) and on
    /// one single-threaded loop, side by side.
    case asyncioMN = "asyncio-mn"
    // Plain OS threads (the threads model): every task on an OS thread of its own or of a fixed pool.
    /// Every task on a plain OS thread (one per task up to a cap, or a fixed pool), blocking in the kernel.
    case threads

    /// True for the fiber models (carriers, run queues, steals, parked fibers).
    public var usesFibers: Bool { self == .virtualThreads || self == .greenThreads }
}

/// One frame of telemetry.
public struct Snapshot: Codable, Sendable, Equatable {
    /// Seconds since the session started (monotonic).
    public var time: Double
    /// Increases by one per snapshot within a session.
    public var sequence: UInt64
    /// Short name and title of the preset that produced this snapshot.
    public var preset: String
    public var presetTitle: String
    public var model: SchedulerModel
    /// Carriers (fiber models). Empty for loop models.
    public var workers: [WorkerSnapshot]
    /// Event loops (loop models). Empty for fiber models.
    public var loops: [LoopSnapshot]
    /// The `to_thread` worker pool, when the preset has one.
    public var pool: PoolSnapshot?
    /// Global injector queue depth (fiber models).
    public var injectorDepth: Int
    /// Fibers by state (fiber models); tasks by state for loop models where it applies.
    public var fibers: FiberCounts
    /// Heartbeat lag: how late a periodic heartbeat ran (each loop's own heartbeat, worst loop; or the fiber
    /// models' heartbeat fiber). It sees stalls (a loop or carrier held by CPU work or a blocking call).
    public var lag: LagSummary
    /// True ready → running delay: from a task or fiber becoming runnable to it starting to run (fibers: the
    /// runtime's sampled delays; loops: every job's queue delay, worst loop). Nil when not provided.
    public var readyDelay: DelaySummary?
    /// Highest injector depth since the previous sample (fiber models); nil when not provided.
    public var injectorPeak: Int?
    /// Seconds the busy shares (`WorkerSnapshot.busyRatio`, `LoopSnapshot.busyRatio`, pool threads) cover,
    /// trailing; nil when unknown (recordings of format 1).
    public var busyWindowSeconds: Double?
    /// Per task kind of the workload.
    public var taskKinds: [TaskKindStats]
    /// Notable events drained since the previous snapshot, oldest first.
    public var events: [RuntimeEvent]
    /// Events dropped because a ring was full, cumulative. Shown when non-zero.
    public var droppedEvents: UInt64
    // Plain OS threads (the threads model).
    /// The threads model's OS threads; nil for every other model and in recordings made before it existed.
    public var threads: ThreadsSnapshot?
    // Memory per parked task (issue 15): nil where the source does not measure it (recordings made before it).
    /// RSS and bytes per parked task; nil when not measured.
    public var memory: MemorySnapshot? = nil

    public init(
        time: Double = 0, sequence: UInt64 = 0, preset: String = "", presetTitle: String = "",
        model: SchedulerModel = .virtualThreads, workers: [WorkerSnapshot] = [], loops: [LoopSnapshot] = [],
        pool: PoolSnapshot? = nil, injectorDepth: Int = 0, fibers: FiberCounts = FiberCounts(),
        lag: LagSummary = LagSummary(), readyDelay: DelaySummary? = nil, injectorPeak: Int? = nil,
        busyWindowSeconds: Double? = nil, taskKinds: [TaskKindStats] = [], events: [RuntimeEvent] = [],
        droppedEvents: UInt64 = 0, threads: ThreadsSnapshot? = nil
    ) {
        self.time = time
        self.sequence = sequence
        self.preset = preset
        self.presetTitle = presetTitle
        self.model = model
        self.workers = workers
        self.loops = loops
        self.pool = pool
        self.injectorDepth = injectorDepth
        self.fibers = fibers
        self.lag = lag
        self.readyDelay = readyDelay
        self.injectorPeak = injectorPeak
        self.busyWindowSeconds = busyWindowSeconds
        self.taskKinds = taskKinds
        self.events = events
        self.droppedEvents = droppedEvents
        self.threads = threads
    }

    // The asyncio invariant (issue 15): the M:N event loop's threads and the invariant workload's figures.
    /// The M:N loop of the `asyncio-mn` model; nil for every other model and in recordings made before it.
    public var mnLoop: MNLoopSnapshot? = nil

    // gevent hub figures (issue 16): a source without a task census.
    /// True when the source cannot count tasks by state (a gevent hub: greenlets are not counted), so `fibers`
    /// holds zeros that mean nothing; nil (every other source, recordings made before it): `fibers` is counted.
    public var tasksUncounted: Bool? = nil

    /// Tasks by state (`fibers`), or nil when the source does not count them (`tasksUncounted`): "n/a", `null`.
    public var taskCounts: FiberCounts? { tasksUncounted == true ? nil : fibers }

    // A CPython loop's task census (issue 16): tasks by state and by what they await, as the agent counts them.
    /// Tasks of a real asyncio program by state and by what they wait on, summed over its loops; nil for every
    /// source without such a census (the Swift models, a gevent hub) and in recordings made before it.
    public var taskCensus: TaskCensus? = nil
}

/// A real asyncio program's tasks by state and by what they await (the agent's census of `asyncio.all_tasks`,
/// docs/figures.md "Tasks"): running (the loop's current task), ready (scheduled to take a step), or waiting on
/// a sleep, a socket, a plain future, a lock, a queue, or a `to_thread` call. `total` is their sum.
public struct TaskCensus: Codable, Sendable, Equatable, Hashable {
    public var running = 0
    public var ready = 0
    public var sleep = 0
    public var socket = 0
    public var future = 0
    public var lock = 0
    public var queue = 0
    public var toThread = 0

    public init(
        running: Int = 0, ready: Int = 0, sleep: Int = 0, socket: Int = 0, future: Int = 0, lock: Int = 0,
        queue: Int = 0, toThread: Int = 0
    ) {
        self.running = running
        self.ready = ready
        self.sleep = sleep
        self.socket = socket
        self.future = future
        self.lock = lock
        self.queue = queue
        self.toThread = toThread
    }

    /// The eight states with their labels, in the panel's (and the recording's) order: the one list the sum, the
    /// merge of two loops, the panel and the codec walk.
    public static let fields: [(label: String, key: WritableKeyPath<TaskCensus, Int> & Sendable)] = [
        ("running", \.running), ("ready", \.ready), ("sleep", \.sleep), ("socket", \.socket), ("future", \.future),
        ("lock", \.lock), ("queue", \.queue), ("to_thread", \.toThread),
    ]

    public var total: Int { Self.fields.reduce(0) { $0 + self[keyPath: $1.key] } }

    /// Adds another loop's census to this one.
    public mutating func add(_ o: TaskCensus) {
        for f in Self.fields { self[keyPath: f.key] += o[keyPath: f.key] }
    }

    /// Every state with its label, in `fields`' order.
    public var states: [(label: String, count: Int)] { Self.fields.map { ($0.label, self[keyPath: $0.key]) } }
}

/// What a carrier is doing at the instant of the snapshot.
public enum WorkerState: String, Codable, Sendable {
    case running, spinning, parked
    /// Inside a `blocking {}` region under the `pin` policy: the carrier and its queue wait.
    case pinned
    /// Inside a `blocking {}` region under `handoff`: its queue passed to a spare carrier.
    case handedOff
    case stopped
}

/// One carrier of a fiber scheduler.
public struct WorkerSnapshot: Codable, Sendable, Equatable {
    public var id: Int
    public var state: WorkerState
    /// Fibers run (resumptions), cumulative.
    public var runs: UInt64
    /// Steal operations this worker performed as thief, and fibers it took / lost.
    public var stealOps: UInt64
    public var stolenIn: UInt64
    public var stolenOut: UInt64
    /// Times this worker parked (went idle) and was unparked.
    public var parks: UInt64
    public var unparks: UInt64
    public var queueDepth: Int
    public var queueCapacity: Int
    /// Highest local queue depth seen so far.
    public var maxQueueDepth: Int
    /// Highest local queue depth since the previous sample (peak-hold); nil when not provided.
    public var queuePeak: Int?
    /// Busy nanoseconds, cumulative, and the busy share over the trailing `Snapshot.busyWindowSeconds` (0…1).
    public var busyNanos: UInt64
    public var busyRatio: Double
    /// Searching/spinning share over the same window, apart from busy; nil when the runtime does not split it.
    public var spinRatio: Double?
    /// Name and task kind of the fiber running now, if any.
    public var currentFiber: String?
    public var currentKind: String?
    /// Fibers run (resumptions) since the previous sample; nil on a runtime's first sample or when not provided.
    public var runsInInterval: UInt64?
    /// Fibers stolen in since the previous sample; nil on a runtime's first sample or when not provided.
    public var stolenInInterval: UInt64?
    /// Name and task kind of the last fiber that ran in the interval (nil when none ran or not provided).
    public var lastFiber: String?
    public var lastKind: String?

    // @inlinable: the fiber sampler builds one per carrier per sample; a cross-module call built each in a
    // temporary and copied it (bench sample).
    @inlinable
    public init(
        id: Int, state: WorkerState = .running, runs: UInt64 = 0, stealOps: UInt64 = 0, stolenIn: UInt64 = 0,
        stolenOut: UInt64 = 0, parks: UInt64 = 0, unparks: UInt64 = 0, queueDepth: Int = 0, queueCapacity: Int = 256,
        maxQueueDepth: Int = 0, queuePeak: Int? = nil, busyNanos: UInt64 = 0, busyRatio: Double = 0,
        spinRatio: Double? = nil, currentFiber: String? = nil, currentKind: String? = nil,
        runsInInterval: UInt64? = nil, stolenInInterval: UInt64? = nil, lastFiber: String? = nil,
        lastKind: String? = nil
    ) {
        self.id = id
        self.state = state
        self.runs = runs
        self.stealOps = stealOps
        self.stolenIn = stolenIn
        self.stolenOut = stolenOut
        self.parks = parks
        self.unparks = unparks
        self.queueDepth = queueDepth
        self.queueCapacity = queueCapacity
        self.maxQueueDepth = maxQueueDepth
        self.queuePeak = queuePeak
        self.busyNanos = busyNanos
        self.busyRatio = busyRatio
        self.spinRatio = spinRatio
        self.currentFiber = currentFiber
        self.currentKind = currentKind
        self.runsInInterval = runsInInterval
        self.stolenInInterval = stolenInInterval
        self.lastFiber = lastFiber
        self.lastKind = lastKind
    }
}

/// One asyncio-style event loop. The figures a loop may not expose (a real Python loop: uvloop has no
/// ready queue, gevent's hub no task census) are optional: nil is "n/a" on screen and `null` in JSON,
/// never 0. The Swift loops always provide them.
public struct LoopSnapshot: Codable, Sendable, Equatable {
    public var id: Int
    /// Jobs runnable on this loop now; nil when the loop does not expose its ready queue.
    public var readyDepth: Int?
    /// Highest ready depth seen so far; nil with `readyDepth`.
    public var maxReadyDepth: Int?
    /// Highest ready depth since the previous sample (peak-hold); nil when not provided.
    public var readyPeak: Int?
    /// Timers scheduled; nil when the loop does not expose its timers.
    public var timersPending: Int?
    /// Tasks alive on this loop; nil when the loop has no task census.
    public var tasksAlive: Int?
    /// Jobs run so far; nil when the loop's jobs are not counted.
    public var jobsRun: UInt64?
    public var slowCallbacks: UInt64
    /// Share of the trailing `Snapshot.busyWindowSeconds` spent running jobs (0…1); nil when not measured.
    public var busyRatio: Double?
    /// Name of the task/callback running now, if any.
    public var current: String?
    /// Jobs run since the previous sample; nil on a runtime's first sample or when not provided.
    public var jobsInInterval: UInt64?
    /// Name of the last named task that ran in the interval; nil when none ran or not provided.
    public var lastTask: String?
    /// Heartbeat lag of this loop.
    public var lag: LagSummary
    /// Ready → running delay of this loop's jobs; nil when not provided.
    public var readyDelay: DelaySummary?

    public init(
        id: Int, readyDepth: Int? = 0, maxReadyDepth: Int? = 0, readyPeak: Int? = nil, timersPending: Int? = 0,
        tasksAlive: Int? = 0, jobsRun: UInt64? = 0, slowCallbacks: UInt64 = 0, busyRatio: Double? = 0,
        current: String? = nil, jobsInInterval: UInt64? = nil, lastTask: String? = nil, lag: LagSummary = LagSummary(),
        readyDelay: DelaySummary? = nil
    ) {
        self.id = id
        self.readyDepth = readyDepth
        self.maxReadyDepth = maxReadyDepth
        self.readyPeak = readyPeak
        self.timersPending = timersPending
        self.tasksAlive = tasksAlive
        self.jobsRun = jobsRun
        self.slowCallbacks = slowCallbacks
        self.busyRatio = busyRatio
        self.current = current
        self.jobsInInterval = jobsInInterval
        self.lastTask = lastTask
        self.lag = lag
        self.readyDelay = readyDelay
    }

    // gevent hub figures (issue 16): greenlet switches and gevent's own monitor thread.
    /// The gevent hub's own figures; nil for every other loop and in recordings made before them.
    public var gevent: GeventHubSnapshot? = nil
}

// MARK: - gevent hub figures (issue 16)

/// What a gevent hub shows beyond a loop's figures, from the Python agent (docs/python-agent.md, "gevent";
/// docs/figures.md, "gevent hub").
public struct GeventHubSnapshot: Codable, Sendable, Equatable {
    /// Greenlet switches on the hub's thread, cumulative (greenlet's trace hook: every `switch` and `throw`).
    public var switches: UInt64
    /// Switches per second over the interval since the previous snapshot of the same run (the agent's
    /// clock: switches difference / time difference); nil on the first sample.
    public var switchesPerSecond: Double?
    /// Blocking reports of gevent's own monitor thread, cumulative; nil when the program did not enable the
    /// monitor (there is nothing to count, which is not 0 reports).
    public var monitorReports: UInt64?
    /// The monitor's last report that named its culprit; nil before one.
    public var lastReport: GeventBlockingReport?

    public init(
        switches: UInt64 = 0, switchesPerSecond: Double? = nil, monitorReports: UInt64? = nil,
        lastReport: GeventBlockingReport? = nil
    ) {
        self.switches = switches
        self.switchesPerSecond = switchesPerSecond
        self.monitorReports = monitorReports
        self.lastReport = lastReport
    }
}

/// One blocking report of gevent's monitor thread: the hub held by one greenlet past gevent's threshold.
public struct GeventBlockingReport: Codable, Sendable, Equatable {
    /// When the agent heard it, seconds on the session clock.
    public var time: Double
    /// The culprit: the blocking greenlet's innermost frame outside gevent (`load_index (app.py:12)`), else
    /// the greenlet's name, else "the hub".
    public var name: String
    /// gevent's threshold (`max_blocking_time`), ms: the hub had been held at least this long when reported.
    public var atLeastMs: Double

    public init(time: Double, name: String, atLeastMs: Double) {
        self.time = time
        self.name = name
        self.atLeastMs = atLeastMs
    }
}

/// The `to_thread` worker pool.
public struct PoolSnapshot: Codable, Sendable, Equatable {
    public var threads: Int
    /// Threads running a job now.
    public var busy: Int
    public var queueDepth: Int
    /// Highest queue depth since the previous sample (peak-hold); nil when not provided.
    public var queuePeak: Int?
    public var completed: UInt64
    /// True when loops of a group share this pool.
    public var shared: Bool
    /// One entry per real pool thread, in thread order; nil when the runtime does not report threads one by one.
    public var threadStates: [PoolThreadSnapshot]?

    public init(
        threads: Int, busy: Int = 0, queueDepth: Int = 0, queuePeak: Int? = nil, completed: UInt64 = 0,
        shared: Bool = false, threadStates: [PoolThreadSnapshot]? = nil
    ) {
        self.threads = threads
        self.busy = busy
        self.queueDepth = queueDepth
        self.queuePeak = queuePeak
        self.completed = completed
        self.shared = shared
        self.threadStates = threadStates
    }
}

/// One thread of a `to_thread` pool at the instant of the snapshot.
public struct PoolThreadSnapshot: Codable, Sendable, Equatable {
    public var id: Int
    /// Task kind of the job it runs now; nil when idle.
    public var kind: String?
    /// How long the current job has been running, ms (0 when idle).
    public var runningMs: Double
    /// Share of the trailing `Snapshot.busyWindowSeconds` spent running jobs; nil when not provided.
    public var busyRatio: Double?

    public init(id: Int, kind: String? = nil, runningMs: Double = 0, busyRatio: Double? = nil) {
        self.id = id
        self.kind = kind
        self.runningMs = runningMs
        self.busyRatio = busyRatio
    }
}

/// Fibers by state at the instant of the snapshot.
public struct FiberCounts: Codable, Sendable, Equatable {
    public var total: Int
    public var running: Int
    public var runnable: Int
    public var parkedSleep: Int
    public var parkedIO: Int
    public var parkedChannel: Int
    public var parkedMutex: Int
    public var parkedJoin: Int
    public var blockedPinned: Int
    public var blockedHandoff: Int

    public var parked: Int { parkedSleep + parkedIO + parkedChannel + parkedMutex + parkedJoin }
    public var blocked: Int { blockedPinned + blockedHandoff }

    public init(
        total: Int = 0, running: Int = 0, runnable: Int = 0, parkedSleep: Int = 0, parkedIO: Int = 0,
        parkedChannel: Int = 0, parkedMutex: Int = 0, parkedJoin: Int = 0, blockedPinned: Int = 0,
        blockedHandoff: Int = 0
    ) {
        self.total = total
        self.running = running
        self.runnable = runnable
        self.parkedSleep = parkedSleep
        self.parkedIO = parkedIO
        self.parkedChannel = parkedChannel
        self.parkedMutex = parkedMutex
        self.parkedJoin = parkedJoin
        self.blockedPinned = blockedPinned
        self.blockedHandoff = blockedHandoff
    }
}

/// Ready → running delay in milliseconds, cumulative since the runtime started.
public struct DelaySummary: Codable, Sendable, Equatable {
    /// Delays measured.
    public var samples: UInt64
    /// One in `sampling` ready events is measured (1 = every one).
    public var sampling: Int
    public var p50Ms: Double
    public var p99Ms: Double
    public var maxMs: Double
    /// Counts per log2 bucket: bucket i holds delays in [2^i, 2^(i+1)) ns. Nil when the source keeps none.
    public var log2Buckets: [UInt64]?

    public init(
        samples: UInt64 = 0, sampling: Int = 1, p50Ms: Double = 0, p99Ms: Double = 0, maxMs: Double = 0,
        log2Buckets: [UInt64]? = nil
    ) {
        self.samples = samples
        self.sampling = sampling
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.maxMs = maxMs
        self.log2Buckets = log2Buckets
    }
}

/// Heartbeat lateness summary in milliseconds, over the whole run so far, plus the latest interval.
public struct LagSummary: Codable, Sendable, Equatable {
    public var p50Ms: Double
    public var p99Ms: Double
    public var maxMs: Double
    /// p99 over every heartbeat slot, a skipped slot counting as late until the loop ran (anchors' W4).
    public var slotP99Ms: Double
    /// Worst lateness within the last interval (one sparkline point).
    public var recentMs: Double
    /// Counts per histogram bucket (bucket upper bounds in `LagSummary.bucketBoundsMs`).
    public var buckets: [UInt64]

    /// Upper bounds of `buckets`, ms; the last bucket is open-ended.
    public static let bucketBoundsMs: [Double] = [0.1, 0.5, 1, 2, 5, 10, 20, 50, 100, .infinity]

    public init(
        p50Ms: Double = 0, p99Ms: Double = 0, maxMs: Double = 0, slotP99Ms: Double = 0, recentMs: Double = 0,
        buckets: [UInt64] = []
    ) {
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.maxMs = maxMs
        self.slotP99Ms = slotP99Ms
        self.recentMs = recentMs
        self.buckets = buckets
    }
}

/// Per task kind of the running workload.
public struct TaskKindStats: Codable, Sendable, Equatable {
    public var kind: String
    public var started: UInt64
    public var completed: UInt64
    public var inFlight: Int
    public var p50Ms: Double
    public var p99Ms: Double
    /// Completions per second over the last interval.
    public var throughput: Double
    /// Arrivals skipped because the spec already had its in-flight cap of tasks running (cumulative).
    /// Nil when the source does not provide it (a recording made before this figure existed).
    public var dropped: UInt64?
    /// Tasks that ended with an error, by kind (cumulative; never completions, never in flight).
    /// Nil when the source does not provide it.
    public var errors: TaskErrorCounts?

    public init(
        kind: String, started: UInt64 = 0, completed: UInt64 = 0, inFlight: Int = 0, p50Ms: Double = 0,
        p99Ms: Double = 0, throughput: Double = 0, dropped: UInt64? = nil, errors: TaskErrorCounts? = nil
    ) {
        self.kind = kind
        self.started = started
        self.completed = completed
        self.inFlight = inFlight
        self.p50Ms = p50Ms
        self.p99Ms = p99Ms
        self.throughput = throughput
        self.dropped = dropped
        self.errors = errors
    }
}

/// What made a task fail.
public enum TaskErrorKind: String, Codable, Sendable, CaseIterable {
    /// The peer reset the connection (`ECONNRESET`, `EPIPE`).
    case reset
    /// A client deadline passed before the answer (`timeout_ms`), or `ETIMEDOUT`.
    case timeout
    /// Nobody accepted the connection (`ECONNREFUSED`).
    case refused
    /// Any other error.
    case other
}

/// Failed tasks of one kind, by error kind (cumulative counters).
public struct TaskErrorCounts: Codable, Sendable, Equatable {
    public var reset: UInt64
    public var timeout: UInt64
    public var refused: UInt64
    public var other: UInt64

    public init(reset: UInt64 = 0, timeout: UInt64 = 0, refused: UInt64 = 0, other: UInt64 = 0) {
        self.reset = reset
        self.timeout = timeout
        self.refused = refused
        self.other = other
    }

    /// Every failed task.
    public var total: UInt64 { reset + timeout + refused + other }

    public subscript(kind: TaskErrorKind) -> UInt64 {
        get {
            switch kind {
            case .reset: reset
            case .timeout: timeout
            case .refused: refused
            case .other: other
            }
        }
        set {
            switch kind {
            case .reset: reset = newValue
            case .timeout: timeout = newValue
            case .refused: refused = newValue
            case .other: other = newValue
            }
        }
    }
}

/// Kinds of notable events.
public enum EventKind: String, Codable, Sendable, CaseIterable {
    case spawnBatch, steal, workerPark, workerUnpark, pin, handoff, blockingBegin, blockingEnd
    case slowCallback, lagSpike, presetSwitch, bookmark
}

/// One notable event. Field use per kind: steal: `worker` thief, `other` victim, `count`;
/// blockingEnd / slowCallback: `durationMs` and `name` (the culprit); presetSwitch: `name` = preset.
public struct RuntimeEvent: Codable, Sendable, Equatable {
    public var time: Double
    public var kind: EventKind
    public var worker: Int
    public var other: Int
    public var count: Int
    public var durationMs: Double
    public var name: String?

    // @inlinable: the samplers make one per drained event per sample, in the snapshot's array (RuntimeMapping's
    // `RuntimeEvent.events(of:sessionStart:)`); a cross-module call built each in a temporary, copied it into the
    // array through the value witness and destroyed the temporary (a retain and a release of its name).
    @inlinable
    public init(
        time: Double, kind: EventKind, worker: Int = -1, other: Int = -1, count: Int = 0, durationMs: Double = 0,
        name: String? = nil
    ) {
        self.time = time
        self.kind = kind
        self.worker = worker
        self.other = other
        self.count = count
        self.durationMs = durationMs
        self.name = name
    }
}

// MARK: - The asyncio invariant (issue 15): the M:N event loop

/// What a thread of the M:N loop is doing at the instant of the snapshot.
public enum MNThreadState: String, Codable, Sendable, CaseIterable {
    /// Running a job (a task's step between two awaits).
    case running
    /// Found its queue empty; looking in the injector and the other threads' queues.
    case searching
    /// Found no work anywhere; asleep until woken or a timer is due.
    case parked
    case stopped
}

/// One thread of the M:N event loop.
public struct MNThreadSnapshot: Codable, Sendable, Equatable {
    public var id: Int
    public var state: MNThreadState
    /// Jobs run (task steps), cumulative.
    public var runs: UInt64
    /// Jobs run since the previous sample; nil on a runtime's first sample.
    public var runsInInterval: UInt64?
    /// Steal operations as thief, jobs stolen in, jobs stolen from it by the others (cumulative).
    public var stealOps: UInt64
    public var stolenIn: UInt64
    public var stolenOut: UInt64
    /// Times it parked (found no work anywhere), cumulative.
    public var parks: UInt64
    /// Jobs in its queue now; the highest since the previous sample (peak-hold) and since the start.
    public var queueDepth: Int
    public var queuePeak: Int
    public var maxQueueDepth: Int
    /// Share of the trailing `Snapshot.busyWindowSeconds` spent running jobs (0…1).
    public var busyRatio: Double
    /// The thread it stole the most jobs from (nil when it never stole), and how many.
    public var topVictim: Int?
    public var topVictimJobs: UInt64

    public init(
        id: Int, state: MNThreadState = .running, runs: UInt64 = 0, runsInInterval: UInt64? = nil,
        stealOps: UInt64 = 0, stolenIn: UInt64 = 0, stolenOut: UInt64 = 0, parks: UInt64 = 0, queueDepth: Int = 0,
        queuePeak: Int = 0, maxQueueDepth: Int = 0, busyRatio: Double = 0, topVictim: Int? = nil,
        topVictimJobs: UInt64 = 0
    ) {
        self.id = id
        self.state = state
        self.runs = runs
        self.runsInInterval = runsInInterval
        self.stealOps = stealOps
        self.stolenIn = stolenIn
        self.stolenOut = stolenOut
        self.parks = parks
        self.queueDepth = queueDepth
        self.queuePeak = queuePeak
        self.maxQueueDepth = maxQueueDepth
        self.busyRatio = busyRatio
        self.topVictim = topVictim
        self.topVictimJobs = topVictimJobs
    }
}

/// The invariant workload on one runtime: rounds of tasks doing read-modify-write of shared state with no
/// await between the read and the write (a counter: load, compute, store; a cache: check, compute, set).
/// Counted per completed round, exactly: a round knows how many increments it made and how many keys it has.
public struct InvariantSnapshot: Codable, Sendable, Equatable {
    /// Which runtime: "mn-loop" (the M:N loop) or "loop" (the single-threaded event loop).
    public var runtime: String
    /// Threads the runtime runs tasks on (1 for the single loop).
    public var threads: Int
    /// Rounds completed, cumulative.
    public var rounds: UInt64
    /// Counter increments the completed rounds made (the value the counter would hold with no lost update).
    public var increments: UInt64
    /// Increments − the counter's final value, summed over completed rounds: updates another thread overwrote.
    public var lostUpdates: UInt64
    /// Cache fills (a task found the key empty and filled it), and fills beyond one per key (a second task
    /// found the key empty while the first was computing its value).
    public var cacheFills: UInt64
    public var duplicateFills: UInt64

    public init(
        runtime: String, threads: Int, rounds: UInt64 = 0, increments: UInt64 = 0, lostUpdates: UInt64 = 0,
        cacheFills: UInt64 = 0, duplicateFills: UInt64 = 0
    ) {
        self.runtime = runtime
        self.threads = threads
        self.rounds = rounds
        self.increments = increments
        self.lostUpdates = lostUpdates
        self.cacheFills = cacheFills
        self.duplicateFills = duplicateFills
    }
}

/// The M:N event loop of the `asyncio-mn` model, and the invariant workload on it and on the single loop.
public struct MNLoopSnapshot: Codable, Sendable, Equatable {
    public var threads: [MNThreadSnapshot]
    /// Jobs submitted from foreign threads that no worker has taken yet (gauge).
    public var injectorDepth: Int
    /// Tasks alive on the M:N loop.
    public var tasksAlive: Int
    /// The invariant workload per runtime: the M:N loop first, then the single loop.
    public var invariant: [InvariantSnapshot]

    public init(
        threads: [MNThreadSnapshot] = [], injectorDepth: Int = 0, tasksAlive: Int = 0,
        invariant: [InvariantSnapshot] = []
    ) {
        self.threads = threads
        self.injectorDepth = injectorDepth
        self.tasksAlive = tasksAlive
        self.invariant = invariant
    }

    // The M:N loop's own heartbeat lag (issue 15, wave 3): a heartbeat task on the M:N executor, recorded by
    // the one lag recorder (`SharedLagRecorder`), as the single loop's heartbeat is recorded by its own.
    /// How late a heartbeat task on the M:N loop resumed after each sleep (it may resume on any of the loop's
    /// threads); nil where the source has none (recordings made before it): the panel's "n/a", JSON `null`.
    public var lag: LagSummary? = nil
}

extension SchedulerModel {
    /// False for asyncio-mn, which runs its own `[invariant]` workload instead of `[task.NAME]` tables.
    public var runsTaskSpecs: Bool { self != .asyncioMN }
}

// MARK: - Plain OS threads (the threads model)

/// What one OS thread of the threads model is doing, from the model's own bookkeeping (each thread
/// records its state before it enters a call; nothing is read from /proc).
public enum ThreadState: String, Codable, Sendable, CaseIterable {
    /// On a CPU or runnable: the task's own code (spin, bookkeeping).
    case running
    /// Blocked in the kernel in a timed sleep (`ppoll` with a timeout, `nanosleep`).
    case sleep
    /// Blocked in `read(2)` (a pipe, a socket).
    case read
    /// Blocked in `write(2)` / `send(2)`.
    case write
    /// Blocked in `connect(2)`.
    case connect
    /// Blocked joining child threads (a fan-out parent).
    case join
    /// Blocked on a channel (a futex wait inside send or receive).
    case channel
    /// A pool thread waiting for a job (pool mode only).
    case idle

    /// True for the states in which the thread waits in the kernel for something other than work
    /// (every state but `running` and `idle`): what "tasks blocked now" counts.
    public var isBlocked: Bool { self != .running && self != .idle }
}

/// One OS thread of the threads model at the instant of the snapshot.
public struct ThreadSnapshot: Codable, Sendable, Equatable {
    /// The thread's slot (0 ..< `ThreadsSnapshot.capacity`); a slot is reused by a later thread.
    public var id: Int
    public var state: ThreadState
    /// Task kind (the task spec's label) of the task it runs; nil when idle.
    public var kind: String?
    /// How long it has been in `state`, ms.
    public var stateMs: Double
    /// Share of the trailing `Snapshot.busyWindowSeconds` this slot's threads spent on a CPU (their own CPU clock,
    /// BusyWindow); nil on the model's first sample.
    public var busyRatio: Double?

    public init(id: Int, state: ThreadState = .idle, kind: String? = nil, stateMs: Double = 0, busyRatio: Double? = nil)
    {
        self.id = id
        self.state = state
        self.kind = kind
        self.stateMs = stateMs
        self.busyRatio = busyRatio
    }
}

/// The threads model: its OS threads, how many were created, and what they are doing.
public struct ThreadsSnapshot: Codable, Sendable, Equatable {
    /// "per-task" (a new thread per task, up to `capacity`) or "pool" (`capacity` threads started once).
    public var mode: String
    /// per-task: the cap on threads alive at once; pool: the pool's size.
    public var capacity: Int
    /// Task threads alive now (started and not yet finished; pool: the pool's threads).
    public var alive: Int
    /// Most task threads alive at once since the previous sample (peak-hold) and since the model started.
    public var peakRecent: Int
    public var peak: Int
    /// Task threads created, cumulative; per second over the trailing second (nil on the first sample).
    public var created: UInt64
    public var createdPerSecond: Double?
    /// Threads the system refused (`pthread_create` failed), cumulative, and the last error number (EAGAIN = 11).
    public var createFailed: UInt64
    public var lastCreateError: Int32?
    /// Tasks not started because `capacity` threads were alive (per-task mode), cumulative.
    public var refusedAtCap: UInt64
    /// Threads by state now (every alive thread counted once).
    public var running: Int
    public var idle: Int
    /// Tasks blocked in the kernel now (sleep, read, write, connect, join, channel): the parked tasks of this
    /// model, each holding a whole OS thread and its stack.
    public var blocked: Int
    /// Blocked threads by state (keys: `ThreadState` raw values of the blocked states; absent = 0).
    public var blockedByState: [String: Int]
    /// Jobs waiting for a pool thread (pool mode; nil in per-task mode, which never queues).
    public var queueDepth: Int?
    /// CPUs' worth of time the task threads used over the trailing busy window: the sum of the slots' busy ratios
    /// (at most the cores).
    public var busyThreads: Double?
    /// Alive threads one by one, by slot, at most `ThreadsSnapshot.listedLimit` of them (the panel folds the rest).
    public var list: [ThreadSnapshot]

    /// The most threads listed one by one per snapshot.
    public static let listedLimit = 512

    public init(
        mode: String = "per-task", capacity: Int = 0, alive: Int = 0, peakRecent: Int = 0, peak: Int = 0,
        created: UInt64 = 0, createdPerSecond: Double? = nil, createFailed: UInt64 = 0, lastCreateError: Int32? = nil,
        refusedAtCap: UInt64 = 0, running: Int = 0, idle: Int = 0, blocked: Int = 0,
        blockedByState: [String: Int] = [:], queueDepth: Int? = nil, busyThreads: Double? = nil,
        list: [ThreadSnapshot] = []
    ) {
        self.mode = mode
        self.capacity = capacity
        self.alive = alive
        self.peakRecent = peakRecent
        self.peak = peak
        self.created = created
        self.createdPerSecond = createdPerSecond
        self.createFailed = createFailed
        self.lastCreateError = lastCreateError
        self.refusedAtCap = refusedAtCap
        self.running = running
        self.idle = idle
        self.blocked = blocked
        self.blockedByState = blockedByState
        self.queueDepth = queueDepth
        self.busyThreads = busyThreads
        self.list = list
    }

    // The pool's queue peak (issue 15, wave 3): a pool queues what it cannot run yet; a burst drained between
    // two frames still shows.
    /// Pool mode: the queue's highest depth since the previous sample (peak-hold); nil in per-task mode (it never
    /// queues) and in recordings made before it (n/a).
    public var queuePeak: Int? = nil

    /// Blocked threads in `state` (0 for a state with none).
    public func blocked(in state: ThreadState) -> Int { blockedByState[state.rawValue] ?? 0 }
}
// MARK: - Memory per parked task (issue 15, "Memory per parked task, live")

/// The process's memory and what each parked task costs, measured (Workloads/Sampling/MemorySampler.swift;
/// docs/figures.md, "Memory"). Every figure is nil (n/a) where it cannot be measured.
public struct MemorySnapshot: Codable, Sendable, Equatable {
    /// Resident set size of the whole process now, bytes (`/proc/self/statm`, resident pages × page size).
    public var rssBytes: UInt64?
    /// RSS taken once when the model started, before any task was parked, bytes.
    public var baselineRSSBytes: UInt64?
    /// Tasks parked now, as the model counts them (fibers: parked fibers of the scheduler; loops: parked tasks;
    /// threads: threads blocked in the kernel).
    public var parkedTasks: Int?
    /// (rss − baseline) / parked tasks, bytes; nil below `MemorySnapshot.minimumParked` parked tasks (the figure
    /// would be noise) or without a baseline.
    public var bytesPerParked: Double?
    /// Fiber stacks: resident bytes per stack, the mean over the stacks `mincore(2)` measured this sample.
    public var stackResidentBytesPerStack: Double?
    /// Fiber stacks measured by `mincore(2)` this sample (a random sample of the pool's stacks).
    public var stacksMeasured: Int?
    /// Fiber stacks the pool has mapped now (in use and free).
    public var stacksMapped: Int?
    /// Tasks the preset asked to park (its `park.count`), nil when it parks none.
    public var parkTarget: Int?
    /// Set when the preset stopped short of its target at a system limit (fds, threads, memory): what was hit,
    /// in one line. Drawn as a banner.
    public var limit: String?

    // Memory per parked task on plain threads (issue 15, threads-parked): what the kernel keeps per parked task,
    // which no RSS shows. Nil below `minimumParked`, without a baseline, and in recordings made before them.
    /// (VmPTE − its baseline) / parked tasks: this process's page tables per parked task, bytes (`/proc/self/status`).
    public var pageTablesPerParked: Double? = nil
    /// (KernelStack − its baseline) / parked tasks, bytes: the kernel stacks of *every* process (`/proc/meminfo`),
    /// so other processes' threads come and go in it too.
    public var kernelStacksPerParked: Double? = nil

    /// Fewer parked tasks than this give no `bytesPerParked` (n/a).
    public static let minimumParked = 100

    private enum CodingKeys: String, CodingKey {
        case rssBytes, baselineRSSBytes, parkedTasks, bytesPerParked, stackResidentBytesPerStack, stacksMeasured
        case stacksMapped, parkTarget, limit
        // Memory per parked task on plain threads.
        case pageTablesPerParked, kernelStacksPerParked
    }

    /// Written by hand so a figure not measured is `null`, not a missing key.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rssBytes, forKey: .rssBytes)
        try c.encode(baselineRSSBytes, forKey: .baselineRSSBytes)
        try c.encode(parkedTasks, forKey: .parkedTasks)
        try c.encode(bytesPerParked, forKey: .bytesPerParked)
        try c.encode(stackResidentBytesPerStack, forKey: .stackResidentBytesPerStack)
        try c.encode(stacksMeasured, forKey: .stacksMeasured)
        try c.encode(stacksMapped, forKey: .stacksMapped)
        try c.encode(parkTarget, forKey: .parkTarget)
        try c.encode(limit, forKey: .limit)
        try c.encode(pageTablesPerParked, forKey: .pageTablesPerParked)
        try c.encode(kernelStacksPerParked, forKey: .kernelStacksPerParked)
    }

    public init(
        rssBytes: UInt64? = nil, baselineRSSBytes: UInt64? = nil, parkedTasks: Int? = nil,
        bytesPerParked: Double? = nil, stackResidentBytesPerStack: Double? = nil, stacksMeasured: Int? = nil,
        stacksMapped: Int? = nil, parkTarget: Int? = nil, limit: String? = nil
    ) {
        self.rssBytes = rssBytes
        self.baselineRSSBytes = baselineRSSBytes
        self.parkedTasks = parkedTasks
        self.bytesPerParked = bytesPerParked
        self.stackResidentBytesPerStack = stackResidentBytesPerStack
        self.stacksMeasured = stacksMeasured
        self.stacksMapped = stacksMapped
        self.parkTarget = parkTarget
        self.limit = limit
    }
}
