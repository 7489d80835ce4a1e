// EventLoopThread: a joinable OS thread for loops and pool workers (pthreads; Foundation's
// Thread cannot be joined).

import CRuntime
import Glibc

/// A started OS thread. `join()` exactly once, from another thread.
struct EventLoopThread: @unchecked Sendable {
    // @unchecked Sendable: pthread_t is an integer handle; joining it is the only use.
    let handle: pthread_t

    private final class Box {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new thread named `name` (first 15 bytes, the kernel's limit).
    static func start(name: String, _ body: @escaping @Sendable () -> Void) -> EventLoopThread {
        // Unmanaged: the retained box is handed to the new thread, which takes it back exactly once.
        let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(
            &tid, nil,
            { raw in
                // Unmanaged: balances passRetained above; the box lives for the thread's body.
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                _ = qv_set_thread_name(box.name)
                box.body()
                return nil
            }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return EventLoopThread(handle: tid)
    }

    func join() {
        _ = pthread_join(handle, nil)
    }
}
