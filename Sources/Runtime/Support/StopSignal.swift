// StopSignal: a one-shot "stop" that wakes every plain thread sleeping on it at once (the threads model's
// sleeps: a preset switch must not wait for a thousand threads' timers).
//
// An eventfd that `set()` makes readable and nobody ever reads, so it stays readable for every sleeper, now and
// later; each sleep is a `ppoll` on it with the sleep as its timeout (ns precision). Rejected: a condition
// variable (a broadcast wakes the waiters one after another through one mutex, and a timed wait per thread
// needs that mutex too); `pthread_kill` per thread (needs every thread's id and a signal handler).
import CRuntime
import Glibc
import Synchronization

/// See the essay at the top of this file. Owned by one model: `set()` once to stop, `sleep` from its threads,
/// `close()` once after every thread that sleeps on it has been joined.
public final class StopSignal: Sendable {
    private let fd: Int32
    // relaxed: a hint checked before and after a sleep; the wake itself comes through the eventfd.
    private let flag = Atomic<Bool>(false)

    /// The system refused a descriptor (`eventfd`'s errno).
    public struct OpenError: Error, Sendable, CustomStringConvertible {
        public let code: Int32
        public var description: String { "cannot open the stop signal: eventfd failed (errno \(code))" }
    }

    public init() throws(OpenError) {
        let fd = qv_eventfd(0, Int32(EFD_CLOEXEC))
        guard fd >= 0 else { throw OpenError(code: qv_errno()) }
        self.fd = fd
    }

    /// True once `set()` was called.
    public var isSet: Bool { flag.load(ordering: .relaxed) }

    /// Wakes every sleeper now, and makes every later sleep return at once. Idempotent.
    public func set() {
        guard !flag.exchange(true, ordering: .relaxed) else { return }
        _ = qv_eventfd_signal(fd)
    }

    /// Blocks for `nanoseconds`, or until `set()` (EINTR restarts with the time left).
    public func sleep(nanoseconds: UInt64) {
        let deadline = qv_now_ns() &+ nanoseconds
        while !isSet {
            let now = qv_now_ns()
            guard now < deadline else { return }
            let rc = qv_poll_readable_ns(fd, Int64(clamping: deadline - now))
            if rc > 0 || (rc < 0 && qv_errno() != EINTR) { return }  // set, or an error: stop sleeping
        }
    }

    /// Closes the descriptor. Call once, after every sleeper has been joined.
    public func close() { Glibc.close(fd) }
}
