import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 14, defect 6: a fiber that overflows its stack faults in the guard page; the crash handlers
/// must still run (carriers have an alternate signal stack), restore the terminal and name the fiber.
/// `qvtop debug-fiber-overflow` (hidden) opens the dashboard and overflows a fiber named "overflow-demo".
@Suite(.serialized) struct FiberCrashTests {
    @Test func aFiberStackOverflowRestoresTheTerminalAndNamesTheFiber() throws {
        guard let tmux = E2E.requireTmux() else { return }
        // Swift's backtracer would wait for a key on a TTY; the test wants the bare crash.
        let pane = try TmuxPane(
            tmux: tmux, args: ["debug-fiber-overflow", "--after-ms", "300"], env: ["SWIFT_BACKTRACE": "enable=no"])
        defer { pane.close() }
        #expect(pane.exitStatus(timeout: 20) == 128 + SIGSEGV, "\(pane.capture())")
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
        #expect(
            pane.waitFor("fiber \"overflow-demo\" (kind debug) overflowed its 64 KiB stack", timeout: 5),
            "\(pane.capture())")
    }
}
