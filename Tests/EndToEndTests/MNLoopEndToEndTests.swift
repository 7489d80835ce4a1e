import Foundation
import Testing

/// asyncio-mn through the real binary (issue 15, wave 3): the code pane shows the read-modify-write both loops
/// run (the preset has no task kinds, so the pane's listings come from the invariant workload's own source).
@Suite(.timeLimit(.minutes(2))) struct MNLoopEndToEndTests {
    @Test func theCodePaneShowsTheReadModifyWriteBothLoopsRun() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let pane = try TmuxPane(tmux: tmux, args: ["--preset", "asyncio-mn"], width: 160, height: 50)
        defer { pane.close() }
        #expect(pane.waitFor("M:N Event Loop"), "\(pane.capture())")
        try pane.send("c")
        #expect(pane.waitFor("Code · counter"), "\(pane.capture())")
        let screen = pane.capture()
        #expect(!screen.contains("no code listings for this preset"), "\(screen)")
        // The step (load, compute, store: no await) and the task both loops run (an await between steps).
        #expect(screen.contains("counter.load(ordering: .relaxed)"), "\(screen)")
        #expect(screen.contains("await runtime.yieldNow()"), "\(screen)")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
    }
}
