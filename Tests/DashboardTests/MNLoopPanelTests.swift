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
        var mn = MNLoopSnapshot(
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
        // The M:N loop's own heartbeat lag: worse than the single loop's (timers wait for a thread to look).
        mn.lag = LagSummary(p50Ms: 0.4, p99Ms: 4.2, maxMs: 17, slotP99Ms: 5, recentMs: 2.6 + wave(i))
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

    /// The heartbeat-lag panel beside the M:N loop says whose figures it shows: the single-threaded loop's (the M:N
    /// loop's own lag is in its panel). A snapshot without an M:N loop keeps the plain title.
    @Test func theLagPanelNamesTheLoopItShows() throws {
        let s = PanelFixtures.asyncioMN(40)
        var h = PanelHistory()
        h.append(s)
        let text = PanelSnapshotTests.render(Size(200, 60), s, h).text
        let title = try #require(text.split(separator: "\n").first { $0.contains("Heartbeat lag") }, "\(text)")
        #expect(title.contains("Heartbeat lag · ready → running · Event Loop, 1 thread"), "\(title)")
        var plain = s
        plain.mnLoop = nil
        var h2 = PanelHistory()
        h2.append(plain)
        let other = PanelSnapshotTests.render(Size(200, 60), plain, h2).text
        #expect(!other.contains("running · Event Loop, 1 thread"), "\(other)")
    }

    /// The M:N loop shows its own heartbeat lag (not the single loop's), and "n/a" where a snapshot has none.
    @Test(arguments: sizes) func theMNLoopShowsItsOwnHeartbeatLag(size: Size) throws {
        var s = PanelFixtures.asyncioMN(40)
        var h = PanelHistory()
        h.append(s)
        let text = PanelSnapshotTests.render(size, s, h).text
        let row = try #require(text.split(separator: "\n").first { $0.contains("hb lag now") }, "\(text)")
        // Its p99 and max, 4.2 and 17 ms; the single loop's are 0.9 and 2.1 ms.
        #expect(row.contains("p99 4.2ms") && row.contains("max 17ms"), "\(row)")
        s.mnLoop?.lag = nil
        var h2 = PanelHistory()
        h2.append(s)
        let without = PanelSnapshotTests.render(size, s, h2).text
        #expect(without.contains("hb lag n/a"), "\(without)")
        #expect(!without.contains("p99 4.2ms"))
    }

    @Test func labelsAreInTheGlossary() {
        let labels = ["lost updates", "duplicate fills", "in/out", "rounds", "thr", "from", "srch", "more", "hb lag"]
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.asyncioMN($0, threads: 32) }
        let (s4, h4) = PanelFixtures.run(40) { PanelFixtures.asyncioMN($0) }
        let all =
            PanelSnapshotTests.render(Size(200, 60), s4, h4).text + PanelSnapshotTests.render(Size(80, 24), s, h).text
        for l in labels {
            #expect(all.contains(l), "label \(l) is not drawn")
            #expect(FiguresGlossaryTests.glossary.contains(l), "docs/figures.md lacks \(l)")
        }
        #expect(FiguresGlossaryTests.glossary.contains("**M:N Event Loop"))
        #expect(FiguresGlossaryTests.glossary.contains("M:N loop's heartbeat lag"))
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
        // The M:N loop's own heartbeat lag: a key of its own, its figures beside it.
        let lag = try #require(object["mnLoopLag"] as? [String: Any])
        #expect(lag["p99Ms"] as? Double == 4.2)
        for k in keys.sorted() + ["invariant", "mnLoopLag"] {
            #expect(FiguresGlossaryTests.glossary.contains("`\(k)`"), "docs/figures.md lacks JSON key \(k)")
        }
    }
}
