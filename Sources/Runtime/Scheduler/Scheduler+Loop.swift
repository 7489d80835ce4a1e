// The carrier's scheduling loop: find a runnable fiber, run it, handle what it asked for after the switch.
// See the essay in Scheduler.swift.
import CRuntime
import Glibc
import Synchronization

/// First Swift code on a task's own stack (called by the assembly trampoline with the task's `qv_fiber_ctx`).
/// When it returns, the C exit path marks the context finished and switches back to the carrier for good.
private let taskEntry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
    guard let context = raw?.assumingMemoryBound(to: qv_fiber_ctx.self), let owner = context.pointee.owner else {
        return
    }
    // Unmanaged: the carrier that resumes the task holds it for the whole resume (see `Scheduler.run`), so it is
    // borrowed here, with no retain and release per task.
    Unmanaged<FiberTask>.fromOpaque(owner)._withUnsafeGuaranteedRef { $0.start() }
}

extension Scheduler {
    /// Body of every carrier thread.
    func carrierMain(_ c: Carrier) {
        FiberCrashReport.prepareCarrierThread()  // an alternate signal stack: a fiber's overflow can be reported
        // relaxed (the four counter updates): gauges; shutdown's pthread_join orders them for its caller.
        Scheduler.liveThreads.add(1, ordering: .relaxed)
        liveCarriers.add(1, ordering: .relaxed)
        CarrierTLS.set(c)
        // A private stack cache per carrier (Go's per-P caches): fiber starts and finishes take no lock.
        stackPool.attachCarrierCache(stackSize: configuration.stackSize)
        c.stackCache = stackPool.carrierCache()
        defer {
            c.stackCache = nil
            stackPool.detachCarrierCache()
            CarrierTLS.set(nil)
            liveCarriers.subtract(1, ordering: .relaxed)
            Scheduler.liveThreads.subtract(1, ordering: .relaxed)
        }
        while !stopping.load(ordering: .sequentiallyConsistent) {
            if let w = c.worker {
                w.carrierIndex.store(c.index, ordering: .relaxed)  // relaxed: gauge.
                // A retake worker (the monitor's, Monitor.swift) runs its own loop.
                if w.retake != nil { retakeLoop(w, on: c) } else { schedule(w, on: c) }
            } else {
                // Our worker was handed off: wait as a spare until a handoff gives us one (or shutdown).
                becomeSpare(c)
            }
        }
    }

    /// Runs `w`'s loop until the worker is handed off or the scheduler stops. Executed by `c` owning `w`.
    func schedule(_ w: Worker, on c: Carrier) {
        while c.holds(w) {
            guard let t = findRunnable(w) else {
                if stopping.load(ordering: .sequentiallyConsistent) { return }
                continue
            }
            run(t, on: w, carrier: c)
        }
    }

    /// Runs one task on `w`/`c` and handles its post-switch action. `task` is a +1 (`Unmanaged`: the reference the
    /// queue or LIFO slot held, taken over by `findRunnable`), which keeps the task alive through the resume (`t` below
    /// borrows it) and then goes where the task goes: into the queue's slot as it is for a yield (no retain), or
    /// released (a park, whose waker holds its own reference; a finish). A strong local cost a release per run, and a
    /// yield a retain for the requeue on top.
    @inline(__always)
    func run(_ task: Unmanaged<FiberTask>, on w: Worker, carrier c: Carrier) {
        // Unmanaged: borrowed for the run; the +1 is handed on only after `resume` has returned.
        switch task._withUnsafeGuaranteedRef({ resume($0, task, on: w, carrier: c) }) {
        case .release: task.release()
        case .requeue: requeue(retained: task.toOpaque(), carrier: c)
        }
    }

    /// What `run` does with its +1 of the task once the task is off the carrier.
    enum RunEnd {
        /// Nothing more here: the task parked, finished, was refused or requeued on the injector (which took its own
        /// reference).
        case release
        /// Still runnable: back onto this carrier's worker (the queue takes the +1).
        case requeue
    }

    /// The body of `run`: resumes `t` (borrowed; `task` is the same task, for the unretained pointers the carrier and
    /// the context hold) and handles its post-switch action.
    @inline(__always)
    private func resume(_ t: FiberTask, _ task: Unmanaged<FiberTask>, on w: Worker, carrier c: Carrier) -> RunEnd {
        w.counters.runs &+= 1
        w.counters.sincePublish &+= 1
        // relaxed: a gauge for the monitor (Monitor.swift), the only per-run cost of it.
        w.published.runTick.store(w.counters.runs, ordering: .relaxed)
        if t.readyAt != 0 {
            let now = qv_now_ns()
            w.counters.recordDelay(now &- t.readyAt)
            t.readyAt = 0
        }
        if w.counters.sincePublish >= Int(Self.injectorInterval) { maintenance(w) }
        // No state store: a queued and a running fiber are both `runnable` (or `notified`, with a permit), so only
        // RMWs touch the state between a park and the next (see the table above TaskState).
        // The task is the fiber: its stack and `qv_fiber_ctx` belong to it directly, no `Fiber` object.
        let context: UnsafeMutablePointer<qv_fiber_ctx>
        if let s = t.stack {
            context = s.context
        } else {
            let s: FiberStack
            do throws(StackMapError) {
                s = try acquireStack(c)
            } catch {
                refuseStart(t, on: w, error)  // past a memory limit: not started, reported (Scheduler+Stacks)
                return .release
            }
            t.stack = s
            context = s.context
            // Unmanaged: the ctx holds an unretained back pointer; `run`'s +1 keeps the task alive while it runs,
            // and the task owns the stack that holds the ctx.
            qv_fiber_prepare(context, s.bottom, s.stackTop, task.toOpaque(), taskEntry)
            context.pointee.owner_kind = 1
        }
        c.currentRef = task  // unretained: `run`'s +1 holds the task until `current` is cleared below
        c.postSwitch = .none
        w.published.hasCurrent.store(true, ordering: .relaxed)  // relaxed: gauge.
        // The running fiber's label is published only once someone reads metrics (Worker.publishRunning).
        // relaxed: a hint. Unmanaged: borrowed, `t` holds its label for the whole run (see publishRunning).
        if observed.load(ordering: .relaxed), let label = t.label.map(Unmanaged.passUnretained) {
            w.publishRunning(label)
        }
        let finished = qv_fiber_resume(context) != 0
        // Now off the fiber's stack. This carrier may have lost `w` (handoff): touch nothing of w then.
        c.currentRef = nil
        if c.holds(w) { w.published.hasCurrent.store(false, ordering: .relaxed) }  // relaxed: gauge.
        let action = c.postSwitch
        c.postSwitch = .none
        if finished {
            // releasing: nothing pairs a later load of another location with it (wakers CAS the state, which
            // sees the latest value anyway), so no seq-cst store (an `xchg` per task on x86).
            t.state.store(TaskState.done.rawValue, ordering: .releasing)
            // Off its stack for good: back to the pool (this carrier's cache).
            if let s = t.stack {
                t.stack = nil
                giveBackStack(s, c)
            }
            // Borrowed: no retain of the worker (see Carrier.workerRef). relaxed: statistic.
            if let cw = c.workerRef {
                cw._withUnsafeGuaranteedRef { $0.counters.finished &+= 1 }
            } else {
                externalFinished.add(1, ordering: .relaxed)
            }
            return .release
        }
        switch action {
        case .park:
            if !t.state.compareExchange(
                expected: TaskState.runnable.rawValue, desired: TaskState.parked.rawValue,
                ordering: .sequentiallyConsistent
            ).exchanged {
                // Notified since its park began (the fiber's load saw no permit): consume the permit (an RMW, so
                // the waker's publication is ordered before the fiber's re-check through the queue's hand-over)
                // and requeue it ourselves. The park was counted and the waker saw `runnable`, which it does not
                // count: the wake is counted here, so parks − wakes stays the number parked.
                _ = t.state.exchange(TaskState.runnable.rawValue, ordering: .sequentiallyConsistent)
                if let cw = c.workerRef {
                    // Borrowed (see Carrier.workerRef).
                    cw._withUnsafeGuaranteedRef { $0.counters.fiberWakes[t.parkReason.rawValue] &+= 1 }
                } else {
                    externalWakes.add(t.parkReason.rawValue, 1)
                }
                return .requeue
            }
            return .release
        case .yield, .none:
            // Still runnable (or notified: the permit stays for its next park).
            return .requeue
        case .requeueInjector:
            injector.push(t)
            wakeIdle()
            return .release
        }
    }

    /// Makes a task that is still runnable after its run runnable again: `task` is `run`'s +1, which the queue (or the
    /// injector, when this carrier has lost its worker) takes over.
    @inline(__always)
    private func requeue(retained task: UnsafeMutableRawPointer, carrier c: Carrier) {
        if let cw = c.workerRef {
            cw._withUnsafeGuaranteedRef { pushLocal(retained: task, on: $0) }  // borrowed (see Carrier.workerRef)
        } else {
            // Unmanaged: takes over the +1 (the injector keeps its own reference; this one is dropped after).
            injector.push(Unmanaged<FiberTask>.fromOpaque(task).takeRetainedValue())
            wakeIdle()
        }
    }

    /// Publishes counters and emits the spawn-batch event. Owner only.
    func maintenance(_ w: Worker) {
        w.flushCoalescedEvents()
        let now = qv_now_ns()
        w.counters.busyNanos &+= now &- w.activeSince
        w.activeSince = now
        w.publish(state: .running)
    }

    static let maxRunnextStreak = 3

    /// Finds the next task for `w`, parking the carrier when there is none, as a +1 (`Unmanaged`: the queue's or the
    /// slot's reference, handed over as it is; see `run`). Nil when stopping (or after a spurious wake-up; the caller
    /// loops).
    @inline(__always)
    func findRunnable(_ w: Worker) -> Unmanaged<FiberTask>? {
        w.tick &+= 1
        checkTimers(w)
        if w.tick % Self.injectorInterval == 0, let t = pollInjectorAndIO(w) { return t }
        if w.hasRunnext, let p = w.takeRunnext() {
            // Unmanaged: the slot's +1, taken over.
            let t = Unmanaged<FiberTask>.fromOpaque(p)
            // Streak cap (tokio: 3 LIFO polls per tick) so the queue gets a turn; with an empty queue there is
            // nobody to be fair to, and requeueing would only wake an idle worker to steal it. Checked here, on
            // the take side, it is tokio's `lifo_enabled = false` until the next queue take: past the cap every
            // fiber found in the slot goes to the queue's back until a queue pop resets the streak (tokio routes
            // the capped run's wakes to the queue at once; here they wait in the slot until that run parks).
            if w.runnextStreak < Self.maxRunnextStreak || w.local.isEmpty {
                w.runnextStreak += 1
                return foundWork(w, t)
            }
            pushLocal(retained: p, on: w)
        }
        w.runnextStreak = 0
        // Unmanaged: the slot's +1, taken over.
        if let p = w.local.popRetained() { return foundWork(w, Unmanaged<FiberTask>.fromOpaque(p)) }
        // Unmanaged: a +1 of the task found for `run` (the strong reference is dropped after).
        return findRunnableSlow(w).map(Unmanaged.passRetained)
    }

    /// `findRunnable`'s look at the injector and ready I/O every `injectorInterval` ticks. Out of line: inlined, the
    /// injector's lock and the poller's event buffer made the loop's frame ~900 bytes, saved every callee-saved register
    /// and added a stack-protector check to every run.
    @inline(never)
    private func pollInjectorAndIO(_ w: Worker) -> Unmanaged<FiberTask>? {
        // Unmanaged: a +1 of the popped task for `run` (the strong `t` is dropped after).
        if let t = injector.pop() { return foundWork(w, .passRetained(t)) }
        // relaxed: a hint; a missed registration is polled next time.
        if ioWaiterCount.load(ordering: .relaxed) > 0 { poller.poll { ioReady($0) } }
        return nil
    }

    @inline(__always)
    private func foundWork<T>(_ w: Worker, _ t: T) -> T {
        if w.spinning { resetSpinning(w) }
        return t
    }

    /// Stops spinning; if we were the last spinner, wake another so remaining work keeps being found.
    private func resetSpinning(_ w: Worker) {
        w.spinning = false
        w.setState(.running)
        let prev = nmspinning.subtract(1, ordering: .sequentiallyConsistent).oldValue
        precondition(prev >= 1, "Scheduler.resetSpinning: negative nmspinning")
        if prev == 1 { wakeIdle() }
    }

    private func takeInjector(_ w: Worker) -> FiberTask? {
        // Straight into the local queue under the injector's lock (no temporary array).
        injector.popBatch(max: w.local.capacity / 2, share: workers.count, into: w.local)
    }

    /// The slow path: the local queue and the LIFO slot are empty. Time from the moment nothing nearby (queue,
    /// injector, ready I/O) had work until work is found or the worker parks is counted as searching
    /// (`searchNanos`), whatever the steal policy: without stealing that window just ends sooner.
    private func findRunnableSlow(_ w: Worker) -> FiberTask? {
        var rounds = 0
        while true {
            if stopping.load(ordering: .relaxed) { return nil }  // relaxed: polled flag.
            checkTimers(w)
            if let t = w.local.pop() { return foundBySearch(w, t) }
            if let t = takeInjector(w) { return foundBySearch(w, t) }
            if ioWaiterCount.load(ordering: .relaxed) > 0 {  // relaxed: hint, see findRunnable.
                poller.poll { ioReady($0) }
                if let t = w.local.pop() { return foundBySearch(w, t) }
            }
            if w.searchStart == 0 { w.searchStart = qv_now_ns() }
            // Steal, as a spinner, unless half the busy workers are already spinning (Go's limit).
            // A fiber seen waiting in another worker's LIFO slot extends the search (a bounded number of rounds)
            // until the slot's steal delay has passed: the monitor's wake-up for a stuck worker is for that fiber.
            if stealLimit > 0 && workers.count > 1
                && (rounds < configuration.spinCount
                    || (rounds < configuration.spinCount + Self.runnextExtraRounds && waitingForRunnext(w)))
            {
                if !w.spinning {
                    let busy = workers.count - idleCount.load(ordering: .relaxed)  // relaxed: heuristic.
                    if 2 * nmspinning.load(ordering: .relaxed) < busy {  // relaxed: heuristic.
                        w.spinning = true
                        w.setState(.spinning)
                        nmspinning.add(1, ordering: .sequentiallyConsistent)
                    }
                }
                if w.spinning {
                    if let t = stealWork(w) { return foundBySearch(w, t) }
                    rounds += 1
                    if rounds > 3 { sched_yield() } else { for _ in 0..<(Self.spinBase << rounds) { spinHint() } }
                    continue
                }
            }
            // Nothing: park.
            if parkWorker(w) { rounds = 0 }
            return nil
        }
    }

    /// Work found on the slow path: ends the search's time, if one was running. Owner of `w`.
    @inline(__always)
    private func foundBySearch(_ w: Worker, _ t: FiberTask) -> FiberTask {
        endSearch(w, now: w.searchStart == 0 ? 0 : qv_now_ns())
        return foundWork(w, t)
    }

    /// Adds the running search's time up to `now` to `searchNanos`. Owner of `w`.
    @inline(__always)
    func endSearch(_ w: Worker, now: UInt64) {
        if w.searchStart == 0 { return }
        w.counters.searchNanos &+= now &- w.searchStart
        w.searchStart = 0
    }

    /// One pass over the other workers in random order. Executed by the owner of `w`.
    private func stealWork(_ w: Worker) -> FiberTask? {
        let n = workers.count
        let start = Int(w.nextRandom() % UInt64(n))
        for k in 0..<n {
            // unowned(unsafe): `workers` keeps every worker alive; a strong local would retain and release the
            // victim's reference count, a cache line its owner writes on every spawn.
            unowned(unsafe) let v = workers[(start + k) % n]
            if v === w || v.stealer.isEmpty { continue }
            if let (t, count) = v.stealer.steal(into: w.local, limit: stealLimit) {
                w.counters.stealOps &+= 1
                w.counters.stolenIn &+= UInt64(count)
                v.published.stolenOut.add(UInt64(count), ordering: .relaxed)  // relaxed: statistic.
                w.noteSteal(from: v.id, count: Int32(count))
                return t
            }
        }
        // No queue had work: take a fiber that has waited in another worker's LIFO slot (its waker kept
        // running). Seen first, taken on a later round if still there after `runnextStealDelay`, so the
        // usual hand-over (the waker parks at once) keeps its cache locality.
        for k in 0..<n {
            unowned(unsafe) let v = workers[(start + k) % n]  // unowned(unsafe): as above.
            if v === w { continue }
            let bits = v.runnextHint
            if bits == 0 { continue }
            let seen = w.runnextSighting
            let now = qv_now_ns()
            if seen.victim == v.id && seen.bits == bits {
                if now &- seen.at >= Self.runnextStealDelay, let t = v.stealRunnext(expected: bits) {
                    w.runnextSighting = (-1, 0, 0)
                    w.counters.stealOps &+= 1
                    w.counters.stolenIn &+= 1
                    v.published.stolenOut.add(1, ordering: .relaxed)  // relaxed: statistic.
                    w.noteSteal(from: v.id, count: 1)
                    return t
                }
            } else {
                w.runnextSighting = (v.id, bits, now)
            }
        }
        return nil
    }

    /// Steal rounds a search may add to `spinCount` while a LIFO-slot sighting waits for its delay.
    static let runnextExtraRounds = 64

    /// True while this worker has seen a fiber in another worker's LIFO slot that is still there (same value) —
    /// the next steal round takes it once the delay has passed. Owner of `w`.
    private func waitingForRunnext(_ w: Worker) -> Bool {
        let seen = w.runnextSighting
        return seen.victim >= 0 && workers[seen.victim].runnextHint == seen.bits
    }

    /// How long a fiber sits in a busy worker's LIFO slot before an idle worker may take it (Go: ~3 µs).
    static let runnextStealDelay: UInt64 = 5_000

    /// Parks the thread running `w` until woken. Returns true when woken by an unpark (as a spinner).
    /// Executed by the owner of `w`.
    private func parkWorker(_ w: Worker) -> Bool {
        let wasSpinning = w.spinning
        if wasSpinning {
            w.spinning = false
            nmspinning.subtract(1, ordering: .sequentiallyConsistent)
        }
        idle.withLock { list in
            list.append(w)
            w.inIdleList = true
            idleCount.add(1, ordering: .sequentiallyConsistent)
        }
        // Pairs with the fence in wakeIdle (see the essay): re-check everything after going idle.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if hasWorkSomewhere(w) {
            let removed = idle.withLock { list -> Bool in
                guard w.inIdleList, let i = list.firstIndex(where: { $0 === w }) else { return false }
                list.remove(at: i)
                w.inIdleList = false
                idleCount.subtract(1, ordering: .sequentiallyConsistent)
                return true
            }
            if removed {
                endSearch(w, now: qv_now_ns())
                return false
            }
            // Someone already took us from the idle list and will unpark us: fall through; the park
            // below consumes that permit at once.
        }
        // Account busy time and publish before sleeping.
        let now = qv_now_ns()
        w.counters.busyNanos &+= now &- w.activeSince
        endSearch(w, now: now)
        w.counters.parks &+= 1
        w.flushCoalescedEvents()
        // The park event is written at unpark, and only for a long park (see the essay, "Metrics and events").
        let parkedAt = now
        w.publish(state: .parked)

        var unparked: Bool
        if !stopping.load(ordering: .sequentiallyConsistent)
            && pollerOwned.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent)
                .exchanged
        {
            unparked = pollBlocking(w)
            pollerOwned.store(false, ordering: .sequentiallyConsistent)
            // Somebody must keep watching timers and I/O while we work: hand the duty to an idle worker.
            if timers.nextDeadline != .max || ioWaiterCount.load(ordering: .relaxed) > 0 {
                // relaxed: hint.
                wakeIdleForPoll()
            }
        } else if !stopping.load(ordering: .sequentiallyConsistent) {
            unparked = w.parker.park()
        } else {
            unparked = false
        }
        // Still in the idle list? Then we woke by ourselves (timer, I/O, spurious), not as a spinner.
        let (selfWoken, asSpinner) = idle.withLock { list -> (Bool, Bool) in
            let spinner = w.wokeAsSpinner
            w.wokeAsSpinner = false
            guard w.inIdleList, let i = list.firstIndex(where: { $0 === w }) else { return (false, spinner) }
            list.remove(at: i)
            w.inIdleList = false
            idleCount.subtract(1, ordering: .sequentiallyConsistent)
            return (true, spinner)
        }
        if !selfWoken {
            unparked = true
            // wakeIdleSlow counted us in nmspinning; wakeIdleForPoll and shutdown did not.
            if asSpinner { w.spinning = true }
        }
        let unparkedAt = qv_now_ns()
        w.activeSince = unparkedAt
        w.counters.unparks &+= 1
        let parkedFor = unparkedAt &- parkedAt
        if parkedFor >= configuration.parkEventThresholdNanos {
            w.event(.workerPark, at: parkedAt)
            w.event(.workerUnpark, duration: parkedFor, at: unparkedAt)
        }
        w.setState(w.spinning ? .spinning : .running)
        checkTimers(w)
        return unparked
    }

    /// Cheap look at every place work can come from. Owner of `w`.
    private func hasWorkSomewhere(_ w: Worker) -> Bool {
        if stopping.load(ordering: .relaxed) { return true }  // relaxed: polled flag.
        if !injector.isEmpty || !w.local.isEmpty || w.hasRunnext { return true }
        if stealLimit > 0 {
            for i in workers.indices {
                unowned(unsafe) let v = workers[i]  // unowned(unsafe): as in stealWork.
                if v !== w && !v.stealer.isEmpty { return true }
            }
        }
        if timers.nextDeadline <= qv_now_ns() { return true }
        return false
    }

    /// Sleeps in the poller until I/O, the next timer, or an unpark. Returns true when unparked.
    private func pollBlocking(_ w: Worker) -> Bool {
        guard w.parker.beginPolling() else { return true }  // a permit was waiting
        pollerDeadline.store(.max, ordering: .sequentiallyConsistent)
        // Pairs with addTimer's fence: either it sees .max/our deadline and wakes us, or we see its timer.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let deadline = timers.nextDeadline
        pollerDeadline.store(deadline, ordering: .sequentiallyConsistent)
        if deadline <= qv_now_ns() {
            pollerDeadline.store(0, ordering: .sequentiallyConsistent)
            return w.parker.endPolling()
        }
        poller.wait(deadline: deadline == .max ? 0 : deadline) { ioReady($0) }
        pollerDeadline.store(0, ordering: .sequentiallyConsistent)
        return w.parker.endPolling()
    }

    /// Wakes one idle worker (not as a spinner) so it takes over the poller. Any thread.
    private func wakeIdleForPoll() {
        let v = idle.withLock { list -> Worker? in
            guard let v = list.popLast() else { return nil }
            v.inIdleList = false
            idleCount.subtract(1, ordering: .sequentiallyConsistent)
            return v
        }
        v?.parker.unpark(poller: poller)
    }

    /// Busy-wait steps after the first failed steal round (doubling each round; a `pause` is ~20–140 cycles).
    /// Between steps a searching worker does not touch other workers' queues: each poll reads the victim's `tail`,
    /// so polling every ~100 ns made each push of a spawning victim miss.
    static let spinBase = 16

    /// A short busy-wait step between steal rounds: a CPU spin-wait hint, which leaves the core's execution
    /// resources to a sibling hardware thread (without it a spinning carrier slowed a spawning carrier that
    /// shared its physical core ~2.5×).
    @inline(__always) func spinHint() {
        qv_cpu_relax()
    }
}
