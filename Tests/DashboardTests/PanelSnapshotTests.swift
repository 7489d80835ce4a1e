import Telemetry
import Testing

@testable import Dashboard

/// Every model's panels as text snapshots at 80×24 and 160×50, plus the code pane, the details view and
/// ASCII. The body is drawn where the shell puts it (rows 1…h-2); header and footer rows stay blank.
@Suite struct PanelSnapshotTests {
    static let sizes = [Size(80, 24), Size(160, 50)]

    static func render(
        _ size: Size, _ snapshot: Snapshot, _ history: PanelHistory, view: PanelView = PanelView(),
        code: [CodeListing] = [], glyphs: Glyphs = .unicode
    ) -> Grid {
        var g = Grid(size: size, glyphs: glyphs)
        let body = Rect(0, 1, size.width, size.height - 2)
        DashboardPanels.draw(into: &g, rect: body, snapshot: snapshot, history: history, view: view, code: code)
        return g
    }

    static let models: [(String, @Sendable (Int) -> Snapshot)] = [
        ("virtual-threads", { PanelFixtures.virtualThreads($0) }),
        ("virtual-threads-2", { PanelFixtures.virtualThreads($0, carriers: 2) }),
        ("green-threads", { PanelFixtures.greenThreads($0) }),
        ("asyncio", { PanelFixtures.eventLoop($0, pool: false) }),
        ("to-thread", { PanelFixtures.eventLoop($0, pool: true) }),
        ("loop-per-thread", { PanelFixtures.loopPerThread($0, sharedPool: false) }),
        ("loops-shared-pool", { PanelFixtures.loopPerThread($0, sharedPool: true) }),
        ("asyncio-mn", { PanelFixtures.asyncioMN($0) }),
        ("threads", { PanelFixtures.threads($0) }),
        ("py-to-thread", { PanelFixtures.pythonAsyncio($0) }),
    ]

    @Test(arguments: sizes) func everyModel(size: Size) {
        for (name, make) in Self.models {
            let (s, h) = PanelFixtures.run(40, make)
            expectSnapshot(Self.render(size, s, h), named: "panel-\(name)-\(size.width)x\(size.height)")
        }
    }

    @Test(arguments: sizes) func codePane(size: Size) {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.virtualThreads($0) }
        let g = Self.render(size, s, h, view: PanelView(showCode: true), code: PanelFixtures.code)
        expectSnapshot(g, named: "panel-code-\(size.width)x\(size.height)")
    }

    @Test func codeIndexWrapsAround() {
        let (s, h) = PanelFixtures.run(5) { PanelFixtures.virtualThreads($0) }
        let first = Self.render(Size(80, 24), s, h, view: PanelView(showCode: true), code: PanelFixtures.code)
        let third = Self.render(
            Size(80, 24), s, h, view: PanelView(showCode: true, codeIndex: 2), code: PanelFixtures.code)
        #expect(first == third)
    }

    @Test(arguments: sizes) func detailsOfACarrier(size: Size) {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.virtualThreads($0) }
        let g = Self.render(size, s, h, view: PanelView(selected: 1, showDetails: true))
        expectSnapshot(g, named: "panel-details-carrier-\(size.width)x\(size.height)")
    }

    @Test(arguments: sizes) func detailsOfALoop(size: Size) {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.loopPerThread($0, sharedPool: false) }
        let g = Self.render(size, s, h, view: PanelView(selected: 1, showDetails: true))
        expectSnapshot(g, named: "panel-details-loop-\(size.width)x\(size.height)")
    }

    @Test func asciiScreens() {
        for (name, make) in Self.models where ["virtual-threads", "to-thread", "loops-shared-pool"].contains(name) {
            let (s, h) = PanelFixtures.run(40, make)
            let g = Self.render(Size(80, 24), s, h, glyphs: .ascii)
            expectSnapshot(g, named: "panel-ascii-\(name)-80x24")
            let ascii = g.text.unicodeScalars.allSatisfy { $0.isASCII }
            #expect(ascii, "\(name)")
        }
    }

    @Test func everyModelIsPlainASCIIUnderASCIIGlyphs() {
        for (name, make) in Self.models {
            let (s, h) = PanelFixtures.run(40, make)
            for size in Self.sizes {
                for view in [PanelView(), PanelView(showCode: true), PanelView(showDetails: true)] {
                    let text = Self.render(size, s, h, view: view, code: PanelFixtures.code, glyphs: .ascii).text
                    let ascii = text.unicodeScalars.allSatisfy { $0.isASCII }
                    #expect(ascii, "\(name) \(size) \(view)")
                }
            }
        }
    }

    @Test func stealArrowsLightUpOnlyWithSteals() {
        let steal = PanelPalette.steal
        func hasSteal(_ g: Grid) -> Bool { g.cells.contains { $0.style == steal } }
        var quiet = PanelHistory()
        var s = PanelFixtures.virtualThreads(0, carriers: 2)
        s.events = []
        for w in s.workers.indices { s.workers[w].stolenInInterval = 0 }
        quiet.append(s)
        quiet.append(s)  // no steals this interval
        #expect(!hasSteal(Self.render(Size(80, 24), s, quiet)))
        let (busy, h) = PanelFixtures.run(3) { PanelFixtures.virtualThreads($0, carriers: 2) }
        #expect(hasSteal(Self.render(Size(80, 24), busy, h)))
    }

    @Test func presetSwitchIsMarkedInTheHistory() {
        var h = PanelHistory()
        for i in 0..<30 { h.append(PanelFixtures.greenThreads(i)) }
        var last = PanelFixtures.virtualThreads(30, carriers: 2)
        for i in 30..<50 {
            last = PanelFixtures.virtualThreads(i, carriers: 2)
            h.append(last)
        }
        let g = Self.render(Size(160, 50), last, h)
        expectSnapshot(g, named: "panel-preset-switch-160x50")
        // The switch column of the lag chart carries a dim marker; the old preset's culprits are gone.
        #expect(g.cells.contains { $0.scalar == g.glyphs.vertical && $0.style == .dim })
        #expect(!g.text.contains("C0 disk-"))
    }

    @Test func manyCarriersFallBackToRows() {
        let (s, h) = PanelFixtures.run(10) { PanelFixtures.virtualThreads($0, carriers: 8) }
        expectSnapshot(Self.render(Size(80, 24), s, h), named: "panel-virtual-threads-8-80x24")
    }

    /// Talk labels that must be on screen for each model (what the end-to-end test also looks for).
    @Test(arguments: sizes) func talkLabels(size: Size) {
        let expected: [String: [String]] = [
            "virtual-threads": ["Scheduler", "C0", "C3", "injector", "Heartbeat lag", "ready → running", "stolen"],
            "green-threads": ["Scheduler", "green threads", "PINNED", "dropped: 17"],
            "asyncio": ["Event Loop", "Heartbeat lag", "Slow callbacks", "hash-"],
            "to-thread": ["Event Loop", "Thread 1", "Thread 4", "queue 3"],
            "loop-per-thread": ["Single Process", "Event Loop 1", "Thread 3"],
            "loops-shared-pool": ["Single Process", "Worker Threadpool"],
        ]
        for (name, make) in Self.models {
            let (s, h) = PanelFixtures.run(40, make)
            let text = Self.render(size, s, h).text
            for label in expected[name] ?? [] { #expect(text.contains(label), "\(name) \(size): \(label)") }
        }
    }

    /// Empty snapshots (a runtime that just started) and every size from tiny to large draw without trapping.
    @Test func emptyAndOddSizesNeverTrap() {
        var snapshots = SchedulerModel.allCases.map { Snapshot(preset: "empty", model: $0) }
        snapshots += Self.models.map { $0.1(5) }
        var many = PanelFixtures.loopPerThread(sharedPool: true)
        many.loops = (0..<40).map { LoopSnapshot(id: $0) }
        snapshots.append(many)
        snapshots.append(PanelFixtures.virtualThreads(5, carriers: 64))
        for s in snapshots {
            var h = PanelHistory()
            h.append(s)
            for (w, hh) in [(1, 1), (5, 3), (20, 6), (40, 12), (79, 23), (81, 30), (119, 35), (121, 37), (250, 70)] {
                for view in [PanelView(), PanelView(selected: 99, showDetails: true), PanelView(showCode: true)] {
                    var g = Grid(size: Size(w, hh))
                    DashboardPanels.draw(into: &g, rect: g.bounds, snapshot: s, history: h, view: view)
                    // Besides not trapping: what was drawn is a well-formed grid.
                    #expect(g.invariantViolations().isEmpty, "\(s.model) \(w)x\(hh)")
                }
            }
        }
    }

    @Test func drawingChangesNothingButTheGrid() {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.virtualThreads($0) }
        let a = Self.render(Size(160, 50), s, h)
        let b = Self.render(Size(160, 50), s, h)
        #expect(a == b)
    }

    @Test func staysInsideItsRect() {
        for (_, make) in Self.models {
            let (s, h) = PanelFixtures.run(40, make)
            for size in [Size(80, 24), Size(120, 36), Size(200, 60), Size(30, 8)] {
                var g = Grid(size: size)
                let rect = Rect(3, 2, size.width - 6, size.height - 4)
                DashboardPanels.draw(into: &g, rect: rect, snapshot: s, history: h)
                for y in 0..<size.height {
                    for x in 0..<size.width where !rect.contains(Point(x, y)) { #expect(g[x, y] == .blank()) }
                }
            }
        }
    }
}
