import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 17, compare end to end: `run --compare P1,P2` records both presets one after the other and opens
/// the compare screen in tmux (both sides, the strip, the replay keys, `s`, quit); `compare A B` side by
/// side at 160 columns; `compare --headless --json` and a bad file (see Harness.swift).
@Suite(.enabled(if: E2E.enabled, "tmux is not installed (required under CI=true)"), .timeLimit(.minutes(3)))
struct CompareTests {
    @Test func runCompareRecordsBothThenOpensTheComparison() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let dir = try RecordReplayTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pane = try TmuxPane(
            tmux: tmux, args: ["run", "--compare", "vt-steal,asyncio", "--duration", "1.5", "--record-dir", dir.path],
            width: 120, height: 40)
        defer { pane.close() }
        #expect(pane.waitFor("qvtop compare", timeout: 30), "\(pane.capture())")
        let screen = pane.capture()
        #expect(screen.contains("┌─ A · vt-steal · virtual-threads"), "\(screen)")
        #expect(screen.contains("┌─ B · asyncio · event-loop"), "\(screen)")
        #expect(screen.contains("Headline figures · whole run · B − A"))
        #expect(screen.contains("heartbeat lag p99"))
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".qvrec") }
        #expect(files.count == 2 && files.contains { $0.hasPrefix("qvtop-compare-A-vt-steal-") }, "\(files)")
        // One timeline: Space pauses, End goes to the end, Home back to the start.
        try pane.send(" ")
        #expect(pane.waitFor("COMPARE PAUSED"), "\(RecordReplayTests.header(pane))")
        try pane.send("Home")
        #expect(
            E2E.waitUntil { RecordReplayTests.timeline(pane).hasPrefix(" ⏸ 0s / 1s") },
            "\(RecordReplayTests.timeline(pane))")
        // s saves the compare screen beside the recordings.
        try pane.send("s")
        #expect(pane.waitFor("saved \(dir.path.prefix(12))"), "\(RecordReplayTests.header(pane))")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).contains { $0.hasSuffix(".svg") })
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
        #expect(pane.terminalRestored, "\(pane.sttyAfterExit)")
    }

    @Test func compareSideBySideAt160ColumnsAndHeadlessJSON() throws {
        guard let tmux = E2E.requireTmux() else { return }
        let dir = try RecordReplayTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let qvtop = try E2E.binary()
        let a = dir.appendingPathComponent("a.qvrec").path
        let b = dir.appendingPathComponent("b.qvrec").path
        #expect(
            try E2E.run([qvtop, "run", "--headless", "--preset", "vt-steal", "--duration", "1", "--record", a]).status
                == 0)
        #expect(
            try E2E.run([qvtop, "run", "--headless", "--preset", "gevent", "--duration", "2", "--record", b]).status
                == 0)

        let json = try E2E.run([qvtop, "compare", a, b, "--json"])
        #expect(json.status == 0, "\(json.err)")
        let object = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        #expect((object?["a"] as? [String: Any])?["preset"] as? String == "vt-steal")
        #expect((object?["b"] as? [String: Any])?["preset"] as? String == "gevent")
        #expect((object?["figures"] as? [Any])?.isEmpty == false)
        // A live source counts errors and drops per task kind: A's kinds have numbers (0 counts), not null.
        let kindsA = ((object?["a"] as? [String: Any])?["taskKinds"] as? [[String: Any]] ?? []).compactMap {
            $0["kind"] as? String
        }
        #expect(!kindsA.isEmpty)
        let figures = object?["figures"] as? [[String: Any]] ?? []
        for k in kindsA {
            let errors = figures.first { $0["name"] as? String == "\(k) errors" }
            #expect(
                errors?["a"] as? Double != nil && errors?["byKind"] is [String: Any], "\(String(describing: errors))")
            let dropped = figures.first { $0["name"] as? String == "\(k) dropped" }
            #expect(dropped?["a"] as? Double != nil, "\(String(describing: dropped))")
        }

        // The same preset twice: the same workload, read from the preset text both files hold.
        let same = try E2E.run([qvtop, "compare", a, a, "--json"])
        let sameObject = try JSONSerialization.jsonObject(with: Data(same.out.utf8)) as? [String: Any]
        #expect(sameObject?["sameWorkload"] as? Bool == true && object?["sameWorkload"] as? Bool == false)

        let bad = try E2E.run([qvtop, "compare", a, dir.appendingPathComponent("missing.qvrec").path, "--json"])
        #expect(bad.status == 2)
        #expect(bad.err.hasPrefix("qvtop: ") && bad.err.filter { $0 == "\n" }.count == 1, "\(bad.err)")

        let pane = try TmuxPane(tmux: tmux, args: ["compare", a, b], width: 160, height: 50)
        defer { pane.close() }
        #expect(pane.waitFor("qvtop compare"), "\(pane.capture())")
        let rows = pane.capture().split(separator: "\n").map(String.init)
        #expect(
            rows.count > 1 && rows[1].contains("┌─ A · vt-steal") && rows[1].contains("┌─ B · gevent"),
            "\(rows.prefix(3))")
        // A (1 s) is the shorter: once the playhead passes its end it holds its last frame.
        try pane.send("End")
        #expect(pane.waitFor("A · vt-steal · virtual-threads · held at its end"), "\(pane.capture())")
        try pane.send("q")
        #expect(pane.exitStatus() == 0)
    }

    @Test func recordingsOfDifferentFormatVersionsCompare() throws {
        let fixtures = E2E.packageRoot.appendingPathComponent("Tests/RecordingTests/Fixtures")
        let v1 = fixtures.appendingPathComponent("small-v1.qvrec").path
        let v2 = fixtures.appendingPathComponent("small-v2.qvrec").path
        let r = try E2E.run([try E2E.binary(), "compare", v1, v2, "--json"])
        #expect(r.status == 0, "\(r.err)")
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        // Format 1 has no ready → running: null on A's side, never 0.
        let figures = object?["figures"] as? [[String: Any]] ?? []
        let ready = figures.first { $0["name"] as? String == "ready → running p99" }
        #expect(ready?["a"] is NSNull && ready?["difference"] is NSNull, "\(String(describing: ready))")
    }
}
