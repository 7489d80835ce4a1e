import Foundation
import Telemetry
import Testing

@testable import Dashboard

extension PanelFixtures {
    /// asyncio-mn: an M:N loop of `threads` threads beside one loop, the invariant figures of both.
    static func asyncioMN(_ i: Int = 40, threads: Int = 4) -> Snapshot {
        var loop = LoopSnapshot(
            id: 0, readyDepth: 3, maxReadyDepth: 12, timersPending: 1, tasksAlive: 9, jobsRun: UInt64(20_000 + 90 * i),
            busyRatio: 0.18, current: i % 2 == 0 ? "rmw" : nil, jobsInInterval: 90,
            lag: LagSummary(p50Ms: 0.05, p99Ms: 0.9, maxMs: 2.1, slotP99Ms: 1, recentMs: 0.2 + wave(i)),
            readyDelay: loopDelay(p99Ms: 0.5))
        loop.readyPeak = 5
        let mn = MNLoopSnapshot(
            threads: (0..<threads).map { t in
                MNThreadSnapshot(
                    id: t, state: [MNThreadState.running, .running, .searching, .parked][(t + i) % 4],
                    runs: UInt64(4000 * i + 31 * t), runsInInterval: UInt64(80 + t), stealOps: UInt64(3 * i + t),
                    stolenIn: UInt64(9 * i + 5 * t), stolenOut: UInt64(7 * i + 3 * t), parks: UInt64(2 * i),
                    queueDepth: (t * 3 + i) % 6, queuePeak: (t * 3 + i) % 6 + 2, maxQueueDepth: 14,
                    busyRatio: 0.2 + 0.6 * wave(i + t), topVictim: (t + 1) % threads, topVictimJobs: UInt64(4 * i + t))
            }, injectorDepth: 1, tasksAlive: 9,
            invariant: [
                InvariantSnapshot(
                    runtime: "mn-loop", threads: threads, rounds: UInt64(3 * i), increments: UInt64(600 * i),
                    lostUpdates: UInt64(81 * i), cacheFills: UInt64(33 * i), duplicateFills: UInt64(i)),
                InvariantSnapshot(
                    runtime: "loop", threads: 1, rounds: UInt64(3 * i), increments: UInt64(600 * i),
                    cacheFills: UInt64(32 * 3 * i)),
            ])
        var s = Snapshot(
            time: Double(i) / 10, sequence: UInt64(i), preset: "asyncio-mn",
            presetTitle: "The asyncio invariant: an M:N event loop loses updates, one loop does not", model: .asyncioMN,
            loops: [loop], fibers: FiberCounts(total: 9), lag: loop.lag, readyDelay: loop.readyDelay,
            busyWindowSeconds: 1)
        s.mnLoop = mn
        return s
    }
}

/// The asyncio-mn panel: the M:N loop's threads (queues, steals, top victim) beside the single loop, and the
/// lost-updates figure of each.
@Suite struct MNLoopPanelTests {
    static let sizes = [Size(80, 24), Size(200, 60)]

    @Test(arguments: sizes) func theTwoLoopsSideBySide(size: Size) {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.asyncioMN($0) }
        let g = PanelSnapshotTests.render(size, s, h)
        expectSnapshot(g, named: "panel-asyncio-mn-\(size.width)x\(size.height)")
        let text = g.text
        for label in ["M:N Event Loop", "4 threads", "Event Loop", "1 thread", "T1", "T4", "←T"] {
            #expect(text.contains(label), "\(size): \(label)")
        }
        // The figure of the claim: the M:N loop's lost updates (81 × 39) and the single loop's 0.
        #expect(text.contains("lost updates 3159 of 23.4k"), "\(text)")
        #expect(text.contains("lost updates 0 of 23.4k"), "\(text)")
    }

    @Test func manyThreadsFoldIntoOneRow() {
        let (s, h) = PanelFixtures.run(10) { PanelFixtures.asyncioMN($0, threads: 32) }
        let g = PanelSnapshotTests.render(Size(80, 24), s, h)
        expectSnapshot(g, named: "panel-asyncio-mn-32-80x24")
        #expect(g.text.contains("more"))
        #expect(g.text.contains("lost updates"))
    }

    /// A recording made before the section (or a runtime without it) shows "n/a", never 0.
    @Test func withoutTheSectionTheFiguresAreNA() {
        var s = PanelFixtures.asyncioMN(40)
        s.mnLoop = nil
        var h = PanelHistory()
        h.append(s)
        let text = PanelSnapshotTests.render(Size(200, 60), s, h).text
        #expect(text.contains("n/a"))
        #expect(!text.contains("lost updates 0"))
    }

    @Test func labelsAreInTheGlossary() {
        let labels = ["lost updates", "duplicate fills", "in/out", "rounds", "thr", "from", "srch", "more"]
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.asyncioMN($0, threads: 32) }
        let (s4, h4) = PanelFixtures.run(40) { PanelFixtures.asyncioMN($0) }
        let all =
            PanelSnapshotTests.render(Size(200, 60), s4, h4).text + PanelSnapshotTests.render(Size(80, 24), s, h).text
        for l in labels {
            #expect(all.contains(l), "label \(l) is not drawn")
            #expect(FiguresGlossaryTests.glossary.contains(l), "docs/figures.md lacks \(l)")
        }
        #expect(FiguresGlossaryTests.glossary.contains("**M:N Event Loop"))
    }
}

extension MNLoopPanelTests {
    /// The headless JSON of an asyncio-mn run: its invariant keys are in the glossary.
    @Test func invariantJSONKeysAreInTheGlossary() throws {
        let summary = try #require(RunSummary((0..<40).map { PanelFixtures.asyncioMN($0) }))
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(summary.jsonText.utf8)) as? [String: Any])
        let list = try #require(object["invariant"] as? [[String: Any]])
        #expect(list.count == 2)
        let keys = Set(list.flatMap(\.keys))
        #expect(keys.contains("lostUpdates") && keys.contains("duplicateFills"))
        for k in keys.sorted() + ["invariant"] {
            #expect(FiguresGlossaryTests.glossary.contains("`\(k)`"), "docs/figures.md lacks JSON key \(k)")
        }
    }
}
