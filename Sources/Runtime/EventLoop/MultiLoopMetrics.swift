// MultiLoop metrics: what the M:N loop counts about itself, published in batches, read without blocking.
//
// "Count plainly, publish in batches" (as LoopMetrics): each worker keeps plain counters (jobs run, steal
// operations, jobs stolen in by victim, parks, busy nanoseconds) and stores them into its
// `MultiLoopWorkerPublished` atomics every `publishEvery` jobs and before it parks; the victim table goes
// into a `Locked` the worker only try-locks. Queue depths are exact (stored under the queue's lock at each
// push and pop) and carry high-water marks (`HighWaterMark`) for the peak-hold marker, as loops' ready
// queues do. Readers (`MultiLoop.metrics()`, any thread) read atomics and the try-locked table only.
//
// Mapping to the snapshot contract (Telemetry/Snapshot.swift, `MNLoopSnapshot`), for the sampler:
//   MNThreadSnapshot.runs/stealOps/stolenIn/stolenOut/parks/queueDepth/maxQueueDepth ← Thread fields of the
//                                   same names; queuePeak ← queueHighWater (metrics(resetRecent: true))
//   MNThreadSnapshot.busyRatio   ← Δ busyNanos / Δ wall time (BusyWindow, as carriers and loops)
//   MNThreadSnapshot.topVictim   ← the index with the most jobs in stolenFrom
//   MNLoopSnapshot.injectorDepth/tasksAlive/timersPending ← the loop-wide fields of the same names

import CRuntime
import Synchronization

/// The M:N loop's figures at one instant. Plain values.
public struct MultiLoopMetrics: Sendable, Equatable {
    /// One worker thread.
    public struct Thread: Sendable, Equatable {
        public var index: Int
        /// Kernel thread id (gettid) of the worker's thread.
        public var tid: Int32
        public var state: MultiLoopThreadState
        /// Jobs run (task steps), cumulative.
        public var runs: UInt64
        /// Steal operations this worker performed as thief, cumulative.
        public var stealOps: UInt64
        /// Jobs it stole (all victims), cumulative.
        public var stolenIn: UInt64
        /// Jobs the other workers stole from it, cumulative (the thieves' tables, column `index`).
        public var stolenOut: UInt64
        /// Jobs it stole from each worker, by victim index, cumulative (its own entry is 0).
        public var stolenFrom: [UInt64]
        /// Times it parked (found no work anywhere), cumulative.
        public var parks: UInt64
        /// Nanoseconds spent running jobs, cumulative.
        public var busyNanos: UInt64
        /// Jobs in its queue now (gauge, exact at the read).
        public var queueDepth: Int
        /// Highest queue depth since the previous `metrics(resetRecent: true)`, at least `queueDepth`.
        public var queueHighWater: Int
        /// Highest queue depth since the loop started.
        public var maxQueueDepth: Int
    }

    public var name: String
    public var threads: [Thread]
    /// Jobs from foreign threads not taken by a worker yet (gauge).
    public var injectorDepth: Int
    public var injectorHighWater: Int
    /// Tasks started by `spawn` that have not ended.
    public var tasksAlive: Int
    /// Sleeps pending in the timer heap.
    public var timersPending: Int
}

/// A worker's counters as published for readers on any thread.
final class MultiLoopWorkerPublished: Sendable {
    // Sendable: atomics and a `Locked` only.
    // relaxed (every atomic): independent statistics; a reader needs no ordering between them, only untorn values.
    let runs = Atomic<UInt64>(0)
    let stealOps = Atomic<UInt64>(0)
    let stolenIn = Atomic<UInt64>(0)
    let parks = Atomic<UInt64>(0)
    let busyNanos = Atomic<UInt64>(0)
    let state = Atomic<Int>(MultiLoopThreadState.running.rawValue)
    let tid = Atomic<Int32>(0)
    /// The worker's `stolenFrom`, as of its last publish that found the lock free.
    let stolenFrom: Locked<[UInt64]>

    init(count: Int) { stolenFrom = Locked([UInt64](repeating: 0, count: count)) }
}

extension MultiLoop {
    /// The loop's figures now. `resetRecent`: take (and reset) the queue high-water marks — one consumer, the
    /// sampler, passes true. Any thread; never blocks a worker (workers only try-lock what this locks).
    public func metrics(resetRecent: Bool = false) -> MultiLoopMetrics {
        let tables = workers.map { w in w.published.stolenFrom.withLock { $0 } }
        var threads: [MultiLoopMetrics.Thread] = []
        threads.reserveCapacity(workers.count)
        for (i, w) in workers.enumerated() {
            let p = w.published
            // relaxed (all): statistics, see MultiLoopWorkerPublished.
            let depth = w.depth.load(ordering: .relaxed)
            let out = tables.reduce(UInt64(0)) { $0 &+ (i < $1.count ? $1[i] : 0) }
            threads.append(
                MultiLoopMetrics.Thread(
                    index: i, tid: p.tid.load(ordering: .relaxed),
                    state: MultiLoopThreadState(rawValue: p.state.load(ordering: .relaxed)) ?? .running,
                    runs: p.runs.load(ordering: .relaxed), stealOps: p.stealOps.load(ordering: .relaxed),
                    stolenIn: p.stolenIn.load(ordering: .relaxed), stolenOut: out, stolenFrom: tables[i],
                    parks: p.parks.load(ordering: .relaxed), busyNanos: p.busyNanos.load(ordering: .relaxed),
                    queueDepth: depth,
                    queueHighWater: resetRecent ? w.highWater.take(current: depth) : w.highWater.peek(current: depth),
                    maxQueueDepth: w.highWater.sinceStart(current: depth)))
        }
        // relaxed (all): statistics.
        let injector = injectorDepth.load(ordering: .relaxed)
        return MultiLoopMetrics(
            name: name, threads: threads, injectorDepth: injector,
            injectorHighWater: resetRecent
                ? injectorHighWater.take(current: injector) : injectorHighWater.peek(current: injector),
            tasksAlive: tasksAlive.load(ordering: .relaxed), timersPending: timersPending.load(ordering: .relaxed))
    }
}
