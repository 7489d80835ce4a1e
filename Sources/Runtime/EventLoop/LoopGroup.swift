// LoopGroup: one process, N event loops on N threads (asyncio with free-threading: a loop per
// thread). Tasks are assigned round-robin (`next()`) or by key (`loop(forKey:)`); there is no
// stealing — a busy loop keeps its work, which is the point the dashboard shows next to the
// work-stealing fiber scheduler. Optionally all loops share one `to_thread` pool.
//
// Ownership: `loops` and `pool` are immutable after init; `next()` is any thread (atomic cursor).

import Synchronization

public final class LoopGroup: Sendable {
    public let loops: [EventLoop]
    /// The shared worker pool, when the group was created with one.
    public let pool: ThreadPool?
    // relaxed: a round-robin cursor; any interleaving of increments is a valid assignment.
    private let cursor = Atomic<Int>(0)

    /// Starts `count` loops named "\(name)-i" with ids 0..<count. With `sharedPoolThreads`, one pool
    /// is created and given to every loop; otherwise each loop gets `configuration.pool` (often nil).
    public init(
        count: Int, name: String = "loop", configuration: EventLoop.Configuration = .init(),
        sharedPoolThreads: Int? = nil
    ) throws(LoopError) {
        precondition(count >= 1, "LoopGroup needs at least one loop")
        var shared: ThreadPool? = nil
        if let n = sharedPoolThreads {
            do {
                shared = try ThreadPool(threads: n, name: "\(name)-pool", shared: true)
            } catch {
                throw .threadRefused(code: error.code)
            }
        }
        var made: [EventLoop] = []
        for i in 0..<count {
            var c = configuration
            c.name = "\(name)-\(i)"
            c.id = i
            if let shared { c.pool = shared }
            do {
                made.append(try EventLoop(c))
            } catch {
                for l in made { l.shutdown() }
                shared?.shutdown()
                throw error
            }
        }
        loops = made
        pool = shared
    }

    /// The next loop, round-robin. Any thread.
    public func next() -> EventLoop {
        let i = cursor.wrappingAdd(1, ordering: .relaxed).oldValue
        return loops[Int(UInt(bitPattern: i) % UInt(loops.count))]
    }

    /// The loop that owns `key`: the same key always maps to the same loop (within a process).
    public func loop(forKey key: some Hashable) -> EventLoop {
        loops[Int(UInt(bitPattern: key.hashValue) % UInt(loops.count))]
    }

    /// The loop that owns an integer key (stable across processes: key mod count).
    public func loop(forIndex key: Int) -> EventLoop {
        loops[Int(UInt(bitPattern: key) % UInt(loops.count))]
    }

    /// Spawns on `next()` (or on the key's loop when `key` is given).
    @discardableResult
    public func spawn<T: Sendable>(
        key: Int? = nil, name: String? = nil, _ body: nonisolated(nonsending) sending @escaping () async throws -> T
    ) -> LoopTask<T> {
        let target = key.map { self.loop(forIndex: $0) } ?? next()
        return target.spawn(name: name, body)
    }

    /// Per-loop metrics, in loop order. Any thread; never blocks the loops.
    public func metrics(resetRecent: Bool = false) -> [LoopMetrics] {
        loops.map { $0.metrics(resetRecent: resetRecent) }
    }

    /// Events of every loop since the previous call, merged by time. One consumer at a time.
    public func drainEvents() -> [RuntimeEventRecord] {
        EventRingSet(loops.map(\.events)).drainAll()
    }

    /// Shuts every loop down, then the shared pool. Not from a loop thread of this group.
    public func shutdown() {
        for l in loops { l.shutdown() }
        pool?.shutdown()
    }
}
