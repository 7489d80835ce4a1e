// FdWaits: which fibers wait on which fd, per direction — Go's poll descriptor (pollDesc: rg / wg) for a
// scheduler whose poller is one-shot epoll.
//
// # Model
//
// epoll keeps exactly one registration per (epoll instance, fd): one event mask, one 64-bit token. So the
// waits on one fd must share it. Each fd that has waiters has a `PollDescriptor`: a FIFO of reader waits
// (EPOLLIN), a FIFO of writer waits (EPOLLOUT), the mask armed in epoll now, and a registration id that is the
// epoll token. The armed mask is always the union of the directions that have waiters (EPOLLONESHOT |
// EPOLLRDHUP besides), so a writer that starts waiting widens the registration instead of replacing the
// reader's, and N acceptors on one listener queue as N readers.
//
// A readiness report wakes the oldest waiter of each ready direction (every waiter of it on an error or a
// hang-up, which each of them must see) and re-arms the descriptor for the waiters left. epoll is
// level-triggered under EPOLLONESHOT, so if the woken fiber leaves data behind, the re-armed registration
// reports it again at once and the next waiter wakes: nothing is lost, and a burst of N connections wakes N
// acceptors one poll each. A woken fiber retries its syscall; EAGAIN sends it back to the queue's tail.
//
// A descriptor lives while it has waiters: the last wake (or `close`) removes it, and the next wait on that fd
// number creates a new one with a new registration id (a generation). An event that carries an id no
// descriptor has (an old registration, an fd closed meanwhile) is ignored. So neither a close nor the reuse of
// an fd number can hand one file's readiness to another file's waiter.
//
// `Scheduler.close(fd)` evicts: every waiter of the fd wakes with `SchedulerError.closed`, the registration is
// deleted from epoll, then the fd is closed (Go's netFD.Close → pollDesc.evict). An fd closed with plain
// `close(2)` while a fiber waits on it leaves that fiber parked (the kernel drops the registration silently):
// fiber code closes watched fds with `Scheduler.close`.
//
// # Rejected
//
// - One registration per wait (`EPOLL_CTL_MOD` with a new token each time): the second wait on an fd replaced
//   the first, which then never woke (issue 14, defect 1).
// - Edge-triggered registration once per fd for its lifetime (Go's choice): it needs the runtime to own every fd
//   from open to close (Go's netFD); here a fiber may wait on any fd it got from anywhere.
// - Refusing a second waiter of one direction: N acceptors on one listener is a normal server.
// - Waking every waiter of a direction on each report: a thundering herd on a busy listener.
//
// # Ownership
//
// Every field of every descriptor and wait is protected by `table`'s lock, and epoll_ctl for a descriptor is
// issued under it too, so the armed mask and the queues never disagree. Any carrier (or plain thread) calls
// `register`, `outcome`, `ready`, `evict`; `drainAll` runs in shutdown after every carrier has exited.
import CRuntime
import DequeModule
import Glibc

/// One fiber's wait for one direction of one fd: the task, held while the wait is listed, and where its outcome
/// goes — a slot on the waiting fiber's own stack (as a channel's value slot), so the waiting frame holds no reference
/// across its park: a fiber dropped while parked (shutdown) never returns, and an object its frame held (the
/// `IOWait` class this was) kept itself and the task record alive for good. The slot stays valid while listed: the
/// fiber leaves its wait only once a report or an eviction has taken the wait off its queue, and shutdown drains the
/// table before it closes the injector, so no cancelled fiber's stack is still listed (see `Scheduler.shutdown`).
struct IOWait {
    /// How a wait ended. `pending → ready` (a readiness report), `pending → closed` (`Scheduler.close` evicted
    /// it). Written and read under `FdWaits.table`'s lock.
    enum Outcome: UInt8 {
        case pending, ready, closed
    }
    let task: FiberTask
    /// The waiting fiber's outcome slot. protected by FdWaits.table's lock.
    let outcome: UnsafeMutablePointer<Outcome>
}

/// The waits on one fd while it has any (Go's pollDesc). Every field is protected by `FdWaits.table`'s lock.
final class PollDescriptor {
    let fd: Int32
    /// The epoll token of this registration; never reused (a generation: see the essay).
    let id: UInt64
    var readers = Deque<IOWait>()
    var writers = Deque<IOWait>()
    /// The event mask armed in epoll now, without the flags; 0 when the one-shot registration has fired.
    var armed: UInt32 = 0

    init(fd: Int32, id: UInt64) {
        self.fd = fd
        self.id = id
    }

    var isEmpty: Bool { readers.isEmpty && writers.isEmpty }

    /// The directions somebody waits for.
    var interest: UInt32 { (readers.isEmpty ? 0 : qv_EPOLLIN()) | (writers.isEmpty ? 0 : qv_EPOLLOUT()) }
}

final class FdWaits: @unchecked Sendable {
    // @unchecked Sendable: all state is inside `table` (a Locked).

    struct Table {
        var byFd: [Int32: PollDescriptor] = [:]
        var byID: [UInt64: PollDescriptor] = [:]
        /// Next registration id. Ids 0 and 1 are the poller's wake eventfd and timerfd.
        var nextID: UInt64 = 2
    }
    let table = Locked(Table())

    /// Fds with a descriptor now (a leak check for tests). Takes the table lock.
    var registeredCount: Int { table.withLock { $0.byFd.count } }

    /// Queues `task` as a waiter for `events` (EPOLLIN or EPOLLOUT) on `fd` and arms the fd's registration for
    /// it; its outcome is written to `outcome` (the waiting fiber's stack) under the lock. Any thread.
    func register(
        _ task: FiberTask, fd: Int32, events: UInt32, outcome: UnsafeMutablePointer<IOWait.Outcome>, poller: Poller
    ) throws(SchedulerError) {
        outcome.pointee = .pending
        let wait = IOWait(task: task, outcome: outcome)
        let reading = events & qv_EPOLLIN() != 0
        let failure = table.withLock { t -> Int32? in
            let d: PollDescriptor
            if let existing = t.byFd[fd] {
                d = existing
            } else {
                d = PollDescriptor(fd: fd, id: t.nextID)
                t.nextID &+= 1
                t.byFd[fd] = d
                t.byID[d.id] = d
            }
            if reading { d.readers.append(wait) } else { d.writers.append(wait) }
            let mask = d.interest
            if mask != d.armed {
                if let e = Self.arm(d, mask: mask, poller: poller) {
                    if reading { d.readers.removeLast() } else { d.writers.removeLast() }
                    if d.isEmpty { Self.remove(d, from: &t) }
                    return e
                }
            }
            return nil
        }
        if let failure { throw .io(op: "epoll_ctl", errno: failure) }
    }

    /// How the wait whose outcome slot is `outcome` stands now. Any thread.
    func outcome(_ outcome: UnsafeMutablePointer<IOWait.Outcome>) -> IOWait.Outcome {
        table.withLock { _ in outcome.pointee }
    }

    /// A readiness report (`event.token` is a registration id): ends the waits it satisfies and re-arms the fd
    /// for the rest. Returns the fibers to wake. Any thread (a carrier polling).
    func ready(_ event: PollerEvent, poller: Poller) -> [FiberTask] {
        table.withLock { t -> [FiberTask] in
            guard let d = t.byID[event.token] else { return [] }  // an old registration: ignored
            d.armed = 0  // one-shot: it has fired
            let m = event.events
            let broken = qv_EPOLLERR() | qv_EPOLLHUP()
            var woken: [FiberTask] = []
            func end(_ q: inout Deque<IOWait>, all: Bool) {
                while let w = q.popFirst() {
                    w.outcome.pointee = .ready
                    woken.append(w.task)
                    if !all { break }
                }
            }
            if m & (qv_EPOLLIN() | qv_EPOLLRDHUP() | broken) != 0 {
                end(&d.readers, all: m & (qv_EPOLLRDHUP() | broken) != 0)
            }
            if m & (qv_EPOLLOUT() | broken) != 0 { end(&d.writers, all: m & broken != 0) }
            if !d.isEmpty, Self.arm(d, mask: d.interest, poller: poller) != nil {
                // The fd cannot be re-armed (closed behind the runtime's back): wake the rest too, so each retries
                // its syscall and sees the error itself — a wait is never lost.
                end(&d.readers, all: true)
                end(&d.writers, all: true)
            }
            if d.isEmpty { Self.remove(d, from: &t) }
            return woken
        }
    }

    /// Ends every wait on `fd` as `closed` and deletes the fd's registration from epoll (before the caller closes
    /// it). Returns the fibers to wake. Any thread.
    func evict(fd: Int32, poller: Poller) -> [FiberTask] {
        table.withLock { t -> [FiberTask] in
            poller.disarm(fd: fd)
            guard let d = t.byFd[fd] else { return [] }
            var woken: [FiberTask] = []
            for w in d.readers + d.writers {
                w.outcome.pointee = .closed
                woken.append(w.task)
            }
            d.readers.removeAll()
            d.writers.removeAll()
            Self.remove(d, from: &t)
            return woken
        }
    }

    /// Every waiting fiber, forgetting all descriptors. Shutdown only, after the carriers have exited.
    func drainAll() -> [FiberTask] {
        table.withLock { t -> [FiberTask] in
            let all = t.byFd.values.flatMap { d in (d.readers + d.writers).map(\.task) }
            t.byFd.removeAll()
            t.byID.removeAll()
            return all
        }
    }

    /// epoll_ctl for `d` with `mask` (MOD, or ADD when the fd is not registered yet). nil on success, else errno.
    /// Under the table lock.
    private static func arm(_ d: PollDescriptor, mask: UInt32, poller: Poller) -> Int32? {
        do throws(PollerError) {
            try poller.arm(fd: d.fd, events: mask, token: d.id)
            d.armed = mask
            return nil
        } catch {
            if case .register(_, let e) = error { return e }
            return 0
        }
    }

    /// Forgets `d`. Its registration stays in epoll, disarmed (one-shot) or armed for no one: a report with its id
    /// is ignored. Under the table lock.
    private static func remove(_ d: PollDescriptor, from t: inout Table) {
        if t.byFd[d.fd] === d { t.byFd[d.fd] = nil }
        t.byID[d.id] = nil
    }
}
