// Models: a preset's scheduler running a preset's workload, and the sampler that reads it.
//
// # The Model protocol
//
// A model owns one runtime (a fiber scheduler or a set of event loops) for one preset. `start()`
// brings the runtime up and starts the workload generators on it; `stop()` stops generators,
// lets or makes tasks finish, joins every thread and returns every stack and descriptor, so a
// preset switch (stop one model, start the next) leaks nothing. `sample()` is the sampler: it
// reads published counters and drains the runtime's event rings — both non-blocking for the
// runtime's threads — and returns one `Snapshot`. Only one thread (the UI or headless thread)
// calls `sample()`.
//
// # LiveSource
//
// `LiveSource` is the `SnapshotSource` the app loop polls in a live session: it starts a model
// and turns each `poll()` into a snapshot stamped with the session clock, so a preset switch
// (a new LiveSource with the same session start) keeps time monotonic across models.

import Foundation
import Runtime
import Telemetry

/// Why a model could not start.
public struct ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One scheduler model running one preset. See the essay at the top of this file.
public protocol Model: AnyObject, Sendable {
    var preset: Preset { get }
    /// Starts the runtime and the workload. Call once.
    func start() throws(ModelError)
    /// Stops the workload and the runtime and joins every thread. Idempotent; returns within ~200 ms.
    func stop()
    /// The sampler: one snapshot of the runtime now. `time` is seconds since the session started.
    /// Drains event rings without blocking runtime threads. Called from one thread only.
    func sample(time: Double, sequence: UInt64) -> Snapshot
}

/// Monotonic clock (CLOCK_MONOTONIC, the clock the runtime's events use).
public enum Monotonic {
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// Builds the model a preset names.
public enum Models {
    /// The model for `preset`, not yet started. `sessionStart` (monotonic ns) is the origin of event times.
    public static func make(_ preset: Preset, sessionStart: UInt64 = Monotonic.now()) throws(ModelError) -> any Model {
        switch preset.scheduler.model {
        case .eventLoop, .loopPerThread: return try LoopModel(preset: preset, sessionStart: sessionStart)
        case .virtualThreads, .greenThreads: return try makeFiberModel(preset, sessionStart: sessionStart)
        case .asyncioMN: return try InvariantModel(preset: preset, sessionStart: sessionStart)
        case .threads: return ThreadsModel(preset: preset, sessionStart: sessionStart)
        }
    }
}

/// The live snapshot source: a started model, sampled on each `poll()`.
///
/// Only the UI (or headless) thread calls its methods.
public final class LiveSource: SnapshotSource {
    public let model: any Model
    /// Session start on the monotonic clock (nanoseconds); snapshot times are relative to it.
    public let sessionStart: UInt64
    // owned by the polling thread
    private var sequence: UInt64
    private var stopped = false
    private var pendingSwitchEvent: RuntimeEvent?

    /// Starts `preset`'s model. `sessionStart` and `firstSequence` continue a session across a
    /// preset switch; the first snapshot then carries a `presetSwitch` event.
    public init(preset: Preset, sessionStart: UInt64? = nil, firstSequence: UInt64 = 0) throws(ModelError) {
        let start = sessionStart ?? Monotonic.now()
        self.sessionStart = start
        self.sequence = firstSequence
        model = try Models.make(preset, sessionStart: start)
        try model.start()
        if sessionStart != nil {
            pendingSwitchEvent = RuntimeEvent(
                time: Double(Monotonic.now() - start) / 1e9, kind: .presetSwitch, name: preset.name)
        }
    }

    /// Stops this source and starts `preset` on the same session clock (the dashboard's preset switch).
    public func switchTo(_ preset: Preset) throws(ModelError) -> LiveSource {
        stop()
        return try LiveSource(preset: preset, sessionStart: sessionStart, firstSequence: sequence)
    }

    /// The sequence number the next snapshot will carry (continue it across a preset switch).
    public var nextSequence: UInt64 { sequence }

    public func poll() -> Snapshot? {
        guard !stopped else { return nil }
        let time = Double(Monotonic.now() - sessionStart) / 1e9
        var snapshot = model.sample(time: time, sequence: sequence)
        sequence += 1
        if let e = pendingSwitchEvent {
            snapshot.events.insert(e, at: 0)
            pendingSwitchEvent = nil
        }
        return snapshot
    }

    /// The fiber scheduler a virtual- or green-threads preset runs on, while the source runs (nil for other models
    /// and once stopped): what the sampler benchmark samples itself, with its own `FiberSampler`, as `poll()` would.
    /// A caller that samples it must not also `poll()` (one sampler per scheduler: each drains the events).
    public var fiberScheduler: Scheduler? { stopped ? nil : (model as? FiberModel)?.scheduler }

    public func stop() {
        guard !stopped else { return }
        stopped = true
        model.stop()
    }

    deinit { if !stopped { model.stop() } }
}

/// A run with no terminal: what `qvtop run --headless` and the talk-claim tests do.
public enum HeadlessRun {
    /// Starts `preset`'s model, samples it `rate` times per second for `seconds` on this thread,
    /// stops it, and returns every snapshot (feed them to `RunSummary`).
    public static func collect(preset: Preset, seconds: Double, rate: Double = 10) throws(ModelError) -> [Snapshot] {
        let source = try LiveSource(preset: preset)
        defer { source.stop() }
        let period = UInt64(1e9 / max(1, rate))
        let start = source.sessionStart
        let end = start + UInt64(max(0, seconds) * 1e9)
        var snapshots: [Snapshot] = []
        if let first = source.poll() { snapshots.append(first) }
        var next = Monotonic.now() + period
        while next <= end {
            let now = Monotonic.now()
            if next > now { Work.sleepThread(nanos: next - now) }
            if let s = source.poll() { snapshots.append(s) }
            next += period
        }
        return snapshots
    }

    /// `collect` then `RunSummary`.
    public static func summary(preset: Preset, seconds: Double, rate: Double = 10) throws(ModelError) -> RunSummary? {
        RunSummary(try collect(preset: preset, seconds: seconds, rate: rate))
    }
}
