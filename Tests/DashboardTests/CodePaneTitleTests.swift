import Foundation
import Telemetry
import Testing

@testable import Dashboard

/// Function colouring (the `http` kind): a listing whose one sync body serves more than one model says so in
/// its column title; a listing without titles keeps the pane's defaults.
@Suite struct CodePaneTitleTests {
    static func text(_ listing: CodeListing) -> String {
        let (s, h) = PanelFixtures.run(5) { PanelFixtures.virtualThreads($0) }
        let g = PanelSnapshotTests.render(Size(160, 50), s, h, view: PanelView(showCode: true), code: [listing])
        return g.text
    }

    @Test func aListingsOwnTitlesAreDrawn() {
        let titled = CodeListing(
            kind: "web", sync: "func get() {}", async: "func get() async {}",
            syncTitle: "sync: one client, fibers and threads run it", asyncTitle: "async: the copy a loop needs")
        let t = Self.text(titled)
        #expect(t.contains("sync: one client, fibers and threads run it"), "\(t)")
        #expect(t.contains("async: the copy a loop needs"))
        #expect(!t.contains("sync: as a fiber runs it"))
        let plain = Self.text(CodeListing(kind: "cpu", sync: "func cpu() {}", async: "func cpu() async {}"))
        #expect(plain.contains("sync: as a fiber runs it") && plain.contains("async: as a loop task"))
    }

    /// A listing's own note replaces the function-colouring footer (asyncio-mn: the same code on both loops).
    @Test func aListingsNoteReplacesTheColouringFooter() {
        let noted = CodeListing(
            kind: "counter", sync: "func bump() {}", async: "func task() async {}",
            note: "the same code on both loops")
        let t = Self.text(noted)
        #expect(t.contains("the same code on both loops"), "\(t)")
        #expect(!t.contains("spread to every caller"))
        #expect(Self.text(CodeListing(kind: "cpu", sync: "f", async: "g")).contains("spread to every caller"))
    }
}
