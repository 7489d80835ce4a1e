// OSThread: a joinable pthread running a closure (carriers, spare carriers, tests).
import Glibc

public struct OSThread: Sendable {
    // pthread_t is an integer on Linux; joining it is the only operation.
    private let handle: pthread_t

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a thread running `body`. Traps if the system refuses a thread (out of resources).
    public static func spawn(_ body: @escaping @Sendable () -> Void) -> OSThread {
        // safety: the +1 reference travels through the void* argument and is taken back exactly once.
        let arg = Unmanaged.passRetained(Box(body)).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(
            &t, nil,
            { raw in
                let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
                box.body()
                return nil
            }, arg)
        precondition(rc == 0, "OSThread.spawn: pthread_create failed (\(rc))")
        return OSThread(handle: t)
    }

    /// Waits for the thread to finish. Call exactly once.
    public func join() { pthread_join(handle, nil) }
}
