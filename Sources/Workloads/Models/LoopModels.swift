// Loop models: `event-loop` (one loop, optional `to_thread` pool) and `loop-per-thread` (N loops
// on N threads, tasks partitioned, no stealing, optional shared pool), on the Runtime's EventLoop.
//
// # How the workload runs here
//
// Each loop runs its own generator task per task spec (the loop itself produces arrivals, as an
// asyncio server's accept loop does), so a stalled loop also stalls its arrivals — latency is
// still measured from the *scheduled* arrival, so the stall shows. With `placement = "spread"`
// arrival k of a spec goes to loop k mod N (partitioned round-robin, never moved); with
// `"first"` every arrival goes to loop 0. Task bodies are the async ones in `AsyncBodies`;
// each task is spawned with its spec's label as its name, so a slow callback names its culprit.
//
// `sample` reads each loop's published metrics and drains its event ring (both non-blocking for
// the loop threads, see EventLoop's essay) and hands them to `LoopSampler` (Sampling/).

import Foundation
import Runtime
import Synchronization
import Telemetry

/// The async (coloured) task bodies: what each task kind does on an event loop. Kept short: the
/// dashboard shows them next to the synchronous fiber bodies (`TaskSource`).
struct AsyncBodies: Sendable {
    let loop: EventLoop
    let offload: Set<TaskKind>
    let server: LoopbackServer?
    /// Socket faults per spec name (`reset_share`, `timeout_ms`).
    let faults: [String: LoopbackFaults]
    /// The loopback HTTP server's client side (`http` specs; nil when the preset has none).
    var http: HTTPClient? = nil

    // BEGIN async io
    func io(ms: Double, mode: IOMode, faults: LoopbackFaults? = nil) async throws {
        if mode == .socket, let server {
            try await server.roundTrip(on: loop, serverDelayMs: ms, faults: faults)
        } else {
            try await loop.sleep(for: .microseconds(Int64(ms * 1000)))
        }
    }
    // END async io

    // BEGIN async cpu
    func cpu(ms: Double) async throws {
        if offload.contains(.cpu) {
            try await loop.toThread(name: "cpu") { Work.spin(ms: ms) }
        } else {
            Work.spin(ms: ms)  // runs on the loop thread: nothing else runs meanwhile
        }
    }
    // END async cpu

    // BEGIN async blocking
    func blocking(ms: Double, call: BlockingCall) async throws {
        if offload.contains(.blocking) {
            try await loop.toThread(name: "blocking") { Work.block(ms: ms, call: call) }
        } else {
            Work.block(ms: ms, call: call)  // the whole loop waits in the syscall
        }
    }
    // END async blocking

    // BEGIN async fanout
    func fanout(children: Int, child: TaskKind, ms: Double, name: String) async throws {
        var tasks: [LoopTask<Void>] = []
        for _ in 0..<children {
            tasks.append(
                loop.spawn(name: name) {
                    if child == .io { try await self.io(ms: ms, mode: .sleep) } else { try await self.cpu(ms: ms) }
                })
        }
        for t in tasks { try await t.value }
    }
    // END async fanout

    // BEGIN async chatty
    func chatty(producers: Int, consumers: Int, messages: Int, capacity: Int, ms: Double, name: String)
        async throws
    {
        let channel = LoopChannel<Int>(capacity: capacity)
        let senders = (0..<producers).map { _ in
            loop.spawn(name: name) { for i in 0..<messages { try await channel.send(i) } }
        }
        let receivers = (0..<consumers).map { _ in
            loop.spawn(name: name) { while try await channel.receive() != nil { try await self.cpu(ms: ms) } }
        }
        for s in senders { try await s.value }
        channel.close()
        for r in receivers { try await r.value }
    }
    // END async chatty

    func http(_ spec: TaskSpec, ms: Double) async throws {
        guard let http else { throw TaskFailure(.other, "no http server") }
        let targets = HTTPClient.targets(
            requests: spec.requests, delayMs: ms, bytes: spec.bodyBytes, faults: faults[spec.name])
        // The coloured copy of the client; its writer (duplex) is a loop task beside this one.
        let responses =
            spec.duplex ? try await http.getPipelined(targets, on: loop) : try await http.get(targets, on: loop)
        try HTTPClient.check(responses, bytes: spec.bodyBytes)
    }

    /// Runs one task of `spec` with duration `ms`.
    func run(_ spec: TaskSpec, ms: Double) async throws {
        switch spec.kind {
        case .io: try await io(ms: ms, mode: spec.io, faults: faults[spec.name])
        case .cpu: try await cpu(ms: ms)
        case .blocking: try await blocking(ms: ms, call: spec.call)
        case .fanout: try await fanout(children: spec.children, child: spec.child, ms: ms, name: spec.name)
        case .chatty:
            try await chatty(
                producers: spec.producers, consumers: spec.consumers, messages: spec.messages, capacity: spec.capacity,
                ms: ms, name: spec.name)
        case .http: try await http(spec, ms: ms)
        }
    }
}

/// An asyncio.Queue for tasks of one loop: `send` waits while full, `receive` waits while empty
/// and returns nil once closed and drained.
///
/// Trap (measured here): the body of `withCheckedContinuation` does not always run at the await; the
/// toolchain may hop first, so other jobs of the loop run before the waiter is registered. Each
/// body therefore re-checks its condition and resumes at once when it no longer holds.
///
/// @unchecked Sendable: every field is touched only on its loop's thread (all senders and
/// receivers are tasks of the same loop, which run there after every await).
final class LoopChannel<T: Sendable>: @unchecked Sendable {
    private var buffer: [T] = []
    private var head = 0
    private let capacity: Int
    private var closed = false
    private var waitingSenders: [CheckedContinuation<Void, Never>] = []
    private var waitingReceivers: [CheckedContinuation<Void, Never>] = []

    init(capacity: Int) { self.capacity = capacity }

    private var count: Int { buffer.count - head }

    func send(_ value: T) async throws {
        while capacity > 0 && count >= capacity && !closed {
            // Re-check inside: this toolchain may run the closure after other jobs of the loop.
            await withCheckedContinuation { c in
                if capacity > 0 && count >= capacity && !closed { waitingSenders.append(c) } else { c.resume() }
            }
        }
        buffer.append(value)
        if !waitingReceivers.isEmpty { waitingReceivers.removeFirst().resume() }
    }

    func receive() async throws -> T? {
        while count == 0 {
            if closed { return nil }
            await withCheckedContinuation { c in
                if count == 0 && !closed { waitingReceivers.append(c) } else { c.resume() }
            }
        }
        let v = buffer[head]
        head += 1
        if head > 64 && head * 2 > buffer.count {
            buffer.removeFirst(head)
            head = 0
        }
        if !waitingSenders.isEmpty { waitingSenders.removeFirst().resume() }
        return v
    }

    func close() {
        closed = true
        for c in waitingReceivers { c.resume() }
        for c in waitingSenders { c.resume() }
        waitingReceivers = []
        waitingSenders = []
    }
}

/// event-loop and loop-per-thread.
final class LoopModel: Model {
    let preset: Preset
    /// One per task spec; written by task bodies on any thread, read by the sampler.
    let stats: [KindStats]
    /// Set once by `stop()`; polled by population tasks.
    private let stopping = StopFlag()
    // protected by its lock: set by start(), taken (set to nil) by stop(), read by the sampler.
    private let runtime = Mutex<Runtime?>(nil)
    // protected by its lock; only the sampling thread uses it (the lock just makes that checkable).
    private let sampler: Mutex<LoopSampler>

    private struct Runtime {
        var loops: [EventLoop]
        /// Pools to shut down (one shared, one per loop, or none).
        var pools: [ThreadPool]
        var servers: [LoopbackServer]
        var arrivals: ArrivalThread
        /// The loopback HTTP server (on its own thread, shared by every loop) and its clients' sockets.
        var httpServer: HTTPServer? = nil
        var http: HTTPClient? = nil
    }

    init(preset: Preset, sessionStart: UInt64) throws(ModelError) {
        self.preset = preset
        sampler = Mutex(LoopSampler(sessionStart: sessionStart))
        stats = preset.workload.tasks.map { KindStats(name: $0.name, kind: $0.kind) }
    }

    func start() throws(ModelError) {
        let s = preset.scheduler
        let count = s.model == .eventLoop ? 1 : s.loops
        var pools: [ThreadPool] = []
        var loops: [EventLoop] = []
        var servers: [LoopbackServer] = []
        /// A start that fails part-way stops what it started so far.
        func stopStarted() {
            for l in loops { l.shutdown() }
            for p in pools { p.shutdown() }
            for sv in servers { sv.close() }
        }
        var shared: ThreadPool? = nil
        if s.pool > 0 && (s.sharedPool || count == 1) {
            do {
                shared = try ThreadPool(threads: s.pool, name: "qv-pool", shared: s.sharedPool)
            } catch {
                throw ModelError("cannot start the to_thread pool: \(error)")
            }
        }
        if let shared { pools.append(shared) }
        for i in 0..<count {
            var c = EventLoop.Configuration()
            c.name = "loop-\(i)"
            c.id = i
            c.heartbeat = .microseconds(Int64(s.heartbeatMs * 1000))
            c.slowCallbackThreshold = .microseconds(Int64(s.slowCallbackMs * 1000))
            c.shutdownGrace = .milliseconds(100)
            if let shared {
                c.pool = shared
            } else if s.pool > 0 {
                do {
                    let own = try ThreadPool(threads: s.pool, name: "qv-pool-\(i)")
                    pools.append(own)
                    c.pool = own
                } catch {
                    stopStarted()
                    throw ModelError("cannot start the to_thread pool of loop \(i): \(error)")
                }
            }
            do {
                loops.append(try EventLoop(c))
            } catch {
                stopStarted()
                throw ModelError("cannot start event loop \(i): \(error)")
            }
        }
        if preset.workload.tasks.contains(where: { $0.kind == .io && $0.io == .socket }) {
            for loop in loops {
                do {
                    let server = try LoopbackServer()
                    server.serve(on: loop)
                    servers.append(server)
                } catch {
                    stopStarted()
                    throw error
                }
            }
        }
        let httpServer: HTTPServer?
        do {
            httpServer = try HTTPServer.startIfNeeded(for: preset.workload)
        } catch {
            stopStarted()
            throw error
        }
        let http = httpServer.map { HTTPClient(port: $0.port) }
        let arrivals = ArrivalThread(streams: startGenerators(loops: loops, servers: servers, http: http))
        runtime.withLock {
            $0 = Runtime(
                loops: loops, pools: pools, servers: servers, arrivals: arrivals, httpServer: httpServer, http: http)
        }
        do {
            try arrivals.start()
        } catch {
            stop()
            throw error
        }
    }

    /// Starts the population tasks on their loops and returns the rate-driven arrival streams.
    private func startGenerators(loops: [EventLoop], servers: [LoopbackServer], http: HTTPClient?)
        -> [ArrivalThread.Stream]
    {
        let start = Monotonic.now() + 1_000_000
        var streams: [ArrivalThread.Stream] = []
        let faults = LoopbackFaults.byName(preset.workload.tasks)
        for (specIndex, spec) in preset.workload.tasks.enumerated() {
            let targets = spec.placement == .first ? [0] : Array(loops.indices)
            for (part, li) in targets.enumerated() {
                let loop = loops[li]
                let bodies = AsyncBodies(
                    loop: loop, offload: Set(preset.scheduler.offload), server: servers.isEmpty ? nil : servers[li],
                    faults: faults, http: http)
                let stats = self.stats[specIndex]
                let stop = self.stopping
                let seed = preset.workload.seed ^ UInt64(specIndex &* 7919) ^ UInt64(li &* 104_729)
                switch spec.arrival {
                case .rate(let rate):
                    // Arrival k of the spec goes to target k mod N, fired by the arrival thread.
                    let rng = Mutex(SplitMix64(seed: seed))
                    streams.append(
                        ArrivalThread.Stream(
                            schedule: ArrivalSchedule(start: start, rate: rate, parts: targets.count, part: part),
                            fire: { due in
                                let ms = rng.withLock { spec.duration.sample(&$0) }  // drawn even when dropped
                                guard stats.admit(cap: spec.maxInFlight) else { return }
                                loop.spawn(name: spec.name) {
                                    do {
                                        try await bodies.run(spec, ms: ms)
                                        stats.end(latencyNanos: Monotonic.now() &- due)
                                    } catch {
                                        stats.fail(TaskFailure.kind(of: error))  // not a completion, no latency sample
                                    }
                                }
                            }))
                case .population(let population):
                    let share = populationShare(population, parts: targets.count, part: part)
                    for member in 0..<share {
                        loop.spawn(name: spec.name) {
                            var rng = SplitMix64(seed: seed ^ UInt64(member &* 31))
                            // Each replacement is due the moment its predecessor finished: its latency
                            // includes the wait at the back of the ready queue, as a new task's would.
                            var due = Monotonic.now()
                            while !stop.isSet {
                                stats.begin()
                                do {
                                    try await bodies.run(spec, ms: spec.duration.sample(&rng))
                                    stats.end(latencyNanos: Monotonic.now() &- due)
                                } catch {
                                    stats.fail(TaskFailure.kind(of: error))
                                }
                                due = Monotonic.now()
                                await Task.yield()
                            }
                        }
                    }
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
        // Wake the servers' tasks while the loops run (the acceptor with `fdClosed`, connections with a hang-up)
        // rather than leave them waiting for the loops' shutdown to drop.
        for (server, loop) in zip(rt.servers, rt.loops) {
            server.closeListener(on: loop)
            server.shutDownConnections()
        }
        // The HTTP server's end closes every connection: tasks waiting on one wake with the end or a reset.
        rt.httpServer?.stop()
        rt.http?.sockets.shutDownAll()
        for l in rt.loops { l.shutdown() }
        for p in rt.pools { p.shutdown() }
        for s in rt.servers { s.close() }
        rt.http?.sockets.closeAll()
    }

    func sample(time: Double, sequence: UInt64) -> Snapshot {
        let (loops, pools) = runtime.withLock { r in (r?.loops ?? [], r?.pools ?? []) }
        let metrics = loops.map { $0.metrics(resetRecent: true) }
        // The sampler is the only caller that resets the pools' high-water marks.
        let poolReads = pools.map { $0.metrics(resetHighWater: true) }
        let records = EventRingSet(loops.map(\.events)).drainAll()
        var snapshot = Snapshot(
            time: time, sequence: sequence, preset: preset.name, presetTitle: preset.title,
            model: preset.scheduler.model)
        sampler.withLock { $0.sample(metrics, pools: poolReads, events: records, into: &snapshot) }
        snapshot.taskKinds = stats.map { $0.snapshot(now: time) }
        return snapshot
    }
}
