// OSThread: the runtime's one joinable thread wrapper (pthreads; Foundation's Thread cannot be joined): scheduler
// carriers and spares, event loops, `to_thread` pool workers, Workloads' arrival threads, tests and benchmarks.
import CRuntime
import Glibc

public struct OSThread: Sendable {
    // pthread_t is an integer on Linux; joining it is the only operation.
    private let handle: pthread_t

    private final class Box {
        let name: String?
        let body: () -> Void
        init(name: String?, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// The system refused a new thread (`pthread_create`'s error number, e.g. EAGAIN when out of resources).
    public struct StartError: Error, Sendable, CustomStringConvertible {
        public let code: Int32
        public var description: String { "cannot start a thread: pthread_create failed (\(code))" }
    }

    /// Starts a thread running `body`, named `name` when given (its first 15 bytes, the kernel's limit; shown by
    /// `top -H` and gdb). Throws when the system refuses a thread: the runtime's carriers, spares, loops and pool
    /// workers start theirs with it and report the refusal as their own typed error.
    public static func start(
        name: String? = nil, _ body: @escaping @Sendable () -> Void
    ) throws(StartError) -> OSThread {
        // safety: the +1 reference travels through the void* argument and is taken back exactly once (by the
        // thread, or below when no thread was created).
        let arg = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(
            &t, nil,
            { raw in
                // safety: balances passRetained above; the box lives for the thread's body.
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                if let name = box.name { _ = qv_set_thread_name(name) }
                box.body()
                return nil
            }, arg)
        guard rc == 0 else {
            // safety: no thread was created, so the +1 reference is still ours to balance.
            Unmanaged<Box>.fromOpaque(arg).release()
            throw StartError(code: rc)
        }
        return OSThread(handle: t)
    }

    /// Starts a thread running `body`, named `name` when given (see `start`). Traps if the system refuses a
    /// thread (out of resources): for callers with no one to report it to (benchmarks, test harnesses).
    public static func spawn(name: String? = nil, _ body: @escaping @Sendable () -> Void) -> OSThread {
        do {
            return try start(name: name, body)
        } catch {
            preconditionFailure("OSThread.spawn: \(error)")
        }
    }

    /// Waits for the thread to finish. Call exactly once, from another thread.
    public func join() { pthread_join(handle, nil) }
}
