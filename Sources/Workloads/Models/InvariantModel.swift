// The asyncio invariant (issue 15): the `asyncio-mn` model — the same asyncio-style code on an M:N event
// loop (`MultiLoop`: tasks resumed on any of N threads, with stealing) and on one single-threaded
// `EventLoop`, side by side.
//
// # What the code relies on
// asyncio code may assume that nothing else runs between two awaits: a read-modify-write of shared state
// with no await in between is atomic on one loop. The workload does two such things, as a web handler would:
// - a counter: load it, compute, store the value plus one (`bump`);
// - a cache entry: check that the key is empty, compute the value, set it (`fill`).
// On the single loop both are exact. On the M:N loop two tasks run those steps at the same time on two
// threads: one's store overwrites the other's (a lost update), two both find the key empty (a duplicate
// fill). "Even if you wrote a multi-threaded event loop, nothing in the ecosystem would actually work
// properly on it."
//
// # Defined behaviour, counted exactly
// The race is real but not a Swift data race: the shared state is `Synchronization.Atomic` read and written
// with relaxed loads and stores (TSan stays clean, and what a lost update *is* stays well defined: the
// value of a store that another store replaced). The figures are counted per round: a round starts K tasks
// of S steps each on fresh state and waits for all of them, so it knows exactly how many increments it
// made (K × S) and how many keys it has; lost updates = K × S − the counter's final value, duplicate fills =
// fills − keys filled. A round in progress is not counted, so every figure on screen is exact (a live
// `expected − counter` read would count the increments between a load and its store as lost).
//
// # Rejected
// - Plain `var` fields for the shared state: a Swift data race (undefined behaviour; TSan reports it), where
//   the point is a *defined* lost update.
// - `wrappingAdd` for the counter: atomic, so nothing would be lost; that is the fix, not the asyncio code.
// - Counting lost updates continuously from a global counter: see above; rounds make the figure exact.
//
// # Heartbeat lag on both loops
// The single loop's heartbeat is its own timer (`EventLoop.Configuration.heartbeat`, its `LagRecorder`). The
// M:N loop gets one measured the same way: a heartbeat task on the M:N executor sleeps to the next slot of its
// grid and records how late it resumed, in the one lag recorder (`SharedLagRecorder`, as the fiber heartbeat:
// the task resumes on any of the loop's threads, so the recorder sits behind its `SpinLock`). Its lateness is
// what an M:N loop task waiting for a timer felt: a timer due while every thread runs jobs waits for a thread
// to look at the timer heap (`MultiLoop.Configuration.timerCheckEvery`). It is one more task on the loop
// (`tasks alive` counts it). Rejected: a heartbeat built into `MultiLoop` (its other users need none, and a
// task here measures what a loop task feels: a resume on whichever thread is free); a second recorder type
// (the house rule is one lag recorder).
//
// `sample` reads the M:N loop's metrics and heartbeat, the single loop's metrics and ring (all never block the
// runtime threads) and the rounds' published totals, and hands them to `MNLoopSampler` and `LoopSampler`.

import Foundation
import Runtime
import Synchronization
import Telemetry

/// The `[invariant]` table of an asyncio-mn preset (docs/presets.md).
public struct InvariantSpec: Sendable, Equatable {
    /// Tasks started per round.
    public var tasks = 8
    /// Read-modify-writes (counter and cache) per task per round; each step ends with a yield.
    public var steps = 40
    /// Compute between the read and the write, µs (no await).
    public var windowMicros = 20.0
    /// Cache keys per round.
    public var cacheKeys = 32
    /// Pause between rounds, ms.
    public var pauseMs = 20.0
    public init() {}
}

/// The shared state of one round: what asyncio code would keep in a module-level dict.
final class InvariantState: Sendable {
    // Sendable: atomics only.
    let counter = Atomic<Int>(0)
    let cache: [CacheSlot]
    /// Fills made this round. The instrument, not the subject: `wrappingAdd`, exact on any thread.
    let fills = Atomic<Int>(0)

    init(keys: Int) { cache = (0..<keys).map { _ in CacheSlot() } }

    final class CacheSlot: Sendable {
        let owner = Atomic<Int>(0)
    }

    /// Keys some task filled.
    var keysFilled: Int { cache.reduce(0) { $0 + ($1.owner.load(ordering: .relaxed) != 0 ? 1 : 0) } }
}

/// The asyncio-style steps. No await between the read and the write: that is the invariant the code relies on.
enum InvariantSteps {
    // BEGIN invariant counter
    /// `n = counter; compute(); counter = n + 1`
    static func bump(_ s: InvariantState, windowMicros: Double) {
        // relaxed (both): the race under study, kept defined: an atomic word, read then written, no
        // ordering asked — what a Python int attribute is under free-threading.
        let n = s.counter.load(ordering: .relaxed)  // read
        Work.spin(ms: windowMicros / 1000)  // compute: no await, so "nothing else runs" (on one loop)
        s.counter.store(n + 1, ordering: .relaxed)  // write
    }
    // END invariant counter

    // BEGIN invariant cache
    /// `if key not in cache: cache[key] = compute()`
    static func fill(_ s: InvariantState, key: Int, owner: Int, windowMicros: Double) {
        let slot = s.cache[key]
        // relaxed (both): the race under study (see `bump`).
        if slot.owner.load(ordering: .relaxed) == 0 {  // check
            Work.spin(ms: windowMicros / 1000)  // compute the value: no await
            slot.owner.store(owner, ordering: .relaxed)  // set
            s.fills.wrappingAdd(1, ordering: .relaxed)  // the instrument (exact), not the code under study
        }
    }
    // END invariant cache

    // BEGIN invariant task
    /// One task of a round, the same on both loops: an await only between the steps, never inside one.
    static func task(_ s: InvariantState, index i: Int, spec: InvariantSpec, on runtime: some InvariantRuntime) async {
        for j in 0..<spec.steps {
            bump(s, windowMicros: spec.windowMicros)
            fill(s, key: (i + j) % spec.cacheKeys, owner: i + 1, windowMicros: spec.windowMicros)
            await runtime.yieldNow()
        }
    }
    // END invariant task
}

/// A runtime the invariant workload runs on: what asyncio code needs of a loop here.
protocol InvariantRuntime: Sendable {
    /// Runs `count` tasks of `body` (given its index) on the runtime and waits for all of them.
    func gather(_ count: Int, name: String, _ body: @escaping @Sendable (Int) async throws -> Void) async throws
    func yieldNow() async
    func sleep(ms: Double) async throws
}

extension EventLoop: InvariantRuntime {
    func gather(_ count: Int, name: String, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let tasks = (0..<count).map { i in spawn(name: name) { try await body(i) } }
        for t in tasks { try await t.value }
    }
    func yieldNow() async { await yield() }
    func sleep(ms: Double) async throws { try await sleep(for: .microseconds(Int64(ms * 1000))) }
}

extension MultiLoop: InvariantRuntime {
    func gather(_ count: Int, name: String, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let tasks = (0..<count).map { i in spawn(name: name) { try await body(i) } }
        for t in tasks { try await t.value }
    }
    func yieldNow() async { await Task.yield() }
    func sleep(ms: Double) async throws { try await sleep(for: .microseconds(Int64(ms * 1000))) }
}

/// The rounds' totals on one runtime, published by its driver task once per round, read by the sampler.
final class InvariantTotals: Sendable {
    struct Totals: Sendable, Equatable {
        var rounds: UInt64 = 0
        var increments: UInt64 = 0
        var lostUpdates: UInt64 = 0
        var cacheFills: UInt64 = 0
        var duplicateFills: UInt64 = 0
    }
    let runtime: String
    let threads: Int
    /// Written by the driver with a try-lock (a sampler holding it makes the driver keep its totals for the
    /// next round: the runtime never waits for a reader); read by the sampler.
    private let published = Locked(Totals())

    init(runtime: String, threads: Int) {
        self.runtime = runtime
        self.threads = threads
    }

    /// The driver task: returns false when the sampler held the lock (publish again next round).
    func tryPublish(_ t: Totals) -> Bool { published.withLockIfAvailable { $0 = t } != nil }

    /// The sampler.
    var snapshot: InvariantSnapshot {
        let t = published.withLock { $0 }
        return InvariantSnapshot(
            runtime: runtime, threads: threads, rounds: t.rounds, increments: t.increments,
            lostUpdates: t.lostUpdates, cacheFills: t.cacheFills, duplicateFills: t.duplicateFills)
    }
}

/// The driver: rounds of the invariant workload on `runtime` until `stop` is set or the task is cancelled.
func runInvariantRounds(
    on runtime: some InvariantRuntime, spec: InvariantSpec, totals: InvariantTotals, stop: StopFlag
) async {
    var t = InvariantTotals.Totals()
    while !stop.isSet && !Task.isCancelled {
        let state = InvariantState(keys: spec.cacheKeys)
        do {
            try await runtime.gather(spec.tasks, name: "rmw") { i in
                await InvariantSteps.task(state, index: i, spec: spec, on: runtime)
            }
        } catch {
            return
        }
        let increments = spec.tasks * spec.steps
        // relaxed (both): read after every task of the round ended (their `value` was awaited), so nothing
        // writes them any more.
        let final = state.counter.load(ordering: .relaxed)
        let fills = state.fills.load(ordering: .relaxed)
        t.rounds += 1
        t.increments += UInt64(increments)
        t.lostUpdates += UInt64(max(0, increments - final))
        t.cacheFills += UInt64(fills)
        t.duplicateFills += UInt64(max(0, fills - state.keysFilled))
        _ = totals.tryPublish(t)
        do {
            try await runtime.sleep(ms: spec.pauseMs)
        } catch {
            return
        }
    }
}

/// asyncio-mn: the invariant workload on a MultiLoop and on an EventLoop at the same time.
final class InvariantModel: Model {
    let preset: Preset
    private let spec: InvariantSpec
    private let stopping = StopFlag()
    private let mnTotals: InvariantTotals
    private let loopTotals: InvariantTotals
    /// The M:N loop's heartbeat: ticked by the heartbeat task (on any of the loop's threads), read by the sampler.
    let mnHeartbeat: SharedLagRecorder
    // protected by its lock: set by start(), taken (set to nil) by stop(), read by the sampler.
    private let runtime = Locked<Runtime?>(nil)
    // protected by its lock; only the sampling thread uses it (the lock just makes that checkable).
    private let samplers: Locked<(mn: MNLoopSampler, loop: LoopSampler)>

    private struct Runtime {
        var mn: MultiLoop
        var loop: EventLoop
    }

    init(preset: Preset, sessionStart: UInt64) throws(ModelError) {
        guard let spec = preset.workload.invariant else {
            throw ModelError("preset \(preset.name): model asyncio-mn needs an [invariant] table")
        }
        self.preset = preset
        self.spec = spec
        mnTotals = InvariantTotals(runtime: "mn-loop", threads: preset.scheduler.mnLoopThreads)
        loopTotals = InvariantTotals(runtime: "loop", threads: 1)
        samplers = Locked((MNLoopSampler(), LoopSampler(sessionStart: sessionStart)))
        // The single loop's period (`heartbeat_ms`), floored at 10 µs as the other models' heartbeats.
        mnHeartbeat = SharedLagRecorder(period: .nanoseconds(Int64(max(preset.scheduler.heartbeatMs * 1e6, 10_000))))
    }

    func start() throws(ModelError) {
        let s = preset.scheduler
        var mc = MultiLoop.Configuration()
        mc.name = "mn-loop"
        mc.threads = s.mnLoopThreads
        mc.shutdownGrace = .seconds(1)
        let mn: MultiLoop
        do {
            mn = try MultiLoop(mc)
        } catch {
            throw ModelError("cannot start the M:N loop: \(error)")
        }
        var lc = EventLoop.Configuration()
        lc.name = "loop-0"
        lc.heartbeat = .microseconds(Int64(s.heartbeatMs * 1000))
        lc.slowCallbackThreshold = .microseconds(Int64(s.slowCallbackMs * 1000))
        lc.shutdownGrace = .milliseconds(200)
        let loop: EventLoop
        do {
            loop = try EventLoop(lc)
        } catch {
            mn.shutdown()
            throw ModelError("cannot start event loop 0: \(error)")
        }
        runtime.withLock { $0 = Runtime(mn: mn, loop: loop) }
        let (spec, stop, mnTotals, loopTotals) = (spec, stopping, mnTotals, loopTotals)
        startHeartbeat(on: mn)
        mn.spawn(name: "rounds") { await runInvariantRounds(on: mn, spec: spec, totals: mnTotals, stop: stop) }
        loop.spawn(name: "rounds") { await runInvariantRounds(on: loop, spec: spec, totals: loopTotals, stop: stop) }
    }

    /// The M:N loop's heartbeat task (see "Heartbeat lag on both loops"); it ends when the model stops or the
    /// loop's shutdown cancels its sleep.
    private func startHeartbeat(on mn: MultiLoop) {
        let (lag, stop) = (mnHeartbeat, stopping)
        mn.spawn(name: "heartbeat") {
            lag.start(at: Monotonic.now())
            while !stop.isSet {
                // The recorder keeps the grid: the next slot after the last tick (skipped slots count there).
                let due = lag.nextDeadline
                let now = Monotonic.now()
                if due > now { try await mn.sleep(for: .nanoseconds(Int64(due - now))) }
                lag.tick(now: Monotonic.now())
            }
        }
    }

    func stop() {
        stopping.set()
        guard
            let rt = runtime.withLock({ r -> Runtime? in
                defer { r = nil }
                return r
            })
        else { return }
        rt.mn.shutdown()
        rt.loop.shutdown()
    }

    func sample(time: Double, sequence: UInt64) -> Snapshot {
        let rt = runtime.withLock { $0 }
        var snapshot = Snapshot(
            time: time, sequence: sequence, preset: preset.name, presetTitle: preset.title,
            model: preset.scheduler.model)
        guard let rt else { return snapshot }
        let loopMetrics = rt.loop.metrics(resetRecent: true)
        let records = rt.loop.drainEvents()
        let mnMetrics = rt.mn.metrics(resetRecent: true)
        let invariant = [mnTotals.snapshot, loopTotals.snapshot]
        samplers.withLock { s in
            s.loop.sample([loopMetrics], pools: [], events: records, into: &snapshot)
            snapshot.mnLoop = s.mn.sample(
                mnMetrics, invariant: invariant, lag: mnHeartbeat.summary(resetRecent: true), time: time)
        }
        return snapshot
    }
}
