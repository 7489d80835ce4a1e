// EventLoop: the run loop (one iteration: see "One iteration" in EventLoop.swift), running and naming jobs,
// the heartbeat, deterministic driving on a manual clock, and the lifecycle.

import CRuntime
import DequeModule
import Glibc
import Histogram
import Synchronization

extension EventLoop {
    // MARK: - Deterministic driving (manual clock)

    /// Advances the manual clock by `duration`, then waits until the loop has run everything that
    /// became due and has nothing ready. Any task not on this loop. Requires `.manual` clock.
    public func advanceTime(by duration: Duration) async {
        guard case .manual(let manual) = clock else {
            preconditionFailure("advanceTime(by:) needs a loop with a manual clock")
        }
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            callSoon { [self] in
                manual.advance(by: duration)
                idleWaiters.append { cont.resume() }
            }
        }
    }

    /// Waits until the loop has nothing ready (timers in the future don't count). Any task not on this loop.
    public func runUntilIdle() async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            callSoon { [self] in idleWaiters.append { cont.resume() } }
        }
    }

    // MARK: - Lifecycle

    /// Stops the loop: cancels every task started by `spawn`, runs until they have finished (at most
    /// `shutdownGrace`), stops the heartbeat, joins the thread and closes the selector. Idempotent.
    /// Call from any thread except the loop's own. The pool is not shut down (it may be shared).
    public func shutdown() {
        precondition(!inLoop, "EventLoop.shutdown() called on its own thread")
        if runState.compareExchange(expected: 0, desired: 1, ordering: .sequentiallyConsistent).exchanged {
            selector.wake()
        }
        let t = thread.withLock { t -> OSThread? in
            defer { t = nil }
            return t
        }
        if let t {
            t.join()
            joined.store(true, ordering: .sequentiallyConsistent)
        } else {
            // Another caller is joining: wait for it (rare; shutdown races are a test-only concern).
            while !joined.load(ordering: .sequentiallyConsistent) { sched_yield() }
        }
    }

    /// True once the selector's fds are closed (after shutdown). For leak tests; read after `shutdown()`.
    var selectorClosed: Bool { selector.closed }

    /// True once the loop thread has exited.
    public var isStopped: Bool { runState.load(ordering: .sequentiallyConsistent) == 2 }

    // MARK: - The loop

    func runLoop() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        _ = qv_set_timer_slack_ns(1)  // timers aim at sub-ms lateness; the default slack is 50 µs
        now = clock.now()
        lastPoll = now
        lastPublish = now
        if lag != nil { startHeartbeat() }
        var stopDeadline: UInt64 = 0
        var events: [(UInt64, UInt32)] = []
        // True when `now` was just read at the end of the previous iteration's last job: one clock
        // read per job, not two.
        var fresh = false
        while true {
            if inboxCount.load(ordering: .relaxed) > 0 { drainInbox() }
            if fresh { fresh = false } else { now = clock.now() }
            if timers.pending > 0 {
                while let t = timers.popDue(now: now) {
                    ready.append(Item(job: .timer(t), enqueuedAt: t.deadline))
                }
            }
            var n = ready.count
            // Runnable now: the local queue (the inbox just moved in) plus what arrived in the inbox since.
            // relaxed (both): statistics; nothing is published through them.
            published.readyDepth.store(n, ordering: .relaxed)
            published.readyHighWater.raise(n + inboxCount.load(ordering: .relaxed))
            if n > 0 {
                published.currentStart.store(now, ordering: .relaxed)
                while n > 0, let item = ready.popFirst() {
                    n -= 1
                    published.readyDepth.store(ready.count, ordering: .relaxed)  // relaxed: a statistic
                    run(item)
                }
                published.currentStart.store(0, ordering: .relaxed)
                fresh = true
            }
            if now &- lastPublish >= publishNanos { publish(now: now) }

            if runState.load(ordering: .relaxed) != 0 {
                if stopDeadline == 0 {
                    stopDeadline = qv_now_ns() &+ LoopTime.nanos(configuration.shutdownGrace)
                    beginStop()
                }
                if ready.isEmpty && aliveTasks.isEmpty && tasksAliveNow <= 0
                    && inboxCount.load(ordering: .sequentiallyConsistent) == 0
                {
                    break
                }
                if qv_now_ns() > stopDeadline { break }
            }

            if ready.isEmpty {
                if !idleWaiters.isEmpty && inboxCount.load(ordering: .relaxed) == 0 && !hasDueTimer() {
                    publish(now: now)  // so a test that wakes up now reads fresh metrics
                    let waiters = idleWaiters
                    idleWaiters.removeAll()
                    for w in waiters { w() }
                    // The waiters' threads may move a manual clock before the next job: read it again, or that
                    // job's start (and its queue delay and busy time) would be stale.
                    fresh = false
                    continue
                }
                var timeout: Int64 = -1
                if let d = timers.nextDeadline() {
                    let t = clock.now()
                    if d <= t {
                        timeout = 0
                    } else if !clock.isManual {
                        timeout = Int64(min(d - t, UInt64(Int64.max)))
                    }
                }
                if runState.load(ordering: .relaxed) != 0 {
                    // Stopping: poll in short slices so the grace deadline is honoured.
                    timeout = timeout < 0 ? 1_000_000 : min(timeout, 1_000_000)
                }
                if timeout != 0 {
                    selector.sleeping.store(true, ordering: .sequentiallyConsistent)
                    if inboxCount.load(ordering: .sequentiallyConsistent) > 0 {
                        selector.sleeping.store(false, ordering: .sequentiallyConsistent)
                        continue
                    }
                    // Counters always; histograms only if due or if the loop may sleep long.
                    let t = clock.now()
                    let long = timeout < 0 || UInt64(timeout) >= publishNanos
                    publish(now: t, histograms: long || t &- lastPublish >= publishNanos)
                }
                poll(timeout: timeout, into: &events)
                selector.sleeping.store(false, ordering: .sequentiallyConsistent)
                fresh = false
            } else if fdWaiterCount > 0 && now &- lastPoll >= ioPollNanos {
                poll(timeout: 0, into: &events)
                fresh = false
            }
        }
        // Stopped.
        if let t = heartbeatTimer { timers.cancel(t) }
        publish(now: clock.now())
        runState.store(2, ordering: .sequentiallyConsistent)
        selector.close()
        for reg in fdRegistrations.values {
            for w in [reg.reader, reg.writer] {
                w?.continuation?.resume(throwing: LoopError.shutDown)
                w?.continuation = nil
            }
        }
        fdRegistrations.removeAll()
        fdRegistrationsByID.removeAll()
        fdWaiterCount = 0
        let waiters = idleWaiters
        idleWaiters.removeAll()
        for w in waiters { w() }
        timers = TimerHeap()  // drops callbacks (and the references they hold to this loop)
    }

    func hasDueTimer() -> Bool {
        guard let d = timers.nextDeadline() else { return false }
        return d <= clock.now()
    }

    func poll(timeout: Int64, into events: inout [(UInt64, UInt32)]) {
        events.removeAll(keepingCapacity: true)
        _ = selector.wait(timeoutNanos: timeout) { token, mask in events.append((token, mask)) }
        for (token, mask) in events { fdReady(token: token, events: mask) }
        lastPoll = clock.now()
    }

    func drainInbox() {
        let items = inbox.withLock { q -> Deque<InboxItem> in
            defer { q.removeAll(keepingCapacity: true) }
            return q
        }
        inboxCount.subtract(items.count, ordering: .sequentiallyConsistent)
        for it in items {
            switch it.body {
            case .task(let j): ready.append(Item(job: .task(j), enqueuedAt: it.enqueuedAt))
            case .preferred(let j): ready.append(Item(job: .preferred(j), enqueuedAt: it.enqueuedAt))
            case .resume(let c): ready.append(Item(job: .resume(c), enqueuedAt: it.enqueuedAt))
            case .callback(let f, let name):
                let job: Job = name.map { .named(NamedJob(name: $0, body: f)) } ?? .callback(f)
                ready.append(Item(job: job, enqueuedAt: it.enqueuedAt))
            }
        }
    }

    /// Runs one job and accounts for it. `now` is its start time on entry, its end time on exit.
    @inline(__always)
    func run(_ item: Item) {
        let start = now
        queueDelay.record(start > item.enqueuedAt ? start - item.enqueuedAt : 0)
        if publishedNameSet { clearCurrentName() }
        switch item.job {
        case .preferred(let job):
            if !taskNames.isEmpty { lookUpName(job) }
            job.runSynchronously(on: UnownedTaskExecutor(ordinary: self))
        case .task(let job):
            if !taskNames.isEmpty { lookUpName(job) }
            job.runSynchronously(
                isolatedTo: UnownedSerialExecutor(ordinary: serialFace),
                taskExecutor: UnownedTaskExecutor(ordinary: self))
        case .callback(let body):
            body()
        case .named(let named):
            setCurrentName(named.name)
            named.body()
        case .resume(let c):
            c.resume()
        case .timer(let t):
            if let name = t.name { setCurrentName(name) }
            let body = t.callback
            t.callback = nil
            body?()
        }
        let end = clock.now()
        let took = end > start ? end - start : 0
        runTime.record(took)
        busyNanos &+= took
        published.busyNanos.store(busyNanos, ordering: .relaxed)  // relaxed: a statistic, per job (see LoopMetrics)
        jobsRun &+= 1
        if took >= slowNanos { slowCallback(item, took: took, at: end) }
        if let finished = currentName {
            // "What ran": never waits; a reader holding the lock at this instant misses this name.
            _ = published.lastName.withLockIfAvailable { $0 = finished }
            currentName = nil
        }
        now = end
        published.currentStart.store(end, ordering: .relaxed)
    }

    @inline(__always)
    func lookUpName(_ job: UnownedJob) {
        // unsafeBitCast: UnownedJob is one pointer; for a task's resumption job it is the task's
        // own address (AsyncTask is-a Job), the same key `registerCurrentTask` stored.
        let key = unsafeBitCast(job, to: UInt.self)
        if let n = taskNames.lookup(key) { setCurrentName(n) }
    }

    func setCurrentName(_ name: String) {
        currentName = name
        publishedNameSet = true
        _ = published.currentName.withLockIfAvailable { $0 = name }
    }

    func clearCurrentName() {
        if published.currentName.withLockIfAvailable({ $0 = nil }) != nil { publishedNameSet = false }
    }

    func slowCallback(_ item: Item, took: UInt64, at end: UInt64) {
        slowCallbacks &+= 1
        let culprit: String
        if let currentName {
            culprit = currentName
        } else {
            switch item.job {
            case .task, .preferred: culprit = "unnamed task"
            case .callback, .named, .resume: culprit = "unnamed callback"
            case .timer: culprit = "unnamed timer"
            }
        }
        events.push(
            RuntimeEventRecord(
                timeNanos: end, kind: .slowCallback, worker: Int32(truncatingIfNeeded: id), durationNanos: took,
                name: culprit))
    }

    func beginStop() {
        if let t = heartbeatTimer {
            timers.cancel(t)
            heartbeatTimer = nil
        }
        // unsafeBitCast: every address in `aliveTasks` is a task whose body is still running (it
        // removes itself before it ends), so the task is alive; cancel is thread-safe.
        for address in aliveTasks.allValues { unsafeBitCast(address, to: UnsafeCurrentTask.self).cancel() }
    }

    // MARK: - Heartbeat

    func startHeartbeat() {
        guard var l = lag else { return }
        l.origin = now
        lag = l
        armHeartbeat()
    }

    func armHeartbeat() {
        guard let l = lag else { return }
        heartbeatTimer = timers.add(deadline: l.nextDeadline, name: "heartbeat") { [self] in heartbeat() }
    }

    func heartbeat() {
        let t = clock.now()
        guard let lateness = lag?.tick(now: t) else { return }
        if let l = lag, lateness >= l.spikeNanos && l.spikeNanos > 0 {
            events.push(
                RuntimeEventRecord(
                    timeNanos: t, kind: .lagSpike, worker: Int32(truncatingIfNeeded: id), durationNanos: lateness))
        }
        if runState.load(ordering: .relaxed) == 0 { armHeartbeat() }
    }
}
