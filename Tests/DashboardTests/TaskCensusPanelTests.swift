import Foundation
import Telemetry
import Testing

@testable import Dashboard

/// A CPython program's tasks by state and by what they await (issue 16: the agent "measures … tasks by state and
/// by what they await"): the census is drawn in its own panel, every state under the agent's own name; a source
/// without a census (the Swift loops, a gevent hub) has no such panel, rather than a census of zeros.
@Suite struct TaskCensusPanelTests {
    @Test(arguments: [Size(160, 50), Size(200, 60)]) func theCensusIsDrawnByWhatTheTasksAwait(size: Size) throws {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.pythonAsyncio($0) }
        let text = PanelSnapshotTests.render(size, s, h).text
        let c = try #require(s.taskCensus)
        #expect(text.contains("Tasks \(c.total) · by what they await"), "\(text)")
        // The panel's four rows: the columns under its title, down to its bottom border.
        let rows = text.split(separator: "\n").map { Array(String($0)) }
        let top = try #require(rows.firstIndex { String($0).contains("┌─ Tasks \(c.total)") })
        let column = try #require(rows[top].firstIndex(of: "┌"))
        let start = rows[top].indices.filter { $0 >= column }.first { i in
            String(rows[top][i...]).hasPrefix("┌─ Tasks")
        }
        let left = try #require(start)
        let width = try #require(rows[top][left...].firstIndex(of: "┐")) - left + 1
        let panel = rows[(top + 1)...(top + 4)].map { String($0[left..<min($0.count, left + width)]) }
        #expect(rows[top + 5][left] == "└", "the panel holds four rows: \(panel)")
        for (label, count) in c.states {
            // Each state's bar: its label, the bar, its count.
            let pattern = "\(label) +[^ ]+ +\(count) "
            #expect(panel.contains { $0.range(of: pattern, options: .regularExpression) != nil }, "\(label): \(panel)")
        }
    }

    @Test func withoutACensusThereIsNoPanel() {
        var s = PanelFixtures.pythonAsyncio(40)
        s.taskCensus = nil
        var h = PanelHistory()
        h.append(s)
        let text = PanelSnapshotTests.render(Size(160, 50), s, h).text
        #expect(!text.contains("by what they await"))
        #expect(!text.contains("to_thread    "), "no census row")
    }
}
