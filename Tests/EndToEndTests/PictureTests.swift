import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 17, pictures end to end: `export --format svg --at` (seconds, a bookmark, every bookmark into
/// a folder) on a stored recording, its one-line errors, and the `s` key saving the screen of a replay
/// beside the file (see Harness.swift; the SVG itself is tested against a renderer in DashboardTests).
@Suite(.enabled(if: E2E.enabled, "tmux is not installed (required under CI=true)"), .timeLimit(.minutes(2)))
struct PictureTests {
    /// The stored format-2 recording with two bookmarks, copied into a fresh folder.
    static func fixture() throws -> (dir: URL, file: String) {
        let dir = try RecordReplayTests.folder()
        let source = E2E.packageRoot.appendingPathComponent("Tests/RecordingTests/Fixtures/small-v2.qvrec")
        let file = dir.appendingPathComponent("small.qvrec")
        try FileManager.default.copyItem(at: source, to: file)
        return (dir, file.path)
    }

    /// The drawn `<text>` characters of an SVG, in document order (enough to find words of the screen).
    static func drawnText(_ svg: String) -> String {
        svg.components(separatedBy: "<text ").dropFirst().compactMap { element in
            guard let open = element.firstIndex(of: ">"), let close = element.range(of: "</text>") else { return nil }
            return String(element[element.index(after: open)..<close.lowerBound])
        }.joined()
    }

    @Test func exportDrawsAMomentABookmarkAndEveryBookmark() throws {
        let (dir, file) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: dir) }
        let qvtop = try E2E.binary()
        let frame = dir.appendingPathComponent("frame.svg").path
        let one = try E2E.run([qvtop, "export", file, "--format", "svg", "--at", "0.5s", "-o", frame])
        #expect(one.status == 0, "\(one.err)")
        #expect(one.err.contains("wrote \(frame) (svg, 120x40"), "\(one.err)")
        let svg = try String(contentsOfFile: frame, encoding: .utf8)
        #expect(svg.hasPrefix("<?xml") && svg.contains("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.contains(#"width="1200" height="800""#))  // 120×40 cells of 10×20
        #expect(Self.drawnText(svg).contains("qvtop"))

        let mark = dir.appendingPathComponent("mark.svg").path
        let second = try E2E.run([qvtop, "export", file, "--format", "svg", "--at", "bookmark:2", "-o", mark])
        #expect(second.status == 0, "\(second.err)")
        #expect(FileManager.default.fileExists(atPath: mark))

        let folder = dir.appendingPathComponent("slides").path
        let all = try E2E.run([qvtop, "export", file, "--format", "svg", "--at", "bookmarks", "-o", folder])
        #expect(all.status == 0, "\(all.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == ["bookmark-1.svg", "bookmark-2.svg"])

        // Errors: one line, exit 2 (no such bookmark), usage error 64 (no --at, a bad --at).
        let missing = try E2E.run([qvtop, "export", file, "--format", "svg", "--at", "bookmark:3", "-o", mark])
        #expect(missing.status == 2)
        #expect(missing.err == "qvtop: --at bookmark:3: the recording has 2 bookmark(s)\n")
        let noAt = try E2E.run([qvtop, "export", file, "--format", "svg", "-o", mark])
        #expect(noAt.status == 64 && noAt.err.contains("--format svg needs --at"), "\(noAt.err)")
        let bad = try E2E.run([qvtop, "export", file, "--format", "svg", "--at", "soon", "-o", mark])
        #expect(bad.status == 64 && bad.err.contains("--at must be"), "\(bad.err)")
    }

    @Test func sSavesTheReplayScreenBesideTheFileAndSaysWhere() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let (dir, file) = try Self.fixture()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pane = try TmuxPane(tmux: tmux, args: ["replay", file], width: 100, height: 30)
        defer { pane.close() }
        #expect(pane.waitFor("REPLAY"), "\(pane.capture())")
        try pane.send("s")
        #expect(pane.waitFor("saved \(dir.path.prefix(20))"), "\(pane.capture())")  // the header cuts the rest
        let pictures = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".svg") }
        #expect(pictures.count == 1, "\(pictures)")
        let name = try #require(pictures.first)
        let svg = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
        #expect(svg.contains(#"width="1000" height="600""#))  // the 100×30 screen as it was
        #expect(Self.drawnText(svg).contains("REPLAY"))
        // A second `s` never replaces the first picture.
        try pane.send("s")
        #expect(
            E2E.waitUntil {
                ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".svg") }
                    .count == 2
            })
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
    }
}
