import Testing

@testable import Dashboard

@Suite struct DisplayWidthTests {
    @Test func asciiIsOneColumn() {
        #expect(DisplayWidth.of("a" as Unicode.Scalar) == 1)
        #expect(DisplayWidth.of("hello") == 5)
    }

    @Test func wideCharactersAreTwoColumns() {
        #expect(DisplayWidth.of("一" as Unicode.Scalar) == 2)
        #expect(DisplayWidth.of("日本") == 4)
        #expect(DisplayWidth.of("█" as Unicode.Scalar) == 1)
        #expect(DisplayWidth.of("→" as Unicode.Scalar) == 1)
    }

    @Test func controlAndCombiningAreZero() {
        #expect(DisplayWidth.of("\n" as Unicode.Scalar) == 0)
        #expect(DisplayWidth.of("\u{0301}" as Unicode.Scalar) == 0)
    }

    @Test func fallbackTableAgreesOnCommonCharacters() {
        for s: Unicode.Scalar in ["a", "一", "가", "█", "─", "…", "\u{0301}"] {
            #expect(DisplayWidth.fallback(s) == DisplayWidth.of(s), "\(s)")
        }
    }
}

@Suite struct GridTests {
    @Test func blankGridRendersEmptyLines() {
        let g = Grid(width: 4, height: 2)
        #expect(g.text == "\n")
        #expect(g.cells.count == 8)
    }

    @Test func textIsClippedToTheGrid() {
        var g = Grid(width: 5, height: 2)
        g.text(at: Point(-2, 0), "abcdefg")
        g.text(at: Point(3, 1), "xyz")
        g.text(at: Point(0, 5), "never")
        #expect(g.text == "cdefg\n   x…")
    }

    @Test func maxWidthCutsWithEllipsis() {
        var g = Grid(width: 12, height: 1)
        let w = g.text(at: Point(0, 0), "scheduler", maxWidth: 6)
        #expect(w == 6)
        #expect(g.text == "sched…")
        var a = Grid(width: 12, height: 1, glyphs: .ascii)
        a.text(at: Point(0, 0), "scheduler", maxWidth: 6)
        #expect(a.text == "sched~")
    }

    @Test func alignment() {
        var g = Grid(width: 10, height: 2)
        g.text(at: Point(0, 0), "ab", maxWidth: 10, align: .right)
        g.text(at: Point(0, 1), "ab", maxWidth: 10, align: .center)
        #expect(g.text == "        ab\n    ab")
    }

    @Test func wideCharactersTakeTwoCells() {
        var g = Grid(width: 6, height: 1)
        let w = g.text(at: Point(0, 0), "日本x")
        #expect(w == 5)
        #expect(g[0, 0].width == 2)
        #expect(g[1, 0].isContinuation)
        #expect(g[4, 0].scalar == "x")
        #expect(g.text == "日本x")
    }

    @Test func overwritingHalfAWideCharacterBlanksTheOtherHalf() {
        var g = Grid(width: 6, height: 1)
        g.text(at: Point(0, 0), "日本")
        g.put("a", x: 1, y: 0)  // right half of 日
        #expect(g.text == " a本")
        g.put("b", x: 2, y: 0)  // left half of 本
        #expect(g.text == " ab")
        #expect(g[3, 0].width == 1)
    }

    @Test func wideCharacterAtTheClipEdgeIsNotHalfDrawn() {
        var g = Grid(width: 3, height: 1)
        g.text(at: Point(0, 0), "a日")
        #expect(g.text == "a日")
        var h = Grid(width: 2, height: 1)
        h.put("日", x: 1, y: 0)
        #expect(h.text == "")
        #expect(h.cells.allSatisfy { $0.width == 1 })
    }

    @Test func wideTextCutWithEllipsisFitsTheWidth() {
        var g = Grid(width: 10, height: 1)
        let w = g.text(at: Point(0, 0), "日本語テキスト", maxWidth: 6)
        #expect(w <= 6)
        #expect(g.text == "日本…")
    }

    @Test func clippedRestrictsWritesAndRestores() {
        var g = Grid(width: 8, height: 3)
        g.clipped(to: Rect(2, 1, 3, 1)) { g in
            g.fill(g.bounds, with: "x")
            g.text(at: Point(2, 1), "abcdef")
        }
        #expect(g.clip == g.bounds)
        #expect(g.text == "\n  ab…\n")
    }

    @Test func fillAndRestyle() {
        var g = Grid(width: 4, height: 2)
        g.fill(Rect(1, 0, 2, 2), with: "#", style: Style(fg: .red))
        g.restyle(Rect(0, 1, 4, 1)) { $0.with(.bold) }
        #expect(g.text == " ##\n ##")
        #expect(g.styleText == ".aa\nbccb\n\na: fg=1 bg=-\nb: fg=- bg=- bold\nc: fg=1 bg=- bold")
    }

    @Test func pasteCopiesCells() {
        var small = Grid(width: 3, height: 1)
        small.text(at: Point(0, 0), "日x")
        var g = Grid(width: 5, height: 2)
        g.paste(small, at: Point(1, 1))
        #expect(g.text == "\n 日x")
    }
}

@Suite struct LayoutTests {
    @Test func fixedPercentAndFill() {
        let r = Rect(0, 0, 100, 10)
        let parts = r.split(.horizontal, [.fixed(10), .percent(20), .fill, .fill(2)])
        #expect(parts.map(\.width) == [10, 20, 24, 46])
        #expect(parts.map(\.x) == [0, 10, 30, 54])
    }

    @Test func gapsAreBetweenParts() {
        let parts = Rect(0, 0, 10, 4).split(.horizontal, [.fill, .fill], gap: 2)
        #expect(parts == [Rect(0, 0, 4, 4), Rect(6, 0, 4, 4)])
    }

    @Test func remainderGoesToFirstFills() {
        #expect(Rect(0, 0, 10, 1).columns(3).map(\.width) == [4, 3, 3])
        #expect(Rect(0, 0, 1, 7).rows(2).map(\.height) == [4, 3])
    }

    @Test func tooShortCutsFromTheEnd() {
        let parts = Rect(0, 0, 5, 8).split(.vertical, [.fixed(3), .fixed(3), .fixed(3)])
        #expect(parts.map(\.height) == [3, 3, 2])
        let none = Rect(0, 0, 5, 2).split(.vertical, [.fixed(3), .fill(weight: 1, min: 2)])
        #expect(none.map(\.height) == [2, 0])
    }

    @Test func rectHelpers() {
        let r = Rect(2, 3, 10, 6)
        #expect(r.inset(dx: 1, dy: 1) == Rect(3, 4, 8, 4))
        #expect(r.inset(dx: 9, dy: 9).isEmpty)
        #expect(r.splitTop(1).top == Rect(2, 3, 10, 1))
        #expect(r.splitBottom(2).bottom == Rect(2, 7, 10, 2))
        #expect(r.centered(Size(4, 2)) == Rect(5, 5, 4, 2))
        #expect(r.intersection(Rect(0, 0, 4, 4)) == Rect(2, 3, 2, 1))
        #expect(r.intersection(Rect(50, 50, 1, 1)).isEmpty)
        #expect(r.contains(Point(2, 3)) && !r.contains(Point(12, 3)))
    }
}
