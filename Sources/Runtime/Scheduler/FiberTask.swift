// FiberTask: the scheduler's record of one spawned fiber, and the join handle that waits for its result.
import CRuntime
import Synchronization

/// Scheduling state of a task. One atomic byte; every transition that can race is a CAS.
///
///     runnable  -> running     the worker that popped it (only one worker holds a popped task)
///     running   -> parking     the fiber itself in park(), still on its own stack
///     parking   -> parked      the carrier, after resume() returned (off the fiber's stack); CAS
///     parking   -> notified    a waker that came before the carrier's CAS; the carrier then requeues it
///     running   -> notified    a waker that came before park(): park() consumes it and returns at once
///     notified  -> running     park() consuming an early wake-up (no switch)
///     notified  -> runnable    the carrier, after the switch, instead of parked: requeues it
///     parked    -> runnable    the waker (CAS), which then enqueues it — the only way out of parked
///     running   -> runnable    the carrier after a yield (requeues it)
///     running   -> done        the carrier, when the body has returned
///
/// Why `parking` exists (Go's gopark + unlockf): a waker must not enqueue a fiber whose stack a carrier is
/// still running on, or two carriers would run one stack. The fiber only says "I'm going to park"; the
/// carrier makes it "parked" after the switch, and only then may a waker take it.
enum TaskState: UInt8 {
    case runnable = 0
    case running, parking, parked, notified, done
}

/// The scheduler's record of a fiber. Ownership: `state` is atomic (any thread); `fiber`, `runs` and
/// `readyAt` belong to whoever holds the task (the queue that stores it or the worker that popped it:
/// the queues' release/acquire pairs hand them over); join fields are guarded by `joinLock`.
class FiberTask: @unchecked Sendable {
    // @unchecked Sendable: see the ownership comment above; plain fields are handed over through the
    // run queues' acquire/release and the state CASes.
    let state = Atomic<UInt8>(TaskState.runnable.rawValue)
    unowned(unsafe) let scheduler: Scheduler
    // unowned(unsafe): a task never outlives its scheduler's run (shutdown drops every task first).
    var name: String
    let kind: String
    /// Created at the first run, so queued-but-unstarted tasks hold no stack.
    var fiber: Fiber?
    /// The user body; taken by the first run.
    var body: (() -> Void)?
    /// Sampled enqueue time (ns) for the scheduling-delay measure; 0 = not sampled.
    var readyAt: UInt64 = 0
    /// Why it is parked (for the counters of whoever wakes it). Written by the fiber before parking.
    var parkReason: ParkReason = .sleep
    /// The I/O registration token while parked on a descriptor, else 0.
    var ioToken: UInt64 = 0

    // Join.
    let joinDone = Atomic<Bool>(false)
    let joinLock = Mutex<[Joiner]>([])

    init(scheduler: Scheduler, name: String, kind: String) {
        self.scheduler = scheduler
        self.name = name
        self.kind = kind
    }

    /// Runs on the fiber's stack at its first resume: the body, then completion.
    final func runBody() {
        let b = body
        body = nil
        b?()
        complete()
    }

    /// Marks the task finished and wakes its joiners. On the fiber's stack, before it returns.
    final func complete() {
        let waiters = joinLock.withLock { w -> [Joiner] in
            // release (inside the lock, and seq-cst anyway): the result stored by the body is visible to a
            // joiner that acquire-loads joinDone.
            joinDone.store(true, ordering: .sequentiallyConsistent)
            let all = w
            w.removeAll()
            return all
        }
        for j in waiters {
            switch j {
            case .fiber(let t): t.scheduler.wake(t, reason: .join)
            case .thread(let p): p.unpark(poller: nil)
            }
        }
    }

    var isDone: Bool { joinDone.load(ordering: .acquiring) }  // acquire: pairs with complete()'s store.
}

enum Joiner {
    case fiber(FiberTask)
    case thread(Parker)
}

/// Holds a typed result next to the task (one allocation per spawn).
final class ResultTask<T>: FiberTask, @unchecked Sendable {
    // @unchecked Sendable: `result` is written once by the fiber before `complete()` and read only after
    // `isDone` (acquire), see FiberTask.
    var result: T?
}

/// Waits for a spawned fiber's result. `join()` from a fiber parks that fiber (reason `.join`); from a plain
/// thread it blocks the thread.
public struct JoinHandle<T>: @unchecked Sendable {
    // @unchecked Sendable: the result is read only after the task's completion (acquire), see ResultTask.
    let task: ResultTask<T>

    /// True once the fiber's body has returned.
    public var isFinished: Bool { task.isDone }
    /// The fiber's name.
    public var name: String { task.name }

    /// Waits for the result. Inside a fiber of any scheduler it parks the fiber; on a plain thread it blocks.
    public func join() -> T {
        if task.isDone { return task.result! }
        if let current = Scheduler.currentTask {
            let registered = task.joinLock.withLock { w -> Bool in
                if task.joinDone.load(ordering: .sequentiallyConsistent) { return false }
                w.append(.fiber(current))
                return true
            }
            if registered { current.scheduler.park(current, reason: .join) }
            // A wake of a join parker comes only from complete(), so the result is there now.
            precondition(task.isDone, "JoinHandle.join: woken before completion")
            return task.result!
        }
        _ = join(timeoutNanos: 0)
        return task.result!
    }

    /// From a plain thread: waits at most `timeoutNanos` (0 = forever). Nil on timeout.
    public func join(timeoutNanos: UInt64) -> T? {
        if task.isDone { return task.result! }
        precondition(Scheduler.currentTask == nil, "JoinHandle.join(timeoutNanos:) is for plain threads")
        let parker = Parker()
        let registered = task.joinLock.withLock { w -> Bool in
            if task.joinDone.load(ordering: .sequentiallyConsistent) { return false }
            w.append(.thread(parker))
            return true
        }
        if registered {
            let deadline = timeoutNanos == 0 ? 0 : qv_now_ns() &+ timeoutNanos
            while !task.isDone {
                parker.park(deadline: deadline)
                if deadline != 0 && qv_now_ns() >= deadline { break }
            }
        }
        return task.isDone ? task.result! : nil
    }
}
