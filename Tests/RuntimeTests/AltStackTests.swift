import CRuntime
import Testing

@testable import Runtime

/// Every carrier has an alternate signal stack, so a handler can run after a fiber overflowed its stack
/// (the end-to-end test FiberCrashTests overflows one in the real binary).
@Suite struct AltStackTests {
    @Test func everyCarrierHasAnAlternateSignalStack() throws {
        let scheduler = try Scheduler(.init(carriers: 3))
        defer { scheduler.shutdown() }
        let handles = (0..<12).map { _ in scheduler.spawn { () -> Int32 in qv_altstack_active() } }
        for h in handles { #expect(h.join() == 1) }
    }
}
