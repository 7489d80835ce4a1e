import Foundation
import Telemetry
import Testing

@testable import Dashboard

/// The memory panel (issue 15, memory per parked task) as text snapshots at 80×24 and 160×50, with a limit
/// banner, and with figures not measured ("n/a", never 0).
@Suite struct MemoryPanelTests {
    static let sizes = [Size(80, 24), Size(160, 50)]

    static func parked(_ i: Int, limit: String? = nil) -> Snapshot {
        var s = PanelFixtures.virtualThreads(i, carriers: 2)
        s.memory = MemorySnapshot(
            rssBytes: 115_884_032, baselineRSSBytes: 29_306_880, parkedTasks: 10_001, bytesPerParked: 8656.8,
            stackResidentBytesPerStack: 8192, stacksMeasured: 256, stacksMapped: 10_022, parkTarget: 10_000,
            limit: limit)
        s.memory?.pageTablesPerParked = 121.7
        s.memory?.kernelStacksPerParked = -14.2
        return s
    }

    /// The threads model's memory figures (threads-parked): the fiber-only stack figure reads n/a.
    static func parkedThreads(_ i: Int) -> Snapshot {
        var s = PanelFixtures.threads(i, alive: 10_000)
        s.memory = MemorySnapshot(
            rssBytes: 129_777_664, baselineRSSBytes: 29_982_720, parkedTasks: 10_000, bytesPerParked: 9979.5,
            parkTarget: 10_000)
        s.memory?.pageTablesPerParked = 4152.3
        s.memory?.kernelStacksPerParked = 16_384.4
        return s
    }

    @Test(arguments: sizes) func parkedThreads(size: Size) {
        let (s, h) = PanelFixtures.run(40) { Self.parkedThreads($0) }
        let g = PanelSnapshotTests.render(size, s, h)
        expectSnapshot(g, named: "panel-memory-threads-\(size.width)x\(size.height)")
        #expect(g.text.contains("9.7 KiB"))
        #expect(g.text.contains("kern. stk  16.0 KiB"))
    }

    @Test(arguments: sizes) func parkedFibers(size: Size) {
        let (s, h) = PanelFixtures.run(40) { Self.parked($0) }
        let g = PanelSnapshotTests.render(size, s, h)
        expectSnapshot(g, named: "panel-memory-\(size.width)x\(size.height)")
        #expect(g.text.contains("8.5 KiB"))
    }

    @Test(arguments: sizes) func limitBanner(size: Size) {
        let limit = "file descriptors: RLIMIT_NOFILE 500 reached (accept; two per connection) after 245 parked tasks"
        let (s, h) = PanelFixtures.run(40) { Self.parked($0, limit: limit) }
        let g = PanelSnapshotTests.render(size, s, h)
        expectSnapshot(g, named: "panel-memory-limit-\(size.width)x\(size.height)")
        #expect(g.text.contains("LIMIT: file descriptors"))
    }

    @Test func unmeasuredFiguresReadNA() {
        let rows = MemoryPanel.lines(MemorySnapshot(rssBytes: 1 << 20))
        #expect(
            rows.map(\.value) == [
                "1.0 MiB (base n/a)", "n/a", "n/a (above base)", "n/a", "n/a (own)", "n/a (system-wide)",
            ])
    }
}

extension MemoryPanelTests {
    /// The memory panel's title, labels and JSON keys are in docs/figures.md.
    @Test func memoryFiguresAreInTheGlossary() throws {
        let (s, h) = PanelFixtures.run(40) { Self.parked($0, limit: "fds") }
        let screen = PanelSnapshotTests.render(Size(160, 50), s, h).text
        for label in [
            "Memory", "RSS", "base", "parked", "per parked", "stack res.", "mincore", "LIMIT:", "asked", "page tbl.",
            "kern. stk",
        ] {
            #expect(screen.contains(label), "\(label) is not drawn")
            #expect(FiguresGlossaryTests.glossary.contains("**\(label)"), "docs/figures.md lacks \(label)")
        }
        let summary = try #require(RunSummary((0..<40).map { Self.parked($0, limit: "fds") }))
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(summary.jsonText.utf8)) as? [String: Any])
        let memory = try #require(object["memory"] as? [String: Any])
        #expect(memory.count == 11)
        for k in memory.keys.sorted() + ["memory"] {
            #expect(FiguresGlossaryTests.glossary.contains("`\(k)`"), "docs/figures.md lacks JSON key \(k)")
        }
    }
}
