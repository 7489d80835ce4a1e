// Workload definitions: what a preset asks the runtime to do, independent of the model.
//
// A workload is a list of task specs. Each spec names one task kind (`io`, `cpu`, `blocking`,
// `fanout`, `chatty`, `http`), an arrival process (an open rate, or a closed fixed population that
// replaces each task as it finishes) and a duration distribution. The same values run on every
// scheduler model: the model decides only *how* a task body is run (parked fiber, awaited
// coroutine, offloaded to `to_thread`), never *what* it does. That is what makes two presets
// comparable on screen.
//
// Latency is measured from a task's *scheduled* arrival time to its completion, so a stalled
// runtime that delays the arrivals themselves still shows the stall (no coordinated omission); a
// population replacement is due when its predecessor finished. A task whose body throws is a
// failure (`TaskFailure`, counted by kind), never a completion; an arrival past the spec's
// `maxInFlight` is dropped and counted.

import Foundation

/// The task kinds of the workload engine.
public enum TaskKind: String, Sendable, Codable, CaseIterable {
    /// Waits: a sleep, or a request/response round trip over a loopback socket.
    case io
    /// Busy computation for a duration.
    case cpu
    /// A real blocking syscall for a duration (`nanosleep`, or a `read` on a slow pipe).
    case blocking
    /// A parent spawns K children and joins them.
    case fanout
    /// Producers and consumers over a channel / queue.
    case chatty
    /// One keep-alive connection to the loopback HTTP/1.1 server: `requests` GETs, each response read by
    /// its Content-Length (HTTPClient.swift: one sync client for fibers and threads, its async twin for loops).
    case http
}

/// A duration distribution in milliseconds. Deterministic given the random source.
public enum Distribution: Sendable, Equatable {
    case fixed(Double)
    /// Uniform on [low, high].
    case uniform(Double, Double)
    /// Exponential with this mean, clipped at `max`.
    case exponential(mean: Double, max: Double)

    /// Draws one value (ms) from `rng`.
    public func sample(_ rng: inout SplitMix64) -> Double {
        switch self {
        case .fixed(let v): return v
        case .uniform(let lo, let hi): return lo + (hi - lo) * rng.nextUnit()
        case .exponential(let mean, let max):
            let u = Swift.max(rng.nextUnit(), 1e-12)
            return Swift.min(-mean * log(u), max)
        }
    }

    /// The mean of the distribution (ms), for capacity estimates and docs.
    public var mean: Double {
        switch self {
        case .fixed(let v): return v
        case .uniform(let lo, let hi): return (lo + hi) / 2
        case .exponential(let mean, _): return mean
        }
    }
}

/// How tasks of a spec arrive.
public enum Arrival: Sendable, Equatable {
    /// Open arrivals: this many per second, evenly spaced (deterministic, easy to read on screen).
    case rate(Double)
    /// Closed: keep this many tasks in flight; each completion starts a replacement.
    case population(Int)
}

/// Where new tasks of a spec are placed.
public enum Placement: String, Sendable, Equatable, CaseIterable {
    /// Spread over the workers/loops (round-robin over loops; the injector for fibers).
    case spread
    /// All on the first loop (loop models) or spawned locally by one generator fiber (fiber models),
    /// which builds the imbalance that work stealing exists to fix.
    case first
}

/// How an `io` task waits.
public enum IOMode: String, Sendable, Equatable, CaseIterable {
    /// A timer sleep.
    case sleep
    /// A request/response round trip over a loopback TCP socket; the server answers after `duration`.
    case socket
}

/// Which syscall a `blocking` task makes.
public enum BlockingCall: String, Sendable, Equatable, CaseIterable {
    /// `nanosleep` for the duration.
    case nanosleep
    /// A blocking `read` on a pipe that a helper thread writes to after the duration.
    case pipe
}

/// One line of the workload: a named task kind with its arrival process and parameters.
public struct TaskSpec: Sendable, Equatable {
    /// The label shown on screen and in summaries (the TOML table name, e.g. `task.web` → `web`).
    public var name: String
    public var kind: TaskKind
    public var arrival: Arrival
    /// Duration of the wait / busy work / syscall; for `fanout`, of each child; for `chatty`, the
    /// consumer's work per message.
    public var duration: Distribution
    public var placement: Placement
    /// `io` only.
    public var io: IOMode
    /// `io = socket` only: share of requests the loopback server resets (0…1), and the client's
    /// deadline per request in ms (nil: none). Real failures, counted by kind.
    public var resetShare: Double = 0
    public var timeoutMs: Double? = nil
    /// `blocking` only.
    public var call: BlockingCall
    /// `fanout` only: children per parent and what each child does (`cpu` or `io`).
    public var children: Int
    public var child: TaskKind
    /// `chatty` only: producers, consumers, messages per producer and channel capacity (0 = unbounded).
    public var producers: Int
    public var consumers: Int
    public var messages: Int
    public var capacity: Int
    /// Rate-driven specs: arrivals beyond this many tasks in flight are dropped and counted
    /// (`KindStats.admit`), so a stalled model degrades (latency grows, drops show) rather than
    /// exhausting memory. 1…`maxInFlightLimit`, default `maxInFlightDefault`.
    public var maxInFlight: Int
    /// The default `maxInFlight`.
    public static let maxInFlightDefault = 20_000
    /// The largest `maxInFlight` a preset may set (a million parked fibers fit in memory: docs/presets.md).
    public static let maxInFlightLimit = 1_000_000
    /// The largest closed `population`.
    public static let populationLimit = 1_000_000

    // `http` only (the function-colouring presets): keep-alive GETs per connection, the body size of each
    // response, and whether a second strand writes the requests while the task reads (full duplex,
    // pipelined). `duration` is the server's think time per request; `resetShare` the share of requests
    // the server resets.
    public var requests: Int = 4
    public var bodyBytes: Int = 256
    public var duplex: Bool = false

    public init(
        name: String, kind: TaskKind, arrival: Arrival, duration: Distribution, placement: Placement = .spread,
        io: IOMode = .sleep, call: BlockingCall = .nanosleep, children: Int = 4, child: TaskKind = .cpu,
        producers: Int = 1, consumers: Int = 1, messages: Int = 100, capacity: Int = 16,
        maxInFlight: Int = TaskSpec.maxInFlightDefault
    ) {
        self.name = name
        self.kind = kind
        self.arrival = arrival
        self.duration = duration
        self.placement = placement
        self.io = io
        self.call = call
        self.children = children
        self.child = child
        self.producers = producers
        self.consumers = consumers
        self.messages = messages
        self.capacity = capacity
        self.maxInFlight = maxInFlight
    }
}

/// A whole workload: task specs in file order.
public struct Workload: Sendable, Equatable {
    public var tasks: [TaskSpec]
    /// Seed of the random source the duration draws use (reproducible runs).
    public var seed: UInt64
    /// Tasks parked for the whole run (Parking.swift), beside the task specs; nil: none.
    public var park: ParkSpec?

    public init(tasks: [TaskSpec], seed: UInt64 = 0x5EED, park: ParkSpec? = nil) {
        self.tasks = tasks
        self.seed = seed
        self.park = park
    }

    // The asyncio invariant (issue 15).
    /// The asyncio-mn model's workload (`[invariant]`); nil for every other model.
    public var invariant: InvariantSpec? = nil
}

/// A tiny, fast, seedable PRNG (SplitMix64). Value type: each generator owns its own copy.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
