import Telemetry
import Testing

@testable import Dashboard

/// Layout decisions of the panels (no drawing).
@Suite struct PanelLayoutTests {
    @Test func compactBelow120x36AndRichAbove() {
        let vt = PanelFixtures.virtualThreads()
        let compact = PanelPlan.make(for: Rect(0, 1, 80, 22), snapshot: vt, view: PanelView())
        #expect(compact.density == .compact)
        #expect(compact.busy.isEmpty && compact.fibers.isEmpty && compact.legend.isEmpty)
        #expect(!compact.flow.isEmpty && !compact.lag.isEmpty && !compact.slow.isEmpty && !compact.tasks.isEmpty)
        let rich = PanelPlan.make(for: Rect(0, 1, 160, 48), snapshot: vt, view: PanelView())
        #expect(rich.density == .rich)
        #expect(!rich.busy.isEmpty && !rich.fibers.isEmpty && !rich.legend.isEmpty)
        let loops = PanelPlan.make(
            for: Rect(0, 1, 160, 48), snapshot: PanelFixtures.eventLoop(pool: true), view: PanelView())
        #expect(loops.fibers.isEmpty)
        // The flowchart takes what it needs; the lag chart gets the rest of the height.
        #expect(
            loops.flow.height
                == PanelPlan.preferredFlowHeight(PanelFixtures.eventLoop(pool: true), width: loops.flow.width))
        #expect(loops.lag.y == loops.flow.maxY && loops.slow.y == loops.lag.maxY && loops.slow.maxY == 49)
    }

    @Test func panelsDoNotOverlap() {
        for size in [Size(80, 22), Size(120, 36), Size(160, 48), Size(200, 58)] {
            for code in [false, true] {
                let p = PanelPlan.make(
                    for: Rect(0, 0, size.width, size.height), snapshot: PanelFixtures.virtualThreads(),
                    view: PanelView(showCode: code))
                let rects = [p.flow, p.lag, p.slow, p.tasks, p.busy, p.fibers, p.events, p.legend, p.code]
                    .filter { !$0.isEmpty }
                for (i, a) in rects.enumerated() {
                    #expect(Rect(0, 0, size.width, size.height).intersection(a) == a)
                    for b in rects[(i + 1)...] { #expect(a.intersection(b).isEmpty, "\(size) \(a) \(b)") }
                }
            }
        }
    }

    @Test func detailsTakeTheWholeBody() {
        let body = Rect(0, 1, 80, 22)
        let p = PanelPlan.make(
            for: body, snapshot: PanelFixtures.loopPerThread(sharedPool: false), view: PanelView(showDetails: true))
        #expect(p.details == body && p.flow.isEmpty)
    }

    @Test func compactCodePaneTakesTheBody() {
        let body = Rect(0, 1, 80, 22)
        let p = PanelPlan.make(
            for: body, snapshot: PanelFixtures.eventLoop(pool: false), view: PanelView(showCode: true))
        #expect(p.code == body && p.flow.isEmpty)
    }

    @Test func carriersAreBoxesWhenTheyFitElseRows() {
        let boxes = FiberChartLayout.make(Rect(0, 0, 48, 22), carriers: 3, withFibers: true)
        #expect(!boxes.table && boxes.carriers.count == 3)
        #expect(boxes.carriers.allSatisfy { $0.width >= FiberChartLayout.minBoxWidth && $0.height >= 5 })
        #expect(boxes.carriers[0].maxX < boxes.carriers[1].x)
        let rows = FiberChartLayout.make(Rect(0, 0, 48, 22), carriers: 5, withFibers: true)
        #expect(rows.table && rows.carriers.allSatisfy { $0.height == 1 })
    }

    @Test func poolThreadsAreBoxesOrOneBox() {
        let four = EventLoopLayout.make(Rect(0, 0, 60, 20), poolThreads: 4)
        #expect(four.threads.count == 4 && four.poolBox.isEmpty)
        let many = EventLoopLayout.make(Rect(0, 0, 60, 20), poolThreads: 16)
        #expect(many.threads.isEmpty && !many.poolBox.isEmpty)
        // A pool that does not report its threads one by one: one box, never boxes lit by a busy count.
        let unknown = EventLoopLayout.make(Rect(0, 0, 60, 20), poolThreads: nil)
        #expect(unknown.threads.isEmpty && !unknown.poolBox.isEmpty)
        let none = EventLoopLayout.make(Rect(0, 0, 60, 20), poolThreads: nil, pool: false)
        #expect(none.threads.isEmpty && none.poolBox.isEmpty)
    }

    @Test func loopPairsAreBoxesOrRows() {
        let boxes = LoopGroupLayout.make(Rect(0, 0, 110, 30), loops: 3, sharedPool: true)
        #expect(!boxes.rows && boxes.loops.count == 3 && !boxes.pool.isEmpty)
        for (l, t) in zip(boxes.loops, boxes.threads) { #expect(l.maxX < t.x && t.maxX < boxes.pool.x) }
        let rows = LoopGroupLayout.make(Rect(0, 0, 60, 10), loops: 6, sharedPool: false)
        #expect(rows.rows && rows.loops.count == 6 && rows.pool.isEmpty)
        // Narrow frames put the pool under the pairs.
        let narrow = LoopGroupLayout.make(Rect(0, 0, 48, 22), loops: 3, sharedPool: true)
        #expect(!narrow.rows && !narrow.pool.isEmpty && narrow.pool.y > narrow.threads[2].maxY - 1)
    }

    @Test func hitTestFindsTheCarrierUnderTheMouse() {
        let s = PanelFixtures.virtualThreads()
        let body = Rect(0, 1, 160, 48)
        let plan = PanelPlan.make(for: body, snapshot: s, view: PanelView())
        let layout = FiberChartLayout.make(plan.flow, carriers: 4, withFibers: false)
        for (i, r) in layout.carriers.enumerated() {
            #expect(DashboardPanels.hitTest(Point(r.x + 1, r.y + 1), rect: body, snapshot: s, view: PanelView()) == i)
        }
        #expect(DashboardPanels.hitTest(Point(0, body.maxY - 1), rect: body, snapshot: s, view: PanelView()) == nil)
    }

    @Test func selectionWrapsAndClamps() {
        var v = PanelView()
        v.moveSelection(by: -1, count: 4)
        #expect(v.selected == 3)
        v.moveSelection(by: 2, count: 4)
        #expect(v.selected == 1)
        #expect(PanelView(selected: 9).selection(count: 3) == 2)
        #expect(PanelView(selected: 1).selection(count: 0) == nil)
    }

    @Test func viewActions() {
        var v = PanelView()
        var changed = v.apply(.openDetails, itemCount: 3)
        #expect(changed && v.showDetails)
        changed = v.apply(.back, itemCount: 3)
        #expect(changed && !v.showDetails)
        changed = v.apply(.back, itemCount: 3)
        #expect(!changed)  // nothing open: the shell may close its own overlay
        changed = v.apply(.toggleCode, itemCount: 3)
        #expect(changed && v.showCode)
        changed = v.apply(.nextListing, itemCount: 3, listingCount: 2)
        #expect(changed && v.codeIndex == 1)
        v.apply(.nextListing, itemCount: 3, listingCount: 2)
        #expect(v.codeIndex == 0)
        changed = v.apply(.back, itemCount: 3)
        #expect(changed && !v.showCode)
        changed = v.apply(.select(7), itemCount: 3)
        #expect(!changed)
        changed = v.apply(.select(2), itemCount: 3)
        #expect(changed && v.selected == 2)
        changed = v.apply(.openDetails, itemCount: 0)
        #expect(!changed && !v.showDetails)
    }

    @Test func stealFlowsAreSummedPerPairLargestFirst() {
        let flows = FiberChart.steals(PanelFixtures.virtualThreads())
        #expect(flows == [StealFlow(thief: 1, victim: 0, count: 7), StealFlow(thief: 3, victim: 0, count: 2)])
    }

    @Test func numberFormats() {
        #expect(Fmt.ms(0.214) == "0.21ms")
        #expect(Fmt.ms(3.44) == "3.4ms")
        #expect(Fmt.ms(17) == "17ms")
        #expect(Fmt.ms(1234) == "1.2s")
        #expect(Fmt.count(987) == "987")
        #expect(Fmt.count(12_345) == "12.3k")
        #expect(Fmt.count(4_500_000) == "4.5M")
        #expect(Fmt.pct(0.925) == "93%")
        #expect(Fmt.rate(0.25) == "0.3")
    }

    @Test func codeWrapsLongLinesKeepingStyles() {
        let line = "    try await server.roundTrip(on: loop)  // a comment long enough to wrap"
        let rows = CodePane.wrap(CodePane.spans(line[...]), width: 30)
        #expect(rows.count > 1)
        for row in rows { #expect(row.reduce(0) { $0 + $1.0.count } <= 30) }
        let text = rows.map { $0.map(\.0).joined() }
        #expect(text.joined(separator: " ").split(separator: " ") == line.split(separator: " "))
        // The comment's continuation stays dim.
        #expect(rows.last?.last?.1 == .dim)
        #expect(CodePane.wrap([("short", .plain)], width: 30).count == 1)
    }

    @Test func codeColoringMarksAsyncWords() {
        let spans = CodePane.spans("    req = await conn.recv(4096)  # comment")
        #expect(spans.contains { $0.0 == "await" && $0.1 == PanelPalette.asyncCode })
        #expect(spans.last?.0 == "# comment" && spans.last?.1 == .dim)
        #expect(spans.map(\.0).joined() == "    req = await conn.recv(4096)  # comment")
    }
}
