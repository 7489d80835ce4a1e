// Fiber synchronisation: channels, a mutex and a semaphore that park the fiber, not the carrier.
//
// Each primitive keeps its waiters in a FIFO under a short internal lock (never held across a switch): a
// `SpinLock`, which costs one compare-exchange and one plain store per critical section where a pthread mutex cost two
// atomic read-modify-writes and two library calls (the sections are a few dozen instructions, the spin never waits
// long; see docs/performance.md, Session 6). A
// waiter carries the task (or a Parker for a plain thread) and, for channels, a pointer to the value slot on
// the waiting party's own stack (Go's sudog.elem): a sender that finds a parked receiver writes the value
// straight into the receiver's slot, a receiver that finds a parked sender moves the value out of the
// sender's slot — no boxing, no allocation. The slot stays valid because the waiting party is parked inside
// the `withUnsafeMutablePointer` scope that produced it until it is completed.
//
// Whoever removes a waiter from a list completes it (slot, `closed`, `done`) under the lock and then wakes it
// (see Scheduler.wake), so every park is matched by one wake; parks loop on `done`, so a stray wake-up never
// ends a wait early. A fiber reuses one waiter object for all its waits (it waits on one thing at a time);
// `FiberTask.complete()` drops it, which breaks the task ↔ waiter cycle.
//
// The FIFO is intrusive (`WaiterQueue`, linked through `Waiter.next`, Go's sudog list) and holds no reference:
// a listed waiter is kept alive by its waiting party — a fiber's by its task (`FiberTask.waiter`; a parked task
// and its waiter keep each other alive), a plain thread's by the thread's frame, which waits in `wait` — and
// that party cannot leave `wait` before its completer stores `doneFlag`. The completer does that, and takes a +1
// of the task (or parker) to wake, under the primitive's lock (`Waiter.complete`), and wakes after the lock is
// released (`PendingWake.fire`) touching only what it retained: a waiter is never touched outside the lock by anyone
// but its waiting party, so `Scheduler.shutdown` (which takes a waiter off under the lock unless it is done, then
// cancels its fiber and drops the waiter) cannot free one under a completer's feet. So a hand-over retains and
// releases no waiter (a `Deque<Waiter>` and the outcome's copy cost two retains and two releases per message, and the
// deque's uniqueness checks and index arithmetic on top).
import DequeModule
import Synchronization

/// A parked party: a fiber (woken through its scheduler) or a plain thread (woken through a Parker).
@usableFromInline
final class Waiter: @unchecked Sendable {
    // @unchecked Sendable: `slot`/`closed` are written by the completer under the primitive's lock before the
    // wake, and read by the waiter after it (the release store of `doneFlag`, read by the waiter's acquire load,
    // orders them; see `complete`).
    @usableFromInline let task: FiberTask?
    /// `task` unretained, for the hot paths to borrow: binding the strong `task` (`if let task`) retains it and
    /// releases it after the call, which `_withUnsafeGuaranteedRef` on that binding does not undo. `task` holds the +1.
    @usableFromInline let taskRef: Unmanaged<FiberTask>?
    @usableFromInline let parker: Parker?
    /// The waiting party's `T?` on its own stack (channels only).
    @usableFromInline @exclusivity(unchecked) var slot: UnsafeMutableRawPointer?
    @usableFromInline @exclusivity(unchecked) var closed = false
    @usableFromInline let doneFlag = Atomic<Bool>(false)
    /// The primitive whose list holds this waiter during its current wait: set by `forCaller` (under that
    /// primitive's lock) before `doneFlag` is reset. Read only by `Scheduler.shutdown`, and only while `doneFlag`
    /// is false: the waiting fiber is then inside a method of that primitive, which keeps it alive.
    /// unowned(unsafe), not weak: a weak reference cost a side-table weak-count update on every wait (~10 % of a
    /// channel hand-over); after a wait the field may dangle and is never read.
    @usableFromInline @exclusivity(unchecked) unowned(unsafe) var list: (any WaiterList)?
    /// The next waiter in the `WaiterQueue` that lists this one; guarded by that primitive's lock.
    @usableFromInline @exclusivity(unchecked) var next: Unmanaged<Waiter>?

    init(task: FiberTask?) {
        self.task = task
        taskRef = task.map { Unmanaged.passUnretained($0) }
        parker = task == nil ? Parker() : nil
    }

    /// A waiter for the caller, about to be listed by `list` (called under `list`'s lock): the calling fiber's
    /// own (reset), or a fresh one for a plain thread. `slot` is the caller's value slot (channels only).
    /// `waiter` is unretained; `keepAlive` is the plain thread's fresh waiter, which the caller holds until its
    /// wait is over (nil for a fiber: its task holds its waiter, and the fiber is running this call).
    @usableFromInline
    static func forCaller(listedIn list: any WaiterList, slot: UnsafeMutableRawPointer? = nil) -> Listed {
        let listed: Listed
        if let own = callingFibersWaiter() {
            listed = Listed(waiter: own, keepAlive: nil)
        } else {
            let fresh = Waiter(task: nil)
            listed = Listed(waiter: Unmanaged.passUnretained(fresh), keepAlive: fresh)
        }
        listed.waiter._withUnsafeGuaranteedRef { w in
            // Before the reset of `doneFlag` (see `list`); for a new waiter the reset is a no-op.
            w.slot = slot
            w.list = list
            w.closed = false
            // relaxed: nobody else writes or acts on the flag now — the previous wait ended only after this fiber
            // read the previous completer's `true` (its store is over), and `shutdown` reads it only after every
            // carrier has exited. The primitive's lock release publishes the reset with the listing.
            w.doneFlag.store(false, ordering: .relaxed)
        }
        return listed
    }

    /// The caller's waiter for one wait (see `forCaller`).
    @usableFromInline
    struct Listed {
        // Unmanaged: kept alive by the waiting party (see the essay above), which is the holder of this value.
        @usableFromInline let waiter: Unmanaged<Waiter>
        @usableFromInline let keepAlive: Waiter?
        @inlinable init(waiter: Unmanaged<Waiter>, keepAlive: Waiter?) {
            self.waiter = waiter
            self.keepAlive = keepAlive
        }
        /// Parks until completed; true when completed by `close` (channels).
        @inlinable func wait(reason: ParkReason) -> Bool {
            let closed = waiter._withUnsafeGuaranteedRef { w -> Bool in
                w.wait(reason: reason)
                return w.closed
            }
            withExtendedLifetime(keepAlive) {}  // the plain thread's waiter lives until its wait is over
            return closed
        }
    }

    /// The calling fiber's own waiter, made and registered at its first wait; nil on a plain thread (and inside a
    /// `blocking {}` region, which waits as one). The carrier and the task are borrowed, not retained: the carrier
    /// outlives every call on its thread, and the running task is held by the carrier's `Scheduler.run` frame (a
    /// strong `currentTask` and `t.waiter` cost four retains and two releases per wait; this, two and one —
    /// `unowned(unsafe)` locals instead were worse: a retain at every use).
    /// Unretained: the task holds its waiter until it completes, and it is the caller.
    @usableFromInline @inline(never)
    static func callingFibersWaiter() -> Unmanaged<Waiter>? {
        guard let u = CarrierTLS.currentUnretained() else { return nil }
        return u._withUnsafeGuaranteedRef { c -> Unmanaged<Waiter>? in
            // Borrowed for this call (see above). Set only on a fiber's stack (see Carrier.runsFiber).
            guard let current = c.currentRef else { return nil }
            return current._withUnsafeGuaranteedRef { t -> Unmanaged<Waiter> in
                // A previous completer may still be between its `done` store and its wake: that wake then arrives as
                // a stray wake-up, which `wait` tolerates.
                if let own = t.waiter { return Unmanaged.passUnretained(own) }
                let made = Waiter(task: t)
                t.waiter = made
                t.scheduler.syncWaiters.withLock { $0[ObjectIdentifier(made)] = made }
                return Unmanaged.passUnretained(made)
            }
        }
    }

    /// Completes the waiter, under the lock of the primitive that listed it (the caller has just taken it off):
    /// takes a +1 of the task (or the parker) through `retainedPointer` — an opaque call, so the optimizer can neither
    /// sink it below the store nor treat the load as borrowed from `self` — then stores `doneFlag`. Nothing touches
    /// the waiter after that store: its waiting party may return and free it. The caller wakes the result with
    /// `fire` once the lock is released.
    @inlinable
    func complete() -> PendingWake {
        let wake =
            if let taskRef {
                taskRef._withUnsafeGuaranteedRef { PendingWake(retained: retainedPointer($0), isTask: true) }
            } else {
                PendingWake(retained: retainedPointer(parker!), isTask: false)
            }
        // releasing, not seq-cst (an `xchg` per hand-over on x86): there is no store-load race on the flag to order.
        // Litmus, both cases of the wake protocol (FiberTask.swift, "Every wake is a read-modify-write"): the waiter
        // loads the flag (false), then parks (its carrier CASes the task state runnable -> parked after the switch);
        // we store the flag, then `fire` CASes the state in `wake`. RMWs of the state are totally ordered. (a) Our
        // CAS first: the next RMW on the state — park's exchange of the permit, or the carrier's failing CAS and its
        // exchange — reads it (acquire, release sequence), and the re-check comes after that RMW (the same thread, or
        // through the requeue's queue hand-over), so it sees `true`. (b) The carrier's CAS first: our CAS sees parked
        // and makes it runnable; it is resumed through a queue hand-over (release push, acquire pop) after our CAS,
        // so the re-check sees `true`. A plain thread's Parker orders the same way through its mutex. The acquire
        // load in `wait` reading `true` also synchronizes with this store directly, which is what publishes `slot`
        // and `closed`.
        doneFlag.store(true, ordering: .releasing)
        return wake
    }

    /// Parks until `complete`.
    @inlinable
    func wait(reason: ParkReason) {
        while !doneFlag.load(ordering: .acquiring) {  // acquiring: pairs with complete's release store.
            if let taskRef {
                // Borrowed (a retain and release per park): the caller holds this waiter, whose `task` holds it.
                taskRef._withUnsafeGuaranteedRef { $0.park(reason: reason) }
            } else {
                parker!.park()
            }
        }
    }

    /// The value slot as a typed pointer. Only under the primitive's lock, while the owner is listed.
    @inlinable
    func typedSlot<T>(_: T.Type) -> UnsafeMutablePointer<T?> {
        // safety: `slot` was made from an UnsafeMutablePointer<T?> by the same Channel<T> (see send/receive).
        slot!.assumingMemoryBound(to: Optional<T>.self)
    }
}

/// The wake a completer owes a waiter it completed (`Waiter.complete`): a +1 of the waiting task or parker.
@usableFromInline
struct PendingWake {
    @usableFromInline let retained: UnsafeMutableRawPointer
    @usableFromInline let isTask: Bool
    @inlinable init(retained: UnsafeMutableRawPointer, isTask: Bool) {
        self.retained = retained
        self.isTask = isTask
    }

    /// Wakes the waiting party, consuming the +1. After the primitive's lock is released.
    @inlinable
    func fire() {
        if isTask {
            // The +1 goes to the wake, which moves it into the LIFO slot as it is (or releases it). The scheduler is
            // borrowed (a retain and release per hand-over on a line every carrier writes): it outlives its tasks.
            // Unmanaged: borrowed from the +1 for the scheduler's look-up.
            let s = Unmanaged<FiberTask>.fromOpaque(retained)._withUnsafeGuaranteedRef {
                Unmanaged.passUnretained($0.scheduler)
            }
            s._withUnsafeGuaranteedRef { $0.wake(retained: retained) }
        } else {
            // Unmanaged: takes over the +1.
            Unmanaged<Parker>.fromOpaque(retained).takeRetainedValue().unpark(poller: nil)
        }
    }
}

/// A primitive that lists waiters, so that `Scheduler.shutdown` can take a cancelled fiber's waiter off it.
@usableFromInline
protocol WaiterList: AnyObject, Sendable {
    /// Removes `w` if it is listed. Any thread; takes the primitive's lock.
    func removeWaiter(_ w: Waiter)
}

/// A primitive's FIFO of waiters, linked through `Waiter.next`; holds no reference (see the essay at the top).
/// Under the owning primitive's lock.
@usableFromInline
struct WaiterQueue {
    @usableFromInline var head: Unmanaged<Waiter>?
    @usableFromInline var tail: Unmanaged<Waiter>?
    @inlinable init() {}

    @inlinable var isEmpty: Bool { head == nil }

    @inlinable mutating func append(_ w: Unmanaged<Waiter>) {
        w._withUnsafeGuaranteedRef { $0.next = nil }
        if let t = tail { t._withUnsafeGuaranteedRef { $0.next = w } } else { head = w }
        tail = w
    }

    @inlinable mutating func popFirst() -> Unmanaged<Waiter>? {
        guard let h = head else { return nil }
        head = h._withUnsafeGuaranteedRef { $0.next }
        if head == nil { tail = nil }
        return h
    }

    /// Empties the queue, calling `body` on each waiter in order (it may complete them: `next` is read first).
    @inlinable mutating func removeAll(_ body: (Unmanaged<Waiter>) -> Void) {
        while let w = popFirst() { body(w) }
    }

    /// Removes `w` if present (identity).
    @usableFromInline mutating func remove(_ w: Waiter) -> Bool {
        let target = Unmanaged.passUnretained(w).toOpaque()
        var prev: Unmanaged<Waiter>? = nil
        var cur = head
        while let c = cur {
            let next = c._withUnsafeGuaranteedRef { $0.next }
            if c.toOpaque() == target {
                if let p = prev { p._withUnsafeGuaranteedRef { $0.next = next } } else { head = next }
                if next == nil { tail = prev }
                return true
            }
            prev = c
            cur = next
        }
        return false
    }
}

extension Unmanaged where Instance == Waiter {
    /// `complete` of a waiter just taken off a `WaiterQueue` (borrowed: its waiting party keeps it alive until then).
    @inlinable func complete() -> PendingWake { _withUnsafeGuaranteedRef { $0.complete() } }

    /// `typedSlot` of a listed waiter (borrowed: see above).
    @inlinable func typedSlot<T>(_: T.Type) -> UnsafeMutablePointer<T?> {
        _withUnsafeGuaranteedRef { $0.typedSlot(T.self) }
    }
}

/// Errors of channel operations.
public enum ChannelError: Error, Equatable, Sendable {
    case closed
}

/// A multi-producer multi-consumer channel. `capacity` 0 is a rendezvous (unbuffered), `nil` is unbounded.
public final class Channel<T: Sendable>: Sendable, WaiterList {
    @usableFromInline
    struct State {
        @usableFromInline var buffer = Deque<T>()
        @usableFromInline var receivers = WaiterQueue()
        @usableFromInline var senders = WaiterQueue()
        @usableFromInline var closed = false
        @inlinable init() {}
    }
    @usableFromInline
    enum Outcome {
        case done
        case wake(PendingWake)
        case wait(Waiter.Listed)
        case closed
    }
    public let capacity: Int?
    @usableFromInline let state = SpinLock<State>(State())

    public init(capacity: Int? = 0) {
        precondition(capacity.map { $0 >= 0 } ?? true, "Channel: capacity must be ≥ 0")
        self.capacity = capacity
    }

    /// Sends `value`; parks while the channel is full. Throws `.closed` once closed.
    @inlinable
    public func send(_ value: T) throws(ChannelError) {
        var mine: T? = value
        try withUnsafeMutablePointer(to: &mine) { (p: UnsafeMutablePointer<T?>) throws(ChannelError) in
            let outcome = state.withLock { s -> Outcome in
                if s.closed { return .closed }
                if let r = s.receivers.popFirst() {
                    r.typedSlot(T.self).pointee = p.pointee.take()
                    return .wake(r.complete())
                }
                if capacity == nil || s.buffer.count < capacity! {
                    s.buffer.append(p.pointee.take()!)
                    return .done
                }
                let w = Waiter.forCaller(listedIn: self, slot: UnsafeMutableRawPointer(p))
                s.senders.append(w.waiter)
                return .wait(w)
            }
            // consume: the bound values take over the outcome's (a plain thread's waiter: no retain and release).
            switch consume outcome {
            case .done: return
            case .closed: throw .closed
            case .wake(let r): r.fire()
            case .wait(let w):
                if w.wait(reason: .channel) { throw .closed }
            }
        }
    }

    /// Receives the next value; parks while the channel is empty. Nil once closed and drained.
    @inlinable
    public func receive() -> T? {
        var mine: T? = nil
        return withUnsafeMutablePointer(to: &mine) { (p: UnsafeMutablePointer<T?>) -> T? in
            let outcome = state.withLock { s -> Outcome in
                if let v = s.buffer.popFirst() {
                    p.pointee = v
                    // Room now: move one parked sender's value into the buffer.
                    if let snd = s.senders.popFirst() {
                        s.buffer.append(snd.typedSlot(T.self).pointee.take()!)
                        return .wake(snd.complete())
                    }
                    return .done
                }
                if let snd = s.senders.popFirst() {
                    p.pointee = snd.typedSlot(T.self).pointee.take()
                    return .wake(snd.complete())
                }
                if s.closed { return .closed }
                let w = Waiter.forCaller(listedIn: self, slot: UnsafeMutableRawPointer(p))
                s.receivers.append(w.waiter)
                return .wait(w)
            }
            switch consume outcome {  // consume: as in send.
            case .closed: return nil
            case .done: return p.pointee.take()
            case .wake(let snd):
                snd.fire()
                return p.pointee.take()
            case .wait(let w):
                return w.wait(reason: .channel) ? nil : p.pointee.take()
            }
        }
    }

    /// Receives without parking: nil when nothing is ready.
    public func tryReceive() -> T? {
        let r = state.withLock { s -> (T, PendingWake?)? in
            if let v = s.buffer.popFirst() {
                if let snd = s.senders.popFirst() {
                    s.buffer.append(snd.typedSlot(T.self).pointee.take()!)
                    return (v, snd.complete())
                }
                return (v, nil)
            }
            if let snd = s.senders.popFirst() {
                return (snd.typedSlot(T.self).pointee.take()!, snd.complete())
            }
            return nil
        }
        r?.1?.fire()
        return r?.0
    }

    /// Closes the channel: waiting receivers get nil, waiting senders throw `.closed`; buffered values can
    /// still be received.
    public func close() {
        let wakes = state.withLock { s -> [PendingWake] in
            if s.closed { return [] }
            s.closed = true
            var all: [PendingWake] = []
            let complete = { (w: Unmanaged<Waiter>) in
                w._withUnsafeGuaranteedRef { $0.closed = true }
                all.append(w.complete())
            }
            s.receivers.removeAll(complete)
            s.senders.removeAll(complete)
            return all
        }
        for w in wakes { w.fire() }
    }

    /// Values buffered now.
    public var count: Int { state.withLock { $0.buffer.count } }

    @usableFromInline func removeWaiter(_ w: Waiter) {
        state.withLock { s in
            if !s.receivers.remove(w) { _ = s.senders.remove(w) }
        }
    }
}

/// A fair (FIFO hand-over) mutex for fibers: a contended `lock()` parks the fiber.
public final class FiberMutex: Sendable, WaiterList {
    private struct State {
        var locked = false
        var waiters = WaiterQueue()
    }
    private let state = SpinLock<State>(State())

    public init() {}

    public func lock() {
        let w = state.withLock { s -> Waiter.Listed? in
            if !s.locked {
                s.locked = true
                return nil
            }
            let w = Waiter.forCaller(listedIn: self)
            s.waiters.append(w.waiter)
            return w
        }
        // Ownership is handed to us by unlock() before the wake.
        _ = w?.wait(reason: .mutex)
    }

    public func unlock() {
        let next = state.withLock { s -> PendingWake? in
            precondition(s.locked, "FiberMutex.unlock of an unlocked mutex")
            if let w = s.waiters.popFirst() { return w.complete() }  // stays locked: handed over
            s.locked = false
            return nil
        }
        next?.fire()
    }

    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    @usableFromInline func removeWaiter(_ w: Waiter) { state.withLock { _ = $0.waiters.remove(w) } }
}

/// A counting semaphore for fibers: `wait()` parks while the count is zero.
public final class FiberSemaphore: Sendable, WaiterList {
    private struct State {
        var count: Int
        var waiters = WaiterQueue()
    }
    private let state: SpinLock<State>

    public init(value: Int) {
        precondition(value >= 0, "FiberSemaphore: initial value must be ≥ 0")
        state = SpinLock(State(count: value))
    }

    public func wait() {
        let w = state.withLock { s -> Waiter.Listed? in
            if s.count > 0 {
                s.count -= 1
                return nil
            }
            let w = Waiter.forCaller(listedIn: self)
            s.waiters.append(w.waiter)
            return w
        }
        _ = w?.wait(reason: .mutex)
    }

    @usableFromInline func removeWaiter(_ w: Waiter) { state.withLock { _ = $0.waiters.remove(w) } }

    public func signal() {
        let next = state.withLock { s -> PendingWake? in
            if let w = s.waiters.popFirst() { return w.complete() }
            s.count += 1
            return nil
        }
        next?.fire()
    }
}
