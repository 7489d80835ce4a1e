import Foundation
import Testing

@testable import Dashboard

// Text snapshots of screens.
//
// A screen is stored as its text (`Grid.text`), a line "---- styles ----", and its style layer
// (`Grid.styleText`), in Tests/Snapshots/DashboardTests/NAME.txt (outside the target folder, so
// SwiftPM does not ask to declare them as resources). A test renders the screen and compares.
// To re-record after an intended change:
//
//     QVTOP_RECORD_SNAPSHOTS=1 swift test --filter DashboardTests
//
// then review `git diff Tests/Snapshots` and commit. A missing file is recorded
// and the test fails once (so a new snapshot is always looked at); under CI=true a missing file
// just fails.

/// Compares `grid` with the stored snapshot `name`, or records it.
func expectSnapshot(
    _ grid: Grid, named name: String, filePath: String = #filePath, sourceLocation: SourceLocation = #_sourceLocation
) {
    let testFolder = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    let dir = testFolder.deletingLastPathComponent().appendingPathComponent("Snapshots")
        .appendingPathComponent(testFolder.lastPathComponent)
    let file = dir.appendingPathComponent(name + ".txt")
    let actual = grid.text + "\n---- styles ----\n" + grid.styleText + "\n"
    let env = ProcessInfo.processInfo.environment
    let record = env["QVTOP_RECORD_SNAPSHOTS"] == "1"
    let stored = try? String(contentsOf: file, encoding: .utf8)
    if record || (stored == nil && env["CI"] != "true") {
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        do {
            try actual.write(to: file, atomically: true, encoding: .utf8)
        } catch {
            Issue.record("cannot write snapshot \(file.path): \(error)", sourceLocation: sourceLocation)
        }
        if !record {
            Issue.record("recorded new snapshot \(name); review and commit it", sourceLocation: sourceLocation)
        }
        return
    }
    guard let stored else {
        Issue.record("missing snapshot \(file.path)", sourceLocation: sourceLocation)
        return
    }
    if stored != actual {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let s = stored.split(separator: "\n", omittingEmptySubsequences: false)
        let firstDiff = (0..<min(a.count, s.count)).first { a[$0] != s[$0] } ?? min(a.count, s.count)
        let got = firstDiff < a.count ? String(a[firstDiff]) : "<end>"
        let want = firstDiff < s.count ? String(s[firstDiff]) : "<end>"
        Issue.record(
            """
            snapshot \(name) differs at line \(firstDiff + 1)
              stored: \(want)
              actual: \(got)
            (re-record with QVTOP_RECORD_SNAPSHOTS=1 if intended)
            """, sourceLocation: sourceLocation)
    }
}
