import CRuntime
import Testing

@testable import Runtime

/// The fiber's switch state lives in a fixed slot at the top of its stack (FiberStack.swift). The C side
/// checks the size with `_Static_assert` in qv_context.h; this checks the layout Swift imports.
@Suite struct FiberContextLayoutTests {
    @Test func contextFitsItsSlotAndKeepsTheStackAligned() {
        #expect(MemoryLayout<qv_fiber_ctx>.size <= FiberStack.contextSlot)
        #expect(FiberStack.contextSlot % 16 == 0)
        #expect(16 % MemoryLayout<qv_fiber_ctx>.alignment == 0)
    }
}
