// EventLoop: the executor faces (TaskExecutor itself, SerialExecutor through `serialFace`; see "Two executor
// faces" in EventLoop.swift), and callbacks and timers (asyncio's call_soon / call_later / call_at).

import CRuntime
import DequeModule
import Glibc
import Histogram
import Synchronization

extension EventLoop {
    // MARK: - Executor

    /// True on the loop's thread. Any thread.
    @inline(__always)
    public var inLoop: Bool {
        threadID.load(ordering: .relaxed) == UInt(pthread_self())
    }

    /// TaskExecutor entry point: the jobs of tasks that prefer this loop (`spawn`,
    /// `Task(executorPreference: loop)`, task-group children). Any thread.
    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        if inLoop {
            appendReady(Item(job: .preferred(unowned), enqueuedAt: now))
        } else {
            submit(InboxItem(body: .preferred(unowned), enqueuedAt: clock.now()))
        }
    }

    /// SerialExecutor entry point, reached through `serialFace`: jobs of actors whose executor is
    /// this loop. Any thread.
    @inline(__always)
    func enqueueIsolated(_ job: UnownedJob) {
        if inLoop {
            appendReady(Item(job: .task(job), enqueuedAt: now))
        } else {
            submit(InboxItem(body: .task(job), enqueuedAt: clock.now()))
        }
    }

    /// The loop's serial-executor face (an actor's `unownedExecutor`): a separate identity, so
    /// actor jobs arrive apart from task-executor jobs (see "Two executor faces" in the essay).
    /// Unowned, like every `UnownedSerialExecutor`: the actor's owner keeps the loop alive.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: serialFace)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    public func checkIsolated() {
        precondition(inLoop, "not on event loop '\(name)'")
    }

    public func isIsolatingCurrentContext() -> Bool? { inLoop }

    /// Queues a job the loop thread itself made runnable (a callback's `callSoon`, a task it woke) and raises the
    /// ready high-water mark there: a burst queued inside one job peaks before the next iteration can count it,
    /// and a job of the same batch may already have left the queue by then. Only the loop thread calls this.
    @inline(__always)
    func appendReady(_ item: Item) {
        ready.append(item)
        // relaxed: a statistic, as in `submit`.
        published.readyHighWater.raise(ready.count + inboxCount.load(ordering: .relaxed))
    }

    func submit(_ item: InboxItem) {
        inbox.withLock { $0.append(item) }
        let waiting = inboxCount.add(1, ordering: .sequentiallyConsistent).newValue
        // relaxed: a statistic (the local part as of the loop's current iteration).
        published.readyHighWater.raise(published.readyDepth.load(ordering: .relaxed) + waiting)
        selector.wakeIfSleeping()
    }

    // MARK: - Callbacks and timers

    /// asyncio's `call_soon` / `call_soon_threadsafe`: runs `body` on the loop in FIFO order. Any thread.
    public func callSoon(name: String? = nil, _ body: @escaping @Sendable () -> Void) {
        if inLoop {
            appendReady(
                Item(job: name.map { .named(NamedJob(name: $0, body: body)) } ?? .callback(body), enqueuedAt: now))
        } else {
            submit(InboxItem(body: .callback(body, name), enqueuedAt: clock.now()))
        }
    }

    /// Runs `body` now if on the loop thread, else schedules it (loop-internal helper).
    @inline(__always)
    func onLoop(_ body: @escaping @Sendable () -> Void) {
        if inLoop { body() } else { callSoon(body) }
    }

    /// asyncio's `call_later`. Any thread. The handle cancels from any thread.
    @discardableResult
    public func callLater(
        after delay: Duration, name: String? = nil, _ body: @escaping @Sendable () -> Void
    ) -> LoopTimerHandle {
        let deadline = LoopTime.deadline(after: delay, from: clock.now())
        return callAt(deadlineNanos: deadline, name: name, body)
    }

    /// asyncio's `call_at`, deadline on this loop's clock (`clock.now()` scale). Any thread.
    @discardableResult
    public func callAt(
        deadlineNanos: UInt64, name: String? = nil, _ body: @escaping @Sendable () -> Void
    ) -> LoopTimerHandle {
        let handle = LoopTimerHandle(loop: self)
        onLoop { [self] in
            if handle.cancelRequested { return }
            handle.timer = timers.add(deadline: deadlineNanos, name: name, callback: body)
        }
        return handle
    }

    /// Loop thread: arms a timer directly (sleep, heartbeat, timeouts).
    func addTimer(deadline: UInt64, name: String?, _ body: @escaping () -> Void) -> LoopTimer {
        timers.add(deadline: deadline, name: name, callback: body)
    }

    /// Loop thread.
    func cancelTimer(_ t: LoopTimer) {
        timers.cancel(t)
    }

    /// Loop thread: the loop clock's time as of the current job.
    var loopNow: UInt64 { now }
}

/// The loop's SerialExecutor face (see "Two executor faces" in the essay): a separate identity,
/// so the jobs of actors that run on the loop arrive apart from the jobs of tasks that prefer it.
final class LoopSerialExecutorFace: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable: `loop` is written once in the loop's init, before the face is handed
    // to anyone, and only read afterwards.
    /// Unmanaged (unretained): the loop owns the face. An actor holds its executor unowned (that is
    /// what `UnownedSerialExecutor` means), so whoever owns an actor on this loop keeps the loop
    /// alive, exactly as with any custom executor.
    var loop: Unmanaged<EventLoop>? = nil

    @inline(__always)
    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        // Unmanaged: see `loop`.
        loop!._withUnsafeGuaranteedRef { $0.enqueueIsolated(unowned) }
    }

    func checkIsolated() {
        // Unmanaged: see `loop`.
        loop!._withUnsafeGuaranteedRef { $0.checkIsolated() }
    }

    func isIsolatingCurrentContext() -> Bool? {
        // Unmanaged: see `loop`.
        loop!._withUnsafeGuaranteedRef { $0.inLoop }
    }
}

/// A timer armed by `callLater` / `callAt`. `cancel()` from any thread.
public final class LoopTimerHandle: @unchecked Sendable {
    // @unchecked Sendable: `timer` and `cancelRequested` are touched only on the loop thread.
    private let loop: EventLoop
    var timer: LoopTimer?
    var cancelRequested = false

    init(loop: EventLoop) { self.loop = loop }

    /// Cancels the timer if it has not fired yet. Any thread.
    public func cancel() {
        loop.onLoop { [self] in
            cancelRequested = true
            if let t = timer { loop.cancelTimer(t) }
        }
    }
}
