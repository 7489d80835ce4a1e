// Per task-kind statistics: started, completed, in flight, dropped arrivals, latency (HdrHistogram),
// throughput.
//
// Arrival sources call `admit(cap:)` (or `begin()` for population members, which never exceed
// their fixed count); task bodies call `end(latencyNanos:)` or, when they throw, `fail(_:)` from whatever thread runs them (a
// carrier, a loop, a pool thread); the sampler calls `snapshot(now:)` from the UI or headless thread. A short
// mutex section per completion is cheap next to the tasks themselves (the fastest task kind here
// takes ~1 ms) and keeps the HdrHistogram exact. Rejected: per-thread histograms merged by the
// sampler. They avoid the lock but need a registry of threads that fibers migrate between.

import Histogram
import Runtime
import Telemetry

/// Statistics of one task spec. Safe to use from any thread.
public final class KindStats: Sendable {
    public let name: String
    public let kind: TaskKind

    private struct State {
        var started: UInt64 = 0
        var completed: UInt64 = 0
        /// Latency in microseconds, 1 µs … 1 h, 3 significant digits.
        var latency = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        /// (time, completed) at recent `snapshot(now:)` calls, oldest first, spanning about `rateWindow`.
        var marks: [(time: Double, completed: UInt64)] = []
        var maxInFlight = 0
        /// Arrivals `admit(cap:)` refused because `cap` tasks were in flight.
        var dropped: UInt64 = 0
        /// Tasks that ended with an error (`fail`), by kind; `failed` is their total.
        var errors = TaskErrorCounts()
        var failed: UInt64 = 0
        var inFlight: Int { Int(started - completed - failed) }
    }

    // protected by its own lock; every method may be called from any thread or fiber.
    private let state = SpinLock(State())

    public init(name: String, kind: TaskKind) {
        self.name = name
        self.kind = kind
    }

    /// A task of this kind started (counted when it is spawned, before it runs).
    public func begin() {
        state.withLock { s in
            s.started += 1
            s.maxInFlight = max(s.maxInFlight, s.inFlight)
        }
    }

    /// An arrival of this kind: begins it (as `begin()`) unless `cap` tasks are already in flight,
    /// in which case it is dropped and counted in `dropped`. True when the task should be spawned.
    /// The check and the count are one step, so two arrival sources cannot both slip past the cap.
    public func admit(cap: Int) -> Bool {
        state.withLock { s in
            let inFlight = s.inFlight
            guard inFlight < cap else {
                s.dropped += 1
                return false
            }
            s.started += 1
            s.maxInFlight = max(s.maxInFlight, inFlight + 1)
            return true
        }
    }

    /// A task that was admitted or begun but never started (its thread was refused: at the threads model's cap,
    /// or by the system): out of flight again, and counted in `dropped` as an arrival that did not run.
    public func withdraw() {
        state.withLock { s in
            s.started -= 1
            s.dropped += 1
        }
    }

    /// A task of this kind completed; `latencyNanos` runs from its scheduled arrival to now.
    public func end(latencyNanos: UInt64) {
        let micros = max(1, latencyNanos / 1000)
        state.withLock { s in
            s.completed += 1
            _ = s.latency.record(min(micros, 3_600_000_000))
        }
    }

    /// A task of this kind ended with an error of `kind`: counted, out of flight, not a completion.
    public func fail(_ kind: TaskErrorKind) {
        state.withLock { s in
            s.failed += 1
            s.errors[kind] += 1
        }
    }

    public var inFlight: Int { state.withLock { $0.inFlight } }
    public var errors: TaskErrorCounts { state.withLock { $0.errors } }
    public var started: UInt64 { state.withLock { $0.started } }
    public var completed: UInt64 { state.withLock { $0.completed } }
    public var dropped: UInt64 { state.withLock { $0.dropped } }

    /// Seconds of completions a throughput figure covers. One UI interval (100 ms) is too short: a kind
    /// that completes twice a second would read 0, 10, 0, 0 … instead of 2.
    public static let rateWindow = 1.0

    /// The telemetry value at `now` (seconds); throughput covers the last `rateWindow` seconds of calls
    /// (less right after the first call; 0 on the first).
    public func snapshot(now: Double) -> TaskKindStats {
        state.withLock { s in
            // Keep the newest mark at least `rateWindow` old (the window's start) and every later one.
            while s.marks.count > 1, s.marks[1].time <= now - Self.rateWindow { s.marks.removeFirst() }
            var throughput = 0.0
            if let first = s.marks.first, now > first.time {
                throughput = Double(s.completed - first.completed) / (now - first.time)
            }
            s.marks.append((now, s.completed))
            let hasData = s.latency.totalCount > 0
            return TaskKindStats(
                kind: name, started: s.started, completed: s.completed, inFlight: s.inFlight,
                p50Ms: hasData ? Double(s.latency.valueAtPercentile(50)) / 1000 : 0,
                p99Ms: hasData ? Double(s.latency.valueAtPercentile(99)) / 1000 : 0, throughput: throughput,
                dropped: s.dropped, errors: s.errors)
        }
    }
}
