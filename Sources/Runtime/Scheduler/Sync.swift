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
import DequeModule
import Synchronization

/// A parked party: a fiber (woken through its scheduler) or a plain thread (woken through a Parker).
@usableFromInline
final class Waiter: @unchecked Sendable {
    // @unchecked Sendable: `slot`/`closed` are written by the completer under the primitive's lock before the
    // wake, and read by the waiter after it (the release store of `doneFlag`, read by the waiter's acquire load,
    // orders them; see `finish`).
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

    init(task: FiberTask?) {
        self.task = task
        taskRef = task.map { Unmanaged.passUnretained($0) }
        parker = task == nil ? Parker() : nil
    }

    /// A waiter for the caller, about to be listed by `list` (called under `list`'s lock): the calling fiber's
    /// own (reset), or a fresh one for a plain thread. `slot` is the caller's value slot (channels only).
    @usableFromInline
    static func forCaller(listedIn list: any WaiterList, slot: UnsafeMutableRawPointer? = nil) -> Waiter {
        let w = callingFibersWaiter() ?? Waiter(task: nil)
        // Before the reset of `doneFlag` (see `list`); for a new waiter the reset is a no-op.
        w.slot = slot
        w.list = list
        w.closed = false
        // relaxed: nobody else writes or acts on the flag now — the previous wait ended only after this fiber read
        // the previous completer's `true` (its store is over), and `shutdown` reads it only after every carrier has
        // exited. The primitive's lock release publishes the reset with the listing.
        w.doneFlag.store(false, ordering: .relaxed)
        return w
    }

    /// The calling fiber's own waiter, made and registered at its first wait; nil on a plain thread (and inside a
    /// `blocking {}` region, which waits as one). The carrier and the task are borrowed, not retained: the carrier
    /// outlives every call on its thread, and the running task is held by the carrier's `Scheduler.run` frame (a
    /// strong `currentTask` and `t.waiter` cost four retains and two releases per wait; this, two and one —
    /// `unowned(unsafe)` locals instead were worse: a retain at every use).
    @usableFromInline @inline(never)
    static func callingFibersWaiter() -> Waiter? {
        guard Fiber.isInFiber, let u = CarrierTLS.currentUnretained() else { return nil }
        return u._withUnsafeGuaranteedRef { c -> Waiter? in
            // Borrowed for this call (see above).
            guard let current = c.currentRef else { return nil }
            return current._withUnsafeGuaranteedRef { t -> Waiter in
                // A previous completer may still be between its `done` store and its wake: that wake then arrives as
                // a stray wake-up, which `wait` tolerates.
                if let own = t.waiter { return own }
                let made = Waiter(task: t)
                t.waiter = made
                t.scheduler.syncWaiters.withLock { $0[ObjectIdentifier(made)] = made }
                return made
            }
        }
    }

    /// Completes and wakes. The caller has removed the waiter from its list (under the lock).
    @inlinable
    func finish(reason: ParkReason) {
        // releasing, not seq-cst (an `xchg` per hand-over on x86): there is no store-load race on the flag to order.
        // Litmus, both cases of the wake protocol (FiberTask.swift, "Every wake is a read-modify-write"): the waiter
        // loads the flag (false), then parks (its carrier CASes the task state runnable -> parked after the switch);
        // we store the flag, then CAS the state in `wake`. RMWs of the state are totally ordered. (a) Our CAS first:
        // the next RMW on the state — park's exchange of the permit, or the carrier's failing CAS and its exchange —
        // reads it (acquire, release sequence), and the re-check comes after that RMW (the same thread, or through
        // the requeue's queue hand-over), so it sees `true`. (b) The carrier's CAS first: our CAS sees parked and
        // makes it runnable; it is resumed through a queue hand-over (release push, acquire pop) after our CAS, so
        // the re-check sees `true`. A plain thread's Parker orders the same way through its mutex. The acquire load
        // in `wait` reading `true` also synchronizes with this store directly, which is what publishes `slot` and
        // `closed`.
        doneFlag.store(true, ordering: .releasing)
        if let taskRef {
            // Borrowed, the task and its scheduler (a retain and release of each per hand-over, the scheduler's on a
            // line every carrier writes): every caller holds a reference to this waiter across the call (the one
            // it took off the list), whose `task` holds the task, whose scheduler outlives it (`scheduler`).
            taskRef._withUnsafeGuaranteedRef { t in
                Unmanaged.passUnretained(t.scheduler)._withUnsafeGuaranteedRef { $0.wake(t, reason: reason) }
            }
        } else {
            parker!.unpark(poller: nil)
        }
    }

    /// Parks until `finish`.
    @inlinable
    func wait(reason: ParkReason) {
        while !doneFlag.load(ordering: .acquiring) {  // acquiring: pairs with finish's release store.
            if let taskRef {
                // Borrowed (a retain and release per park): the caller holds this waiter, whose `task` holds it.
                taskRef._withUnsafeGuaranteedRef { $0.park(reason: reason) }
            } else {
                parker!.park()
            }
        }
    }

    /// Parks until `finish` (as `wait`) and returns `closed`, with `w` out of the caller's frame across the park when
    /// it is the calling fiber's own waiter: a fiber dropped while parked (shutdown) never returns, and the frame's
    /// reference kept the waiter — and through its `task` the task record — alive for good. The fiber's waiter
    /// outlives the wait without it: its task's `waiter` field owns it until the task completes or is cancelled. A
    /// plain thread's waiter (never dropped) stays in the frame. Callers pass their binding with `consume`.
    @inlinable
    static func park(_ w: consuming Waiter, reason: ParkReason) -> Bool {
        guard w.taskRef != nil else {
            w.wait(reason: reason)
            return w.closed
        }
        // Unmanaged: borrowed from the task's `waiter` field, which holds it across the park (see above).
        let borrowed = Unmanaged.passUnretained(w)
        _ = consume w
        return borrowed._withUnsafeGuaranteedRef { own in
            own.wait(reason: reason)
            return own.closed
        }
    }

    /// The value slot as a typed pointer. Only under the primitive's lock, while the owner is listed.
    @inlinable
    func typedSlot<T>(_: T.Type) -> UnsafeMutablePointer<T?> {
        // safety: `slot` was made from an UnsafeMutablePointer<T?> by the same Channel<T> (see send/receive).
        slot!.assumingMemoryBound(to: Optional<T>.self)
    }
}

/// A primitive that lists waiters, so that `Scheduler.shutdown` can take a cancelled fiber's waiter off it.
@usableFromInline
protocol WaiterList: AnyObject, Sendable {
    /// Removes `w` if it is listed. Any thread; takes the primitive's lock.
    func removeWaiter(_ w: Waiter)
}

extension Deque where Element == Waiter {
    /// Removes `w` if present (identity). Under the owning primitive's lock.
    @usableFromInline mutating func remove(_ w: Waiter) -> Bool {
        guard let i = firstIndex(where: { $0 === w }) else { return false }
        remove(at: i)
        return true
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
        @usableFromInline var receivers = Deque<Waiter>()
        @usableFromInline var senders = Deque<Waiter>()
        @usableFromInline var closed = false
        @inlinable init() {}
    }
    @usableFromInline
    enum Outcome {
        case done
        case wake(Waiter)
        case wait(Waiter)
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
                    return .wake(r)
                }
                if capacity == nil || s.buffer.count < capacity! {
                    s.buffer.append(p.pointee.take()!)
                    return .done
                }
                let w = Waiter.forCaller(listedIn: self, slot: UnsafeMutableRawPointer(p))
                s.senders.append(w)
                return .wait(w)
            }
            // consume: the bound waiter takes over the outcome's reference (no retain and release of it).
            switch consume outcome {
            case .done: return
            case .closed: throw .closed
            case .wake(let r): r.finish(reason: .channel)
            case .wait(let w):
                if Waiter.park(consume w, reason: .channel) { throw .closed }
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
                        return .wake(snd)
                    }
                    return .done
                }
                if let snd = s.senders.popFirst() {
                    p.pointee = snd.typedSlot(T.self).pointee.take()
                    return .wake(snd)
                }
                if s.closed { return .closed }
                let w = Waiter.forCaller(listedIn: self, slot: UnsafeMutableRawPointer(p))
                s.receivers.append(w)
                return .wait(w)
            }
            switch consume outcome {  // consume: as in send.
            case .closed: return nil
            case .done: return p.pointee.take()
            case .wake(let snd):
                snd.finish(reason: .channel)
                return p.pointee.take()
            case .wait(let w):
                return Waiter.park(consume w, reason: .channel) ? nil : p.pointee.take()
            }
        }
    }

    /// Receives without parking: nil when nothing is ready.
    public func tryReceive() -> T? {
        let r = state.withLock { s -> (T, Waiter?)? in
            if let v = s.buffer.popFirst() {
                if let snd = s.senders.popFirst() {
                    s.buffer.append(snd.typedSlot(T.self).pointee.take()!)
                    return (v, snd)
                }
                return (v, nil)
            }
            if let snd = s.senders.popFirst() {
                return (snd.typedSlot(T.self).pointee.take()!, snd)
            }
            return nil
        }
        r?.1?.finish(reason: .channel)
        return r?.0
    }

    /// Closes the channel: waiting receivers get nil, waiting senders throw `.closed`; buffered values can
    /// still be received.
    public func close() {
        let waiters = state.withLock { s -> [Waiter] in
            if s.closed { return [] }
            s.closed = true
            var all = s.receivers.arrayCopy()
            if !s.senders.isEmpty { all += s.senders }
            s.receivers.removeAll()
            s.senders.removeAll()
            for w in all { w.closed = true }
            return all
        }
        for w in waiters { w.finish(reason: .channel) }
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
        var waiters = Deque<Waiter>()
    }
    private let state = SpinLock<State>(State())

    public init() {}

    public func lock() {
        let w = state.withLock { s -> Waiter? in
            if !s.locked {
                s.locked = true
                return nil
            }
            let w = Waiter.forCaller(listedIn: self)
            s.waiters.append(w)
            return w
        }
        // Ownership is handed to us by unlock() before the wake.
        if let w = consume w { _ = Waiter.park(consume w, reason: .mutex) }
    }

    public func unlock() {
        let next = state.withLock { s -> Waiter? in
            precondition(s.locked, "FiberMutex.unlock of an unlocked mutex")
            if let w = s.waiters.popFirst() { return w }  // stays locked: handed over
            s.locked = false
            return nil
        }
        next?.finish(reason: .mutex)
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
        var waiters = Deque<Waiter>()
    }
    private let state: SpinLock<State>

    public init(value: Int) {
        precondition(value >= 0, "FiberSemaphore: initial value must be ≥ 0")
        state = SpinLock(State(count: value))
    }

    public func wait() {
        let w = state.withLock { s -> Waiter? in
            if s.count > 0 {
                s.count -= 1
                return nil
            }
            let w = Waiter.forCaller(listedIn: self)
            s.waiters.append(w)
            return w
        }
        if let w = consume w { _ = Waiter.park(consume w, reason: .mutex) }
    }

    @usableFromInline func removeWaiter(_ w: Waiter) { state.withLock { _ = $0.waiters.remove(w) } }

    public func signal() {
        let next = state.withLock { s -> Waiter? in
            if let w = s.waiters.popFirst() { return w }
            s.count += 1
            return nil
        }
        next?.finish(reason: .mutex)
    }
}
