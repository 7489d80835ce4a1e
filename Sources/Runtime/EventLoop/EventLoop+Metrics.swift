// EventLoop: publishing the loop thread's counters and copies (LoopMetrics.swift explains the scheme), and
// reading them from any thread.

import CRuntime
import DequeModule
import Glibc
import Histogram
import Synchronization

extension EventLoop {
    /// Publishes counters (relaxed atomics, cheap: every call) and, when `histograms` and the reader
    /// is not holding the lock, copies of the histograms (~37 KB each once the loop writes again,
    /// so at most every `publishInterval`, not before every sleep).
    func publish(now t: UInt64, histograms: Bool = true) {
        let p = published
        p.readyDepth.store(ready.count, ordering: .relaxed)
        p.timersPending.store(timers.pending - (heartbeatTimer?.state == .armed ? 1 : 0), ordering: .relaxed)
        p.jobsRun.store(jobsRun, ordering: .relaxed)
        p.tasksAlive.store(tasksAliveNow, ordering: .relaxed)
        p.slowCallbacks.store(slowCallbacks, ordering: .relaxed)
        p.fdWaiters.store(fdWaiterCount, ordering: .relaxed)
        guard histograms else { return }
        lastPublish = t
        let recent = lag?.recentMax ?? 0
        let done: Bool? = p.copies.withLockIfAvailable { c in
            c.queueDelay = queueDelay
            c.runTime = runTime
            if let lag {
                c.lag = lag.late
                c.slots = lag.slots
                c.buckets = lag.buckets
                c.ticks = lag.late.totalCount
                c.missed = lag.missed
                c.recentMax = max(c.recentMax, recent)
            }
            return true
        }
        if done != nil { lag?.recentMax = 0 }
    }

    // MARK: - Metrics (any thread, never blocks the loop)

    /// The loop's figures now. `resetRecent`: hand out and clear the worst recent lateness (one
    /// consumer — the sampler — should pass true, others false). Any thread; never blocks the loop
    /// (the loop only try-locks what this reads).
    public func metrics(resetRecent: Bool = false) -> LoopMetrics {
        let p = published
        // relaxed (both): statistics. The inbox part is exact now; the local part is as of the loop's last job.
        let inbox = max(0, inboxCount.load(ordering: .relaxed))
        let ready = p.readyDepth.load(ordering: .relaxed) + inbox
        let copies = p.copies.withLock { c -> LoopPublished.Copies in
            let out = c
            if resetRecent { c.recentMax = 0 }
            return out
        }
        let start = p.currentStart.load(ordering: .relaxed)
        var current: String? = nil
        var running: UInt64 = 0
        if start != 0 {
            current = p.currentName.withLock { $0 }
            let t = clock.now()
            running = t > start ? t - start : 0
        }
        let last = p.lastName.withLock { name -> String? in
            defer { if resetRecent { name = nil } }
            return name
        }
        let lag = LoopLagSummary(
            late: copies.lag, slots: copies.slots, buckets: copies.buckets, recentMaxNanos: copies.recentMax,
            missed: copies.missed)
        return LoopMetrics(
            id: id, name: name, readyDepth: ready, inboxDepth: inbox,
            readyDepthHighWater: resetRecent
                ? p.readyHighWater.take(current: ready) : p.readyHighWater.peek(current: ready),
            maxReadyDepth: p.readyHighWater.sinceStart(current: ready),
            timersPending: p.timersPending.load(ordering: .relaxed),
            tasksAlive: max(0, p.tasksAlive.load(ordering: .relaxed)),
            jobsRun: p.jobsRun.load(ordering: .relaxed), slowCallbacks: p.slowCallbacks.load(ordering: .relaxed),
            busyNanos: p.busyNanos.load(ordering: .relaxed), current: current, lastTask: last,
            currentRunningNanos: running, lag: lag,
            queueDelay: LoopDurationSummary(copies.queueDelay), runTime: LoopDurationSummary(copies.runTime),
            droppedEvents: events.dropped, fdWaiters: p.fdWaiters.load(ordering: .relaxed))
    }

    /// Notable events since the previous call, oldest first. One consumer at a time (the sampler).
    public func drainEvents(max: Int = .max) -> [RuntimeEventRecord] {
        var out: [RuntimeEventRecord] = []
        events.drain(into: &out, max: max)
        return out
    }
}
