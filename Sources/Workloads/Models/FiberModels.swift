// Fiber models: `virtual-threads` (N carriers, a steal policy, a blocking policy) and
// `green-threads` (exactly one carrier: gevent's model), on the Runtime's M:N `Scheduler`.
//
// # How the workload runs here
//
// Task bodies are plain synchronous functions (`SyncBodies`): a sleep or a socket read parks the
// fiber, not the carrier; CPU work holds the carrier; a blocking syscall runs inside
// `Scheduler.blocking {}` so the scheduler can pin or hand off. Arrivals:
// - `placement = "spread"`: fired by the arrival thread from outside the scheduler, so each spawn
//   goes through the injector and any carrier may take it;
// - `placement = "first"`: one generator fiber per spec spawns every task from inside the scheduler,
//   so they land in the generator's own carrier's local queue. That is the imbalance work stealing
//   exists for: with `steal = "none"` they stay there, with `half` idle carriers take them.
//
// Heartbeat lag is measured like the loops': a heartbeat fiber sleeps one period at a time and
// records how late it wakes (the runtime's `SharedLagRecorder`: the loops' recorder behind a
// fiber-safe lock), so a carrier stalled by CPU work or a pinned blocking call shows as lag, and
// loop and fiber presets are compared on the same scale. It is not the ready → running delay: that
// one is the scheduler's own sampled measure (`Snapshot.readyDelay`, mapped by
// Sampling/FiberSampler); docs/figures.md defines both.

import Foundation
import Runtime
import Synchronization
import Telemetry

extension Models {
    static func makeFiberModel(_ preset: Preset, sessionStart: UInt64) throws(ModelError) -> any Model {
        FiberModel(preset: preset, sessionStart: sessionStart)
    }
}

/// The synchronous (uncoloured) task bodies: what each task kind does on a fiber. Kept short: the
/// dashboard shows them next to the async loop bodies (`TaskSource`).
///
/// The same bodies run on the threads model's OS threads (ThreadModels): every wait goes through the seam
/// in Blocking.swift, every child through the `host`.
struct SyncBodies: Sendable {
    /// Where children run: fibers of the model's scheduler (`FiberHost`) or threads (`ThreadHost`).
    let host: any TaskHost
    let server: LoopbackServer?
    /// Socket faults per spec name (`reset_share`, `timeout_ms`).
    let faults: [String: LoopbackFaults]
    /// The loopback HTTP server's client side (`http` specs; nil when the preset has none).
    var http: HTTPClient? = nil

    /// Starts a child task unless the host refuses (then nil: the child is skipped).
    func spawn(_ name: String, kind: TaskKind, _ body: @escaping @Sendable () -> Void) -> ChildTask? {
        host.spawn(name, kind: kind, body)
    }

    // BEGIN sync io
    func io(ms: Double, mode: IOMode, faults: LoopbackFaults? = nil) throws {
        if mode == .socket, let server {
            // connect, write, read: each parks the fiber; a timeout is a watchdog fiber
            try server.roundTrip(serverDelayMs: ms, faults: faults) { _ = spawn("timeout", kind: .io, $0) }
        } else {
            Blocking.sleep(nanoseconds: UInt64(ms * 1e6))  // parks the fiber, not the carrier
        }
    }
    // END sync io

    // BEGIN sync cpu
    func cpu(ms: Double) {
        Work.spin(ms: ms)  // holds the carrier: its queue waits unless another carrier steals it
    }
    // END sync cpu

    // BEGIN sync blocking
    func blocking(ms: Double, call: BlockingCall) {
        Blocking.call(call.state) { Work.block(ms: ms, call: call) }  // pin or hand off the carrier
    }
    // END sync blocking

    // BEGIN sync fanout
    func fanout(children: Int, child: TaskKind, ms: Double, name: String) {
        let handles = (0..<children).compactMap { _ in
            spawn(name, kind: .fanout) {
                if child == .io { try? self.io(ms: ms, mode: .sleep) } else { self.cpu(ms: ms) }
            }
        }
        Blocking.wait(.join) { for h in handles { h.join() } }
    }
    // END sync fanout

    // BEGIN sync chatty
    func chatty(producers: Int, consumers: Int, messages: Int, capacity: Int, ms: Double, name: String) {
        let channel = Channel<Int>(capacity: capacity == 0 ? nil : capacity)
        let senders = (0..<producers).compactMap { _ in
            spawn(name, kind: .chatty) {
                for i in 0..<messages { try? Blocking.wait(.channel) { try channel.send(i) } }
            }
        }
        let receivers = (0..<consumers).compactMap { _ in
            spawn(name, kind: .chatty) {
                while Blocking.wait(.channel, { channel.receive() }) != nil { Work.spin(ms: ms) }
            }
        }
        Blocking.wait(.join) { for s in senders { s.join() } }
        channel.close()
        Blocking.wait(.join) { for r in receivers { r.join() } }
    }
    // END sync chatty

    func http(_ spec: TaskSpec, ms: Double) throws {
        guard let http else { throw TaskFailure(.other, "no http server") }
        // The one sync client (HTTPClient.task); its writer strand (duplex) is a child of the host beside this
        // one: a fiber beside a fiber, a thread beside a thread.
        try http.task(spec, ms: ms, faults: faults[spec.name]) { body in
            let result = SpinLock<TaskFailure?>(nil)
            guard let child = spawn(spec.name, kind: .http, { result.withLock { $0 = body() } }) else { return nil }
            return {
                child.join()
                return result.withLock { $0 }
            }
        }
    }

    /// Runs one task of `spec` with duration `ms`.
    func run(_ spec: TaskSpec, ms: Double) throws {
        switch spec.kind {
        case .io: try io(ms: ms, mode: spec.io, faults: faults[spec.name])
        case .cpu: cpu(ms: ms)
        case .blocking: blocking(ms: ms, call: spec.call)
        case .fanout: fanout(children: spec.children, child: spec.child, ms: ms, name: spec.name)
        case .chatty:
            chatty(
                producers: spec.producers, consumers: spec.consumers, messages: spec.messages, capacity: spec.capacity,
                ms: ms, name: spec.name)
        case .http: try http(spec, ms: ms)
        }
    }
}

/// virtual-threads and green-threads.
final class FiberModel: Model {
    let preset: Preset
    /// One per task spec; written by fibers on any carrier, read by the sampler.
    let stats: [KindStats]
    /// Written by the heartbeat fiber, read by the sampler.
    let heartbeat: SharedLagRecorder
    /// Set once by `stop()`; polled by generator, population and heartbeat fibers.
    private let stopping = StopFlag()
    /// Every spawn of ours passes it; `stop()` closes it before `Scheduler.shutdown()`.
    private let gate = SpawnGate()
    // protected by its lock: set by start(), taken (set to nil) by stop(), read by the sampler.
    private let runtime = Mutex<Runtime?>(nil)
    // protected by its lock; only the sampling thread uses it (the lock just makes that checkable).
    private let sampler: Mutex<FiberSampler>
    // protected by its lock: the baseline is taken by start(), every sample by the sampling thread.
    private let memory = Mutex(MemorySampler())
    /// The preset's parked tasks (`park`): how far parking got; nil when it parks none.
    private let parking: ParkProgress?

    private struct Runtime {
        var scheduler: Scheduler
        var server: LoopbackServer?
        var arrivals: ArrivalThread
        /// The loopback HTTP server (on its own thread) and its clients' sockets, for `http` specs.
        var httpServer: HTTPServer? = nil
        var http: HTTPClient? = nil
        var parkedSockets: ParkedSockets? = nil
    }

    init(preset: Preset, sessionStart: UInt64) {
        self.preset = preset
        sampler = Mutex(
            FiberSampler(sessionStart: sessionStart, delaySampling: Scheduler.Configuration().delaySampling))
        stats = preset.workload.tasks.map { KindStats(name: $0.name, kind: $0.kind) }
        heartbeat = SharedLagRecorder(period: .nanoseconds(Int64(max(preset.scheduler.heartbeatMs * 1e6, 10_000))))
        parking = preset.workload.park.map { ParkProgress(target: $0.count) }
    }

    func start() throws(ModelError) {
        let s = preset.scheduler
        let green = s.model == .greenThreads
        let config = Scheduler.Configuration(
            carriers: green ? 1 : s.carriers, steal: green ? .none : s.steal, blocking: s.blocking,
            // Green threads have exactly one carrier: a hog is reported, no spare carrier takes its queue.
            hogThresholdNanos: UInt64(s.hogThresholdMs * 1_000_000), hogRetake: !green)
        let scheduler: Scheduler
        do {
            scheduler = try Scheduler(config)
        } catch {
            throw ModelError("cannot start the scheduler: \(error)")
        }
        var server: LoopbackServer? = nil
        if preset.workload.tasks.contains(where: { $0.kind == .io && $0.io == .socket }) {
            do {
                let sv = try LoopbackServer()
                sv.serve(on: scheduler, gate: gate)
                server = sv
            } catch {
                scheduler.shutdown()
                throw error
            }
        }
        let httpServer: HTTPServer?
        do {
            httpServer = try HTTPServer.startIfNeeded(for: preset.workload)
        } catch {
            server?.close()
            scheduler.shutdown()
            throw error
        }
        let http = httpServer.map { HTTPClient(port: $0.port) }
        var parkedSockets: ParkedSockets? = nil
        if preset.workload.park?.on == .socket {
            do {
                parkedSockets = try ParkedSockets()
            } catch {
                server?.close()
                httpServer?.stop()
                scheduler.shutdown()
                throw error
            }
        }
        let host = FiberHost(scheduler: scheduler, gate: gate)
        let bodies = SyncBodies(
            host: host, server: server, faults: LoopbackFaults.byName(preset.workload.tasks), http: http)
        let arrivals = ArrivalThread(streams: startWorkload(host, bodies))
        runtime.withLock {
            $0 = Runtime(
                scheduler: scheduler, server: server, arrivals: arrivals, httpServer: httpServer, http: http,
                parkedSockets: parkedSockets)
        }
        startHeartbeat(scheduler)
        memory.withLock { $0.takeBaseline() }  // before anything is parked
        if let park = preset.workload.park, let parking {
            startParker(park, host: host, sockets: parkedSockets, progress: parking)
        }
        do {
            try arrivals.start()
        } catch {
            stop()
            throw error
        }
    }

    private func startHeartbeat(_ scheduler: Scheduler) {
        let lag = heartbeat
        let stop = stopping
        gate.pass {
            scheduler.spawn(name: "heartbeat", kind: "heartbeat") {
                lag.start(at: Monotonic.now())
                while !stop.isSet {
                    // The recorder keeps the grid: the next slot after the last tick (skipped slots count there).
                    let due = lag.nextDeadline
                    let now = Monotonic.now()
                    if due > now { Scheduler.sleep(nanoseconds: due - now) }
                    lag.tick(now: Monotonic.now())
                }
            }
        }
    }

    /// The preset's `park`: one parker fiber spawns `park.count` fibers that stay parked until the model stops
    /// (Parking.swift), checking the budget every `ParkBudget.batch` and stopping at the first limit.
    private func startParker(_ park: ParkSpec, host: FiberHost, sockets: ParkedSockets?, progress: ParkProgress) {
        let stop = stopping
        let gate = self.gate
        let page = FiberStack.pageSize
        let stackSize = (Scheduler.Configuration().stackSize + page - 1) / page * page
        let budget = ParkBudget(
            reservedPerTask: UInt64(stackSize + page),  // the stack and its guard page
            touchedPerTask: 16 << 10)
        gate.pass {
            host.scheduler.spawn(name: "parker", kind: "generator") {
                var n = 0
                while n < park.count && !stop.isSet {
                    if n % ParkBudget.batch == 0, let limit = budget.check(parked: n) {
                        return progress.stop(limit: limit)
                    }
                    // The budget's estimate was not enough: the kernel refused a stack (the fiber was not started).
                    if let refused = host.scheduler.stackRefusal {
                        return progress.stop(limit: ParkProgress.text("\(refused)", parked: n))
                    }
                    let body: () -> Void
                    switch park.on {
                    case .sleep:
                        body = ParkedFiber.sleepUntilDropped  // no captures (Parking.swift)
                    case .socket:
                        guard let sockets else { return }
                        guard let fd = sockets.openPair(orStop: progress, parked: n) else { return }
                        body = {
                            var byte: UInt8 = 0
                            // Parks in read until the preset stops: the server end never writes.
                            _ = try? withUnsafeMutableBytes(of: &byte) { try Scheduler.read(fd, into: $0) }
                        }
                    }
                    guard gate.pass({ host.scheduler.spawn(name: "parked", kind: "park", body) }) != nil else {
                        return
                    }
                    n += 1
                    progress.add(1)
                    if n % 256 == 0 { Scheduler.yield() }  // let the carriers run (and park) what was spawned
                }
            }
        }
    }

    /// Starts generator fibers and population fibers; returns the streams the arrival thread fires.
    private func startWorkload(_ host: FiberHost, _ bodies: SyncBodies) -> [ArrivalThread.Stream] {
        let start = Monotonic.now() + 1_000_000
        var streams: [ArrivalThread.Stream] = []
        let stop = stopping
        /// Spawns a detached fiber unless the model is stopping (no strong capture of the scheduler:
        /// see `FiberHost.scheduler`).
        let spawn: @Sendable (String, String, @escaping () -> Void) -> Void = { name, kind, body in
            host.gate.pass { host.scheduler.spawn(name: name, kind: kind, body) }
        }
        for (specIndex, spec) in preset.workload.tasks.enumerated() {
            let stats = self.stats[specIndex]
            let seed = preset.workload.seed ^ UInt64(specIndex &* 7919)
            /// One admitted task of the spec, due at `due`; spawned from wherever this is called.
            let spawnOne: @Sendable (UInt64, Double) -> Void = { due, ms in
                spawn(spec.name, spec.kind.rawValue) {
                    do {
                        try bodies.run(spec, ms: ms)
                        stats.end(latencyNanos: Monotonic.now() &- due)
                    } catch {
                        stats.fail(TaskFailure.kind(of: error))  // not a completion, no latency sample
                    }
                }
            }
            switch (spec.arrival, spec.placement) {
            case (.rate(let rate), .spread):
                let rng = Mutex(SplitMix64(seed: seed))
                streams.append(
                    ArrivalThread.Stream(
                        schedule: ArrivalSchedule(start: start, rate: rate),
                        fire: { due in
                            let ms = rng.withLock { spec.duration.sample(&$0) }  // drawn even when dropped
                            guard stats.admit(cap: spec.maxInFlight) else { return }
                            spawnOne(due, ms)
                        }))
            case (.rate(let rate), .first):
                // A generator fiber: its spawns go to its own carrier's local queue.
                spawn("arrivals-\(spec.name)", "generator") {
                    var schedule = ArrivalSchedule(start: start, rate: rate)
                    var rng = SplitMix64(seed: seed)
                    while !stop.isSet {
                        let due = schedule.nextDue
                        let now = Monotonic.now()
                        if due > now { Scheduler.sleep(nanoseconds: due - now) }
                        schedule.advance()
                        let ms = spec.duration.sample(&rng)  // drawn even when dropped
                        guard stats.admit(cap: spec.maxInFlight) else { continue }
                        spawnOne(due, ms)
                    }
                }
            case (.population(let population), let placement):
                let member: @Sendable (Int) -> Void = { m in
                    var rng = SplitMix64(seed: seed ^ UInt64(m &* 31))
                    // Each replacement is due the moment its predecessor finished: its latency includes
                    // the wait at the back of the run queue, as a new fiber's would.
                    var due = Monotonic.now()
                    while !stop.isSet {
                        stats.begin()
                        do {
                            try bodies.run(spec, ms: spec.duration.sample(&rng))
                            stats.end(latencyNanos: Monotonic.now() &- due)
                        } catch {
                            stats.fail(TaskFailure.kind(of: error))
                        }
                        due = Monotonic.now()
                        Scheduler.yield()
                    }
                }
                if placement == .first {
                    spawn("spawner-\(spec.name)", "generator") {
                        for m in 0..<population { spawn(spec.name, spec.kind.rawValue) { member(m) } }
                    }
                } else {
                    for m in 0..<population { spawn(spec.name, spec.kind.rawValue) { member(m) } }
                }
            }
        }
        return streams
    }

    func stop() {
        stopping.set()
        guard
            let rt = runtime.withLock({ r -> Runtime? in
                defer { r = nil }
                return r
            })
        else { return }
        rt.arrivals.stopAndJoin()
        // Wake the server's fibers while the scheduler runs (the acceptor with `.closed`, connections with a
        // hang-up) rather than leave them parked for shutdown to drop.
        rt.server?.closeListener(on: rt.scheduler)
        rt.server?.shutDownConnections()
        // The HTTP server's end closes every connection (clients wake with the end of stream or a reset);
        // a client between its connect and the server's accept wakes by the shutdown.
        rt.httpServer?.stop()
        rt.http?.sockets.shutDownAll()
        gate.close()  // after this no fiber of ours spawns: the scheduler may shut down
        rt.scheduler.shutdown()
        // Fibers dropped while parked never ran their `defer`s: close what they left open.
        rt.server?.close()
        rt.http?.sockets.closeAll()
        rt.parkedSockets?.close()
    }

    /// The running scheduler (nil before `start()` and after `stop()`): what `LiveSource.fiberScheduler` returns.
    var scheduler: Scheduler? { runtime.withLock { $0?.scheduler } }

    func sample(time: Double, sequence: UInt64) -> Snapshot {
        var snapshot = Snapshot(
            time: time, sequence: sequence, preset: preset.name, presetTitle: preset.title,
            model: preset.scheduler.model)
        guard let scheduler else { return snapshot }
        sampler.withLock { $0.sample(scheduler, into: &snapshot) }
        snapshot.lag = LagSummary(heartbeat.summary(resetRecent: true))
        snapshot.taskKinds = stats.map { $0.snapshot(now: time) }
        let parked = snapshot.fibers.parked
        snapshot.memory = memory.withLock {
            // A refused stack is a limit too, in a preset that parks nothing as well (Scheduler+Stacks.swift).
            $0.sample(
                parked: parked, target: parking?.target, limit: parking?.limit ?? scheduler.stackRefusal?.description,
                stacks: scheduler.stackPool)
        }
        return snapshot
    }
}

/// A fiber model's `TaskHost`: children are fibers of its scheduler, spawned through its gate.
struct FiberHost: TaskHost, @unchecked Sendable {
    // @unchecked Sendable: `scheduler` and `gate` are thread-safe classes.
    // unowned(unsafe): bodies run only on this scheduler's fibers, and the model releases the
    // scheduler only after `shutdown()` has joined every carrier. A strong reference here would be
    // kept forever by the frames of fibers dropped while parked, and leak the scheduler's fds.
    unowned(unsafe) let scheduler: Scheduler
    let gate: SpawnGate

    func spawn(_ name: String, kind: TaskKind, _ body: @escaping @Sendable () -> Void) -> ChildTask? {
        gate.pass {
            let handle = scheduler.spawn(name: name, kind: kind.rawValue, body)
            return ChildTask(join: { handle.join() })
        }
    }
}

/// Lets fibers spawn until the model stops. `Scheduler.spawn` after `shutdown()` is a precondition
/// failure, and `shutdown()` lets running fibers finish their current step — which may spawn. So
/// every spawn passes this gate: `close()` forbids new passes and waits for those in progress.
final class SpawnGate: Sendable {
    // seq-cst: a passer increments then reads `closed`; `close()` sets `closed` then reads the
    // count. Total order guarantees one of them sees the other (no spawn slips past a closed gate).
    private let inside = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)

    /// Runs `body` (a spawn) unless closed; returns its result, or nil when closed.
    @discardableResult
    func pass<T>(_ body: () -> T) -> T? {
        inside.add(1, ordering: .sequentiallyConsistent)
        defer { inside.subtract(1, ordering: .sequentiallyConsistent) }
        if closed.load(ordering: .sequentiallyConsistent) { return nil }
        return body()
    }

    /// Closes the gate and waits until no spawn is in progress (each takes microseconds).
    func close() {
        closed.store(true, ordering: .sequentiallyConsistent)
        while inside.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
    }
}
