// MultiLoop: one worker thread — its queue, the run loop, stealing, parking (the model is in the essay of
// MultiLoop.swift).
//
// # The park protocol (no lost wake-up)
// A worker that found nothing appends itself to `idle` and stores `idleCount`, then re-reads every depth
// (`injectorDepth`, each worker's `depth`) and the timer mirror; only when all are empty does it park.
// A pusher stores the depth first and reads `idleCount` after. All four are sequentially consistent, so
// either the pusher sees the worker registered (and unparks it: the Parker keeps the permit if the worker
// has not parked yet) or the worker sees the job. A local push may skip the wake while another worker is
// searching: the searcher re-reads the depths before it parks, and the pusher's own thread runs the job
// anyway (a skipped wake costs parallelism for a moment, never liveness).

import CRuntime
import DequeModule
import Glibc
import Synchronization

/// What a worker thread is doing.
///
///     running   --queue, injector and steals empty-->  searching
///     searching --found a job-->                       running
///     searching --nothing after the re-check-->        parked
///     parked    --unparked or a timer due-->           running (it looks again)
///     any       --shutdown-->                          stopped
public enum MultiLoopThreadState: Int, Sendable, Equatable {
    case running = 0
    case searching = 1
    case parked = 2
    case stopped = 3
}

final class MultiLoopWorker: @unchecked Sendable {
    // @unchecked Sendable: `queue` and `published` are locks and atomics; the plain counters below are
    // protected by the worker's thread (only `runThread` and what it calls touch them).
    let index: Int
    /// Ready jobs, FIFO. The owner pushes at the back and pops at the front; a thief takes the older half.
    let queue = Locked(Deque<UnownedJob>())
    /// `queue.count`, stored under the queue's lock. sequentially consistent: the park protocol.
    let depth = Atomic<Int>(0)
    let highWater = HighWaterMark()
    let parker = Parker()
    /// pthread_self of the worker's thread, 0 until it starts. acquiring/releasing: init waits for it.
    let threadID = Atomic<UInt>(0)
    let published: MultiLoopWorkerPublished

    // Protected by the worker's thread. `@exclusivity(unchecked)`: that rule already excludes overlapping
    // accesses (as EventLoop's loop-thread fields).
    @exclusivity(unchecked) var runs: UInt64 = 0
    @exclusivity(unchecked) var stealOps: UInt64 = 0
    @exclusivity(unchecked) var stolenIn: UInt64 = 0
    /// Jobs this worker stole from each victim, by victim index.
    @exclusivity(unchecked) var stolenFrom: [UInt64]
    @exclusivity(unchecked) var parks: UInt64 = 0
    @exclusivity(unchecked) var busyNanos: UInt64 = 0
    @exclusivity(unchecked) var state = MultiLoopThreadState.running
    /// xorshift state for the victim order.
    @exclusivity(unchecked) var rng: UInt64

    init(index: Int, count: Int) {
        self.index = index
        stolenFrom = [UInt64](repeating: 0, count: count)
        published = MultiLoopWorkerPublished(count: count)
        rng = 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1)
    }

    // MARK: - The queue

    /// Owner thread (`MultiLoop.enqueue` from this worker's thread, a stolen batch).
    func push(_ job: UnownedJob) {
        let d = queue.withLock { q -> Int in
            q.append(job)
            depth.store(q.count, ordering: .sequentiallyConsistent)
            return q.count
        }
        highWater.raise(d)
    }

    /// Owner thread.
    func pushBatch(_ jobs: ArraySlice<UnownedJob>) {
        let d = queue.withLock { q -> Int in
            q.append(contentsOf: jobs)
            depth.store(q.count, ordering: .sequentiallyConsistent)
            return q.count
        }
        highWater.raise(d)
    }

    /// Owner thread.
    func pop() -> UnownedJob? {
        queue.withLock { q -> UnownedJob? in
            let j = q.popFirst()
            depth.store(q.count, ordering: .sequentiallyConsistent)
            return j
        }
    }

    /// A thief: the older half of the queue (rounded up), oldest first. Any worker thread.
    func takeHalf() -> [UnownedJob] {
        queue.withLock { q -> [UnownedJob] in
            let n = (q.count + 1) / 2
            guard n > 0 else { return [] }
            let batch = Array(q.prefix(n))
            q.removeFirst(n)
            depth.store(q.count, ordering: .sequentiallyConsistent)
            return batch
        }
    }

    // MARK: - The run loop

    /// The worker thread's body. Runs until the loop's `runState` is 2.
    func runThread(loop: MultiLoop) {
        threadID.store(UInt(pthread_self()), ordering: .releasing)
        // relaxed: read on its own by metrics readers.
        published.tid.store(qv_gettid(), ordering: .relaxed)
        let executor = loop.asUnownedTaskExecutor()
        let publishEvery = max(1, loop.configuration.publishEvery)
        let checkEvery = max(1, loop.configuration.timerCheckEvery)
        var sincePublish = 0
        var sinceCheck = 0
        // The end of the previous job, when the next one follows at once (one clock read per job).
        var last: UInt64 = 0
        var fresh = false
        while loop.runState.load(ordering: .sequentiallyConsistent) != 2 {
            var job: UnownedJob? = nil
            if sinceCheck >= checkEvery {
                // Fairness: the injector and due timers get a turn even while the local queue never empties.
                sinceCheck = 0
                _ = loop.fireDueTimers(now: qv_now_ns())
                job = takeFromInjector(loop)
                fresh = false
            }
            if job == nil { job = pop() }
            if job == nil {
                fresh = false
                job = findElsewhere(loop) ?? search(loop)
            }
            guard let job else {
                park(loop)
                continue
            }
            setState(.running)
            if !fresh { last = qv_fast_now_ns() }
            job.runSynchronously(on: executor)
            let end = qv_fast_now_ns()
            busyNanos &+= end > last ? end - last : 0
            last = end
            fresh = true
            runs &+= 1
            sinceCheck += 1
            sincePublish += 1
            if sincePublish >= publishEvery {
                sincePublish = 0
                publish()
            }
        }
        setState(.stopped)
        publish()
    }

    /// The injector, then the other workers' queues. Worker thread.
    func findElsewhere(_ loop: MultiLoop) -> UnownedJob? {
        takeFromInjector(loop) ?? steal(loop)
    }

    /// Up to 1/N of the injector (at least one job): the first to run, the rest into the local queue.
    func takeFromInjector(_ loop: MultiLoop) -> UnownedJob? {
        // relaxed: a hint; the lock below decides.
        if loop.injectorDepth.load(ordering: .relaxed) == 0 { return nil }
        let n = loop.workers.count
        let batch = loop.injector.withLock { q -> [UnownedJob] in
            let k = min(q.count, max(1, q.count / n))
            let b = Array(q.prefix(k))
            q.removeFirst(k)
            loop.injectorDepth.store(q.count, ordering: .sequentiallyConsistent)
            return b
        }
        guard let first = batch.first else { return nil }
        if batch.count > 1 { pushBatch(batch[1...]) }
        return first
    }

    /// Steals the older half of one victim's queue, victims tried in a rotating order. Worker thread.
    func steal(_ loop: MultiLoop) -> UnownedJob? {
        let n = loop.workers.count
        guard n > 1 else { return nil }
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        let start = Int(rng % UInt64(n))
        for k in 0..<n {
            let v = (start + k) % n
            if v == index { continue }
            let victim = loop.workers[v]
            // relaxed: a hint; `takeHalf` decides under the victim's lock.
            if victim.depth.load(ordering: .relaxed) == 0 { continue }
            let batch = victim.takeHalf()
            guard let first = batch.first else { continue }
            stealOps &+= 1
            stolenIn &+= UInt64(batch.count)
            stolenFrom[v] &+= UInt64(batch.count)
            if batch.count > 1 { pushBatch(batch[1...]) }
            return first
        }
        return nil
    }

    /// One more look for work as a searcher (due timers, injector, steals), after letting other threads run.
    func search(_ loop: MultiLoop) -> UnownedJob? {
        if loop.fireDueTimers(now: qv_now_ns()) > 0, let j = pop() { return j }
        setState(.searching)
        loop.searching.add(1, ordering: .sequentiallyConsistent)
        defer { loop.searching.subtract(1, ordering: .sequentiallyConsistent) }
        sched_yield()
        return pop() ?? findElsewhere(loop)
    }

    /// Registers as idle, re-checks (the park protocol in this file's header), then parks until unparked or
    /// the earliest timer is due. Worker thread.
    func park(_ loop: MultiLoop) {
        loop.idle.withLock { s in
            s.append(index)
            loop.idleCount.store(s.count, ordering: .sequentiallyConsistent)
        }
        let deadline = loop.nextDeadline.load(ordering: .sequentiallyConsistent)
        if hasVisibleWork(loop) || deadline <= qv_now_ns()
            || loop.runState.load(ordering: .sequentiallyConsistent) == 2
        {
            leaveIdle(loop)
            return
        }
        parks &+= 1
        setState(.parked)
        publish()
        parker.park(deadline: deadline == .max ? 0 : deadline)
        leaveIdle(loop)
    }

    func hasVisibleWork(_ loop: MultiLoop) -> Bool {
        if loop.injectorDepth.load(ordering: .sequentiallyConsistent) > 0 { return true }
        for w in loop.workers where w.depth.load(ordering: .sequentiallyConsistent) > 0 { return true }
        return false
    }

    func leaveIdle(_ loop: MultiLoop) {
        loop.idle.withLock { s in
            if let i = s.firstIndex(of: index) { s.remove(at: i) }
            loop.idleCount.store(s.count, ordering: .sequentiallyConsistent)
        }
    }

    @inline(__always)
    func setState(_ s: MultiLoopThreadState) {
        guard s != state else { return }
        state = s
        published.state.store(s.rawValue, ordering: .relaxed)  // relaxed: a statistic
    }

    /// Copies the plain counters into `published` (atomics; the victim table with a try-lock: a reader
    /// holding it makes this publish skip the table until the next one). Worker thread.
    func publish() {
        let p = published
        // relaxed (all): independent statistics (see MultiLoopWorkerPublished).
        p.runs.store(runs, ordering: .relaxed)
        p.stealOps.store(stealOps, ordering: .relaxed)
        p.stolenIn.store(stolenIn, ordering: .relaxed)
        p.parks.store(parks, ordering: .relaxed)
        p.busyNanos.store(busyNanos, ordering: .relaxed)
        let table = stolenFrom
        _ = p.stolenFrom.withLockIfAvailable { $0 = table }
    }
}
