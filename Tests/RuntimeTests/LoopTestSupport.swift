import CRuntime
import Glibc
import Synchronization

@testable import Runtime

/// Loop test helpers: configurations for deterministic loops, and bounded waits.
enum LoopTestSupport {
    /// A loop on a manual clock with no heartbeat: time moves only through `advanceTime(by:)`.
    static func manualLoop(
        name: String = "test", slow: Duration = .milliseconds(10), heartbeat: Duration? = nil,
        pool: ThreadPool? = nil
    ) throws -> (EventLoop, ManualClock) {
        let clock = ManualClock()
        var c = EventLoop.Configuration()
        c.name = name
        c.clock = .manual(clock)
        c.heartbeat = heartbeat
        c.slowCallbackThreshold = slow
        c.pool = pool
        return (try EventLoop(c), clock)
    }

    /// A loop on the real clock, no heartbeat unless asked.
    static func realLoop(name: String = "test", heartbeat: Duration? = nil, pool: ThreadPool? = nil) throws
        -> EventLoop
    {
        var c = EventLoop.Configuration()
        c.name = name
        c.heartbeat = heartbeat
        c.pool = pool
        return try EventLoop(c)
    }
}

/// Thread-safe collector for test observations.
final class Recorder<T: Sendable>: Sendable {
    private let items = Locked<[T]>([])
    func append(_ x: T) { items.withLock { $0.append(x) } }
    var values: [T] { items.withLock { $0 } }
}

/// A non-loop thread that resumes continuations (a foreign thread for affinity tests).
func resumeFromForeignThread(_ body: @escaping @Sendable () -> Void) {
    let t = OSThread.spawn(name: "foreign") { body() }
    t.join()
}
