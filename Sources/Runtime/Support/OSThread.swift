// OSThread: the runtime's one joinable thread wrapper (pthreads; Foundation's Thread cannot be joined): scheduler
// carriers and spares, event loops, `to_thread` pool workers, tests and benchmarks.
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

    /// Starts a thread running `body`, named `name` when given (its first 15 bytes, the kernel's limit; shown by
    /// `top -H` and gdb). Traps if the system refuses a thread (out of resources).
    public static func spawn(name: String? = nil, _ body: @escaping @Sendable () -> Void) -> OSThread {
        // safety: the +1 reference travels through the void* argument and is taken back exactly once.
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
        precondition(rc == 0, "OSThread.spawn: pthread_create failed (\(rc))")
        return OSThread(handle: t)
    }

    /// Waits for the thread to finish. Call exactly once, from another thread.
    public func join() { pthread_join(handle, nil) }
}
