import Testing

@testable import Dashboard

@Suite struct PrimitiveTests {
    @Test func boxWithTitle() {
        var g = Grid(width: 14, height: 4)
        let inner = g.box(g.bounds, title: "queues")
        #expect(inner == Rect(1, 1, 12, 2))
        #expect(
            g.text == """
                ┌─ queues ───┐
                │            │
                │            │
                └────────────┘
                """)
    }

    @Test func boxTitleIsCutWithEllipsis() {
        var g = Grid(width: 10, height: 3, glyphs: .ascii)
        g.box(g.bounds, title: "a very long title")
        #expect(
            g.text == """
                +- a v~ -+
                |        |
                +--------+
                """)
    }

    @Test func adjacentBoxesShareEdgesWithTees() {
        var g = Grid(width: 9, height: 3)
        g.box(Rect(0, 0, 5, 3))
        g.box(Rect(4, 0, 5, 3))
        #expect(
            g.text == """
                ┌───┬───┐
                │   │   │
                └───┴───┘
                """)
    }

    @Test func crossingLinesMerge() {
        var g = Grid(width: 5, height: 3)
        g.hline(at: Point(0, 1), length: 5)
        g.vline(at: Point(2, 0), length: 3)
        #expect(g.text == "  │\n──┼──\n  │")
        var a = Grid(width: 5, height: 3, glyphs: .ascii)
        a.hline(at: Point(0, 1), length: 5)
        a.vline(at: Point(2, 0), length: 3)
        #expect(a.text == "  |\n--+--\n  |")
    }

    @Test func connectorsAndArrows() {
        var g = Grid(width: 8, height: 3)
        g.connector(from: Point(0, 0), to: Point(5, 2))
        g.arrow(from: Point(7, 2), .up, length: 3)
        #expect(g.text == "─────┐ ↑\n     │ │\n     ↓ │")
        var m = Grid(width: 7, height: 3, glyphs: .ascii)
        m.connector(from: Point(0, 0), to: Point(6, 2), route: .horizontalMidpoint)
        #expect(m.text == "---+\n   |\n   +-->")
    }

    @Test func connectorEndingOnABoxMakesATee() {
        var g = Grid(width: 9, height: 3)
        g.box(Rect(4, 0, 5, 3))
        g.connector(from: Point(0, 1), to: Point(4, 1), head: false)
        #expect(g.text == "    ┌───┐\n────┤   │\n    └───┘")
    }

    @Test func barFillsByFraction() {
        var g = Grid(width: 16, height: 3)
        g.bar(at: Point(0, 0), width: 16, fraction: 0.5, label: "W0", value: "50%")
        g.bar(at: Point(0, 1), width: 16, fraction: 0.0, label: "W1", value: "0%")
        g.bar(at: Point(0, 2), width: 16, fraction: 1.5, label: "W2", value: "100%")
        #expect(g.text == "W0 ████▌░░░░ 50%\nW1 ░░░░░░░░░░ 0%\nW2 ████████ 100%")
    }

    @Test func barHasSubCellPrecisionInUnicodeOnly() {
        var g = Grid(width: 4, height: 1)
        g.bar(at: Point(0, 0), width: 4, fraction: 0.5625)  // 2.25 cells
        #expect(g.text == "██▎░")
        var a = Grid(width: 4, height: 1, glyphs: .ascii)
        a.bar(at: Point(0, 0), width: 4, fraction: 0.5625)
        #expect(a.text == "##..")
    }

    @Test func sparklineScalesAndRightAligns() {
        var g = Grid(width: 10, height: 1)
        g.sparkline(at: Point(0, 0), width: 10, values: [0, 1, 2, 3, 4, 5, 6, 7], max: 7)
        #expect(g.text == "  ▁▂▃▄▅▆▇█")
        var a = Grid(width: 4, height: 1, glyphs: .ascii)
        a.sparkline(at: Point(0, 0), width: 4, values: [9, 9, 0, 5, 10])
        #expect(a.text == "*_=#")
    }

    @Test func everyUnicodeGlyphHasAnASCIIEquivalent() {
        let u = Glyphs.unicode
        let a = Glyphs.ascii
        #expect(u.lines.count == 16 && a.lines.count == 16)
        #expect(u.sparks.count == 8 && a.sparks.count == 8)
        for s in a.lines + a.sparks + [a.arrowLeft, a.arrowRight, a.arrowUp, a.arrowDown, a.barFull, a.barEmpty] {
            #expect(s.isASCII)
        }
        for i in 1..<16 {
            let d = Directions(rawValue: UInt8(i))
            #expect(u.directions(of: u.line(d)) == d)
        }
    }

    @Test func styleLayerNamesStyles() {
        var g = Grid(width: 6, height: 2)
        g.text(at: Point(0, 0), "ok", style: Style(fg: .green, .bold))
        g.text(at: Point(3, 1), "no", style: Style(fg: .red))
        #expect(g.styleText == "aa\n...bb\n\na: fg=2 bg=- bold\nb: fg=1 bg=-")
    }

    @Test func colorsFallBackToEightBasics() {
        #expect(Color.brightRed.basic == .red)
        #expect(Color.cube(5, 0, 0).basic == .red)
        #expect(Color.cube(0, 5, 5).basic == .cyan)
        #expect(Color.grey(23).basic == .white)
        #expect(Color.grey(0).basic == .black)
        #expect(Color.default.basic == .default)
    }
}
