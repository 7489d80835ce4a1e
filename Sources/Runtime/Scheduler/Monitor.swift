// The monitor: a thread that notices a carrier held by one fiber for longer than `hogThresholdNanos` without a
// scheduling point — a fiber computing for 50 ms, or calling a blocking function outside `blocking {}` — the fiber
// twin of asyncio's slow callback — and, under `blocking = handoff`, has a spare carrier take over the queue behind
// it. Go's sysmon is the model (proc.go: `sysmon`, `retake`, `handoffp`, `startm`).
//
// # Model
//
// Detection. Every run stores the worker's run counter into `PublishedWorkerMetrics.runTick` (one relaxed store;
// the only cost on the hot path). The monitor wakes every `period` and, per worker, compares the counter with what
// it saw last time (Go's `pd.schedtick` against `pp.schedtick`): a worker with a fiber on it (`hasCurrent`) whose
// counter has not moved for the threshold is held by that fiber. It is reported as a blocking region — a
// `blockingBegin` event when noticed, a `blockingEnd` event with the whole duration when the counter moves again —
// with the fiber's name and kind as culprit and `other = RuntimeEventRecord.foundByMonitor`, so the Blocking
// regions panel and the JSON show it beside the annotated regions. A worker inside an annotated region (pinned or
// handed off) is not reported twice, and a parked worker runs nothing, whatever `hasCurrent` last said. Detection lags the threshold by at most one period; the duration is measured
// from the first observation of the stuck counter, so it is short by at most one period. The counter cannot tell a
// fiber that holds its carrier from a carrier thread the OS has descheduled: on an oversubscribed machine a long
// preemption of a carrier is reported too (it did hold up that carrier's queue).
//
// Retake (`blocking = handoff`, `hogRetake`). Go's sysmon retakes a P whose M sits in a syscall (`handoffp` →
// `startm`: an idle M, or a new one, runs the P's queue) and preempts a G that ran 10 ms. Fibers cannot be
// preempted, and the hog's P cannot be taken from it either: the hog's own code keeps using its worker (a spawn or
// a wake pushes to that worker's queue as its single producer, its LIFO slot, its counters). So the monitor treats
// the hog's carrier as if it had entered a syscall — no longer counted among the carriers that run queues — and
// starts a spare carrier with a *retake worker*: a worker of its own (queue, LIFO slot, counters, event ring) that
// is not one of the `carriers` workers. Its loop (`retakeLoop`) runs its own queue, then takes the hog's queue
// through the victim's steal handle and its LIFO slot through the slot's CAS (both safe from any thread, as for
// any thief), then the injector, due timers and ready I/O — so with a single carrier the queued fibers, sleepers
// and the heartbeat keep running while the hog computes. Fibers the retake runs push to the retake worker's queue;
// fibers the hog makes runnable land on its own queue, which the retake keeps draining. The retake never parks
// in the idle list (nobody would wake it for the victim's pushes, which wake idle workers only): with nothing to
// run it sleeps `retakePollNanos` at a time (or until the next timer) and looks again.
//
// When the victim's counter moves (the hog yielded, parked or returned) the monitor ends the retake: at its next
// scheduling point the spare moves what is left on the retake worker (queue and LIFO slot) to the injector, where
// the victim's worker finds it, and goes back to the spare list — the extra carrier exists only while the hog
// holds its own. A retake worker may itself be hogged by a fiber it runs; the monitor watches it like any worker
// and retakes it in turn. Spare carriers come from the same pool as `blocking {}` handoffs (`maxSpareCarriers`);
// with none left, the hog is only reported. No retake either while another regular worker can take the hog's queue
// itself (stealing on, that worker neither hogged nor pinned): it steals from the queue as it would from any busy
// worker, and a retake would only add a thread beyond `carriers` on the same cores — a fiber spawning a burst without
// a scheduling point (`bench spawn`'s root, ~150 ms for a million) was retaken on every run, with three threads
// running the burst on two cores (docs/performance.md, "Session 7: the monitor and the spawn burst"). Go's `retake` likewise leaves a P whose
// queue idle or spinning Ps can serve. Under `pin` nothing moves: the queue waits (idle workers may still
// steal it, as ever, and one is woken for it: "Stuck queues"). Shutdown joins the spare carriers with the others and cancels what retake workers hold.
//
// Stuck queues. A worker whose counter has not moved for one period, with a fiber on its carrier and fibers waiting
// in its LIFO slot or queue, gets an idle worker woken for it (`wakeForStuckWorker`; nothing if a worker is already
// spinning or none is idle), which steals them as from any busy worker. A LIFO-slot put wakes nobody (tokio's rule,
// see `putRunnextFromFiber`), so this is how the slot's fiber leaves a waker that keeps running: within one to two
// periods, not Go's ~5 µs. It also covers a queue whose pushes found no worker idle (an idle worker counts as
// another taker above, so no retake comes for it). With the monitor off (`hogThresholdNanos` 0) the slot's fiber
// waits for its waker's next scheduling point, as in tokio.
//
// Ownership. The monitor thread alone starts and ends retakes, creates retake workers (appended to
// `retakeWorkers` under its lock, read by `metrics()`, `drainEvents()` and `shutdown()`) and keeps its detection
// state in locals. A retake worker is owned by the carrier it was handed to, exactly as a worker is: the monitor
// writes `RetakeState.victim` and `active = true`, then the carrier's `worker` under `carriersLock`; the carrier
// reads them after reading its `worker` under the same lock (`becomeSpare`) or from its thread's start. It gives
// the worker back by clearing `active` and its `worker` under `carriersLock`, after its last touch of the worker,
// and the monitor reuses a retake worker only when it sees `active` false under that lock.
//
// # Rejected options
//
// - Handing the hogged *worker* itself to a spare carrier, as `blocking {}` does: the hog's own code still reads
//   its carrier's `worker` and pushes to that worker's queue as its single producer; moving the worker from another
//   thread would race with it. Making that safe means an atomic ownership check on every spawn, wake and park of
//   every fiber (Go pays its P-status CAS only at syscall exit; a hog has no such exit point).
// - Moving the queue to the injector and waking an idle worker (this monitor's first version): with every carrier
//   busy — or a single one — no worker is idle, and the queue waits for the hog anyway.
// - Registering the retake worker in the idle list so the hog's pushes wake it (Go's wakep): the idle protocol
//   counts spinners in `nmspinning` and expects a woken worker to search all queues; a bounded poll while a hog
//   lasts costs one timed park per `retakePollNanos` and touches nothing of the hot paths.
// - A timestamp per run (two clock reads per run): tens of ns on a ~90 ns spawn; the counter suffices.
// - A signal to the hog's thread (Go's async preemption): a handler may interrupt the fiber inside any runtime
//   code, and a fiber cannot be preempted anyway.
import CRuntime
import Glibc
import Synchronization

/// What makes a worker a retake worker (see the essay): the hogged worker whose queue it takes, whether a carrier
/// holds it, and the monitor's request to give it back.
final class RetakeState: @unchecked Sendable {
    // @unchecked Sendable: `victim` and `active` are read and written under `Scheduler.carriersLock` only (the
    // carrier that holds the retake worker reads `victim` after taking the worker under that lock).
    /// The hogged worker whose queue this retake takes. Under `carriersLock`.
    var victim: Worker?
    /// True from the monitor's hand-over until the carrier gives the worker back. Under `carriersLock`.
    var active = false
    /// Set by the monitor when the victim's counter moved again; the carrier gives the worker back at its next
    /// scheduling point.
    let ending = Atomic<Bool>(false)
}

extension Scheduler {
    /// How often the monitor looks: a quarter of the threshold, within 0.5…5 ms.
    var monitorPeriodNanos: UInt64 {
        min(max(configuration.hogThresholdNanos / 4, 500_000), 5_000_000)
    }

    /// How long a retake with nothing to run sleeps before it looks at the hog's queue again (the hog's pushes
    /// wake idle workers only, and a retake worker is never in the idle list).
    static let retakePollNanos: UInt64 = 200_000

    /// The monitor's view of one worker. Monitor thread only.
    private struct Watch {
        var lastTick: UInt64 = .max
        var since: UInt64 = 0
        /// The culprit of the region reported and not yet ended.
        var reported: String?
        /// The retake worker taking this worker's queue, while one does.
        var retake: Worker?
    }

    /// Body of the monitor thread, started by `init` when `hogThresholdNanos > 0`; returns at shutdown.
    func monitorMain() {
        // The hog's name is read from the worker's published names, which start being written once observed.
        observed.store(true, ordering: .relaxed)  // relaxed: a hint.
        let threshold = configuration.hogThresholdNanos
        let retaking = configuration.blocking == .handoff && configuration.hogRetake
        // The workers, then the retake workers this thread created (they are watched too: a fiber a retake runs
        // may hog it in turn).
        var watched = workers
        var watch = [Watch](repeating: Watch(), count: workers.count)
        while !stopping.load(ordering: .sequentiallyConsistent) {
            _ = monitorParker.park(deadline: qv_now_ns() &+ monitorPeriodNanos)
            if stopping.load(ordering: .sequentiallyConsistent) { break }
            let now = qv_now_ns()
            // First every worker's view, then the decisions: a retake depends on whether another worker can take
            // the hog's queue (see "Retake" in the essay).
            var stuckNow = [Bool](repeating: false, count: watched.count)
            var canTake = [Bool](repeating: false, count: watched.count)
            var ticks = [UInt64](repeating: 0, count: watched.count)
            for i in 0..<watched.count {
                let p = watched[i].published
                // relaxed (the loads): gauges; a stale value delays a report by one period at most.
                ticks[i] = p.runTick.load(ordering: .relaxed)
                let state = SchedulerWorkerState(rawValue: p.state.load(ordering: .relaxed))
                let annotated =
                    state == .pinned || state == .stopped
                    || watched[i].handoffsOutstanding.load(ordering: .relaxed) > 0
                // No fiber switched since the last look, with one on the carrier. A parked worker runs nothing,
                // whatever `hasCurrent` last said (a stale true would keep a retake alive for good).
                let ranNothing =
                    ticks[i] == watch[i].lastTick && p.hasCurrent.load(ordering: .relaxed) && state != .parked
                stuckNow[i] = ranNothing && !annotated
                // Unable to take another's queue: held past the threshold itself (one stuck period is not enough:
                // the OS may have descheduled its thread for a moment), or pinned or stopped.
                let held = stuckNow[i] && now &- watch[i].since >= threshold
                canTake[i] = !held && state != .pinned && state != .stopped
                // A regular worker that ran nothing since the last look (pinned included): see "Stuck queues".
                if i < workers.count && ranNothing && state != .stopped { wakeForStuckWorker(watched[i]) }
            }
            for i in 0..<watched.count {
                let w = watched[i]
                let p = w.published
                let tick = ticks[i]
                let stuck = stuckNow[i]
                if !stuck {
                    if let culprit = watch[i].reported {
                        detachedEvent(
                            .blockingEnd, worker: w.id, other: RuntimeEventRecord.foundByMonitor,
                            duration: now &- watch[i].since, name: culprit)
                        watch[i].reported = nil
                    }
                    if let r = watch[i].retake {
                        endRetake(r)
                        watch[i].retake = nil
                    }
                    watch[i].lastTick = tick
                    watch[i].since = now
                    continue
                }
                if watch[i].reported == nil && now &- watch[i].since >= threshold {
                    let names = p.currentNames()
                    let culprit = Self.culprit(name: names?.name ?? "", kind: names?.kind ?? "")
                    watch[i].reported = culprit
                    hogsDetected.add(1, ordering: .relaxed)  // relaxed: statistic.
                    detachedEvent(.blockingBegin, worker: w.id, other: RuntimeEventRecord.foundByMonitor, name: culprit)
                }
                if retaking && watch[i].retake == nil,
                    !queueHasAnotherTaker(i, canTake: canTake),
                    let culprit = watch[i].reported,
                    let (r, isNew) = startRetake(of: w, culprit: culprit, known: watched[workers.count...])
                {
                    watch[i].retake = r
                    if isNew {
                        watched.append(r)
                        watch.append(Watch())
                    }
                }
            }
        }
        // Regions still open at shutdown end with it (the retakes' carriers stop with the others).
        let end = qv_now_ns()
        for (i, w) in watched.enumerated() {
            if let culprit = watch[i].reported {
                detachedEvent(
                    .blockingEnd, worker: w.id, other: RuntimeEventRecord.foundByMonitor,
                    duration: end &- watch[i].since, name: culprit)
            }
        }
    }

    /// Regular worker `w` has run nothing for a period with a fiber on its carrier (a fiber computing or pinned, or
    /// its thread descheduled): if fibers wait in its LIFO slot or queue, wakes an idle worker (when none is
    /// spinning) to steal them — the slot's fiber after `runnextStealDelay`. The one wake-up a LIFO-slot put gets
    /// (see `putRunnextFromFiber`), and the one for a queue whose push found no worker idle when a worker parked
    /// just after. Monitor thread.
    private func wakeForStuckWorker(_ w: Worker) {
        guard stealLimit > 0, w.hasRunnext || !w.stealer.isEmpty else { return }
        wakeIdle()
    }

    /// True when a worker other than watched worker `i` can take `i`'s queue itself — a regular worker that is not
    /// held by a hog nor pinned, with stealing on — so a retake's extra carrier thread is not needed (Go's `retake`
    /// likewise leaves a P whose queue idle or spinning Ps can serve). Only regular workers' queues are stolen
    /// from; a retake worker's queue has no other taker. `canTake` is indexed like the monitor's `watched` list,
    /// regular workers first. Monitor thread.
    private func queueHasAnotherTaker(_ i: Int, canTake: [Bool]) -> Bool {
        guard stealLimit > 0, i < workers.count else { return false }
        for j in 0..<workers.count where j != i && canTake[j] { return true }
        return false
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

    /// Hands a retake worker aimed at `victim` (held by `culprit`) to a spare carrier (an idle spare or a new thread) and starts it.
    /// The retake worker is one of `known` that no carrier holds, or a new one (`isNew`). Nil when no spare
    /// carrier may be had or the scheduler stops. Monitor thread.
    private func startRetake(of victim: Worker, culprit: String, known: ArraySlice<Worker>) -> (Worker, isNew: Bool)? {
        if stopping.load(ordering: .sequentiallyConsistent) { return nil }
        let picked = carriersLock.withLock { cs -> (Carrier, Worker, Bool)? in
            guard let s = takeSpare(&cs) else { return nil }
            var isNew = false
            let r: Worker
            if let free = known.first(where: { $0.retake?.active == false }) {
                r = free
            } else {
                isNew = true
                r = retakeWorkers.withLock { all in
                    let w = Worker(
                        id: workers.count + all.count, capacity: configuration.localQueueCapacity,
                        eventCapacity: configuration.eventRingCapacity, retake: RetakeState())
                    all.append(w)
                    return w
                }
            }
            guard let st = r.retake else { preconditionFailure("Scheduler.startRetake: a worker without RetakeState") }
            st.victim = victim
            st.active = true
            st.ending.store(false, ordering: .relaxed)  // relaxed: published with the hand-over by this lock.
            s.worker = r
            return (s, r, isNew)
        }
        guard let (s, r, isNew) = picked else { return nil }
        hogRetakes.add(1, ordering: .relaxed)  // relaxed: statistic.
        // As a `blocking {}` handoff: the hogged worker's queue passes to carrier `s`, because of `culprit`.
        detachedEvent(.handoff, worker: victim.id, other: s.index, name: culprit)
        startSpare(s)
        return (r, isNew)
    }

    /// Asks the carrier holding retake worker `r` to give it back. Monitor thread.
    private func endRetake(_ r: Worker) {
        r.retake?.ending.store(true, ordering: .relaxed)  // relaxed: a flag; the hand-back goes through carriersLock.
        r.parker.unpark(poller: nil)
    }

    /// The loop of a carrier holding retake worker `ws` (see the essay): runs `ws`'s fibers, the victim's queue,
    /// the injector, timers and ready I/O until the monitor ends the retake, the worker is handed off by a
    /// `blocking {}` region of a fiber it runs, or the scheduler stops. Executed by `c` owning `ws`.
    func retakeLoop(_ ws: Worker, on c: Carrier) {
        guard let st = ws.retake, let victim = carriersLock.withLock({ _ in st.victim }) else {
            preconditionFailure("Scheduler.retakeLoop: worker \(ws.id) is not a retake worker with a victim")
        }
        ws.activeSince = qv_now_ns()
        ws.setState(.running)
        // `holds`, not `c.worker === ws`: that made a strong reference, a retain and a release of `ws` per fiber run.
        while c.holds(ws) && !stopping.load(ordering: .relaxed) {  // relaxed: polled flag.
            if st.ending.load(ordering: .relaxed) {  // relaxed: a flag, see endRetake.
                giveBack(ws, st, from: c)
                return
            }
            if let t = retakeNext(ws, victim: victim) {
                run(.passRetained(t), on: ws, carrier: c)  // Unmanaged: the +1 `run` takes over; `t` is dropped after
                continue
            }
            _ = ws.parker.park(deadline: min(timers.nextDeadline, qv_now_ns() &+ Self.retakePollNanos))
        }
    }

    /// The next fiber for a retake worker: its LIFO slot (capped as in `findRunnable`) and queue, the victim's
    /// queue and LIFO slot, the injector, ready I/O. Owner of `ws`.
    private func retakeNext(_ ws: Worker, victim: Worker) -> FiberTask? {
        ws.tick &+= 1
        checkTimers(ws)
        if ws.tick % Self.injectorInterval == 0, let t = injector.pop() { return t }
        if ws.hasRunnext, let t = ws.exchangeRunnext(nil) {
            if ws.runnextStreak < Self.maxRunnextStreak || ws.local.isEmpty {
                ws.runnextStreak += 1
                return t
            }
            pushLocal(t, on: ws)
        }
        ws.runnextStreak = 0
        if let t = ws.local.pop() { return t }
        // The hog will not run these: its queue (half at a time, as a thief) and its LIFO slot at once.
        if let (t, n) = victim.stealer.steal(into: ws.local, limit: .max) {
            noteRetaken(count: n)
            return t
        }
        if let t = victim.stealRunnext(expected: victim.runnextHint) {
            noteRetaken(count: 1)
            return t
        }
        if let t = injector.popBatch(max: ws.local.capacity / 2, share: workers.count, into: ws.local) { return t }
        if ioWaiterCount.load(ordering: .relaxed) > 0 {  // relaxed: a hint, as in findRunnable.
            poller.poll { ioReady($0) }
            if let t = ws.local.pop() { return t }
        }
        return nil
    }

    /// Counts fibers a retake took from its victim: in `hogQueueMoves`, not as steals (a retake worker has no row
    /// in the metrics, so a victim's `stolenOut` would not match any worker's `stolenIn`). The retake's carrier.
    private func noteRetaken(count: Int) {
        hogQueueMoves.add(UInt64(count), ordering: .relaxed)  // relaxed: statistic.
    }

    /// Ends a retake: what is left on `ws` goes to the injector (the victim's worker, or any, finds it there), the
    /// counters are published, and `c` lets go of `ws` (it becomes a spare in `carrierMain`). Owner of `ws`.
    private func giveBack(_ ws: Worker, _ st: RetakeState, from c: Carrier) {
        var left: [FiberTask] = []
        if let t = ws.exchangeRunnext(nil) { left.append(t) }
        while let t = ws.local.pop() { left.append(t) }
        let now = qv_now_ns()
        ws.counters.busyNanos &+= now &- ws.activeSince
        ws.activeSince = now
        ws.flushCoalescedEvents()
        ws.publish(state: .parked)
        if !left.isEmpty {
            injector.pushBatch(left)
            wakeIdle()
        }
        // The last touch of `ws`: from here the monitor may hand it to another carrier.
        carriersLock.withLock { _ in
            st.active = false
            c.worker = nil
        }
    }
}
