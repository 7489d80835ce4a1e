// The threads model: every task on a plain OS thread, blocking in the kernel — the baseline everyone knows,
// and what virtual threads improve on (presets set the two side by side).
//
// # How the workload runs here
//
// The task bodies are the fibers' own (`SyncBodies`, unchanged): every wait goes through the seam in
// Blocking.swift, which on a thread of this model records what the thread is about to block in and then
// blocks in the kernel (a sleep in `ppoll`, a blocking call as it is, a channel or a join on a futex).
// Two modes (`[scheduler] threads = { mode = … }`):
// - `per-task` (default): a new OS thread per task, up to `cap` alive at once. An arrival past the cap, or one
//   the system refuses (`pthread_create` fails, EAGAIN at the process's or the user's thread limit), is not
//   started: counted (`refusedAtCap`, `createFailed` and the error) and shown as a banner, never a crash.
//   A population member is a chain: each task, when it ends, starts its successor on a new thread, so every
//   task of every spec is one thread's whole life.
// - `pool`: `size` threads started once; tasks queue for them (`queueDepth`). A task that waits for tasks
//   queued behind it can deadlock a fixed pool, so presets with fan-out or chatty tasks are rejected there.
//
// Each thread holds a `ThreadSlot` (a fixed table of `cap` or `size`), in which it records its state, task
// kind and CPU time; the sampler (Sampling/ThreadsSampler) reads the slots, never /proc. A slot is reused
// by a later thread: in per-task mode the table also owns each slot's last thread handle, and whoever takes
// the slot next (or teardown) joins it, so every thread is joined and none is detached.
//
// Heartbeat lag is measured as the other models' is: a heartbeat thread sleeps one period at a time and records
// how late it wakes (`SharedLagRecorder`). Here it measures the kernel's scheduler: with more runnable threads
// than cores, a thread that wakes waits for a core like everyone else.
//
// Teardown (`stop()`): the stop signal wakes every sleeping thread at once, arrivals stop, the spawn gate
// closes (no thread starts after it), then every thread is joined. A thread inside a real blocking call
// (`nanosleep`, a pipe read) finishes it first: teardown is bounded by the longest such call.
//
// Rejected: detached threads (nothing could wait for them at a preset switch, and a switch must leak nothing);
// reading thread states from /proc/self/task (a syscall per thread per frame, and the kernel's "S" cannot
// tell a sleep from a read); a thread per task in pool mode's queue (that is per-task mode).

import Foundation
import Runtime
import Synchronization
import Telemetry

/// How the threads model runs tasks.
public enum ThreadsMode: Sendable, Equatable {
    /// A new OS thread per task, at most `cap` alive at once.
    case perTask(cap: Int)
    /// A fixed pool of `size` threads; tasks queue for them.
    case pool(size: Int)

    /// The default cap of per-task mode.
    public static let defaultCap = 2000
    /// The largest cap or pool size a preset may ask for.
    public static let limit = 10_000

    /// The slot table's size: the cap or the pool's size.
    public var capacity: Int {
        switch self {
        case .perTask(let cap): cap
        case .pool(let size): size
        }
    }

    /// "per-task" or "pool" (the TOML spelling).
    public var name: String {
        switch self {
        case .perTask: "per-task"
        case .pool: "pool"
        }
    }
}

/// The system refused a thread: `pthread_create`'s error number.
struct ThreadRefusal: Error, Sendable {
    var code: Int32
}

/// Starts an OS thread (the default is `OSThread.start`; tests inject refusals).
typealias ThreadStarter = @Sendable (String, @escaping @Sendable () -> Void) -> Result<OSThread, ThreadRefusal>

extension Models {
    /// The default starter: `OSThread.start`.
    static let osThreadStarter: ThreadStarter = { name, body in
        do throws(OSThread.StartError) {
            return .success(try OSThread.start(name: name, body))
        } catch {
            return .failure(ThreadRefusal(code: error.code))
        }
    }
}

extension BlockingCall {
    /// What a thread blocked in this call is blocked in.
    var state: ThreadState {
        switch self {
        case .nanosleep: .sleep
        case .pipe: .read
        }
    }
}

/// The threads of one threads model: the slot table, the per-task handles, and the counters the sampler reads.
///
/// Ownership: `launch` from any thread of the model (the arrival thread, a task thread starting a child or a
/// successor), always inside the model's spawn gate; `joinAll` once, by `stop()`, after the gate is closed;
/// counters read by the sampler. The table lock is held for a few list operations, never across a
/// `pthread_create` or a join, and the sampler never takes it.
final class ThreadTable: Sendable {
    let mode: ThreadsMode
    let slots: [ThreadSlot]
    private let starter: ThreadStarter
    /// Per-task mode: free slots (a stack, lowest id on top), each slot's last thread (joined by the next
    /// taker), and how many of {the thread, its creator} still hold each slot (the last one frees it).
    private struct Table {
        var free: [Int]
        var handles: [OSThread?]
        var holders: [UInt8]
    }
    // protected by its lock
    private let table: Locked<Table>
    // relaxed (all counters): statistics the sampler reads on their own; nothing is published through them.
    let alive = Atomic<Int>(0)
    let created = Atomic<UInt64>(0)
    let createFailed = Atomic<UInt64>(0)
    /// The last `pthread_create` error number (0: none yet).
    let lastCreateError = Atomic<Int32>(0)
    let refusedAtCap = Atomic<UInt64>(0)
    /// Most threads alive at once: raised at each creation, taken by the sampler.
    let peak = HighWaterMark()

    init(mode: ThreadsMode, starter: @escaping ThreadStarter) {
        self.mode = mode
        self.starter = starter
        let n = mode.capacity
        slots = (0..<n).map { ThreadSlot(id: $0) }
        table = Locked(
            Table(
                free: Array((0..<n).reversed()), handles: Array(repeating: nil, count: n),
                holders: Array(repeating: 0, count: n)))
    }

    /// Per-task mode: starts `body` on a new thread bound to a free slot, as a task of spec `kind`. False when
    /// every slot is taken (counted in `refusedAtCap`) or the system refused the thread (`createFailed`).
    func launch(name: String, kind: Int, stop: StopSignal, _ body: @escaping @Sendable () -> Void) -> Bool {
        let taken = table.withLock { t -> (Int, OSThread?)? in
            guard let id = t.free.popLast() else { return nil }
            defer { t.handles[id] = nil }
            t.holders[id] = 2
            return (id, t.handles[id])
        }
        guard let (id, previous) = taken else {
            refusedAtCap.add(1, ordering: .relaxed)
            return false
        }
        previous?.join()  // it has freed the slot: only its exit is left
        let binding = ThreadBinding(slot: slots[id], stop: stop)
        let now = alive.add(1, ordering: .relaxed).newValue
        peak.raise(now)
        let result = starter(name) { [self] in
            ThreadContext.run(bound: binding) {
                binding.slot.begin(kind: kind)
                body()
                binding.slot.end()
            }
            alive.subtract(1, ordering: .relaxed)
            release(id)
        }
        switch result {
        case .success(let thread):
            created.add(1, ordering: .relaxed)
            table.withLock { $0.handles[id] = thread }
            release(id)
            return true
        case .failure(let refusal):
            alive.subtract(1, ordering: .relaxed)
            createFailed.add(1, ordering: .relaxed)
            lastCreateError.store(refusal.code, ordering: .relaxed)
            table.withLock { t in
                t.holders[id] = 0
                t.free.append(id)
            }
            return false
        }
    }

    /// One holder lets go of slot `id`; the last one frees it.
    private func release(_ id: Int) {
        table.withLock { t in
            t.holders[id] -= 1
            if t.holders[id] == 0 { t.free.append(id) }
        }
    }

    /// Pool mode: counts `threads` started ones (alive for the model's life).
    func countPool(_ threads: Int) {
        alive.store(threads, ordering: .relaxed)
        created.store(UInt64(threads), ordering: .relaxed)
        peak.raise(threads)
    }

    /// Per-task mode, after the spawn gate is closed: joins every thread (each is joined exactly once: a
    /// handle leaves the table when it is taken, by a new launch or here).
    func joinAll() {
        let handles = table.withLock { t -> [OSThread] in
            defer { t.handles = Array(repeating: nil, count: t.handles.count) }
            return t.handles.compactMap { $0 }
        }
        for h in handles { h.join() }
    }
}

/// Pool mode's queue: jobs wait here for one of the pool's threads.
///
/// Ownership: `submit` from the arrival thread and task threads (inside the spawn gate); `next` by pool threads;
/// `close` once by `stop()`; `depth` by the sampler (an atomic, no lock).
final class ThreadJobQueue: Sendable {
    struct Job: Sendable {
        var kind: Int
        var body: @Sendable () -> Void
    }
    // protected by its lock
    private let jobs = Locked<(queue: [Job], head: Int, closed: Bool)>(([], 0, false))
    /// Counts queued jobs (plus one wake per thread at close); pool threads wait on it (a futex on a plain thread).
    private let ready = FiberSemaphore(value: 0)
    // relaxed: a gauge for the sampler.
    let depthNow = Atomic<Int>(0)
    let peak = HighWaterMark()
    private let threads: Int

    init(threads: Int) { self.threads = threads }

    func submit(_ job: Job) -> Bool {
        let ok = jobs.withLock { j -> Bool in
            guard !j.closed else { return false }
            j.queue.append(job)
            return true
        }
        guard ok else { return false }
        peak.raise(depthNow.add(1, ordering: .relaxed).newValue)
        ready.signal()
        return true
    }

    /// Blocks until a job is queued; nil once closed.
    func next() -> Job? {
        ready.wait()
        return jobs.withLock { j -> Job? in
            guard !j.closed, j.head < j.queue.count else { return nil }
            let job = j.queue[j.head]
            j.head += 1
            if j.head > 1024 && j.head * 2 > j.queue.count {
                j.queue.removeFirst(j.head)
                j.head = 0
            }
            depthNow.subtract(1, ordering: .relaxed)
            return job
        }
    }

    /// Drops queued jobs and wakes every pool thread to exit.
    func close() {
        jobs.withLock { $0.closed = true }
        for _ in 0..<threads { ready.signal() }
    }
}

/// The threads model's `TaskHost`: a child is a task thread (per-task) or a pool job, joined through a semaphore.
struct ThreadHost: TaskHost {
    let start: @Sendable (String, Int, @escaping @Sendable () -> Void) -> Bool

    func spawn(_ name: String, kind: TaskKind, _ body: @escaping @Sendable () -> Void) -> ChildTask? {
        let done = FiberSemaphore(value: 0)
        let parentKind = ThreadContext.current?.slot.kind ?? -1
        guard
            start(
                name, parentKind,
                {
                    body()
                    done.signal()
                })
        else { return nil }
        return ChildTask(join: { done.wait() })
    }
}

/// threads: the threads model (see the essay at the top of this file).
final class ThreadsModel: Model {
    let preset: Preset
    let stats: [KindStats]
    let heartbeat: SharedLagRecorder
    let table: ThreadTable
    /// Pool mode only.
    let queue: ThreadJobQueue?
    private let signal = StopSignal.Lazy()
    private let gate = SpawnGate()
    // protected by its lock: set by start(), taken by stop().
    private let runtime = Mutex<Runtime?>(nil)
    // protected by its lock; only the sampling thread uses it.
    private let sampler: Mutex<ThreadsSampler>
    // protected by its lock: the baseline is taken by start(), every sample by the sampling thread.
    private let memory = Mutex(MemorySampler())
    /// The preset's parked threads (`park`, ThreadParking.swift): how far parking got; nil when it parks none.
    private let parking: ParkProgress?

    private struct Runtime {
        var signal: StopSignal
        var arrivals: ArrivalThread
        var heartbeat: OSThread
        var pool: [OSThread]
        /// The loopback HTTP server (on its own thread) and its clients' sockets, for `http` specs.
        var httpServer: HTTPServer? = nil
        var http: HTTPClient? = nil
        /// The parked threads (`park`).
        var parker: ThreadParker? = nil
    }

    init(preset: Preset, sessionStart: UInt64, starter: @escaping ThreadStarter = Models.osThreadStarter) {
        self.preset = preset
        var mode = preset.scheduler.threads
        // `park` (per-task mode only): a slot of its own per parked thread, beside the workload's `cap`.
        if case .perTask(let cap) = mode, let park = preset.workload.park { mode = .perTask(cap: cap + park.count) }
        table = ThreadTable(mode: mode, starter: starter)
        if case .pool(let size) = mode { queue = ThreadJobQueue(threads: size) } else { queue = nil }
        stats = preset.workload.tasks.map { KindStats(name: $0.name, kind: $0.kind) }
        heartbeat = SharedLagRecorder(period: .nanoseconds(Int64(max(preset.scheduler.heartbeatMs * 1e6, 10_000))))
        // Parked threads record the kind after the workload's specs: `park`.
        sampler = Mutex(ThreadsSampler(kinds: preset.workload.tasks.map(\.name) + ["park"]))
        parking = preset.workload.park.map { ParkProgress(target: $0.count) }
    }

    func start() throws(ModelError) {
        let signal: StopSignal
        do {
            signal = try StopSignal()
        } catch {
            throw ModelError("cannot start the threads model: \(error)")
        }
        self.signal.set(signal)
        var pool: [OSThread] = []
        if let queue {
            for slot in table.slots {
                let binding = ThreadBinding(slot: slot, stop: signal)
                switch Models.osThreadStarter("qv-pool-\(slot.id)", { Self.poolThread(binding, queue) }) {
                case .success(let t): pool.append(t)
                case .failure(let refusal):
                    table.createFailed.add(1, ordering: .relaxed)
                    table.lastCreateError.store(refusal.code, ordering: .relaxed)
                }
            }
            table.countPool(pool.count)
            if pool.isEmpty {
                queue.close()
                signal.close()
                throw ModelError("cannot start the threads model: no pool thread could be created")
            }
        }
        let httpServer: HTTPServer?
        do {
            httpServer = try HTTPServer.startIfNeeded(for: preset.workload)
        } catch {
            queue?.close()
            for t in pool { t.join() }
            signal.close()
            throw error
        }
        var parker: ThreadParker? = nil
        if let park = preset.workload.park, let parking {
            do {
                parker = try ThreadParker(park, progress: parking)
            } catch {
                httpServer?.stop()
                queue?.close()
                for t in pool { t.join() }
                signal.close()
                throw error
            }
        }
        // The `http` kind: the one sync client the fibers run, here on plain threads (SyncSocketIO blocks them).
        let http = httpServer.map { HTTPClient(port: $0.port) }
        let host = ThreadHost(start: startTask)
        let bodies = SyncBodies(
            host: host, server: nil, faults: LoopbackFaults.byName(preset.workload.tasks), http: http)
        let arrivals = ArrivalThread(streams: startWorkload(bodies))
        let beat: OSThread
        do {
            beat = try startHeartbeat(signal)
        } catch {
            httpServer?.stop()
            parker?.close()
            queue?.close()
            for t in pool { t.join() }
            signal.close()
            throw error
        }
        runtime.withLock {
            $0 = Runtime(
                signal: signal, arrivals: arrivals, heartbeat: beat, pool: pool, httpServer: httpServer, http: http,
                parker: parker)
        }
        memory.withLock { $0.takeBaseline() }  // before anything is parked
        if let park = preset.workload.park, let parker {
            let (gate, table, kind) = (gate, table, preset.workload.tasks.count)
            _ = parker.start(park, signal: signal, table: table) { body in
                gate.pass { !signal.isSet && table.launch(name: "qv-parked", kind: kind, stop: signal, body) }
            }
        }
        do {
            try arrivals.start()
        } catch {
            stop()
            throw error
        }
    }

    private static func poolThread(_ binding: ThreadBinding, _ queue: ThreadJobQueue) {
        ThreadContext.run(bound: binding) {
            while let job = queue.next() {
                binding.slot.begin(kind: job.kind)
                job.body()
                binding.slot.end()
            }
        }
    }

    /// Starts one task of spec index `kind`: a new thread (per-task) or a pool job. False when refused.
    private var startTask: @Sendable (String, Int, @escaping @Sendable () -> Void) -> Bool {
        let (gate, table, queue, lazySignal) = (gate, table, queue, signal)
        return { name, kind, body in
            gate.pass { () -> Bool in
                guard let signal = lazySignal.value, !signal.isSet else { return false }
                if let queue { return queue.submit(.init(kind: kind, body: body)) }
                return table.launch(name: "qv-\(name)", kind: kind, stop: signal, body)
            } ?? false
        }
    }

    private func startHeartbeat(_ signal: StopSignal) throws(ModelError) -> OSThread {
        let lag = heartbeat
        do {
            return try OSThread.start(name: "qv-heartbeat") {
                lag.start(at: Monotonic.now())
                while !signal.isSet {
                    let due = lag.nextDeadline
                    let now = Monotonic.now()
                    if due > now { signal.sleep(nanoseconds: due - now) }
                    lag.tick(now: Monotonic.now())
                }
            }
        } catch {
            throw ModelError("cannot start the heartbeat thread: \(error)")
        }
    }

    /// Starts population chains; returns the streams the arrival thread fires.
    private func startWorkload(_ bodies: SyncBodies) -> [ArrivalThread.Stream] {
        let start = Monotonic.now() + 1_000_000
        var streams: [ArrivalThread.Stream] = []
        let startTask = self.startTask
        let lazySignal = self.signal
        for (specIndex, spec) in preset.workload.tasks.enumerated() {
            let stats = self.stats[specIndex]
            let seed = preset.workload.seed ^ UInt64(specIndex &* 7919)
            switch spec.arrival {
            case .rate(let rate):
                let rng = Mutex(SplitMix64(seed: seed))
                streams.append(
                    ArrivalThread.Stream(
                        schedule: ArrivalSchedule(start: start, rate: rate),
                        fire: { due in
                            let ms = rng.withLock { spec.duration.sample(&$0) }  // drawn even when dropped
                            guard stats.admit(cap: spec.maxInFlight) else { return }
                            let started = startTask(spec.name, specIndex) {
                                do {
                                    try bodies.run(spec, ms: ms)
                                    stats.end(latencyNanos: Monotonic.now() &- due)
                                } catch {
                                    stats.fail(TaskFailure.kind(of: error))
                                }
                            }
                            if !started { stats.withdraw() }
                        }))
            case .population(let population):
                for m in 0..<population {
                    let chain = PopulationChain(
                        spec: spec, specIndex: specIndex, stats: stats, bodies: bodies, startTask: startTask,
                        stopping: { lazySignal.value?.isSet ?? true })
                    chain.next(rng: SplitMix64(seed: seed ^ UInt64(m &* 31)), due: Monotonic.now())
                }
            }
        }
        return streams
    }

    func stop() {
        guard
            let rt = runtime.withLock({ r -> Runtime? in
                defer { r = nil }
                return r
            })
        else { return }
        rt.signal.set()  // every sleeping thread wakes now
        rt.arrivals.stopAndJoin()
        // Threads blocked in the HTTP client's socket calls wake: the server stops, their sockets shut down.
        rt.httpServer?.stop()
        rt.http?.sockets.shutDownAll()
        gate.close()  // after this no thread of ours starts and no job is queued
        rt.parker?.stop()  // the parker joined, every parked reader woken
        queue?.close()
        for t in rt.pool { t.join() }
        table.joinAll()
        rt.heartbeat.join()
        rt.http?.sockets.closeAll()
        rt.parker?.close()
        rt.signal.close()
    }

    func sample(time: Double, sequence: UInt64) -> Snapshot {
        var snapshot = Snapshot(
            time: time, sequence: sequence, preset: preset.name, presetTitle: preset.title,
            model: preset.scheduler.model)
        let now = Monotonic.now()
        let read = ThreadsRead(
            mode: table.mode, slots: table.slots.map { $0.read(now: now) },
            alive: table.alive.load(ordering: .relaxed),
            peakRecent: table.peak.take(current: table.alive.load(ordering: .relaxed)),
            peak: table.peak.sinceStart(current: 0), created: table.created.load(ordering: .relaxed),
            createFailed: table.createFailed.load(ordering: .relaxed),
            lastCreateError: table.lastCreateError.load(ordering: .relaxed),
            refusedAtCap: table.refusedAtCap.load(ordering: .relaxed),
            queueDepth: queue?.depthNow.load(ordering: .relaxed),
            // The pool's queue peak since the previous sample (the sampler is the one taker).
            queuePeak: queue.map { $0.peak.take(current: $0.depthNow.load(ordering: .relaxed)) })
        sampler.withLock { $0.sample(read, into: &snapshot) }
        snapshot.lag = LagSummary(heartbeat.summary(resetRecent: true))
        snapshot.taskKinds = stats.map { $0.snapshot(now: time) }
        // Parked tasks here are threads blocked in the kernel (every reason, the workload's too), as a fiber
        // model counts its parked fibers: the memory figures mean the same on both (docs/figures.md, "Memory").
        let parked = snapshot.fibers.parked
        snapshot.memory = memory.withLock {
            $0.sample(parked: parked, target: parking?.target, limit: parking?.limit)
        }
        return snapshot
    }
}

/// One member of a population: each task, when it ends, starts its successor (a new thread per task), due the
/// moment its predecessor finished (its latency includes the thread's creation, as a new fiber's includes the
/// run queue). Ends when the model stops or the successor is refused (the population shrinks, counted).
private struct PopulationChain: Sendable {
    let spec: TaskSpec
    let specIndex: Int
    let stats: KindStats
    let bodies: SyncBodies
    let startTask: @Sendable (String, Int, @escaping @Sendable () -> Void) -> Bool
    let stopping: @Sendable () -> Bool

    func next(rng: SplitMix64, due: UInt64) {
        guard !stopping() else { return }
        var rng = rng
        let ms = spec.duration.sample(&rng)
        stats.begin()
        let chain = self
        let started = startTask(spec.name, specIndex) { [rng] in
            do {
                try chain.bodies.run(chain.spec, ms: ms)
                chain.stats.end(latencyNanos: Monotonic.now() &- due)
            } catch {
                chain.stats.fail(TaskFailure.kind(of: error))
            }
            chain.next(rng: rng, due: Monotonic.now())
        }
        if !started { stats.withdraw() }
    }
}

extension StopSignal {
    /// The model's signal, created at `start()` (a pipe) and read by the closures made before it.
    final class Lazy: Sendable {
        // protected by its lock; set once by start().
        private let signal = Mutex<StopSignal?>(nil)
        func set(_ s: StopSignal) { signal.withLock { $0 = s } }
        var value: StopSignal? { signal.withLock { $0 } }
    }
}
