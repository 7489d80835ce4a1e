// FiberTask: the scheduler's record of one spawned fiber, and the join handle that waits for its result.
import CRuntime
import Synchronization

/// Scheduling state of a task. One atomic byte.
///
///     runnable  -> notified    a waker while the fiber is queued, running or switching off to park (CAS): a
///                              permit for its next park
///     notified  -> notified    a later waker (CAS writing the same value): see "Every wake is a read-modify-write"
///     notified  -> runnable    park() consuming the permit instead of switching (exchange)
///     runnable  -> parked      the carrier, after resume() returned from a park (off the fiber's stack; CAS)
///     notified  -> runnable    the carrier, when its runnable -> parked CAS failed (exchange); it requeues the fiber
///     parked    -> runnable    the waker (CAS), which then enqueues it — the only way out of parked
///     runnable  -> done        the carrier when the body has returned (store; done is final), or cancel()
///     notified  -> done        the same, with a permit nobody needs any more
///
/// `runnable` means "not parked, no wake pending": the fiber is queued, running, *or on its way to park* — a run
/// does not store its own state, a yield leaves it as it is (a permit set during the run stays for the next
/// park), and a park stores nothing either: the fiber only tells its carrier (`postSwitch = .park`).
///
/// Why the carrier, not the fiber, makes a fiber `parked` (Go's gopark + unlockf): a waker must not enqueue a
/// fiber whose stack a carrier is still running on, or two carriers would run one stack. Until the carrier's CAS
/// after the switch, a waker sees `runnable` and only leaves a permit, which that CAS then finds (it fails on
/// `notified`) and turns into a requeue. The fiber itself makes no RMW to park: the carrier's CAS is the one
/// transition a waker races with.
///
/// # Every wake is a read-modify-write
///
/// A waiting fiber publishes itself (a channel's waiter list, the join stack, the timer heap, the I/O table),
/// parks, and after each resume re-checks its condition (`Waiter.wait`, `joinSlow`, `sleep`, `waitReady` all
/// loop); a completer makes the condition true, then wakes. The danger is a wake dropped because the waker saw a
/// state that says "no need" while the fiber is in fact about to park.
///
/// Why a run does not simply store `running` (relaxed) and a wake skip a `runnable` fiber ("already queued: it
/// will see the condition"): the argument for that is that the fiber published itself after the store, under a
/// lock or an acquire-release CAS, and the waker found it through the same lock, so the store happened-before the
/// waker's load, which then cannot read the older `runnable`. It holds only for a publication made *in the same
/// run*. After a stray wake the fiber runs again and re-checks a condition published in an earlier run: its store
/// of `running` is followed by a plain load of the condition (`doneFlag`, `isDone`), and the completer's store of
/// the condition by its load of the state — the store-buffer pattern. Nothing orders either store before the
/// other thread's load (x86's store buffer allows it; on aarch64 a plain `str` is not ordered before a later
/// `ldar`), so both may read the old values: the fiber parks, the waker drops the wake, the fiber hangs.
///
/// So, by construction (Go's `casgstatus`, Loom's park permit): a waker never acts on a load. Every wake is a CAS
/// on the state, also when nothing needs doing (`runnable`/`notified` -> `notified`), and every transition that
/// can consume a wake is an RMW too (park's exchange of a permit, the carrier's CAS and exchange). The RMWs of
/// one location are totally ordered and each reads the one before it, so either the waker's CAS comes first and
/// the next RMW on the state (park's exchange, or the carrier's failing CAS and its exchange) reads it —
/// synchronizing with it (release sequence), and the fiber's re-check comes after that RMW (the same thread, or
/// through the requeue's queue hand-over), so it sees the condition — or the carrier's CAS comes first and the
/// waker's CAS sees `parked` and wakes it. Park's own look at the state is a load, and acts only on
/// `notified` (through the exchange, an RMW): reading a stale `runnable` there only sends the fiber through the
/// carrier, whose CAS then sees the permit. No wake is lost on any architecture, and a run needs no store at
/// all. A stray wake costs at most one spurious return from park, which every wait loop tolerates. Only `done`
/// (final) is acted on from a load.
enum TaskState: UInt8 {
    case runnable = 0
    case parked, notified, done
}

/// The scheduler's record of a fiber. Ownership: `state` is atomic (any thread); `stack`, `readyAt`,
/// and `parkReason` belong to whoever holds the task (the queue that stores it or the worker that
/// popped it: the queues' release/acquire pairs hand them over); `joinState` is atomic (see there).
/// The hot fields are `@exclusivity(unchecked)`: that ownership rule already excludes overlapping accesses,
/// and a dynamic check costs a runtime call per access.
@usableFromInline
class FiberTask: @unchecked Sendable {
    // @unchecked Sendable: see the ownership comment above.
    //
    // Layout: Swift lays a class's stored properties out in declaration order, so they are ordered to pack
    // (pointers first, the 17-byte optional stack, then the one-byte fields in its tail). A `VoidTask` is 112
    // bytes: a 128-byte malloc chunk, which glibc keeps in its fastbins (no coalescing on free, LIFO reuse)
    // and which is two cache lines where the 3-line record was. Measured on `bench spawn`: see docs/performance.md.

    // unowned(unsafe): a task never outlives its scheduler's run (shutdown drops every task first).
    @usableFromInline unowned(unsafe) let scheduler: Scheduler
    /// Name and kind for the dashboard, nil for an unnamed fiber (most spawns: no 32 bytes of strings per record).
    let label: TaskLabel?
    /// Sampled enqueue time (ns) for the scheduling-delay measure; 0 = not sampled.
    @exclusivity(unchecked) var readyAt: UInt64 = 0
    /// Join: 0 while unfinished with nobody waiting; `Self.joinDoneBits` once finished (or cancelled); else a
    /// retained pointer to the newest `JoinWaiter` (a stack of waiters, each owning the next). Finishing is one
    /// exchange (no lock, one atomic read-modify-write per task); a joiner that must wait CAS-pushes a node
    /// unless the state is already done, so no joiner is left behind. Any thread.
    @usableFromInline let joinState = Atomic<UInt>(0)
    /// The fiber's reusable waiter for channels, mutexes and semaphores (touched only by the fiber itself,
    /// on its own stack); dropped by `complete()`.
    @usableFromInline @exclusivity(unchecked) var waiter: Waiter?
    /// The task's own stack, taken from the scheduler's pool at the first run (so queued-but-unstarted tasks
    /// hold no stack) and returned when the body has returned or the task is cancelled. Its top holds the
    /// `qv_fiber_ctx` the carrier resumes: a scheduler task is a fiber without a `Fiber` object (one allocation
    /// less per spawn; `Fiber` stays the public standalone type). See `Scheduler.run`.
    @exclusivity(unchecked) var stack: FiberStack?
    let state = Atomic<UInt8>(TaskState.runnable.rawValue)
    /// Why it is parked (for the counters of whoever wakes it). Written by the fiber before parking.
    @exclusivity(unchecked) var parkReason: ParkReason = .sleep
    /// Set once by `cancel()` before the join state is done: the task completed without its body returning.
    @usableFromInline let cancelledFlag = Atomic<Bool>(false)

    /// The fiber's name ("" when unnamed).
    @usableFromInline var name: String { label?.name ?? "" }
    /// The fiber's task kind for the dashboard ("" when none).
    var kind: String { label?.kind ?? "" }

    /// `__shared`: the scheduler is only stored unowned, so the caller need not retain it for the call (a retain
    /// and release of the scheduler per spawn, on a line other carriers read). The label is made by the caller
    /// (`TaskLabel.make`, inlined into `spawn`), so an unnamed spawn passes no strings: the test of two empty
    /// string literals folds away at the call site.
    @usableFromInline
    init(scheduler: __shared Scheduler, label: consuming TaskLabel?) {
        self.scheduler = scheduler
        self.label = consume label
    }

    deinit {
        // Started, never finished and never cancelled (parked on a primitive that was dropped): nothing will run
        // on the stack again, but the scheduler (and its pool) may be gone by now, so only TSan's fiber is
        // released; the mapping is leaked, as the frames' references are. Shutdown's `cancel` is the normal way.
        if let s = stack { qv_fiber_discard(s.context) }
        // Joiners of a task that never finished (same case): drop their nodes. Tested here, not only in
        // takeJoiners: a finished task (every normal one) then makes no call and builds no array.
        let bits = joinState.load(ordering: .acquiring)  // acquiring: as isDone.
        if bits != 0 && bits != Self.joinDoneBits { _ = Self.takeJoiners(bits) }
    }

    /// The body; overridden by `ResultTask`. Runs on the fiber's stack.
    func runBody() {}

    /// Drops the body without running it (shutdown).
    func dropBody() {}

    /// Runs on the fiber's stack at its first resume: the body, then completion.
    final func start() {
        runBody()
        complete()
    }

    /// `joinState` once the task is done (any real pointer is at least 16-byte aligned, so never 1).
    @inlinable static var joinDoneBits: UInt { 1 }

    /// The joiners of a join-state value taken out of `joinState`, newest first, taking over the stack's
    /// retain of every node (none for 0 or `joinDoneBits`).
    private static func takeJoiners(_ bits: UInt) -> [Joiner] {
        if bits == 0 || bits == joinDoneBits { return [] }
        var newestFirst: [Joiner] = []
        var p = UnsafeMutableRawPointer(bitPattern: bits)
        while let raw = p {
            // Unmanaged: each pointer in the stack carries one retain, taken over here.
            let node = Unmanaged<JoinWaiter>.fromOpaque(raw).takeRetainedValue()
            newestFirst.append(node.joiner)
            p = node.next
        }
        return newestFirst
    }

    /// Marks the task finished and wakes its joiners. On the fiber's stack, before it returns.
    final func complete() {
        dropWaiter()
        markDoneAndWakeJoiners()
    }

    /// Marks the join state done and wakes every joiner registered before, oldest first. Shared by `complete`
    /// and `cancel`; after it, `addJoiner` refuses, so no joiner is ever left behind.
    private final func markDoneAndWakeJoiners() {
        // acquiring-and-releasing: release publishes the body's result (or the cancelled flag) to a joiner that
        // acquire-loads the state; acquire sees the nodes the joiners pushed.
        let old = joinState.exchange(Self.joinDoneBits, ordering: .acquiringAndReleasing)
        // Nobody waiting (most tasks: their joiner comes later, or never): no joiner array to build and walk.
        if old == 0 { return }
        // The stack is newest first: reverse it so joiners wake in the order they came.
        for j in Self.takeJoiners(old).reversed() {
            switch j {
            case .fiber(let t): t.scheduler.wake(t)
            case .fiberOfOtherScheduler(let t, let s): s.wake(t)
            case .thread(let p): p.unpark(poller: nil)
            }
        }
    }

    /// Completes the task without running (the rest of) its body: a spawn refused after shutdown, or a fiber
    /// dropped by `shutdown()` while queued or parked. Drops the body and the stack-independent references,
    /// marks it done so later wakes are no-ops, and wakes its joiners (whose `join` then reports the
    /// cancellation). Called only while no carrier runs the task; idempotent.
    /// A fiber parked on a channel, mutex or semaphore must be off that primitive's waiter list first (a channel
    /// writes values straight into the waiting fiber's stack): `Scheduler.shutdown` does that.
    final func cancel() {
        // A suspended stack goes back to the pool (nothing runs on it again); what its frames retained is leaked.
        // The scheduler is alive here: cancel runs from spawn, a carrier or shutdown.
        if let s = cancelKeepingStack() { scheduler.stackPool.release(s) }
    }

    /// `cancel()`, handing the suspended stack (discarded: nothing runs on it again) to the caller instead of the
    /// pool; nil when the task had none or another caller won. `Scheduler.shutdown` gives all of them back in one
    /// `StackPool.release(contentsOf:)`.
    final func cancelKeepingStack() -> FiberStack? {
        // seq-cst: one winner; the join state's exchange below publishes the flag to joiners.
        if cancelledFlag.exchange(true, ordering: .sequentiallyConsistent) { return nil }
        dropBody()
        dropWaiter()
        let s = stack
        if let s {
            stack = nil
            qv_fiber_discard(s.context)
        }
        state.store(TaskState.done.rawValue, ordering: .sequentiallyConsistent)
        markDoneAndWakeJoiners()
        return s
    }

    /// Forgets the fiber's sync waiter (breaking the task ↔ waiter cycle) and unregisters it from the
    /// scheduler. On the fiber's own stack (`complete`) or by the single winner of `cancel`.
    private final func dropWaiter() {
        guard let w = waiter else { return }
        waiter = nil
        _ = scheduler.syncWaiters.withLock { $0.removeValue(forKey: ObjectIdentifier(w)) }
    }

    /// True when the task was cancelled (see `cancel()`). Any thread.
    @inlinable final var isCancelled: Bool { cancelledFlag.load(ordering: .acquiring) }  // acquire: see cancel.

    /// Registers a joiner unless the task is already done. Any thread.
    final func addJoiner(_ j: Joiner) -> Bool {
        let node = JoinWaiter(j)
        // retainedPointer: the stack owns one retain of the node, taken before the CAS publishes it.
        let p = retainedPointer(node)
        var old = joinState.load(ordering: .acquiring)  // acquiring: as isDone.
        while old != Self.joinDoneBits {
            node.next = UnsafeMutableRawPointer(bitPattern: old)
            // acquiring-and-releasing: release publishes the node (its joiner, its link) to the completer.
            let (done, seen) = joinState.compareExchange(
                expected: old, desired: UInt(bitPattern: p), ordering: .acquiringAndReleasing)
            if done { return true }
            old = seen
        }
        // Unmanaged: undoes the retain above; the node was never published.
        Unmanaged<JoinWaiter>.fromOpaque(p).release()
        return false
    }

    /// Parks the calling fiber (this task) until `Scheduler.wake`. Called on the fiber's own stack.
    ///
    /// Deliberately a method of the task, not of the scheduler, and with the carrier work in a helper that
    /// returns before the switch: a fiber dropped while parked (shutdown) leaks whatever its frames retain,
    /// and this way that is only the task, never the scheduler or a carrier.
    @usableFromInline
    final func park(reason: ParkReason) {
        if prepareToPark(reason: reason) { Fiber.suspend() }
        // Resumed (maybe on another carrier), or a permit consumed: the state is runnable again.
    }

    /// Returns false when an early wake-up was consumed (no switch needed).
    @inline(never)
    private final func prepareToPark(reason: ParkReason) -> Bool {
        parkReason = reason
        // relaxed: a hint (see the table). `notified` is acted on only through the exchange, an RMW, which reads
        // the last waker's CAS and so orders its publication before the caller's re-check; a permit this load
        // misses is found by the carrier's CAS after the switch.
        if state.load(ordering: .relaxed) == TaskState.notified.rawValue {
            _ = state.exchange(TaskState.runnable.rawValue, ordering: .sequentiallyConsistent)
            return false
        }
        // Borrowed: no retain and release of the carrier and worker per park (see Scheduler.withLocalWorker).
        CarrierTLS.currentUnretained()!._withUnsafeGuaranteedRef { c in
            c.workerRef?._withUnsafeGuaranteedRef { $0.counters.fiberParks[reason.rawValue] &+= 1 }
            c.postSwitch = .park
        }
        return true
    }

    /// After a handed-off blocking region: gets back onto some worker by requeueing on the injector and
    /// switching off this carrier (its run loop does the requeue). A method of the task for the reason
    /// `park` is: the frame across the switch must retain no scheduler and no carrier.
    final func rejoinAfterHandoff() {
        Self.prepareRejoin()
        Fiber.suspend()
    }

    @inline(never)
    private static func prepareRejoin() {
        CarrierTLS.currentUnretained()!._withUnsafeGuaranteedRef { $0.postSwitch = .requeueInjector }
    }

    /// Tells the calling carrier that its running fiber yields (`postSwitch = .yield`: the carrier requeues it at the
    /// back of its worker's queue after the switch), and returns true; false when the caller is no scheduler's fiber
    /// (a plain thread, a `blocking {}` region), which must not switch. One carrier look-up and no reference made:
    /// `Scheduler.yield` then switches from a frame that holds nothing (the reason `park` is a method of the task),
    /// where a strong `currentTask` cost a retain and a release of the task per yield.
    @inline(never)
    static func prepareYield() -> Bool {
        guard let u = CarrierTLS.currentUnretained() else { return false }
        return u._withUnsafeGuaranteedRef { c in
            guard c.runsFiber else { return false }  // true only on a fiber's stack (see Carrier.runsFiber)
            c.postSwitch = .yield
            return true
        }
    }

    /// `final` and inlinable (as `isCancelled`): a join's test of it is one inlined load, not a call through the
    /// vtable.
    @inlinable final var isDone: Bool {
        joinState.load(ordering: .acquiring) == Self.joinDoneBits  // acquire: pairs with markDoneAndWakeJoiners.
    }
}

extension FiberTask {
    /// Waits for completion: parks the calling fiber, or blocks a plain thread.
    @usableFromInline
    final func joinSlow() {
        // The joiner is borrowed (`withCurrentTask`): a joiner dropped while parked here (shutdown) never returns, and
        // a strong reference in this frame kept its task record alive for good. While parked, its node holds it.
        let asFiber: Void? = Scheduler.withCurrentTask { current in
            // A joiner of another scheduler holds that scheduler in its node: it may shut down (dropping this
            // fiber's frames, not the node) and be released before we complete, and `wake` must not reach a
            // freed scheduler. Alive, a shut-down scheduler refuses the late wake (the injector is closed) and
            // cancels the joiner. Same scheduler: no retain (`Scheduler.run` keeps it alive). Built inside the
            // call, not in a local: a frame parked for good (the scheduler dropped it) must not hold the scheduler.
            if addJoiner(
                current.scheduler === scheduler ? .fiber(current) : .fiberOfOtherScheduler(current, current.scheduler))
            {
                // Loop: a stray wake-up must not end the wait early.
                repeat { current.park(reason: .join) } while !isDone
            }
        }
        if asFiber != nil { return }
        let parker = Parker()
        if addJoiner(.thread(parker)) {
            while !isDone { parker.park() }
        }
    }
}

/// A fiber's name and kind, kept out of line: most fibers have neither.
@usableFromInline
final class TaskLabel: Sendable {
    /// The name and kind as workers publish them (first: on the line of the header, which a publish retains).
    let packed: PackedLabel
    let name: String
    let kind: String
    @usableFromInline init(name: String, kind: String) {
        packed = PackedLabel(name: name, kind: kind)
        self.name = name
        self.kind = kind
    }

    /// The label of a fiber named `name` of kind `kind`; nil when both are empty. Inlined into `spawn`, where
    /// the default arguments are literals, so an unnamed spawn makes no call and passes no strings.
    @inlinable static func make(name: String, kind: String) -> TaskLabel? {
        name.isEmpty && kind.isEmpty ? nil : TaskLabel(name: name, kind: kind)
    }
}

/// One waiting joiner in a task's join stack (`FiberTask.joinState`). Written by its joiner before the CAS that
/// publishes it, read by the completer after the exchange that takes the stack.
final class JoinWaiter: @unchecked Sendable {
    // @unchecked Sendable: immutable once published (see above).
    let joiner: Joiner
    /// The next older node: a retained pointer that this node's stack owns (taken over by the completer).
    @exclusivity(unchecked) var next: UnsafeMutableRawPointer?
    init(_ joiner: Joiner) { self.joiner = joiner }
}

enum Joiner {
    case fiber(FiberTask)
    /// A fiber of another scheduler, and that scheduler (strong: see `joinSlow`).
    case fiberOfOtherScheduler(FiberTask, Scheduler)
    case thread(Parker)
}

/// A task with a typed body and result (one allocation per spawn besides the user's closure).
@usableFromInline
final class ResultTask<T>: FiberTask, @unchecked Sendable {
    // @unchecked Sendable: `result` is written once by the fiber before `complete()` and read only after
    // `isDone` (acquire); `body` is taken by the first run.
    @exclusivity(unchecked) var body: (() -> T)?
    @usableFromInline @exclusivity(unchecked) var result: T?

    /// `consuming` body, `consume`d into the field: the record takes over the caller's reference (a borrowed one
    /// was retained to be stored and released by the caller: an atomic pair per spawn on the spawner's path).
    @usableFromInline
    init(scheduler: __shared Scheduler, label: consuming TaskLabel?, body: consuming @escaping () -> T) {
        self.body = consume body
        super.init(scheduler: scheduler, label: consume label)
    }

    override func runBody() {
        // take(): moves the closure out (no retain/release pair).
        let b = body.take()
        result = b?()
    }

    override func dropBody() { body = nil }
}

/// A task whose body returns nothing (`spawn` of a `() -> Void`): no result storage and no generic type. A
/// `ResultTask<Void>` looks up generic metadata (`ResultTask<T>`, `Optional<T>`) at every allocation, run and
/// deinit — about 8 % of the `spawn` benchmark's time.
@usableFromInline
final class VoidTask: FiberTask, @unchecked Sendable {
    // @unchecked Sendable: `body` is taken by the first run (see ResultTask).
    @exclusivity(unchecked) var body: (() -> Void)?

    /// `consuming` body, `consume`d into the field: the record takes over the caller's reference (a borrowed one
    /// was retained to be stored and released by the caller: an atomic pair per spawn on the spawner's path).
    @usableFromInline
    init(scheduler: __shared Scheduler, label: consuming TaskLabel?, body: consuming @escaping () -> Void) {
        self.body = consume body
        super.init(scheduler: scheduler, label: consume label)
    }

    override func runBody() { body.take()?() }

    override func dropBody() { body = nil }
}

/// Waits for a spawned fiber's result. `join()` from a fiber parks that fiber (reason `.join`); from a plain
/// thread it blocks the thread.
public struct JoinHandle<T>: @unchecked Sendable {
    // @unchecked Sendable: the result is read only after the task's completion (acquire), see ResultTask.
    /// A `ResultTask<T>`, or a `VoidTask` when `T` is `Void` (see `Scheduler.spawn`).
    @usableFromInline let task: FiberTask

    @usableFromInline init(task: FiberTask) { self.task = task }

    /// The result once the task is done; nil when it was cancelled. For `Void` the result is `()` whichever
    /// task type holds it (a generic `spawn` with `T == Void` makes a ResultTask<Void>), so only a non-Void
    /// handle reads the typed storage. The test of `T` folds to a constant when specialised.
    @inlinable var doneResult: T? {
        if task.isCancelled { return nil }
        if T.self == Void.self { return (() as! T) }
        // unsafeDowncast: spawn made a ResultTask<T> for every non-Void T.
        return unsafeDowncast(task, to: ResultTask<T>.self).result
    }

    /// True once the fiber's body has returned.
    public var isFinished: Bool { task.isDone && !task.isCancelled }
    /// True when the fiber will never return a result: it was spawned after `shutdown()`, or it was still
    /// queued or parked when the scheduler shut down, or its stack could not be mapped (`Scheduler.stackRefusal`).
    /// `join(timeoutNanos:)` then returns nil at once and
    /// `tryJoin()` throws `SchedulerError.cancelled`.
    public var isCancelled: Bool { task.isDone && task.isCancelled }
    /// The fiber's name.
    public var name: String { task.name }

    /// Waits for the result. Inside a fiber of any scheduler it parks the fiber; on a plain thread it blocks.
    /// A cancelled fiber (see `isCancelled`) has no result: `join()` then stops the process with a message;
    /// use `tryJoin()` or `join(timeoutNanos:)` where shutdown may race with the join.
    @inlinable
    public func join() -> T {
        if task.isDone, let r = doneResult { return r }
        task.joinSlow()
        guard let r = doneResult else { Self.joinedCancelled() }
        return r
    }

    @usableFromInline static func joinedCancelled() -> Never {
        preconditionFailure("JoinHandle.join(): the fiber was cancelled by Scheduler.shutdown (use tryJoin())")
    }

    /// Waits for the result; throws `SchedulerError.cancelled` when the fiber was cancelled by shutdown
    /// (or spawned after it). Parks a fiber, blocks a plain thread.
    public func tryJoin() throws(SchedulerError) -> T {
        if !task.isDone { task.joinSlow() }
        guard let r = doneResult else { throw .cancelled }
        return r
    }

    /// From a plain thread: waits at most `timeoutNanos` (0 = forever). Nil on timeout.
    /// Nil also when the fiber was cancelled (see `isCancelled`).
    public func join(timeoutNanos: UInt64) -> T? {
        if task.isDone { return doneResult }
        precondition(Scheduler.currentTask == nil, "JoinHandle.join(timeoutNanos:) is for plain threads")
        let parker = Parker()
        if task.addJoiner(.thread(parker)) {
            let deadline = timeoutNanos == 0 ? 0 : qv_now_ns() &+ timeoutNanos
            while !task.isDone {
                parker.park(deadline: deadline)
                if deadline != 0 && qv_now_ns() >= deadline { break }
            }
        }
        return task.isDone ? doneResult : nil
    }
}
