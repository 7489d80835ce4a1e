import Telemetry

// History: what the panels need from past snapshots.
//
// A snapshot is one instant plus the events of one interval, but the panels draw trends
// (sparklines), the latest slow callbacks even when the newest interval had none, and a
// worker's recent events. `PanelHistory` keeps exactly that, bounded, as plain values:
// the app loop (UI thread) owns one, calls `append` with each snapshot it shows, and hands it
// to `DashboardPanels.draw`, which only reads it. Nothing here reads a clock.
//
// A preset switch (the snapshot's `preset` changes) starts a new runtime whose counters
// restart at zero: the sample is flagged (`Sample.presetSwitch`, drawn as a marker on
// sparklines) and the event lists and per-worker deltas restart, so the new preset's panels
// never show the old preset's culprits.

/// A fixed-capacity ring: appending past capacity drops the oldest element.
public struct Ring<Element: Sendable & Equatable>: Sendable, Equatable {
    public let capacity: Int
    private var storage: [Element] = []
    /// Index of the oldest element once the ring is full.
    private var head = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        storage.reserveCapacity(self.capacity)
    }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }

    public mutating func append(_ e: Element) {
        if storage.count < capacity {
            storage.append(e)
        } else {
            storage[head] = e
            head = (head + 1) % capacity
        }
    }

    public mutating func removeAll() {
        storage.removeAll(keepingCapacity: true)
        head = 0
    }

    /// The elements, oldest first.
    public var elements: [Element] {
        head == 0 ? storage : Array(storage[head...]) + storage[..<head]
    }

    /// The newest element.
    public var last: Element? {
        guard !storage.isEmpty else { return nil }
        return storage[(head + storage.count - 1) % storage.count]
    }

    /// The last `n` elements mapped by `f`, oldest first (cheaper than `elements.suffix(n).map`).
    public func suffix<T>(_ n: Int, _ f: (Element) -> T) -> [T] {
        let k = min(max(0, n), storage.count)
        var out: [T] = []
        out.reserveCapacity(k)
        let start = storage.count - k
        for i in start..<storage.count { out.append(f(storage[(head + i) % storage.count])) }
        return out
    }
}

/// Key figures of one snapshot, for sparklines.
public struct HistorySample: Sendable, Equatable {
    public var time: Double
    /// `lag.recentMs`: worst loop lag / scheduling delay of the interval.
    public var lagMs: Double
    /// Completions per second, all task kinds.
    public var throughput: Double
    /// Fibers stolen in the interval, all carriers.
    public var steals: Double
    /// Busy share per worker (fiber models) or loop (loop models), by index.
    public var busy: [Double]
    /// Local run queue / ready queue depth per worker or loop, by index.
    public var depth: [Int?]
    /// True on the first sample of a preset (a switch happened just before it).
    public var presetSwitch: Bool
}

/// Recent history for the panels. Owned by the app loop; pure value.
public struct PanelHistory: Sendable, Equatable {
    /// Samples kept (enough for a 200-column sparkline).
    public static let defaultCapacity = 240
    /// Slow callbacks / blocking regions kept.
    public static let notableCapacity = 32
    /// Events of every kind kept for the details view.
    public static let eventCapacity = 256

    public private(set) var samples: Ring<HistorySample>
    /// Slow callbacks and long blocking regions of the current preset, oldest first. Lag spikes are not
    /// culprits (a spike is the symptom of a slow callback, or of many short ones): they stay in `events`
    /// and the lag chart.
    public private(set) var notable: Ring<RuntimeEvent>
    /// Recent events of the current preset, oldest first: every kind except spawn batches and carrier
    /// parks/unparks. An idle carrier parks and unparks thousands of times a second (each timer tick), which
    /// would push every steal, pin and slow callback out of the ring within a frame; the workers' `parks`
    /// and `unparks` counters carry them instead.
    public private(set) var events: Ring<RuntimeEvent>
    /// How long a steal lane stays drawn after its last steal, in seconds: steals come in bursts, and lanes
    /// drawn from one 100 ms interval alone blink on and off from frame to frame.
    public static let stealHold = 1.0
    /// Steal events of the last `stealHold` seconds of the current preset, oldest first.
    public private(set) var recentSteals: [RuntimeEvent] = []
    /// Fibers each carrier stole in the latest interval (the sampler's `stolenInInterval`; 0 where unknown), by index.
    public private(set) var stolenInDelta: [Int] = []
    /// Preset of the latest sample; "" before the first.
    public private(set) var preset: String = ""

    public init(capacity: Int = PanelHistory.defaultCapacity) {
        samples = Ring(capacity: capacity)
        notable = Ring(capacity: Self.notableCapacity)
        events = Ring(capacity: Self.eventCapacity)
    }

    /// Takes a snapshot in. Call once per snapshot, in order. Called by the app loop only (UI thread), never
    /// while a frame is being drawn from this value.
    public mutating func append(_ s: Snapshot) {
        let switched = !samples.isEmpty && s.preset != preset
        if switched {
            notable.removeAll()
            events.removeAll()
            recentSteals.removeAll()
        }
        preset = s.preset
        // Interval maths is the sampler's (Workloads/Sampling): the history only keeps what the snapshot says.
        stolenInDelta = s.workers.map { Int(clamping: $0.stolenInInterval ?? 0) }
        var stealCount = 0
        for e in s.events {
            switch e.kind {
            case .slowCallback, .blockingEnd: notable.append(e)
            default: break
            }
            if e.kind == .steal {
                stealCount += max(1, e.count)
                recentSteals.append(e)
            }
            switch e.kind {
            case .spawnBatch, .workerPark, .workerUnpark: break
            default: events.append(e)
            }
        }
        recentSteals.removeAll { $0.time < s.time - Self.stealHold }
        if recentSteals.count > 4096 { recentSteals.removeFirst(recentSteals.count - 4096) }  // clocks apart: bound it
        if stealCount == 0 { stealCount = stolenInDelta.reduce(0, +) }
        let fibers = s.model.usesFibers
        samples.append(
            HistorySample(
                time: s.time, lagMs: s.lag.recentMs, throughput: s.taskKinds.reduce(0) { $0 + $1.throughput },
                steals: Double(stealCount),
                busy: fibers ? s.workers.map(\.busyRatio) : s.loops.map { $0.busyRatio ?? .nan },
                depth: fibers ? s.workers.map(\.queueDepth) : s.loops.map(\.readyDepth),
                presetSwitch: switched))
    }

    /// Seconds between the last two samples of the current preset (nil before two, or right after a switch).
    public var lastInterval: Double? {
        let two = samples.suffix(2) { $0 }
        guard two.count == 2, !two[1].presetSwitch, two[1].time > two[0].time else { return nil }
        return two[1].time - two[0].time
    }

    /// The last `n` values of a series, oldest first.
    public func series(_ n: Int, _ key: (HistorySample) -> Double) -> [Double] { samples.suffix(n, key) }

    /// Per-column switch markers for the last `n` samples (true where a preset started).
    public func switchMarks(_ n: Int) -> [Bool] { samples.suffix(n) { $0.presetSwitch } }

    /// Recent events touching worker/loop `id` (as actor or as the other side), newest first, at most `limit`.
    public func events(of id: Int, limit: Int) -> [RuntimeEvent] {
        var out: [RuntimeEvent] = []
        for e in events.elements.reversed() where e.worker == id || e.other == id {
            out.append(e)
            if out.count == limit { break }
        }
        return out
    }
}
