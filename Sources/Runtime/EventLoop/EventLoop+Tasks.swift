// EventLoop: tasks — spawn (asyncio's create_task) and the registry of live tasks, yield, sleep, timeout,
// toThread, task groups.

import CRuntime
import DequeModule
import Glibc
import Histogram
import Synchronization

extension EventLoop {
    // MARK: - Tasks

    /// asyncio's `create_task`: starts `body` as a task that runs on this loop after every await.
    /// `name` is shown as the current job and as the culprit of slow callbacks. Any thread.
    @discardableResult
    public func spawn<T: Sendable>(
        name: String? = nil, _ body: nonisolated(nonsending) sending @escaping () async throws -> T
    ) -> LoopTask<T> {
        noteSpawn()
        // unowned(unsafe): the task keeps the loop alive itself (the runtime retains the executor
        // preference until the task ends), so the wrapper need not retain it again (two atomic
        // refcount operations per task).
        let task = Task<T, any Error>(name: name, executorPreference: self) { [unowned(unsafe) self] in
            let registration = registerCurrentTask(name: name)
            defer { unregisterTask(registration) }
            return try await body()
        }
        return LoopTask(task: task, name: name)
    }

    /// Counts a spawn (tasks alive): a plain counter on the loop thread, an atomic elsewhere.
    func noteSpawn() {
        if inLoop {
            spawnedOnLoop &+= 1
        } else {
            published.spawnedOffLoop.add(1, ordering: .relaxed)
        }
    }

    /// Where a spawned task is registered: its slot in `aliveTasks`, and its address in
    /// `taskNames` when it has a name (0 otherwise).
    struct Registration {
        var slot: Int
        var nameKey: UInt
    }

    /// Called first thing in a spawned task, on the loop thread.
    func registerCurrentTask(name: String?) -> Registration {
        // Unsafe: the UnsafeCurrentTask is kept only while the task's own body runs (removed by
        // `unregisterTask` in its defer) and used only on the loop thread (cancel at shutdown).
        withUnsafeCurrentTask { current -> Registration in
            guard let current else { return Registration(slot: -1, nameKey: 0) }
            // unsafeBitCast: UnsafeCurrentTask wraps the task pointer; only its address is kept
            // (storing the UnsafeCurrentTask itself would retain and release the task).
            let address = unsafeBitCast(current, to: UInt.self)
            var r = Registration(slot: aliveTasks.insert(address), nameKey: 0)
            if let name {
                r.nameKey = address
                taskNames.set(r.nameKey, name)
                setCurrentName(name)
            }
            if runState.load(ordering: .relaxed) != 0 { current.cancel() }
            return r
        }
    }

    func unregisterTask(_ r: Registration) {
        if r.slot >= 0 { aliveTasks.remove(r.slot) }
        if r.nameKey != 0 { taskNames.remove(r.nameKey) }
        tasksEnded &+= 1
    }

    /// asyncio's `await asyncio.sleep(0)`: lets every job that is ready now run, then resumes the
    /// calling task, after one more loop iteration, like `Task.yield()`. Cheaper than `Task.yield()`
    /// on a loop: the first of its two jobs is a plain resume in the ready queue, where
    /// `Task.yield()`'s is a runtime continuation job (allocated, run through the runtime, and it
    /// reads the task's executor preference under the task's status lock). Any task; a task not on
    /// this loop resumes on its own executor after the loop's next iteration.
    public func yield() async {
        await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
            if inLoop {
                appendReady(Item(job: .resume(c), enqueuedAt: now))
            } else {
                submit(InboxItem(body: .resume(c), enqueuedAt: clock.now()))
            }
        }
    }

    /// asyncio's `sleep`: suspends the calling task for `duration` of this loop's clock, counted
    /// from this call. Throws `CancellationError` if the task is cancelled first. Any task.
    public func sleep(for duration: Duration) async throws {
        // The deadline is read here, before anything can suspend: on this toolchain the body of
        // `withCheckedContinuation` may run after other loop jobs, and a start time read there
        // made a sleep late by whatever ran in between (LoopTimerTests.sleepDeadlineIsFixedAtTheCall).
        try await sleep(untilNanos: LoopTime.deadline(after: duration, from: clock.now()))
    }

    /// Suspends the calling task until this loop's clock reaches `deadline` (`clock.now()` scale);
    /// returns at once (after a cancellation check) if it already has. Any task.
    public func sleep(untilNanos deadline: UInt64) async throws {
        let waiter = SleepWaiter()
        try await suspendOnLoop { [self] cont in
            waiter.continuation = cont
            waiter.timer = addTimer(deadline: deadline, name: nil) {
                waiter.timer = nil
                waiter.continuation?.resume()
                waiter.continuation = nil
            }
        } cancel: { [self] in
            if let t = waiter.timer {
                cancelTimer(t)
                waiter.timer = nil
                waiter.continuation?.resume(throwing: CancellationError())
                waiter.continuation = nil
            }
        }
    }

    /// The cancellable wait of `sleep` and the fd waits: suspends the calling task; on the loop thread, `arm` gets
    /// the continuation and registers whatever will resume it. If the task is cancelled, `cancel` runs on the
    /// loop thread and must resume the continuation with `CancellationError` if `arm` registered it (a cancel
    /// that comes first skips `arm`: the wait throws `CancellationError`). Any task.
    func suspendOnLoop(
        arm: @escaping @Sendable (CheckedContinuation<Void, any Error>) -> Void,
        cancel: @escaping @Sendable () -> Void
    ) async throws {
        try Task.checkCancellation()
        let flag = CancelFlag()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
                onLoop {
                    if flag.cancelled {
                        cont.resume(throwing: CancellationError())
                        return
                    }
                    arm(cont)
                }
            }
        } onCancel: {
            onLoop {
                flag.cancelled = true
                cancel()
            }
        }
    }

    /// asyncio's `timeout`: runs `body` on this loop; if it has not finished after `duration`
    /// (this loop's clock, counted from this call), cancels it, waits for it to end and throws
    /// `LoopError.timedOut`. Any task.
    public func timeout<T: Sendable>(
        _ duration: Duration, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        // Deadline before the children exist: the timer child starts after the body child's first
        // job, which may block (LoopTimerTests.timeoutDeadlineIsFixedAtTheCall).
        try await timeout(untilNanos: LoopTime.deadline(after: duration, from: clock.now()), body)
    }

    /// `timeout(_:_:)` with an absolute deadline on this loop's clock (asyncio's `timeout_at`). Any task.
    public func timeout<T: Sendable>(
        untilNanos deadline: UInt64, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: TimeoutOutcome<T>.self) { group in
            group.addTask(executorPreference: self) { .value(try await body()) }
            group.addTask(executorPreference: self) { [self] in
                try await sleep(untilNanos: deadline)
                return .expired
            }
            defer { group.cancelAll() }
            switch try await group.next()! {
            case .value(let v): return v
            case .expired: throw LoopError.timedOut
            }
        }
    }

    /// asyncio's `to_thread`: runs a blocking closure on the loop's worker pool; the caller resumes on
    /// its executor (this loop, for a loop task) with the result. `name` labels the work in the pool's
    /// metrics while a pool thread runs it.
    public func toThread<T: Sendable>(name: String? = nil, _ body: @escaping @Sendable () throws -> T) async throws -> T
    {
        guard let pool = configuration.pool else { throw ThreadPoolError.noPool }
        return try await pool.run(name: name, body)
    }

    /// Runs a task group whose children are loop tasks with names (asyncio's TaskGroup): waits for
    /// all children; the first child error cancels the others and is rethrown.
    public func taskGroup<R: Sendable>(
        _ body: (LoopTaskGroup) async throws -> R
    ) async throws -> R {
        let group = LoopTaskGroup(loop: self)
        do {
            let r = try await withTaskCancellationHandler {
                try await body(group)
            } onCancel: {
                group.cancelAll()
            }
            try await group.waitAll()
            return r
        } catch {
            group.cancelAll()
            try? await group.waitAll()
            throw error
        }
    }
}

private enum TimeoutOutcome<T: Sendable>: Sendable {
    case value(T)
    case expired
}

/// Whether a `suspendOnLoop` wait was cancelled. @unchecked Sendable: read and written on the loop thread only.
final class CancelFlag: @unchecked Sendable {
    var cancelled = false
}

/// State of one `sleep`. @unchecked Sendable: every field is read and written on the loop thread only.
private final class SleepWaiter: @unchecked Sendable {
    var timer: LoopTimer?
    var continuation: CheckedContinuation<Void, any Error>?
}

/// A task spawned on a loop (asyncio's Task).
public struct LoopTask<T: Sendable>: Sendable {
    public let task: Task<T, any Error>
    public let name: String?

    /// Waits for the result; the awaiting task resumes on its own executor.
    public var value: T {
        get async throws { try await task.value }
    }

    public func cancel() { task.cancel() }
    public var isCancelled: Bool { task.isCancelled }
}

/// asyncio's TaskGroup on a loop. Created by `EventLoop.taskGroup`; `spawn` from loop tasks.
public final class LoopTaskGroup: @unchecked Sendable {
    // @unchecked Sendable: `children` and `firstError` are touched only on the loop thread (spawn is
    // called from the group's body, which runs on the loop; children finish on the loop).
    public let loop: EventLoop
    private var children: [LoopTask<Void>] = []
    private var firstError: (any Error)?

    init(loop: EventLoop) { self.loop = loop }

    /// Starts a child. The first child to fail cancels its siblings. Loop thread (the group's body
    /// runs there when `taskGroup` is awaited from a loop task).
    public func spawn(name: String? = nil, _ body: nonisolated(nonsending) sending @escaping () async throws -> Void) {
        precondition(loop.inLoop, "LoopTaskGroup.spawn must run on its loop's thread")
        let child = loop.spawn(name: name) { [self] in
            do {
                try await body()
            } catch {
                if firstError == nil && !(error is CancellationError) {
                    firstError = error
                    cancelAll()
                }
                throw error
            }
        }
        children.append(child)
    }

    /// Loop thread (or any thread: Task.cancel is thread-safe; reads `children` only on the loop).
    public func cancelAll() {
        loop.onLoop { [self] in for c in children { c.cancel() } }
    }

    func waitAll() async throws {
        var i = 0
        while i < children.count {
            _ = try? await children[i].value
            i += 1
        }
        if let firstError { throw firstError }
    }
}
