// The monitor: a thread that notices a carrier held by one fiber for longer than `hogThresholdNanos` without a
// scheduling point — a fiber computing for 50 ms, or calling a blocking function outside `blocking {}` — the fiber
// twin of asyncio's slow callback. Go's sysmon is the anchor (proc.go, `sysmon` and `retake`).
//
// # Model
//
// Every run stores the worker's run counter into `PublishedWorkerMetrics.runTick` (one relaxed store; the only
// cost on the hot path). The monitor wakes every `period` and, per worker, compares the counter with what it saw
// last time (Go's `pd.schedtick` against `pp.schedtick`): a worker with a fiber on it (`hasCurrent`) whose counter
// has not moved for the threshold is held by that fiber. It is reported as a blocking region — a `blockingBegin`
// event when noticed, a `blockingEnd` event with the whole duration when the counter moves again — with the
// fiber's name and kind as culprit and `other = RuntimeEventRecord.foundByMonitor`, so the Blocking regions panel
// and the JSON show it beside the annotated regions. A worker inside an annotated region (pinned or handed off)
// is not reported twice. Detection lags the threshold by at most one period; the duration is measured from the
// first observation of the stuck counter, so it is short by at most one period. The counter cannot tell a fiber
// that holds its carrier from a carrier thread the OS has descheduled: on an oversubscribed machine a long
// preemption of a carrier is reported too (it did hold up that carrier's queue).
//
// # Handoff of the queue
//
// Under `blocking = handoff` the monitor also moves what waits behind the hog — the worker's local queue (through
// its steal handle, as any thief may) and its LIFO slot — to the injector and wakes an idle worker, so queued
// fibers run elsewhere while the hog keeps its thread (Go hands a P stuck in a syscall to another M; it preempts a
// CPU hog instead — fibers cannot be preempted here, so the queue moves, not the fiber). Fibers the hog makes
// runnable later land on its queue again and are moved at the next period.
//
// # Rejected options
//
// - Handing the hogged *worker* itself to a spare carrier, as `blocking {}` does: the hog's own code still reads
//   its carrier's `worker` and pushes to that worker's queue as its single producer (spawn, wake); moving the
//   worker from another thread would race with it. Only the steal handle is safe from outside.
// - A timestamp per run (two clock reads per run): tens of ns on a ~90 ns spawn; the counter suffices.
// - A signal to the hog's thread (Go's async preemption): a handler may interrupt the fiber inside any runtime
//   code, and a fiber cannot be preempted anyway.
import CRuntime
import Glibc
import Synchronization

extension Scheduler {
    /// How often the monitor looks: a quarter of the threshold, within 0.5…5 ms.
    var monitorPeriodNanos: UInt64 {
        min(max(configuration.hogThresholdNanos / 4, 500_000), 5_000_000)
    }

    /// Body of the monitor thread, started by `init` when `hogThresholdNanos > 0`; returns at shutdown.
    func monitorMain() {
        // The hog's name is read from the worker's published names, which start being written once observed.
        observed.store(true, ordering: .relaxed)  // relaxed: a hint.
        let threshold = configuration.hogThresholdNanos
        let n = workers.count
        var lastTick = [UInt64](repeating: .max, count: n)
        var since = [UInt64](repeating: 0, count: n)
        var reported = [String?](repeating: nil, count: n)
        let scratch: (local: LocalQueue<FiberTask>, stealer: StealQueue<FiberTask>) = makeRunQueue(
            capacity: configuration.localQueueCapacity)
        while !stopping.load(ordering: .sequentiallyConsistent) {
            _ = monitorParker.park(deadline: qv_now_ns() &+ monitorPeriodNanos)
            let now = qv_now_ns()
            for (i, w) in workers.enumerated() {
                let p = w.published
                // relaxed (the loads): gauges; a stale value delays a report by one period at most.
                let tick = p.runTick.load(ordering: .relaxed)
                let state = SchedulerWorkerState(rawValue: p.state.load(ordering: .relaxed))
                let annotated =
                    state == .pinned || state == .stopped || w.handoffsOutstanding.load(ordering: .relaxed) > 0
                let stuck = tick == lastTick[i] && p.hasCurrent.load(ordering: .relaxed) && !annotated
                if !stuck {
                    if let culprit = reported[i] {
                        detachedEvent(
                            .blockingEnd, worker: w.id, other: RuntimeEventRecord.foundByMonitor,
                            duration: now &- since[i], name: culprit)
                        reported[i] = nil
                    }
                    lastTick[i] = tick
                    since[i] = now
                    continue
                }
                if reported[i] == nil && now &- since[i] >= threshold {
                    let names = p.current.withLock { $0.current }
                    let culprit = Self.culprit(name: names?.name ?? "", kind: names?.kind ?? "")
                    reported[i] = culprit
                    hogsDetected.add(1, ordering: .relaxed)  // relaxed: statistic.
                    detachedEvent(.blockingBegin, worker: w.id, other: RuntimeEventRecord.foundByMonitor, name: culprit)
                }
                if reported[i] != nil && configuration.blocking == .handoff {
                    let moved = moveQueue(of: w, via: scratch.local)
                    if moved > 0 {
                        hogQueueMoves.add(UInt64(moved), ordering: .relaxed)  // relaxed: statistic.
                        detachedEvent(.handoff, worker: w.id, other: -1, count: Int32(clamping: moved))
                    }
                }
            }
        }
        // Regions still open at shutdown end with it.
        let end = qv_now_ns()
        for (i, w) in workers.enumerated() {
            if let culprit = reported[i] {
                detachedEvent(
                    .blockingEnd, worker: w.id, other: RuntimeEventRecord.foundByMonitor, duration: end &- since[i],
                    name: culprit)
            }
        }
    }

    /// "name (kind)", or whichever is set; "unnamed fiber" when neither.
    static func culprit(name: String, kind: String) -> String {
        switch (name.isEmpty, kind.isEmpty) {
        case (false, false): "\(name) (\(kind))"
        case (false, true): name
        case (true, false): kind
        case (true, true): "unnamed fiber"
        }
    }

    /// Moves `w`'s queued fibers and its LIFO slot to the injector, through the steal handle and the slot's CAS
    /// (both safe from any thread), and wakes an idle worker for them. Returns how many moved. Monitor thread;
    /// `scratch` is its own (empty) queue.
    private func moveQueue(of w: Worker, via scratch: LocalQueue<FiberTask>) -> Int {
        var moved: [FiberTask] = []
        while !w.stealer.isEmpty, let (first, _) = w.stealer.steal(into: scratch, limit: .max) {
            moved.append(first)
            while let t = scratch.pop() { moved.append(t) }
        }
        if let t = w.stealRunnext(expected: w.runnextHint) { moved.append(t) }
        if moved.isEmpty { return 0 }
        injector.pushBatch(moved)
        wakeIdle()
        return moved.count
    }
}
