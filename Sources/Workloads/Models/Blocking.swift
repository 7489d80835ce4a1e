// Blocking: the one seam that lets the same synchronous task body run on a fiber and on a plain OS thread.
//
// # The seam
//
// A sync body (SyncBodies) waits by calling `Blocking.sleep`, `Blocking.call` (a real blocking syscall) and
// `Blocking.wait` (a channel), and starts children through its `TaskHost`. Each call asks one question, "is
// the caller a fiber?" (`Scheduler.isInFiber`, the runtime's own carrier slot):
// - on a fiber the call is what the body called before this seam existed: `Scheduler.sleep` parks the fiber,
//   `Scheduler.blocking {}` pins or hands off its carrier, a channel wait parks;
// - on a thread of the threads model (one bound to a `ThreadContext`) the thread first records what it is
//   about to block in (its `ThreadSlot`: the per-thread state the dashboard draws, never read from /proc),
//   then blocks in the kernel: a sleep is a `ppoll` on the model's stop pipe with the sleep as its timeout
//   (so stopping the model cuts every sleep short and teardown joins within a second), a blocking call just
//   runs, a channel wait blocks the thread on the channel's futex;
// - on any other plain thread (a test, a pool worker of the loops) it simply blocks, as the runtime's calls do.
//
// Socket I/O has the same shape (read / write / connect record `.read` / `.write` / `.connect` through
// `Blocking.wait` on a thread, park on a fiber); the HTTP client brings its own calls.
//
// Rejected: a protocol "executor" passed to every body (each call site would change, and the bodies in the
// code pane would stop reading like plain code); a thread-local read on fibers (fiber code must not use
// thread-locals: a fiber migrates between carriers across a park, see docs/ARCHITECTURE.md), which is why
// the fiber question comes first and a fiber never reads `ThreadContext`.

import Foundation
import Runtime
import Synchronization
import Telemetry

/// Where a task body waits: see the essay at the top of this file.
enum Blocking {
    /// Sleeps `nanoseconds`: parks a fiber; on a threads-model thread, blocks in `ppoll` (state `sleep`),
    /// returning early when the model stops.
    static func sleep(nanoseconds: UInt64) {
        guard !Scheduler.isInFiber, let context = ThreadContext.current else {
            return Scheduler.sleep(nanoseconds: nanoseconds)
        }
        context.slot.enter(.sleep)
        defer { context.slot.enter(.running) }
        context.stop.sleep(nanoseconds: nanoseconds)
    }

    /// A real blocking call: a fiber runs it in `Scheduler.blocking {}` (pin or handoff); a threads-model
    /// thread records `state` and makes the call.
    static func call<T>(_ state: ThreadState, _ body: () -> T) -> T {
        if Scheduler.isInFiber { return Scheduler.blocking(body) }
        return wait(state, body)
    }

    /// A wait the body makes through a primitive that already parks a fiber and blocks a thread (a channel,
    /// a join, a socket call): a threads-model thread records `state` around it.
    static func wait<T>(_ state: ThreadState, _ body: () throws -> T) rethrows -> T {
        guard !Scheduler.isInFiber, let context = ThreadContext.current else { return try body() }
        context.slot.enter(state)
        defer { context.slot.enter(.running) }
        return try body()
    }
}

/// A child task started by a body (a fan-out child, a chatty producer): joined by its parent.
struct ChildTask: Sendable {
    let join: @Sendable () -> Void
}

/// Starts a body's children: fibers on a scheduler, or threads of the threads model.
protocol TaskHost: Sendable {
    /// Starts `body` as a task of `kind` named `name`; nil when the host refuses (stopping; threads: at the
    /// cap or refused by the system), in which case the child is skipped.
    func spawn(_ name: String, kind: TaskKind, _ body: @escaping @Sendable () -> Void) -> ChildTask?
}

/// What the thread of a threads-model task is bound to: its slot and the model's stop signal.
final class ThreadBinding: Sendable {
    let slot: ThreadSlot
    let stop: StopSignal
    init(slot: ThreadSlot, stop: StopSignal) {
        self.slot = slot
        self.stop = stop
    }
}

/// The calling plain thread's binding (a pthread key). Fibers never read it (see the essay).
enum ThreadContext {
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k, nil)
        precondition(rc == 0, "ThreadContext.key: pthread_key_create failed (\(rc))")
        return k
    }()

    /// The binding of the calling thread, if `run(bound:)` is on its stack.
    static var current: ThreadBinding? {
        guard let raw = pthread_getspecific(key) else { return nil }
        // safety: `run(bound:)` keeps the binding alive (it holds it) for as long as the key points at it.
        return Unmanaged<ThreadBinding>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Runs `body` with the calling thread bound to `binding`. Called on plain threads only.
    static func run(bound binding: ThreadBinding, _ body: () -> Void) {
        // safety: unretained; `binding` is held by this frame until the key is cleared below.
        pthread_setspecific(key, Unmanaged.passUnretained(binding).toOpaque())
        defer {
            pthread_setspecific(key, nil)
            withExtendedLifetime(binding) {}
        }
        body()
    }
}

/// One thread's state as the thread itself records it: what it is doing, for which task kind, since when, and
/// how much CPU time it has used. Written only by the thread currently holding the slot; read by the sampler at
/// any time.
///
/// Busy is CPU time, from the thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`) read at each transition: a
/// "running" thread may be waiting for a core (more runnable threads than cores), so time in `running` is not
/// busy time. The CPU used since the last transition is counted at the next one (as carriers publish in batches).
final class ThreadSlot: Sendable {
    let id: Int
    // relaxed (all five): gauges the owner thread publishes for the sampler, which orders nothing by them. A read
    // between two of an owner's stores sees one transition half done: one frame's state age is off by the
    // transition, the next frame is right.
    private let stateIndex = Atomic<Int>(ThreadSlot.index(of: .idle))
    private let kindIndex = Atomic<Int>(-1)
    private let since = Atomic<UInt64>(0)
    private let busy = Atomic<UInt64>(0)
    /// The owner thread's CPU clock at its previous transition (owner only).
    private let cpuMark = Atomic<UInt64>(0)

    init(id: Int) { self.id = id }

    private static func index(of state: ThreadState) -> Int { ThreadState.allCases.firstIndex(of: state)! }

    /// The calling thread's CPU time, ns.
    static func threadCPUNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// The spec index of the task on this slot (-1: none). Any thread.
    var kind: Int { kindIndex.load(ordering: .relaxed) }

    /// Owner: a task of spec `kind` starts running on this slot (a new thread's CPU clock starts near 0, a pool
    /// thread's where its previous job left it).
    func begin(kind: Int, now: UInt64 = Monotonic.now()) {
        cpuMark.store(Self.threadCPUNanos(), ordering: .relaxed)
        kindIndex.store(kind, ordering: .relaxed)
        since.store(now, ordering: .relaxed)
        stateIndex.store(Self.index(of: .running), ordering: .relaxed)
    }

    /// Owner: the thread enters `state` now; the CPU it used since its previous transition is added to busy.
    func enter(_ state: ThreadState, now: UInt64 = Monotonic.now()) {
        let cpu = Self.threadCPUNanos()
        busy.add(cpu &- min(cpu, cpuMark.load(ordering: .relaxed)), ordering: .relaxed)
        cpuMark.store(cpu, ordering: .relaxed)
        since.store(now, ordering: .relaxed)
        stateIndex.store(Self.index(of: state), ordering: .relaxed)
    }

    /// Owner: the task ended; the slot is idle (no kind).
    func end(now: UInt64 = Monotonic.now()) {
        enter(.idle, now: now)
        kindIndex.store(-1, ordering: .relaxed)
    }

    /// One read for the sampler: the state, the spec index (-1: none), ns in the state, CPU ns used in all.
    struct Reading {
        var state: ThreadState
        var kind: Int
        var stateNanos: UInt64
        var busyNanos: UInt64
    }

    func read(now: UInt64) -> Reading {
        let start = min(now, since.load(ordering: .relaxed))
        return Reading(
            state: ThreadState.allCases[stateIndex.load(ordering: .relaxed)], kind: kindIndex.load(ordering: .relaxed),
            stateNanos: now &- start, busyNanos: busy.load(ordering: .relaxed))
    }
}
