// LoopClock: where an event loop reads the time. Injected so tests can drive timers, timeouts
// and slow-callback detection without sleeping (swift-nio's EmbeddedEventLoop `advanceTime(by:)`).

import CRuntime
import Synchronization

/// The time source of an `EventLoop`, in nanoseconds on a monotonic scale.
///
/// `.monotonic` reads `CLOCK_MONOTONIC` (through a calibrated invariant TSC when the CPU has one:
/// `qv_fast_now_ns`, 18 ns instead of 45 ns per read in this VM — the loop reads it once per job). `.manual` reads a `ManualClock` that only moves when a
/// test calls `advance(by:)` (directly or through `EventLoop.advanceTime(by:)`); a loop on a
/// manual clock never sleeps on a timer deadline, it waits for the clock to be moved.
public enum LoopClock: Sendable {
    case monotonic
    case manual(ManualClock)

    /// Now, in nanoseconds. Any thread.
    @inline(__always)
    public func now() -> UInt64 {
        switch self {
        case .monotonic: return qv_fast_now_ns()
        case .manual(let clock): return clock.now
        }
    }

    var isManual: Bool {
        if case .manual = self { return true }
        return false
    }
}

/// A clock that moves only when told to. Any thread may read or advance it.
public final class ManualClock: Sendable {
    /// Nanoseconds. sequentially consistent by default: rare test-only operations, no need to weaken.
    private let nanos: Atomic<UInt64>

    public init(startNanos: UInt64 = 1_000_000_000) {
        nanos = Atomic(startNanos)
    }

    public var now: UInt64 { nanos.load(ordering: .sequentiallyConsistent) }

    /// Moves the clock forward. A loop on this clock notices on its next iteration; use
    /// `EventLoop.advanceTime(by:)` to also wake it and wait until it is idle again.
    public func advance(by duration: Duration) {
        nanos.add(LoopTime.nanos(duration), ordering: .sequentiallyConsistent)
    }
}

/// Duration → nanoseconds for the loop (a namespace, so no module-wide `Duration` extension collides
/// with another area's).
enum LoopTime {
    /// Whole nanoseconds, clamped to 0 … UInt64.max (negative durations count as 0).
    @inline(__always)
    static func nanos(_ duration: Duration) -> UInt64 {
        let (s, a) = duration.components
        if s < 0 { return 0 }
        if s >= 18_000_000_000 { return .max }
        return UInt64(s) &* 1_000_000_000 &+ UInt64(a / 1_000_000_000)
    }

    /// `start + duration`, saturating at UInt64.max (a "forever" timeout must not wrap into the past).
    @inline(__always)
    static func deadline(after duration: Duration, from start: UInt64) -> UInt64 {
        let (sum, overflow) = start.addingReportingOverflow(nanos(duration))
        return overflow ? .max : sum
    }
}
