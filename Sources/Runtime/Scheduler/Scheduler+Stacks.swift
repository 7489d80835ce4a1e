// A fiber whose stack the kernel refuses (issue 15: "past a system limit a banner, never a crash").
//
// A task gets its stack at its first run, on the carrier that pops it (Scheduler+Loop.swift `run`), so queued
// tasks hold none. When `StackPool.tryAcquire` throws there, the carrier does not start the fiber: it completes
// it cancelled (its handle reports `isCancelled`, joiners wake) and counts the refusal, which a model reads
// (`stackRefusal`) and shows as its limit banner. Rejected: mapping the stack in `spawn` so that spawn could
// throw — it would put an mmap-or-pool call on the spawner's path and give unstarted tasks stacks; a refusal is
// rare, and by the time it happens the process is short of memory for anything elaborate.
//
// The common case (a stack from the carrier's own cache, and back into it when the fiber finishes) goes through
// the `Carrier.stackCache` reference kept by `carrierMain`, not the pool's thread key: `acquireStack` and
// `giveBackStack` below, which fall back to `tryAcquire` / `release` when the cache is empty or full.
import Synchronization

/// Fibers a scheduler did not start because their stack could not be mapped: how many, and the last refusal.
public struct StackRefusal: Sendable, Equatable, CustomStringConvertible {
    /// Fibers not started (completed cancelled), since the scheduler was created.
    public var fibers: UInt64
    /// The last refused mapping.
    public var last: StackMapError

    public var description: String { "\(last.description): \(fibers) fibers not started" }
}

extension Scheduler {
    /// Called by the carrier whose `tryAcquire` threw for `t`'s first run, while it holds `w`: completes the task
    /// cancelled (counted as finished by `w`) and records the refusal. The task never ran, so nothing is on its
    /// (absent) stack.
    func refuseStart(_ t: FiberTask, on w: Worker, _ error: StackMapError) {
        // relaxed: the errno and size are read after an acquiring load of the count, which this release follows.
        stackRefusalErrno.store(error.errno, ordering: .relaxed)
        stackRefusalBytes.store(error.bytes, ordering: .relaxed)
        stackRefusalStacks.store(error.stacks, ordering: .relaxed)
        stackRefusals.add(1, ordering: .releasing)  // releasing: publishes the three stores above.
        t.cancel()
        w.counters.finished &+= 1
    }

    /// Fibers not started for want of a stack, and why; nil while every fiber got one. Any thread, no lock (a
    /// sampler reads it every frame): the details are those of a recent refusal.
    public var stackRefusal: StackRefusal? {
        let n = stackRefusals.load(ordering: .acquiring)  // acquiring: pairs with refuseStart's release.
        guard n > 0 else { return nil }
        // relaxed: ordered after the acquiring load above.
        let e = StackMapError(
            errno: stackRefusalErrno.load(ordering: .relaxed), bytes: stackRefusalBytes.load(ordering: .relaxed),
            stacks: stackRefusalStacks.load(ordering: .relaxed))
        return StackRefusal(fibers: n, last: e)
    }
}

extension Scheduler {
    /// A stack for a fiber's first run on `c`: from `c`'s own cache (borrowed through `Carrier.stackCache`: no TLS
    /// look-up, no lock), else from the pool's `tryAcquire` (which refills that cache, or maps, or throws). Carrier
    /// thread only.
    @inline(__always) func acquireStack(_ c: Carrier) throws(StackMapError) -> FiberStack {
        if let cache = c.stackCache,
            let s = cache._withUnsafeGuaranteedRef({ stackPool.popCached($0, requested: configuration.stackSize) })
        {
            return s
        }
        return try stackPool.tryAcquire(size: configuration.stackSize)
    }

    /// Gives a finished fiber's stack back into `c`'s own cache, or to the pool's `release` when that cache is full
    /// (which flushes half of it). Carrier thread only.
    @inline(__always) func giveBackStack(_ s: FiberStack, _ c: Carrier) {
        if let cache = c.stackCache, cache._withUnsafeGuaranteedRef({ stackPool.pushCached(s, $0) }) { return }
        stackPool.release(s)
    }
}
