// RuntimeMapping: the one place where runtime values become telemetry values.
//
// Telemetry is a leaf module (it imports nothing of the runtime), so every conversion from a
// runtime type (`SchedulerWorkerState`, `RuntimeEventKind`, `RuntimeEventRecord`, the runtime's
// lag and delay summaries) to a snapshot value is here, and the samplers (FiberSampler,
// LoopSampler) and the benchmarks use these and nothing else. Each conversion is a `switch` or a
// field-by-field copy: matching enums by describing them (`EventKind(rawValue: "\(kind)")`) goes
// through reflection, microseconds per event when a sampler drains thousands of them.

import Runtime
import Telemetry

extension WorkerState {
    /// The runtime's state of the same name.
    public init(_ s: SchedulerWorkerState) {
        switch s {
        case .running: self = .running
        case .spinning: self = .spinning
        case .parked: self = .parked
        case .pinned: self = .pinned
        case .handedOff: self = .handedOff
        case .stopped: self = .stopped
        }
    }
}

extension EventKind {
    /// The runtime's kind of the same name.
    public init(_ kind: RuntimeEventKind) {
        switch kind {
        case .spawnBatch: self = .spawnBatch
        case .steal: self = .steal
        case .workerPark: self = .workerPark
        case .workerUnpark: self = .workerUnpark
        case .pin: self = .pin
        case .handoff: self = .handoff
        case .blockingBegin: self = .blockingBegin
        case .blockingEnd: self = .blockingEnd
        case .slowCallback: self = .slowCallback
        case .lagSpike: self = .lagSpike
        }
    }
}

extension RuntimeEvent {
    /// A runtime event record's figures as a telemetry event, with no name (`events(of:sessionStart:)` stores the
    /// record's name after, in place), its time in seconds since `sessionStart` (a `qv_now_ns` value; 0 keeps the
    /// monotonic clock's own origin).
    @inline(__always)
    init(figuresOf r: RuntimeEventRecord, sessionStart: UInt64) {
        self.init(
            time: r.timeNanos > sessionStart ? Double(r.timeNanos - sessionStart) / 1e9 : 0, kind: EventKind(r.kind),
            worker: Int(r.worker), other: Int(r.other), count: Int(r.count),
            durationMs: Double(r.durationNanos) / 1e6)
    }

    /// A drain's records as telemetry events, in their order: what each sampler puts in `Snapshot.events`.
    ///
    /// Each event is made in its place in the new array from the record read in place, its figures first and then
    /// its name (one retain): `records.map` copied each record out (its name retained and released), and an event
    /// made whole was made in a temporary and copied in through the value witness (a retain and a release more).
    public static func events(of records: [RuntimeEventRecord], sessionStart: UInt64) -> [RuntimeEvent] {
        let n = records.count
        if n == 0 { return [] }
        // Unsafe buffers: indices 0..<n of `records` (held for the call) and of the new array's storage, each
        // initialised once (`madeInPlace`).
        return records.withUnsafeBufferPointer {
            [RuntimeEvent](madeInPlace: Made(records: $0, sessionStart: sessionStart))
        }
    }

    /// A drain's events, made in the array's storage (`events(of:sessionStart:)`).
    private struct Made: InPlaceFill {
        // Unsafe buffer: the records, held by `events(of:sessionStart:)` for the array's making.
        let records: UnsafeBufferPointer<RuntimeEventRecord>
        let sessionStart: UInt64
        var count: Int { records.count }

        func fill(_ out: UnsafeMutableBufferPointer<RuntimeEvent>) {
            for i in 0..<records.count {
                let r = records.baseAddress! + i
                let e = out.baseAddress! + i
                e.initialize(to: RuntimeEvent(figuresOf: r.pointee, sessionStart: sessionStart))
                if let name = r.pointee.name { e.pointee.name = name }
            }
        }
    }
}

extension FiberCounts {
    /// The scheduler's fibers by state, field by field.
    public init(_ f: SchedulerMetrics.FiberCounts) {
        self.init(
            total: f.total, running: f.running, runnable: f.runnable, parkedSleep: f.parkedSleep, parkedIO: f.parkedIO,
            parkedChannel: f.parkedChannel, parkedMutex: f.parkedMutex, parkedJoin: f.parkedJoin,
            blockedPinned: f.blockedPinned, blockedHandoff: f.blockedHandoff)
    }
}

extension LagSummary {
    /// A loop's heartbeat lag (same fields, same bucket bounds).
    public init(_ l: LoopLagSummary) {
        self.init(
            p50Ms: l.p50Ms, p99Ms: l.p99Ms, maxMs: l.maxMs, slotP99Ms: l.slotP99Ms, recentMs: l.recentMs,
            buckets: l.buckets)
    }
}

extension DelaySummary {
    /// The scheduler's sampled ready → running delays (1 in `sampling` enqueues; percentiles are upper edges
    /// of log2 buckets, so within 2×), with the raw log2 histogram.
    public init(_ d: SchedulerMetrics.Delay, sampling: Int) {
        self.init(
            samples: d.samples, sampling: sampling, p50Ms: Double(d.p50Nanos) / 1e6, p99Ms: Double(d.p99Nanos) / 1e6,
            maxMs: Double(d.maxNanos) / 1e6, log2Buckets: d.histogram)
    }

    /// A loop's queue delay (ready → started, every job measured; no histogram published).
    public init(_ d: LoopDurationSummary) {
        self.init(samples: d.count, sampling: 1, p50Ms: d.p50Ms, p99Ms: d.p99Ms, maxMs: d.maxMs, log2Buckets: nil)
    }

    /// The worst of several delays (the highest percentiles and maximum, the samples summed), or nil for none.
    public static func worst(_ ds: [DelaySummary]) -> DelaySummary? {
        guard var out = ds.first else { return nil }
        for d in ds.dropFirst() {
            out.samples += d.samples
            out.sampling = max(out.sampling, d.sampling)
            out.p50Ms = max(out.p50Ms, d.p50Ms)
            out.p99Ms = max(out.p99Ms, d.p99Ms)
            out.maxMs = max(out.maxMs, d.maxMs)
            if let a = out.log2Buckets, let b = d.log2Buckets, a.count == b.count {
                out.log2Buckets = zip(a, b).map { $0 &+ $1 }
            } else {
                out.log2Buckets = nil
            }
        }
        return out
    }
}

// The asyncio invariant (issue 15).
extension MNThreadState {
    /// The M:N loop's thread state of the same name.
    public init(_ s: MultiLoopThreadState) {
        switch s {
        case .running: self = .running
        case .searching: self = .searching
        case .parked: self = .parked
        case .stopped: self = .stopped
        }
    }
}
