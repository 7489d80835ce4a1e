// Fiber synchronisation: channels, a mutex and a semaphore that park the fiber, not the carrier.
//
// Each primitive keeps its waiters in a FIFO under a short internal lock (never held across a switch). A
// waiter is a small object carrying the task and the hand-over slot; whoever removes a waiter from the list
// completes it (sets the slot / `done`) under the lock and then wakes the task (see Scheduler.wake), so every
// park is matched by exactly one wake. Parks loop on `done`, so a stray wake-up can never end a wait early.
// From a plain thread (no fiber) the same operations block the thread on a Parker instead.
import DequeModule
import Synchronization

/// A parked party: a fiber (woken through its scheduler) or a plain thread (woken through a Parker).
@usableFromInline
final class Waiter<T>: @unchecked Sendable {
    // @unchecked Sendable: `value`/`done`/`closed` are written by the completer under the primitive's lock
    // before the wake, and read by the waiter after it (the wake's seq-cst CAS / parker orders them).
    @usableFromInline let task: FiberTask?
    @usableFromInline let parker: Parker?
    @usableFromInline @exclusivity(unchecked) var value: T?
    @usableFromInline @exclusivity(unchecked) var closed = false
    @usableFromInline let doneFlag = Atomic<Bool>(false)

    @inlinable
    init() {
        task = Scheduler.currentTask
        parker = task == nil ? Parker() : nil
    }

    /// Completes and wakes. The caller has removed the waiter from its list (under the lock).
    @inlinable
    func finish(reason: ParkReason) {
        doneFlag.store(true, ordering: .sequentiallyConsistent)
        if let task { task.scheduler.wake(task, reason: reason) } else { parker!.unpark(poller: nil) }
    }

    /// Parks until `finish`.
    @inlinable
    func wait(reason: ParkReason) {
        while !doneFlag.load(ordering: .sequentiallyConsistent) {
            if let task { task.park(reason: reason) } else { parker!.park() }
        }
    }
}

/// Errors of channel operations.
public enum ChannelError: Error, Equatable, Sendable {
    case closed
}

/// A multi-producer multi-consumer channel. `capacity` 0 is a rendezvous (unbuffered), `nil` is unbounded.
public final class Channel<T: Sendable>: Sendable {
    @usableFromInline
    struct State {
        @usableFromInline var buffer = Deque<T>()
        @usableFromInline var receivers = Deque<Waiter<T>>()
        @usableFromInline var senders = Deque<Waiter<T>>()
        @usableFromInline var closed = false
        @inlinable init() {}
    }
    @usableFromInline
    enum SendOutcome {
        case done
        case wake(Waiter<T>)
        case wait(Waiter<T>)
        case closed
    }
    @usableFromInline
    enum ReceiveOutcome {
        case value(T, Waiter<T>?)
        case wait(Waiter<T>)
        case closed
    }
    public let capacity: Int?
    @usableFromInline let state = Locked<State>(State())

    public init(capacity: Int? = 0) {
        precondition(capacity.map { $0 >= 0 } ?? true, "Channel: capacity must be ≥ 0")
        self.capacity = capacity
    }

    /// Sends `value`; parks while the channel is full. Throws `.closed` once closed.
    @inlinable
    public func send(_ value: T) throws(ChannelError) {
        let outcome = state.withLock { s -> SendOutcome in
            if s.closed { return .closed }
            if let r = s.receivers.popFirst() {
                r.value = value
                return .wake(r)
            }
            if capacity == nil || s.buffer.count < capacity! {
                s.buffer.append(value)
                return .done
            }
            let w = Waiter<T>()
            w.value = value
            s.senders.append(w)
            return .wait(w)
        }
        switch outcome {
        case .done: return
        case .closed: throw .closed
        case .wake(let r): r.finish(reason: .channel)
        case .wait(let w):
            w.wait(reason: .channel)
            if w.closed { throw .closed }
        }
    }

    /// Receives the next value; parks while the channel is empty. Nil once closed and drained.
    @inlinable
    public func receive() -> T? {
        let outcome = state.withLock { s -> ReceiveOutcome in
            if let v = s.buffer.popFirst() {
                // Room now: move one blocked sender's value into the buffer.
                if let snd = s.senders.popFirst() {
                    s.buffer.append(snd.value!)
                    snd.value = nil
                    return .value(v, snd)
                }
                return .value(v, nil)
            }
            if let snd = s.senders.popFirst() {
                let v = snd.value!
                snd.value = nil
                return .value(v, snd)
            }
            if s.closed { return .closed }
            let w = Waiter<T>()
            s.receivers.append(w)
            return .wait(w)
        }
        switch outcome {
        case .closed: return nil
        case .value(let v, let snd):
            snd?.finish(reason: .channel)
            return v
        case .wait(let w):
            w.wait(reason: .channel)
            return w.closed ? nil : w.value
        }
    }

    /// Receives without parking: nil when nothing is ready.
    public func tryReceive() -> T? {
        let r = state.withLock { s -> (T, Waiter<T>?)? in
            if let v = s.buffer.popFirst() {
                if let snd = s.senders.popFirst() {
                    s.buffer.append(snd.value!)
                    snd.value = nil
                    return (v, snd)
                }
                return (v, nil)
            }
            if let snd = s.senders.popFirst() {
                let v = snd.value!
                snd.value = nil
                return (v, snd)
            }
            return nil
        }
        r?.1?.finish(reason: .channel)
        return r?.0
    }

    /// Closes the channel: waiting receivers get nil, waiting senders throw `.closed`; buffered values can
    /// still be received.
    public func close() {
        let waiters = state.withLock { s -> [Waiter<T>] in
            if s.closed { return [] }
            s.closed = true
            let all = Array(s.receivers) + Array(s.senders)
            s.receivers.removeAll()
            s.senders.removeAll()
            for w in all { w.closed = true }
            return all
        }
        for w in waiters { w.finish(reason: .channel) }
    }

    /// Values buffered now.
    public var count: Int { state.withLock { $0.buffer.count } }
}

/// A fair (FIFO hand-over) mutex for fibers: a contended `lock()` parks the fiber.
public final class FiberMutex: Sendable {
    private struct State {
        var locked = false
        var waiters = Deque<Waiter<Void>>()
    }
    private let state = Locked<State>(State())

    public init() {}

    public func lock() {
        let w = state.withLock { s -> Waiter<Void>? in
            if !s.locked {
                s.locked = true
                return nil
            }
            let w = Waiter<Void>()
            s.waiters.append(w)
            return w
        }
        // Ownership is handed to us by unlock() before the wake.
        w?.wait(reason: .mutex)
    }

    public func unlock() {
        let next = state.withLock { s -> Waiter<Void>? in
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
}

/// A counting semaphore for fibers: `wait()` parks while the count is zero.
public final class FiberSemaphore: Sendable {
    private struct State {
        var count: Int
        var waiters = Deque<Waiter<Void>>()
    }
    private let state: Locked<State>

    public init(value: Int) {
        precondition(value >= 0, "FiberSemaphore: initial value must be ≥ 0")
        state = Locked(State(count: value))
    }

    public func wait() {
        let w = state.withLock { s -> Waiter<Void>? in
            if s.count > 0 {
                s.count -= 1
                return nil
            }
            let w = Waiter<Void>()
            s.waiters.append(w)
            return w
        }
        w?.wait(reason: .mutex)
    }

    public func signal() {
        let next = state.withLock { s -> Waiter<Void>? in
            if let w = s.waiters.popFirst() { return w }
            s.count += 1
            return nil
        }
        next?.finish(reason: .mutex)
    }
}
