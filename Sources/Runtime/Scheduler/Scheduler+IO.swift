// Fd I/O for fibers: waiting for readiness, the non-blocking syscalls that wait when they would block, and
// `close`, which wakes the fd's waiters. The per-fd waiter queues are FdWaits (see its essay).
import CRuntime
import Glibc

extension Scheduler {
    // MARK: Waiting

    /// Waits until `fd` is ready for `events` (EPOLLIN or EPOLLOUT): parks a fiber, blocks a plain thread. Any
    /// number of fibers may wait on one fd, in both directions; each direction's waiters wake oldest first. Throws
    /// `.closed(fd:)` when `Scheduler.close(fd)` closes the fd meanwhile. A plain thread waits in poll(2) and is
    /// not woken by `close`.
    public static func waitReady(fd: Int32, events: UInt32) throws(SchedulerError) {
        // The task is borrowed (`withCurrentTask`): a fiber dropped while parked here never returns.
        if let waited = withCurrentTask({ t in waitReady(Unmanaged.passUnretained(t), fd: fd, events: events) }) {
            return try waited.get()
        }
        var p = pollfd(fd: fd, events: Int16(truncatingIfNeeded: events), revents: 0)
        while Glibc.poll(&p, 1, -1) < 0 {
            let e = qv_errno()
            if e != EINTR { throw .io(op: "poll", errno: e) }
        }
    }

    /// `waitReady` of the running fiber `task` (borrowed by the caller). Nothing in this frame holds a reference across
    /// the park (see `IOWait`): the fd table holds the task while the wait is listed, the outcome is a slot on this
    /// stack, the closures capture only plain values (the task as `Unmanaged`: a captured class reference is a
    /// retained copy, at least in a debug build) and the scheduler is reached through the task in each statement (no
    /// scheduler reference is kept across the park either: see FiberTask.park).
    private static func waitReady(
        _ task: Unmanaged<FiberTask>, fd: Int32, events: UInt32
    ) -> Result<Void, SchedulerError> {
        var outcome = IOWait.Outcome.pending
        let refused = withUnsafeMutablePointer(to: &outcome) { p -> SchedulerError? in
            task._withUnsafeGuaranteedRef { t -> SchedulerError? in
                do throws(SchedulerError) {
                    try t.scheduler.registerIO(t, fd: fd, events: events, outcome: p)
                } catch {
                    return error
                }
                // Loop: a stale wake-up must not be taken for readiness.
                repeat { t.park(reason: .io) } while t.scheduler.fdWaits.outcome(p) == .pending
                return nil
            }
        }
        if let refused { return .failure(refused) }
        return outcome == .closed ? .failure(.closed(fd: fd)) : .success(())
    }

    /// Closes `fd` for fibers: every fiber of this scheduler waiting on it wakes with `.closed(fd:)`, its epoll
    /// registration is deleted, then `close(2)` (Go's netFD.Close). Use it, not plain `close`, for an fd a fiber
    /// may be waiting on: the kernel drops a closed fd's registration silently and its waiters would stay parked.
    /// Any thread.
    public func close(_ fd: Int32) throws(SchedulerError) {
        let woken = fdWaits.evict(fd: fd, poller: poller)
        if !woken.isEmpty {
            ioWaiterCount.subtract(woken.count, ordering: .sequentiallyConsistent)
            for t in woken { wake(t) }
        }
        if Glibc.close(fd) != 0 {
            let e = qv_errno()
            if e != EINTR { throw .io(op: "close", errno: e) }  // Linux: an interrupted close has closed the fd
        }
    }

    /// `close(_:)` on the calling fiber's scheduler; outside a fiber, plain `close(2)` (no scheduler is known:
    /// call `close(_:)` on the scheduler whose fibers may wait on `fd`).
    public static func close(_ fd: Int32) throws(SchedulerError) {
        if let t = currentTask { return try t.scheduler.close(fd) }
        if Glibc.close(fd) != 0 && qv_errno() != EINTR { throw .io(op: "close", errno: qv_errno()) }
    }

    func registerIO(
        _ task: FiberTask, fd: Int32, events: UInt32, outcome: UnsafeMutablePointer<IOWait.Outcome>
    ) throws(SchedulerError) {
        // Raised before the registration is armed, so a carrier that sees the report also polls for it.
        ioWaiterCount.add(1, ordering: .sequentiallyConsistent)
        do {
            try fdWaits.register(task, fd: fd, events: events, outcome: outcome, poller: poller)
        } catch {
            ioWaiterCount.subtract(1, ordering: .sequentiallyConsistent)
            throw error
        }
        // Make sure someone is watching the poller: an idle worker that parks becomes its owner.
        wakeIdle()
    }

    /// Handles one readiness report from the poller. The carrier that polled.
    func ioReady(_ event: PollerEvent) {
        let woken = fdWaits.ready(event, poller: poller)
        if woken.isEmpty { return }
        ioWaiterCount.subtract(woken.count, ordering: .sequentiallyConsistent)
        for t in woken { wake(t) }
    }

    // MARK: Syscalls that wait

    /// `read(2)` on a non-blocking fd; parks the fiber until readable. Returns bytes read (0 = EOF).
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SchedulerError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            let e = qv_errno()
            if e == EINTR { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { throw .io(op: "read", errno: e) }
            try waitReady(fd: fd, events: qv_EPOLLIN())
        }
    }

    /// `write(2)` on a non-blocking fd; parks the fiber until writable. Returns bytes written.
    public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) throws(SchedulerError) -> Int {
        while true {
            let n = Glibc.write(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            let e = qv_errno()
            if e == EINTR { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { throw .io(op: "write", errno: e) }
            try waitReady(fd: fd, events: qv_EPOLLOUT())
        }
    }

    /// `accept(2)` on a non-blocking listening socket; the new socket is made non-blocking and close-on-exec.
    public static func accept(_ fd: Int32) throws(SchedulerError) -> Int32 {
        while true {
            let s = Glibc.accept(fd, nil, nil)
            if s >= 0 {
                _ = qv_set_nonblocking(s)
                _ = fcntl(s, F_SETFD, FD_CLOEXEC)
                return s
            }
            let e = qv_errno()
            if e == EINTR || e == ECONNABORTED { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { throw .io(op: "accept", errno: e) }
            try waitReady(fd: fd, events: qv_EPOLLIN())
        }
    }

    /// `connect(2)` on a non-blocking socket; parks until the connection is established or fails.
    public static func connect(
        _ fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t
    ) throws(SchedulerError) {
        if Glibc.connect(fd, address, length) == 0 { return }
        let e = qv_errno()
        guard e == EINPROGRESS || e == EINTR else { throw .io(op: "connect", errno: e) }
        try waitReady(fd: fd, events: qv_EPOLLOUT())
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { throw .io(op: "getsockopt", errno: qv_errno()) }
        if err != 0 { throw .io(op: "connect", errno: err) }
    }
}
