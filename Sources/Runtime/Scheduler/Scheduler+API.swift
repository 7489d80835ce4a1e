// What fibers call (yield, sleep, blocking regions), and shutdown. Fd I/O: Scheduler+IO.swift.
import CRuntime
import Glibc
import Synchronization

extension Scheduler {
    // MARK: Fiber-side API (each works on a plain thread too, by blocking the thread)

    /// True when the caller runs inside a fiber of a scheduler (inside its `blocking {}` regions too).
    public static var isInFiber: Bool { currentFiberTask != nil }

    /// Name of the calling fiber ("" outside one).
    public static var currentFiberName: String { currentFiberTask?.name ?? "" }

    /// The calling fiber, also inside a blocking region (where `currentTask`, which the waits consult, is nil).
    static var currentFiberTask: FiberTask? {
        guard Fiber.isInFiber, let u = CarrierTLS.currentUnretained() else { return nil }
        return u._withUnsafeGuaranteedRef { $0.current ?? $0.blockingTask }
    }

    /// Lets other runnable fibers run; the caller goes to the back of its worker's queue.
    public static func yield() {
        if FiberTask.prepareYield() { Fiber.suspend() } else { sched_yield() }
    }

    /// Parks the calling fiber for `nanoseconds` (a timer wakes it). Blocks a plain thread instead.
    public static func sleep(nanoseconds: UInt64) {
        // The task is borrowed (`withCurrentTask`): a fiber dropped while asleep (shutdown) never returns from here.
        // While it is parked its timer holds it.
        if withCurrentTask({ t in sleep(t, nanoseconds: nanoseconds) }) != nil { return }
        var ts = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var rem = timespec()
        while nanosleep(&ts, &rem) != 0 && qv_errno() == EINTR { ts = rem }
    }

    /// `sleep(nanoseconds:)` of the running fiber `t` (borrowed by the caller).
    private static func sleep(_ t: FiberTask, nanoseconds: UInt64) {
        let deadline = qv_now_ns() &+ nanoseconds
        var timer = t.scheduler.addTimer(t, deadline: deadline)
        // Loop: a stray wake-up (permit) must not end the sleep early. Woken early, the sleep keeps its timer when
        // it is still pending (one heap entry per sleep, whatever the stray wakes) and cancels it at the end.
        t.park(reason: .sleep)
        if qv_now_ns() < deadline {
            repeat {
                if !t.scheduler.timers.isPending(timer) { timer = t.scheduler.addTimer(t, deadline: deadline) }
                t.park(reason: .sleep)
            } while qv_now_ns() < deadline
            t.scheduler.timers.cancel(timer)
        }
    }

    public static func sleep(for duration: Duration) {
        let (s, attos) = duration.components
        sleep(nanoseconds: UInt64(max(0, s)) * 1_000_000_000 + UInt64(max(0, attos / 1_000_000_000)))
    }

    /// Runs a real blocking call. Under `pin` the carrier blocks with its worker; under `handoff` the worker
    /// passes to a spare carrier first (see the essay). Outside a fiber it just runs `body`.
    ///
    /// Inside `body` the fiber acts as a plain thread: `sleep`, `yield`, channel, mutex and semaphore waits,
    /// `join` and fd waits block the carrier thread (which the region holds anyway) rather than park the fiber,
    /// so the whole region runs on one thread. A nested `blocking {}` just runs its body.
    @discardableResult
    public static func blocking<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard let t = currentTask else { return try body() }
        // The region runs in a scheduler method that returns before the switch back onto a worker:
        // a fiber dropped while requeued (shutdown) leaks whatever its frames retain, and this way that
        // is only the task, never the scheduler or a carrier (as in FiberTask.park).
        let (result, handedOff) = t.scheduler.blockingRegion(t, body)
        if handedOff { t.rejoinAfterHandoff() }
        return try result.get()
    }

    /// Runs `body` pinned or handed off. True in the result when the carrier's worker went to a spare:
    /// the caller must then switch off this carrier (`FiberTask.rejoinAfterHandoff`) to get back onto one.
    func blockingRegion<T, E: Error>(_ t: FiberTask, _ body: () throws(E) -> T) -> (Result<T, E>, Bool) {
        guard let c = CarrierTLS.current, let w = c.worker else {
            return (Result<T, E> { () throws(E) -> T in try body() }, false)
        }
        let start = qv_now_ns()
        if configuration.blocking == .handoff, let spare = handOff(w, from: c, task: t, start: start) {
            // From here `w` belongs to `spare`; this carrier has no worker.
            _ = spare
            let result = c.runAsPlainThread(t) { Result<T, E> { () throws(E) -> T in try body() } }
            let dur = qv_now_ns() &- start
            c.blockedInfo.withLock { $0 = nil }
            w.handoffsOutstanding.subtract(1, ordering: .relaxed)  // relaxed: a gauge for metrics.
            handoffEnds.add(1, ordering: .relaxed)  // relaxed: statistic.
            detachedEvent(.blockingEnd, worker: w.id, duration: dur, name: t.name)
            return (result, true)
        }
        // Pin.
        pinBegins.add(1, ordering: .relaxed)  // relaxed: statistic.
        w.event(.pin, other: c.index)
        w.event(.blockingBegin, name: t.name)
        c.blockedInfo.withLock { $0 = (t.name, start, .pin) }
        // The LIFO slot is not stealable: move it to the queue, and let an idle worker come to steal that.
        if let next = w.exchangeRunnext(nil) { _ = w.local.push(next, overflow: injector) }
        w.publish(state: .pinned)
        if !w.local.isEmpty { wakeIdle() }
        let result = c.runAsPlainThread(t) { Result<T, E> { () throws(E) -> T in try body() } }
        let dur = qv_now_ns() &- start
        c.blockedInfo.withLock { $0 = nil }
        pinEnds.add(1, ordering: .relaxed)  // relaxed: statistic.
        w.event(.blockingEnd, duration: dur, name: t.name)
        w.setState(.running)
        return (result, false)
    }

    /// Passes `w` from `c` to a spare carrier (an idle one, or a new thread). Nil when none may be had.
    private func handOff(_ w: Worker, from c: Carrier, task t: FiberTask, start: UInt64) -> Carrier? {
        if stopping.load(ordering: .relaxed) { return nil }  // relaxed: polled flag.
        guard let s = carriersLock.withLock({ takeSpare(&$0) }) else { return nil }
        handoffBegins.add(1, ordering: .relaxed)  // relaxed: statistic.
        w.handoffsOutstanding.add(1, ordering: .relaxed)  // relaxed: a gauge for metrics.
        w.event(.handoff, other: s.index)
        w.event(.blockingBegin, name: t.name)
        c.blockedInfo.withLock { $0 = (t.name, start, .handoff) }
        // The fiber leaves `w` for the region: `w` runs nothing until the spare resumes a fiber on it (a stale
        // `hasCurrent` made the monitor see a parked `w` as held by a hog).
        w.published.hasCurrent.store(false, ordering: .relaxed)  // relaxed: gauge.
        w.publish(state: .running)
        c.worker = nil
        // From here on `w` belongs to the spare. Its `worker` is written under carriersLock, and becomeSpare
        // reads it under the same lock (a popped spare may still be checking it before it parks).
        carriersLock.withLock { _ in s.worker = w }
        startSpare(s)
        return s
    }

    /// A spare carrier for a handoff or a retake (Monitor.swift): an idle spare, or a new carrier within
    /// `maxSpareCarriers`. A new carrier's thread starts here and waits for the worker its taker gives it
    /// (`awaitWorker`), so a thread the system refuses (EAGAIN, ENOMEM: a thread or memory limit) leaves nothing
    /// half-made: it is counted in `spareCarrierRefusals` and the caller goes on without a spare (the handoff runs
    /// pinned, the retake does not happen). Nil when none may be had. Under `carriersLock` (`cs` is its value).
    func takeSpare(_ cs: inout (all: [Carrier], threads: [OSThread], spares: [Carrier])) -> Carrier? {
        if let s = cs.spares.popLast() { return s }
        if cs.all.count >= workers.count + configuration.maxSpareCarriers { return nil }
        let s = Carrier(index: cs.all.count, scheduler: self)
        do {
            let thread = try OSThread.start {
                s.scheduler.awaitWorker(s)
                s.scheduler.carrierMain(s)
            }
            cs.all.append(s)
            cs.threads.append(thread)
        } catch {
            spareRefusals.add(1, ordering: .relaxed)  // relaxed: statistic.
            return nil
        }
        return s
    }

    /// Spare carriers the system refused a thread for (see `takeSpare`).
    public var spareCarrierRefusals: UInt64 { spareRefusals.load(ordering: .relaxed) }  // relaxed: statistic.

    /// Starts spare `s` once its `worker` is set (under `carriersLock`): it is parked in `awaitWorker`, as a new
    /// carrier or from `becomeSpare`. `shutdown()` joins its thread with the others.
    func startSpare(_ s: Carrier) { s.parker.unpark(poller: nil) }

    /// Parks carrier `c` until a taker sets its `worker` (read under `carriersLock`, where takers write it), or
    /// shutdown: a new spare's thread before its first worker (listed nowhere: its taker holds it), and a spare in
    /// the `spares` list (`becomeSpare`).
    func awaitWorker(_ c: Carrier) {
        while carriersLock.withLock({ _ in c.worker == nil }) && !stopping.load(ordering: .sequentiallyConsistent) {
            c.parker.park()
        }
    }

    /// Called by a carrier whose worker was handed off: wait as a spare until given one, or until shutdown.
    func becomeSpare(_ c: Carrier) {
        carriersLock.withLock { $0.spares.append(c) }
        awaitWorker(c)
    }

    // MARK: Shutdown

    /// Stops the scheduler: no new spawns, carriers finish their current fiber and exit, every thread is
    /// joined, and fibers still queued or parked are dropped (see the essay). With `drain`, first waits up
    /// to `drainTimeoutNanos` for every fiber to finish. Call from a plain thread, once (later calls return).
    public func shutdown(drain: Bool = false, drainTimeoutNanos: UInt64 = 5_000_000_000) {
        precondition(CarrierTLS.current?.scheduler !== self, "Scheduler.shutdown from one of its own carriers")
        if shutDown.exchange(true, ordering: .sequentiallyConsistent) { return }
        if drain {
            let deadline = qv_now_ns() &+ drainTimeoutNanos
            while metrics().fibers.total > 0 && qv_now_ns() < deadline { Scheduler.sleep(nanoseconds: 1_000_000) }
        }
        stopping.store(true, ordering: .sequentiallyConsistent)
        // The monitor first: it starts retakes' spare carriers, which are joined below with the others.
        monitorParker.unpark(poller: nil)
        monitorThread.withLock { $0 }?.join()
        // Wake everything that may sleep: idle workers, the poller owner, spares.
        for w in workers { w.parker.unpark(poller: poller) }
        poller.wake()
        var joined = 0
        while true {
            let (threads, carriers) = carriersLock.withLock { ($0.threads, $0.all) }
            for c in carriers { c.parker.unpark(poller: nil) }
            for w in workers { w.parker.unpark(poller: poller) }
            if joined == threads.count { break }
            for t in threads[joined...] { t.join() }
            joined = threads.count
        }
        // Every carrier has exited: this thread now owns every queue. Drop what is left.
        // First the fibers parked on a channel, mutex or semaphore: only the primitive's waiter list knows them
        // (through the registry of sync waiters). Take each waiter off its list under the primitive's lock, so
        // no completer can write into the fiber's stack any more, then cancel the fiber. A completer that popped
        // the waiter before us wrote its slot under that lock already; its wake of a cancelled task is a no-op.
        // Their joiners (fibers parked in join) are woken into the injector and cancelled with the rest below.
        let registered = syncWaiters.withLock { d -> [Waiter] in
            let all = d.values.arrayCopy()
            d.removeAll()
            return all
        }
        for w in registered {
            guard let t = w.task, !t.isDone else { continue }
            // `list` only while a wait is in progress: then the fiber is inside that primitive, which is alive
            // (see Waiter.list); a finished wait's list may be gone.
            // acquiring: pairs with the completer's seq-cst store of `doneFlag`.
            if !w.doneFlag.load(ordering: .acquiring), let l = w.list { l.removeWaiter(w) }
            t.cancel()
        }
        // Cancel them as each queue is emptied (one pass over a million parked fibers, no array of them built):
        // their handles report `isCancelled` and joiners (plain threads included) return. Only the one caller that
        // wins the cancel touches the task (a plain thread's wake may race to cancel it too). Their stacks go back
        // in one call: one munmap/madvise per run of adjacent stacks or free slabs (StackPool, "Bulk release").
        // The fd waits first, while the injector is open: a listed wait's outcome slot is on its fiber's stack
        // (IOWait), and a wake that the closed injector refuses cancels the fiber and gives its stack back at once,
        // so no fiber may still be listed by then (a plain thread's `close(fd)` would write into a freed stack).
        let waitingOnFds = fdWaits.drainAll()
        ioWaiterCount.store(0, ordering: .sequentiallyConsistent)
        var stacks: [FiberStack] = []
        stacks.reserveCapacity(timers.count + injector.depth + waitingOnFds.count)
        func drop(_ t: FiberTask) { if let s = t.cancelKeepingStack() { stacks.append(s) } }
        for t in waitingOnFds { drop(t) }
        for w in workers + retakeWorkers.withLock({ $0 }) {
            if let t = w.exchangeRunnext(nil) { drop(t) }
            while let t = w.local.pop() { drop(t) }
        }
        for t in injector.closeAndDrain() { drop(t) }
        var asleep = timers.drain()
        for e in asleep { drop(e.element) }
        // The kernel frees the stacks' pages on threads of its own (a million: ~0.5 s of kernel time) while this thread
        // frees the task records (~0.2 s), and waits for them below: the teardown is over when shutdown returns.
        let released = stackPool.beginRelease(contentsOf: stacks)
        stacks = []
        asleep = []  // the last references to the records dropped while asleep: back to malloc
        carriersLock.withLock { cs in
            for c in cs.all { c.worker = nil }
            cs.spares.removeAll()
            cs.all.removeAll()  // breaks the carrier → scheduler cycle (see Carrier.scheduler)
        }
        for w in workers { w.setState(.stopped) }
        released.wait()
        stackPool.trimPending()  // the dropped fibers' slab stacks not given back in a full batch yet
    }

    /// Carrier threads started so far (workers' carriers plus spares).
    public var carrierThreadCount: Int { carriersLock.withLock { $0.threads.count } }
}
