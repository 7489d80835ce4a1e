// Fiber: a stackful coroutine that any thread may resume, so plain synchronous Swift code can park
// without blocking an OS thread. The M:N scheduler (Sources/Runtime/Scheduler) uses the same switch path
// (the qv_fiber_* layer, stacks from `StackPool`) without a `Fiber` object per task: its `FiberTask` owns the
// stack and the context directly (`qv_fiber_ctx.owner_kind` = 1), one allocation less per spawn.
//
// # Design notes
//
// ## Model
// A fiber is a closure plus its own mmap'd stack. `resume()` switches the calling thread onto the
// fiber's stack; inside, `Fiber.suspend()` switches back to whoever resumed it, and a later `resume()`
// continues after that call — possibly on another thread (migration). These are asymmetric
// coroutines: a fiber always returns to its resumer, never jumps to a sibling, which is exactly what a
// scheduler loop needs (`while let f = queue.pop() { f.resume() }`) and keeps every switch paired.
//
// Glossary: *resumer* — the context (a thread's own stack, or another fiber) blocked in `resume()`;
// *switch* — one change of stack, so a resume/suspend round trip is two switches; *carrier* — an OS
// thread that resumes fibers.
//
// ## The switch path (what runs on every switch, and nothing else)
// `resume` → `qv_fiber_resume` (C) → `qv_context_switch` (assembly) and back through `qv_fiber_suspend`.
// 1. Registers: hand-written assembly (Sources/CRuntime/context_*.S) saves only the callee-saved
//    registers, the stack pointer and the FP control words (MXCSR + x87 CW on x86_64, FPCR on
//    aarch64). Caller-saved state is already dead across a call; the signal mask is not switched.
// 2. The thread's "current fiber" slot (C `__thread`, initial-exec), set by resume, restored after.
// 3. Swift exclusivity: `swift_task_enterThreadLocalContext` before entering the fiber,
//    `swift_task_exitThreadLocalContext` before leaving it — the two calls Swift's own tasks make.
//    Swift records every dynamic `inout`/`modify` access of a class property or global in a
//    per-*thread* linked list, with the record on the accessing stack. A fiber that suspends inside
//    such an access and resumes on another thread would end it on the wrong list (crash in
//    swift_endAccess). Exit moves the fiber's accesses into its `qv_fiber_ctx`, enter pushes them
//    onto the new thread's list (tested in FiberMigrationTests).
// 4. ThreadSanitizer: `__tsan_switch_to_fiber` right before the raw switch, only when the weak
//    TSan symbols are present (a separate slow-path resume, so normal builds carry no TSan code on
//    the path); the C functions that switch are `no_sanitize("thread")`. AddressSanitizer:
//    `__sanitizer_start_switch_fiber` / `__sanitizer_finish_switch_fiber` around the switch, compiled
//    in only when fiber.c is built with -fsanitize=address (its state sits in the ctx's second half).
// No allocation, lock, retain/release or dynamic exclusivity check runs on this path: the fiber's
// state is an atomic byte, its switch state lives in C memory at the top of its stack, and
// `Fiber.suspend()` is a direct call into C.
//
// ## Thread identity after migration
// A fiber's code must never trust a thread identity computed before a switch. glibc declares
// `pthread_self()` `__attribute__((const))`, so an optimized build may reuse the value read before
// `Fiber.suspend()` after it returns on another thread (observed here: 0 of 800,000 migrations
// noticed; `qvtop bench migrate` shows it again: pthread_self() notices 0 of 100,000, qv_gettid()
// and Fiber.current all of them). `errno` and any `__thread` address have the same hazard. Hence: `Fiber.current` reads
// the slot through a non-inline C function on every call, thread ids come from `qv_gettid()`
// (a real syscall, not const), errno from `qv_errno()`, and the C switch code never touches TLS after
// a switch that may have changed thread (see qv_fiber_suspend).
//
// ## Parking safely (the commit)
// A fiber that waits for something must become visible to its waker (timer heap, channel queue,
// poller) only after it has switched out; otherwise a waker on another thread could resume it while
// it still runs on this one — two threads on one stack. `Fiber.suspend(commit:)` hands a closure to
// the resumer, which runs it right after the switch as the last step of `resume()` (Go's gopark
// runs its unlock function on g0 for the same reason). `resume()` reads everything it needs from the
// fiber before running the commit and touches nothing of it afterwards.
//
// ## Stacks
// mmap'd, 64 KiB by default (configurable per fiber), with a PROT_NONE guard page below, so an
// overflow faults (SIGSEGV) instead of corrupting the neighbour. Pages are committed on first touch,
// so a parked fiber costs the pages it touched (one, for the `parked` benchmark's fibers). Each guarded stack is two kernel
// mappings and `vm.max_map_count` is 65,530 by default, so only ~28,000 guarded stacks can exist
// (spare mappings kept for malloc, libraries, other code). Past that `StackPool` carves unguarded
// stacks from 64-stack slabs (one mapping each), records the fallback once (`stats.notice`,
// `noticeHandler`) and keeps working: one million parked fibers fit. Finished fibers return their
// stacks to the pool, which reuses them LIFO. The Runtime target links with `-z now`: no lazy PLT
// resolution runs on a small fiber stack (it costs ~3 KB of stack on the first call of each symbol).
//
// ## Rejected options
// - `ucontext` (makecontext/swapcontext): glibc's swapcontext saves and restores the signal mask,
//   one rt_sigprocmask syscall per switch: 225–252 ns here against 7–8 ns for the assembly switch.
// - Swift async tasks: stackless; they cannot suspend plain synchronous code (`Thread.sleep()` inside
//   a virtual thread), which is the whole point (talk-quo-vadis-asyncio.md), and their executors hide
//   the run queues qvtop has to draw.
// - Boost.Context (fcontext): the same technique, but a C++ dependency with its own build for two
//   small assembly functions, and it knows nothing about Swift's exclusivity state or TSan's fibers,
//   which need to sit right next to the switch.
// - Symmetric transfer (fiber → fiber directly): saves one switch per hand-off but makes "who runs
//   next" implicit; the scheduler would lose the single point where it observes every switch.
import CRuntime
import Synchronization

/// What a fiber is doing. Stored in one atomic byte so any thread (the telemetry sampler) may read
/// it while the fiber's owner changes it.
///
/// Transitions (who makes them):
///
///     new       -> runnable      scheduler: the fiber is queued
///     new       -> running       resume() of a fiber nobody queued (tests, benchmarks)
///     runnable  -> running       resume()
///     running   -> parked(r)     the fiber, right before Fiber.suspend(commit:): waits for r; the commit
///                                (run by the resumer after the switch) hands it to whoever completes r
///     running   -> blocked       the fiber, before a blocking OS call that pins its carrier
///     running   -> runnable      resume() returning, when the fiber suspended without saying why (a yield)
///     running   -> done          resume() returning, when the body has returned
///     parked(r) -> runnable      whoever completes r (timer, poller, channel, mutex, join)
///     blocked   -> running       the fiber, when the blocking call returns
///     blocked   -> runnable      the scheduler, when the fiber suspended while blocked was recorded
///
/// `done` is final. resume() refuses `running` and `done` (precondition).
public enum FiberState: Sendable, Hashable, CustomStringConvertible {
    /// Why a parked fiber waits. The dashboard counts parked fibers per reason.
    public enum ParkReason: UInt8, Sendable, Hashable, CaseIterable {
        case sleep, io, channel, mutex, join
    }

    case new
    case runnable
    case running
    case parked(ParkReason)
    case blocked
    case done

    public var description: String {
        switch self {
        case .new: "new"
        case .runnable: "runnable"
        case .running: "running"
        case .parked(let r): "parked(\(r))"
        case .blocked: "blocked"
        case .done: "done"
        }
    }

    // One-byte encoding: 0...4 plain states, 16 + reason for parked.
    static let codeNew: UInt8 = 0
    static let codeRunnable: UInt8 = 1
    static let codeRunning: UInt8 = 2
    static let codeBlocked: UInt8 = 3
    static let codeDone: UInt8 = 4
    static let codeParked: UInt8 = 16

    var code: UInt8 {
        switch self {
        case .new: Self.codeNew
        case .runnable: Self.codeRunnable
        case .running: Self.codeRunning
        case .blocked: Self.codeBlocked
        case .done: Self.codeDone
        case .parked(let r): Self.codeParked + r.rawValue
        }
    }

    init(code: UInt8) {
        switch code {
        case Self.codeNew: self = .new
        case Self.codeRunnable: self = .runnable
        case Self.codeRunning: self = .running
        case Self.codeBlocked: self = .blocked
        case Self.codeDone: self = .done
        default: self = .parked(ParkReason(rawValue: code &- Self.codeParked) ?? .sleep)
        }
    }
}

/// A stackful coroutine. See the design notes at the top of this file.
///
/// Ownership: `resume()` may be called from any thread but never concurrently for one fiber (the
/// scheduler guarantees that by owning the fiber while it runs). `state` and `name` may be read from
/// any thread. `Fiber.current` and `Fiber.suspend()` act on the calling thread.
public final class Fiber: @unchecked Sendable {
    // @unchecked Sendable: `state` is atomic; `name` is a plain var protected by Swift's dynamic
    // exclusivity checks and meant to be set before the fiber is shared; `body` and the stack are
    // touched only under the resume contract above (one resumer at a time, or deinit).

    public typealias ID = UInt64

    /// Unique in the process, in creation order, starting at 1.
    public let id: ID
    /// Free-form label for the dashboard.
    public var name: String
    /// "file:line" of the code that created the fiber (kept as a static string, formatted on demand,
    /// so creating a fiber allocates nothing for it).
    public var creationSite: String { "\(file):\(line)" }

    // Field order packs the object into a 144-byte malloc chunk: the state byte sits in the padding
    // after the 17-byte StaticString, the 32-bit line right after it (one parked fiber = one stack
    // page + ~390 B of heap; see docs/performance.md).
    private let file: StaticString
    /// Encoded `FiberState`.
    private let stateCode: Atomic<UInt8>
    private let line: UInt32
    /// The fiber's stack; its top holds the `qv_fiber_ctx`. Returned to `pool` once `done`.
    let stack: FiberStack
    private let pool: StackPool
    /// Switch state in C memory (top of `stack`). Never dereferenced after `done`.
    private let context: UnsafeMutablePointer<qv_fiber_ctx>
    /// The closure to run; taken by the fiber's first run, so what it captures is released when the
    /// body returns. @exclusivity(unchecked): touched only by init, the fiber's first run (resume
    /// contract: never concurrent) and deinit — a dynamic check here would cost a runtime call.
    @exclusivity(unchecked) private var body: (() -> Void)?
    /// Set by the fiber in `suspend(commit:)`, taken and run by its resumer right after the switch.
    /// @exclusivity(unchecked): written by the fiber and read by the resumer on the same thread, one
    /// after the other (the switch orders them); never concurrent.
    @exclusivity(unchecked) private var pendingCommit: ((Fiber) -> Void)?

    private static let nextID = Atomic<UInt64>(1)

    /// Creates a fiber that will run `body` on its own stack at the first `resume()`.
    /// - Parameters:
    ///   - stackSize: usable stack bytes, rounded up to whole pages (at least two).
    ///   - pool: where the stack comes from and goes back to.
    public init(
        name: String = "", stackSize: Int = FiberStack.defaultSize, pool: StackPool = .shared,
        file: StaticString = #fileID, line: UInt = #line, _ body: @escaping () -> Void
    ) {
        // relaxed: only uniqueness matters, no other memory is published through the counter.
        id = Fiber.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.name = name
        self.file = file
        self.line = UInt32(truncatingIfNeeded: line)
        self.pool = pool
        self.body = body
        stack = pool.acquire(size: stackSize)
        context = stack.context
        stateCode = Atomic(FiberState.codeNew)
        // Unmanaged: the ctx holds an unretained back pointer; the fiber owns the ctx (inside its
        // stack), and whoever runs the fiber holds a strong reference for the duration of resume().
        qv_fiber_prepare(context, stack.bottom, stack.stackTop, Unmanaged.passUnretained(self).toOpaque(), fiberEntry)
    }

    deinit {
        if stateCode.load(ordering: .relaxed) != FiberState.codeDone {
            // Never started, or dropped while suspended. Nothing will run on the stack again, so it can
            // go back to the pool; whatever the suspended frames retained is leaked (Swift cannot
            // unwind a foreign stack), which is why schedulers should run fibers to completion.
            qv_fiber_discard(context)
            pool.release(stack)
        }
    }

    /// What the fiber is doing. The scheduler records parked(reason)/runnable/blocked; `resume()`
    /// records running, runnable (after a plain yield) and done. See the table above `FiberState`.
    public var state: FiberState {
        // acquiring/releasing: a reader on another thread sees the writes made before the state change
        // (free on x86_64: plain mov). The state is a record for telemetry, not a lock: schedulers
        // must still hand fibers over through their own synchronized queues.
        get { FiberState(code: stateCode.load(ordering: .acquiring)) }
        set { stateCode.store(newValue.code, ordering: .releasing) }
    }

    /// True once the body has returned (its stack is then back in the pool).
    public var isFinished: Bool { stateCode.load(ordering: .acquiring) == FiberState.codeDone }

    /// Runs the fiber on the calling thread until it calls `Fiber.suspend()` or its body returns.
    /// Any thread may call it (migration), never concurrently. Returns true when the body has finished
    /// (its stack is then already returned to the pool). If the fiber suspended with
    /// `suspend(commit:)`, runs the commit last, after the fiber has switched out.
    @discardableResult
    public func resume() -> Bool {
        // relaxed: resume's caller owns the fiber (contract), so these are its own writes.
        let before = stateCode.load(ordering: .relaxed)
        precondition(
            before != FiberState.codeRunning && before != FiberState.codeDone,
            "Fiber.resume(): fiber \(id) is \(FiberState(code: before))")
        stateCode.store(FiberState.codeRunning, ordering: .relaxed)
        // The switch (see "The switch path" above).
        if qv_fiber_resume(context) != 0 {
            pool.release(stack)
            stateCode.store(FiberState.codeDone, ordering: .releasing)
            return true
        }
        if stateCode.load(ordering: .relaxed) == FiberState.codeRunning {
            stateCode.store(FiberState.codeRunnable, ordering: .releasing)
        }
        if let commit = pendingCommit {
            pendingCommit = nil
            // Last: once the commit has published the fiber, another thread may resume it, so this
            // resume() touches nothing of the fiber after it.
            commit(self)
        }
        return false
    }

    /// The fiber running on this thread, nil on a plain thread. Read afresh on every call, so it is
    /// right after migration.
    /// Nil inside a scheduler task too: a task's context belongs to its `FiberTask`, not to a `Fiber` (the
    /// scheduler runs tasks on their own stacks without a `Fiber` object; see Scheduler+Loop.swift `run`).
    public static var current: Fiber? {
        guard let owner = qv_fiber_current_fiber_owner() else { return nil }
        // Unmanaged: the running fiber is kept alive by its resumer for the whole resume() call.
        return Unmanaged<Fiber>.fromOpaque(owner).takeUnretainedValue()
    }

    /// True when the calling code runs inside a fiber.
    public static var isInFiber: Bool { qv_fiber_current_owner() != nil }

    /// Inside a fiber: switches back to whoever resumed it; returns when resumed again, maybe on
    /// another thread. Outside a fiber it aborts the process with a message.
    @inline(__always)
    public static func suspend() {
        qv_fiber_suspend()
    }

    /// Inside a fiber: like `suspend()`, and the resumer runs `commit(fiber)` on its own thread right
    /// after the fiber has switched out, before its `resume()` returns (Go's `gopark` unlock function).
    ///
    /// This is the safe place to make a parked fiber visible to whoever will wake it (a timer heap, a
    /// channel's wait queue, a poller): a fiber that published itself *before* suspending could be
    /// resumed by another thread while it is still running on this one. Rule: a fiber may be resumed
    /// again only after the `resume()` that ran it has returned or has started running its commit.
    public static func suspend(commit: @escaping (Fiber) -> Void) {
        setPendingCommit(commit)
        qv_fiber_suspend()
    }

    /// Not inlined so that the strong reference to the current fiber is released before the fiber
    /// suspends (a parked fiber keeps no reference to itself on its stack).
    @inline(never)
    private static func setPendingCommit(_ commit: @escaping (Fiber) -> Void) {
        guard let me = current else {
            // Outside a fiber qv_fiber_suspend() aborts next; inside a scheduler task the commit would be lost.
            precondition(!isInFiber, "Fiber.suspend(commit:) inside a scheduler task: use the scheduler's primitives")
            return
        }
        me.pendingCommit = commit
    }

    /// Called once, on the fiber's own stack, by its first run: hands out the body and forgets it.
    /// Not inlined so that no reference to the fiber stays alive on the fiber's stack while the body
    /// runs — a fiber dropped while suspended can then be freed.
    @inline(never)
    fileprivate static func takeBody(_ owner: UnsafeMutableRawPointer) -> () -> Void {
        let fiber = Unmanaged<Fiber>.fromOpaque(owner).takeUnretainedValue()
        let body = fiber.body
        fiber.body = nil
        return body ?? {}
    }
}

/// First Swift code on a new fiber's stack (called by the assembly trampoline). When it returns, the
/// C exit path marks the fiber finished and switches back to the resumer for the last time.
private let fiberEntry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
    // The trampoline passes the fiber's qv_fiber_ctx, whose owner is the Fiber.
    guard let context = raw?.assumingMemoryBound(to: qv_fiber_ctx.self), let owner = context.pointee.owner else {
        return
    }
    let body = Fiber.takeBody(owner)
    body()
}

/// The value a fiber's body finished with. Set once, by the fiber, right before its body returns;
/// read by whoever saw `resume()` return true (or `isFinished`), which orders the two.
public final class FiberResult<Value>: @unchecked Sendable {
    // @unchecked Sendable: `stored` is written once by the fiber before it finishes and read only
    // after resume() returned true on the reader's side (resume/finish is the hand-off).
    private var stored: Value?
    public init() {}
    /// Nil until the fiber has finished.
    public var value: Value? { stored }
    fileprivate func set(_ value: Value) { stored = value }
}

extension Fiber {
    /// Creates a fiber whose body returns a value; the value is in `result.value` once the fiber
    /// has finished (`resume()` returned true).
    public static func returning<Value>(
        name: String = "", stackSize: Int = FiberStack.defaultSize, pool: StackPool = .shared,
        file: StaticString = #fileID, line: UInt = #line, _ body: @escaping () -> Value
    ) -> (fiber: Fiber, result: FiberResult<Value>) {
        let result = FiberResult<Value>()
        let fiber = Fiber(name: name, stackSize: stackSize, pool: pool, file: file, line: line) {
            result.set(body())
        }
        return (fiber, result)
    }
}
