// EventLoop: waiting for fd readiness, and close (see the section comment below).

import CRuntime
import DequeModule
import Glibc
import Histogram
import Synchronization

extension EventLoop {
    // MARK: - fd readiness
    //
    // epoll keeps one registration per fd, so the waits on one fd share a `LoopFdRegistration`: a reader slot
    // (EPOLLIN) and a writer slot (EPOLLOUT), armed one-shot with the union of the occupied slots. Its epoll token
    // is a registration id, never an fd number: the registration ends with its last waiter (EPOLL_CTL_DEL), and a
    // report carrying an id no registration has (an fd closed meanwhile, a number reused) is ignored.

    /// Suspends until `fd` is readable (or has an error/hang-up). The fd should be non-blocking.
    /// One reader per fd at a time (`LoopError.fdBusy` otherwise); a writer may wait beside it. Throws
    /// `LoopError.fdClosed` when `close(_:)` closes the fd meanwhile. Cancellable.
    public func waitReadable(_ fd: Int32) async throws {
        try await waitFd(fd, reading: true)
    }

    /// Suspends until `fd` is writable (or has an error). One writer per fd at a time; a reader may wait beside
    /// it. Throws `LoopError.fdClosed` when `close(_:)` closes the fd meanwhile. Cancellable.
    public func waitWritable(_ fd: Int32) async throws {
        try await waitFd(fd, reading: false)
    }

    func waitFd(_ fd: Int32, reading: Bool) async throws {
        let waiter = FdWaiter()
        try await suspendOnLoop { [self] cont in
            let reg = fdRegistrations[fd] ?? newFdRegistration(fd)
            if (reading ? reg.reader : reg.writer) != nil {
                cont.resume(throwing: LoopError.fdBusy(fd))
                return
            }
            waiter.continuation = cont
            if reading { reg.reader = waiter } else { reg.writer = waiter }
            fdWaiterCount += 1
            do throws(SelectorError) {
                try armFd(reg)
            } catch {
                _ = takeFdWaiter(reg, reading: reading)
                cont.resume(throwing: LoopError.selector(error))
            }
        } cancel: { [self] in
            guard let reg = fdRegistrations[fd], (reading ? reg.reader : reg.writer) === waiter else { return }
            takeFdWaiter(reg, reading: reading)?.resume(throwing: CancellationError())
        }
    }

    /// Loop thread: a new registration for `fd` (not yet in epoll).
    func newFdRegistration(_ fd: Int32) -> LoopFdRegistration {
        let reg = LoopFdRegistration(fd: fd, id: nextFdRegistrationID)
        nextFdRegistrationID &+= 1
        fdRegistrations[fd] = reg
        fdRegistrationsByID[reg.id] = reg
        return reg
    }

    /// Loop thread: arms `reg` in epoll for its occupied slots (ADD the first time, MOD after).
    func armFd(_ reg: LoopFdRegistration) throws(SelectorError) {
        let mask = (reg.reader != nil ? qv_EPOLLIN() | qv_EPOLLRDHUP() : 0) | (reg.writer != nil ? qv_EPOLLOUT() : 0)
        try selector.arm(fd: reg.fd, events: mask, token: reg.id, add: !reg.inEpoll)
        reg.inEpoll = true
    }

    /// Loop thread: empties one slot of `reg` and returns its continuation; the registration is re-armed for the
    /// other slot, or removed (and deleted from epoll) when that one is empty too.
    @discardableResult
    func takeFdWaiter(_ reg: LoopFdRegistration, reading: Bool) -> CheckedContinuation<Void, any Error>? {
        let w = reading ? reg.reader : reg.writer
        if reading { reg.reader = nil } else { reg.writer = nil }
        guard let w else { return nil }
        fdWaiterCount -= 1
        let c = w.continuation
        w.continuation = nil
        if reg.reader == nil && reg.writer == nil {
            removeFdRegistration(reg)
        } else if (try? armFd(reg)) == nil {
            // Cannot re-arm (the fd was closed behind the loop's back): wake the other waiter too, so it retries
            // its syscall and sees the error itself.
            takeFdWaiter(reg, reading: !reading)?.resume()
        }
        return c
    }

    /// Loop thread: forgets `reg` and deletes it from epoll.
    func removeFdRegistration(_ reg: LoopFdRegistration) {
        if reg.inEpoll { selector.remove(fd: reg.fd) }
        reg.inEpoll = false
        if fdRegistrations[reg.fd] === reg { fdRegistrations[reg.fd] = nil }
        fdRegistrationsByID[reg.id] = nil
    }

    /// Loop thread: an fd event from the selector (`token` is a registration id).
    func fdReady(token: UInt64, events m: UInt32) {
        guard let reg = fdRegistrationsByID[token] else { return }  // an old registration
        let broken = qv_EPOLLERR() | qv_EPOLLHUP()
        let readable = m & (qv_EPOLLIN() | qv_EPOLLRDHUP() | broken) != 0
        let writable = m & (qv_EPOLLOUT() | broken) != 0
        // One-shot: the registration has fired. Take both ready slots first, then resume.
        let r = readable ? takeFdWaiter(reg, reading: true) : nil
        let w = writable ? takeFdWaiter(reg, reading: false) : nil
        // Nobody taken (a report for a direction nobody waits for any more): re-arm for those who do.
        if r == nil && w == nil && (reg.reader != nil || reg.writer != nil) { try? armFd(reg) }
        r?.resume()
        w?.resume()
    }

    /// Closes `fd` for loop tasks: the tasks waiting on it resume with `LoopError.fdClosed`, its registration is
    /// deleted from epoll, then `close(2)`. Use it, not plain `close`, for an fd a task may be waiting on: the
    /// kernel drops a closed fd's registration silently and its waiters would never resume. Any task; from
    /// another thread it runs on the loop (after a stopped loop: plain `close`).
    public func close(_ fd: Int32) async throws {
        if inLoop || isStopped { return try closeOnLoop(fd) }
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
            callSoon { [self] in cont.resume(with: Result { try closeOnLoop(fd) }) }
        }
    }

    /// Loop thread (or after the loop stopped).
    func closeOnLoop(_ fd: Int32) throws {
        if let reg = fdRegistrations[fd] {
            let r = takeFdWaiter(reg, reading: true)
            let w = takeFdWaiter(reg, reading: false)
            r?.resume(throwing: LoopError.fdClosed(fd))
            w?.resume(throwing: LoopError.fdClosed(fd))
        }
        if Glibc.close(fd) != 0 {
            let e = qv_errno()
            if e != EINTR { throw LoopError.selector(.system(call: "close", errno: e)) }
        }
    }
}

/// State of one fd wait. @unchecked Sendable: every field is read and written on the loop thread only.
final class FdWaiter: @unchecked Sendable {
    var continuation: CheckedContinuation<Void, any Error>?
}

/// One fd's epoll registration while it has a waiter: a reader slot, a writer slot, and its id (the epoll token;
/// see "fd readiness" in EventLoop). Every field is read and written on the loop thread only.
final class LoopFdRegistration {
    let fd: Int32
    let id: UInt64
    var reader: FdWaiter?
    var writer: FdWaiter?
    /// True once added to epoll (MOD from then on), until deleted.
    var inEpoll = false

    init(fd: Int32, id: UInt64) {
        self.fd = fd
        self.id = id
    }
}
