import Telemetry
import Testing

@testable import Dashboard

/// Many workers (issue 15): 16, 64 and 256 carriers and 16 loops stay readable at 80×24 and 200×60 — text
/// snapshots, every carrier reachable by selection, the heat-map's legend and shades, the steals views.
@Suite struct ManyWorkersTests {
    static let sizes = [Size(80, 24), Size(200, 60)]
    static let carrierCounts = [16, 64, 256]

    static func render(
        _ size: Size, _ s: Snapshot, _ h: PanelHistory, view: PanelView = PanelView(), glyphs: Glyphs = .unicode
    )
        -> Grid
    {
        PanelSnapshotTests.render(size, s, h, view: view, glyphs: glyphs)
    }

    static func body(_ size: Size) -> Rect { Rect(0, 1, size.width, size.height - 2) }

    @Test(arguments: sizes) func carrierSnapshots(size: Size) {
        for n in Self.carrierCounts {
            let (s, h) = PanelFixtures.run(20) { PanelFixtures.manyCarriers($0, carriers: n) }
            expectSnapshot(
                Self.render(size, s, h, view: PanelView(selected: n - 1)),
                named: "panel-carriers-\(n)-\(size.width)x\(size.height)")
        }
    }

    @Test(arguments: sizes) func loopSnapshots(size: Size) {
        for shared in [false, true] {
            let (s, h) = PanelFixtures.run(20) { PanelFixtures.manyLoops($0, loops: 16, sharedPool: shared) }
            expectSnapshot(
                Self.render(size, s, h, view: PanelView(selected: 15)),
                named: "panel-loops-16\(shared ? "-shared-pool" : "")-\(size.width)x\(size.height)")
        }
    }

    @Test func asciiHeatMapIsASCII() {
        let (s, h) = PanelFixtures.run(20) { PanelFixtures.manyCarriers($0, carriers: 256) }
        for size in Self.sizes {
            let g = Self.render(size, s, h, glyphs: .ascii)
            #expect(g.text.unicodeScalars.allSatisfy { $0.isASCII }, "\(size)")
            #expect(g.text.contains("q .0 :1 +4 *16 #64"), "\(size)")
        }
        expectSnapshot(Self.render(Size(80, 24), s, h, glyphs: .ascii), named: "panel-ascii-carriers-256-80x24")
    }

    /// Past what fits as rows, the flowchart is a heat-map: one cell per carrier in each map, none left out.
    @Test(arguments: sizes) func everyCarrierHasOneCellPerMap(size: Size) {
        for n in [64, 256] {
            let s = PanelFixtures.manyCarriers(carriers: n)
            let plan = PanelPlan.make(for: Self.body(size), snapshot: s, view: PanelView())
            let layout = FiberChartLayout.make(plan.flow, carriers: n, withFibers: plan.fibers.isEmpty)
            let map = try! #require(layout.heatMap, "\(n) at \(size): a heat-map")
            var seen = [Int](repeating: 0, count: n)
            for y in plan.flow.y..<plan.flow.maxY {
                for x in plan.flow.x..<plan.flow.maxX {
                    if let i = map.index(at: Point(x, y)) { seen[i] += 1 }
                }
            }
            #expect(seen.allSatisfy { $0 == 2 }, "\(n) at \(size): cells per carrier \(Set(seen))")
            // And every cell is inside the flowchart.
            for i in 0..<n {
                #expect(plan.flow.contains(map.cell(i, in: map.queue)) && plan.flow.contains(map.cell(i, in: map.busy)))
            }
        }
    }

    /// A click on a carrier's cell selects that carrier (the shell's hit test), and the selection shows: its cell
    /// reversed, its figures on the selection line; Enter then opens its details.
    @Test(arguments: sizes) func selectionReachesEveryCarrier(size: Size) {
        let n = 256
        let (s, h) = PanelFixtures.run(5) { PanelFixtures.manyCarriers($0, carriers: n) }
        let plan = PanelPlan.make(for: Self.body(size), snapshot: s, view: PanelView())
        let layout = FiberChartLayout.make(plan.flow, carriers: n, withFibers: plan.fibers.isEmpty)
        let map = try! #require(layout.heatMap)
        for i in [0, 17, 200, 255] {
            let p = map.cell(i, in: map.busy)
            #expect(DashboardPanels.hitTest(p, rect: Self.body(size), snapshot: s, view: PanelView()) == i)
            let g = Self.render(size, s, h, view: PanelView(selected: i))
            #expect(g[p.x, p.y].style == .reverse, "\(size) C\(i)")
            #expect(g.text.contains("C\(i) "), "\(size) C\(i) on the selection line")
            let details = Self.render(size, s, h, view: PanelView(selected: i, showDetails: true))
            #expect(details.text.contains("Carrier \(i) "), "\(size) details of C\(i)")
        }
    }

    @Test func pageKeysMoveTheSelectionByAHeatMapRow() {
        var state = UIState()
        _ = reduce(&state, .selectableCount(256))
        let down = KeyMap.intent(for: .pageDown, state: state)
        #expect(down == .moveSelection(16))
        _ = reduce(&state, down!)
        #expect(state.panel.selected == 16)
        _ = reduce(&state, KeyMap.intent(for: .pageUp, state: state)!)
        _ = reduce(&state, KeyMap.intent(for: .pageUp, state: state)!)
        #expect(state.panel.selected == 240)  // wraps like the arrows
    }

    @Test func shadesHaveFixedBounds() {
        #expect([0, 1, 3, 4, 15, 16, 63, 64, 256].map(HeatShade.queueLevel) == [0, 1, 1, 2, 2, 3, 3, 4, 4])
        #expect([0, 0.049, 0.05, 0.3, 0.59, 0.6, 0.9, 1].map(HeatShade.busyLevel) == [0, 0, 1, 2, 2, 3, 4, 4])
        let legend = HeatShade.legend(queue: false, ascii: false).map(\.0).joined()
        #expect(legend == "busy ·0 ░5 ▒30 ▓60 █90%")
    }

    /// A carrier's cell shade follows its own figures: the deepest queue and a pinned carrier's red.
    @Test func cellsShowEachCarriersFigures() {
        var s = PanelFixtures.manyCarriers(carriers: 64)
        for k in s.workers.indices {
            s.workers[k].queueDepth = 0
            s.workers[k].busyRatio = 0
            s.workers[k].state = .parked
        }
        s.workers[9].queueDepth = 100
        s.workers[9].busyRatio = 0.95
        s.workers[9].state = .pinned
        var h = PanelHistory()
        h.append(s)
        let size = Size(80, 24)
        let plan = PanelPlan.make(for: Self.body(size), snapshot: s, view: PanelView())
        let map = try! #require(FiberChartLayout.make(plan.flow, carriers: 64, withFibers: true).heatMap)
        let g = Self.render(size, s, h, view: PanelView(selected: 0))
        let q = map.cell(9, in: map.queue)
        let b = map.cell(9, in: map.busy)
        #expect(g[q.x, q.y].scalar == "█" && g[q.x, q.y].style == PanelPalette.runnable)
        #expect(g[b.x, b.y].scalar == "█" && g[b.x, b.y].style == PanelPalette.blocked)
        let other = map.cell(10, in: map.busy)
        #expect(g[other.x, other.y].scalar == "·")
        #expect(g.text.contains("PINNED 1"), "the red cell's state in words")
    }

    @Test func stealsAreAMatrixUpTo16CarriersElseTopPairs() {
        let (s16, h16) = PanelFixtures.run(20) { PanelFixtures.manyCarriers($0, carriers: 16) }
        let rich16 = Self.render(Size(200, 60), s16, h16).text
        #expect(rich16.contains("Steals, last 1 s: row thief, column victim"))
        let (s256, h256) = PanelFixtures.run(20) { PanelFixtures.manyCarriers($0, carriers: 256) }
        let rich256 = Self.render(Size(200, 60), s256, h256).text
        #expect(rich256.contains("Top steals, last 1 s"))
        // The heaviest pair of the last second is listed: victim → thief with its count.
        let top = FiberChart.steals(h256.recentSteals, carriers: 256)[0]
        #expect(rich256.contains("C\(top.victim)→C\(top.thief) \(top.count)"))
        #expect(Self.render(Size(80, 24), s256, h256).text.contains("steals 1 s:"))
    }

    @Test func busyPanelFoldsThenSpreads() {
        let (s, h) = PanelFixtures.run(5) { PanelFixtures.manyLoops($0, loops: 16, sharedPool: false) }
        let loops = Self.render(Size(200, 60), s, h).text
        for k in 1...16 { #expect(loops.contains("L\(k) "), "L\(k) in the busy panel") }
        let (c, hc) = PanelFixtures.run(5) { PanelFixtures.manyCarriers($0, carriers: 256) }
        let spread = Self.render(Size(200, 60), c, hc).text
        #expect(spread.contains("90-100%"))
        var bands = [Int](repeating: 0, count: 5)
        for w in c.workers { bands[HeatShade.busyLevel(w.busyRatio)] += 1 }
        #expect(spread.contains("\(bands[4]) carriers"))
    }

    @Test func sixteenLoopsAllShownWithASharedPoolAt80x24() {
        let (s, h) = PanelFixtures.run(5) { PanelFixtures.manyLoops($0, loops: 16, sharedPool: true) }
        let text = Self.render(Size(80, 24), s, h).text
        for k in 1...16 { #expect(text.contains("L\(k)→T\(k)"), "L\(k)") }
        #expect(!text.contains("not shown"))
        #expect(text.contains("Worker Threadpool"))
    }

    @Test func manyWorkersStayInsideTheirRectAndNeverTrap() {
        for n in [9, 16, 33, 64, 200, 256] {
            let s = PanelFixtures.manyCarriers(carriers: n)
            var h = PanelHistory()
            h.append(s)
            for (w, hh) in [(30, 8), (48, 22), (80, 24), (120, 36), (200, 60), (250, 70)] {
                for view in [PanelView(selected: n - 1), PanelView(selected: n / 2, showDetails: true)] {
                    var g = Grid(size: Size(w, hh))
                    DashboardPanels.draw(into: &g, rect: g.bounds, snapshot: s, history: h, view: view)
                    #expect(g.invariantViolations().isEmpty, "\(n) at \(w)x\(hh)")
                }
            }
        }
    }
}

/// The many-workers labels are drawn and in docs/figures.md (FiguresGlossaryTests covers the fixtures' screens).
@Suite struct ManyWorkersGlossaryTests {
    @Test func everyManyWorkersLabelIsOnScreenAndInTheGlossary() {
        var screens: [String] = []
        for size in ManyWorkersTests.sizes {
            for n in ManyWorkersTests.carrierCounts {
                let (s, h) = PanelFixtures.run(20) { PanelFixtures.manyCarriers($0, carriers: n) }
                screens.append(ManyWorkersTests.render(size, s, h).text)
                screens.append(ManyWorkersTests.render(size, s, h, glyphs: .ascii).text)
            }
            for shared in [false, true] {
                let (s, h) = PanelFixtures.run(20) { PanelFixtures.manyLoops($0, loops: 16, sharedPool: shared) }
                screens.append(ManyWorkersTests.render(size, s, h).text)
            }
        }
        var quiet = PanelFixtures.manyCarriers(carriers: 64)
        quiet.events = []
        var h = PanelHistory()
        h.append(quiet)
        screens.append(ManyWorkersTests.render(Size(80, 24), quiet, h).text)
        let all = screens.joined(separator: "\n")
        let labels = [
            "q ·0 ░1 ▒4 ▓16 █64", "q .0 :1 +4 *16 #64", "busy ·0 ░5 ▒30 ▓60 █90%", "Enter details", "peak",
            "Steals, last 1 s: row thief, column victim", "Top steals, last 1 s: victim → thief, fibers",
            "steals 1 s:", "more pairs", "steals: none in the last 1 s", "so far", "90-100%", "0-4%", "carriers",
            "mean", "loops ↓ one pool", "lag", "HANDOFF",
        ]
        for l in labels {
            #expect(all.contains(l), "label \(l) is not drawn")
            #expect(FiguresGlossaryTests.glossary.contains(l), "docs/figures.md lacks \(l)")
        }
    }
}
