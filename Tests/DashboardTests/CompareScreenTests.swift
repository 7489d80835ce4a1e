import Telemetry
import Testing

@testable import Dashboard

/// The compare screen as text snapshots (re-record: see SnapshotTesting.swift): side by side at 160×50,
/// stacked at 80×24; the strip of headline figures with n/a where a side lacks one.
@Suite struct CompareScreenTests {
    static func side(_ name: String, _ make: (Int) -> Snapshot, count: Int = 40) -> (CompareSide, [Snapshot]) {
        var d = ViewData(sourceAttached: true)
        let frames = (0..<count).map(make)
        for f in frames { d.ingest(f) }
        return (CompareSide(name: name, data: d), frames)
    }

    static func render(_ size: Size, heldB: Bool = false, _ edit: (inout UIState) -> Void = { _ in }) -> Grid {
        let (a, framesA) = side("A", withErrors)
        var (b, framesB) = side("B", { PanelFixtures.eventLoop($0, pool: true) }, count: 30)
        b.held = heldB
        let comparison = RunSummary(framesA).flatMap { x in RunSummary(framesB).map { RunComparison(a: x, b: $0) } }
        var state = UIState(size: size, rateHz: 10)
        state.replaying = true
        edit(&state)
        let timeline = ReplayStatus(
            start: 0, end: 4, position: 3.9, frameIndex: 39, frameCount: 40, speed: 1, paused: true)
        return CompareScreen.render(a: a, b: b, comparison: comparison, timeline: timeline, state: state)
    }

    /// Virtual threads whose source counts errors and drops: web failed 3 resets and 1 timeout and dropped
    /// 12 arrivals, the other kinds none. B (the event loop fixture) counts neither, as a format-1 recording.
    static func withErrors(_ i: Int) -> Snapshot {
        var s = PanelFixtures.virtualThreads(i)
        for k in s.taskKinds.indices {
            let web = s.taskKinds[k].kind == "web"
            s.taskKinds[k].errors = web ? TaskErrorCounts(reset: 3, timeout: 1) : TaskErrorCounts()
            s.taskKinds[k].dropped = web ? 12 : 0
        }
        return s
    }

    @Test(arguments: [Size(160, 50), Size(80, 24)]) func compareScreen(size: Size) {
        expectSnapshot(Self.render(size, heldB: true), named: "compare-\(size.width)x\(size.height)")
    }

    @Test func sideBySideFromA160ColumnTerminalStackedBelow() {
        let wide = Self.render(Size(160, 50)).text.split(separator: "\n").map(String.init)
        let narrow = Self.render(Size(80, 24)).text.split(separator: "\n").map(String.init)
        // Side by side: both boxes start on the first body row.
        #expect(wide[1].contains("┌─ A · ") && wide[1].contains("┌─ B · "), "\(wide[1])")
        // Stacked: A on the first body row, B further down in the first column.
        #expect(narrow[1].hasPrefix("┌─ A · ") && !narrow[1].contains("B · "))
        #expect(narrow.contains { $0.hasPrefix("┌─ B · ") })
    }

    @Test func stripComparesLikeWithLikeAndSaysNAWhereASideLacksAFigure() {
        let text = Self.render(Size(160, 50)).text
        #expect(text.contains("Headline figures · whole run · B − A"))
        let lines = text.split(separator: "\n").map(String.init)
        // The event loop does not steal: B's steals and the difference are n/a.
        let steals = lines.first { $0.contains("steals ") && $0.contains("n/a") }
        #expect(steals != nil, "\(lines.filter { $0.contains("steals") })")
        #expect(lines.contains { $0.contains("heartbeat lag p99") })
        #expect(lines.contains { $0.contains("ready → running p99") })
        #expect(text.contains("held at its end") == false)
        #expect(Self.render(Size(160, 50), heldB: true).text.contains("B · to-thread · event-loop · held at its end"))
    }

    @Test func formatsValuesWithTheirUnitAndSignedDifferences() {
        #expect(CompareScreen.format(3.24, "ms", signed: false) == "3.2ms")
        #expect(CompareScreen.format(22, "ms", signed: true) == "+22ms")
        #expect(CompareScreen.format(-500, "/s", signed: true) == "-500/s")
        #expect(CompareScreen.format(nil, "ms", signed: true) == "n/a")
        #expect(CompareScreen.format(0.4213, "ratio", signed: false) == "0.42")
        #expect(CompareScreen.format(12, "fibers", signed: false) == "12")
    }

    @Test func stripShowsErrorsAndDropsPerTaskKindRedWhenNonZeroAndNAWhereNotCounted() throws {
        let grid = Self.render(Size(160, 50))
        let lines = grid.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        /// The strip cell named `name`: its row, its A column (the last cell of A's value) and its text.
        func cell(_ name: String) throws -> (y: Int, aX: Int, text: String) {
            let y = try #require(lines.firstIndex { $0.contains("\(name) ") }, "no strip row \(name)")
            let x = try #require(lines[y].range(of: "\(name) ")).lowerBound.utf16Offset(in: lines[y])
            let text = String(lines[y].dropFirst(x).prefix(CompareScreen.cellWidth))
            return (y, x + CompareScreen.nameWidth + CompareScreen.valueWidth, text)
        }
        let errors = try cell("web errors")
        // A counted 4 failures, B did not count: n/a on B and in B − A.
        #expect(errors.text.split(separator: " ").suffix(3) == ["4", "n/a", "n/a"], "\(errors.text)")
        // A's non-zero count is red, as the task-kinds panel draws failed tasks.
        #expect(grid[errors.aX, errors.y].scalar == "4" && grid[errors.aX, errors.y].style == PanelPalette.blocked)
        let dropped = try cell("web dropped")
        #expect(dropped.text.split(separator: " ").suffix(3) == ["12", "n/a", "n/a"], "\(dropped.text)")
        #expect(grid[dropped.aX, dropped.y].style == PanelPalette.blocked)
        // A kind that counted none shows 0, not red.
        let batch = try cell("batch errors")
        #expect(grid[batch.aX, batch.y].scalar == "0" && grid[batch.aX, batch.y].style == .plain, "\(batch.text)")
    }
}
