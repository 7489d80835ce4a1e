import Testing

@testable import Dashboard

@Suite struct ReducerTests {
    @Test func helpPauseAndQuit() {
        var s = UIState()
        #expect(reduce(&s, .toggleHelp) == .none)
        #expect(s.helpVisible)
        #expect(reduce(&s, .closeOverlay) == .none)
        #expect(!s.helpVisible)
        #expect(reduce(&s, .togglePause) == .none)
        #expect(s.paused)
        #expect(reduce(&s, .togglePause) == .none)
        #expect(!s.paused)
        #expect(reduce(&s, .quit(status: 0)) == .quit(status: 0))
        #expect(reduce(&s, .quit(status: 130)) == .quit(status: 130))
    }

    @Test func rateStepsStayWithinBounds() {
        var s = UIState(rateHz: 10)
        var seen: [Int] = []
        for _ in 0..<12 {
            _ = reduce(&s, .faster)
            seen.append(s.rateHz)
        }
        #expect(seen.prefix(4) == [15, 20, 30, 60])
        #expect(s.rateHz == 60)
        for _ in 0..<20 { _ = reduce(&s, .slower) }
        #expect(s.rateHz == 1)
        #expect(UIState(rateHz: 500).rateHz == 60)
        #expect(UIState(rateHz: 0).rateHz == 1)
        var odd = UIState(rateHz: 7)
        _ = reduce(&odd, .faster)
        #expect(odd.rateHz == 10)
        odd.rateHz = 7
        _ = reduce(&odd, .slower)
        #expect(odd.rateHz == 5)
    }

    @Test func resizeAndRedrawRepaint() {
        var s = UIState(size: Size(120, 40))
        #expect(reduce(&s, .redraw) == .repaintAll)
        #expect(reduce(&s, .resize(Size(40, 10))) == .repaintAll)
        #expect(s.size == Size(40, 10))
        #expect(s.tooSmall)
        _ = reduce(&s, .resize(Size(80, 24)))
        #expect(!s.tooSmall)
    }

    @Test func everyBindingMapsToItsIntent() {
        let s = UIState()
        for b in KeyMap.bindings {
            for k in b.keys {
                #expect(KeyMap.intent(for: k, state: s) == b.intent, "\(k)")
            }
        }
        #expect(KeyMap.intent(for: .char("Q"), state: s) == .quit(status: 0))
        #expect(KeyMap.intent(for: .char("z"), state: s) == nil)
        #expect(KeyMap.intent(for: .resize, state: s) == nil)
    }

    @Test func noKeyIsBoundTwice() {
        let keys = KeyMap.bindings.flatMap(\.keys)
        #expect(Set(keys).count == keys.count)
    }

    @Test func issueKeysAreBound() {
        let s = UIState()
        #expect(KeyMap.intent(for: .char("?"), state: s) == .toggleHelp)
        #expect(KeyMap.intent(for: .char("h"), state: s) == .toggleHelp)
        #expect(KeyMap.intent(for: .function(1), state: s) == .toggleHelp)
        #expect(KeyMap.intent(for: .char(" "), state: s) == .togglePause)
        #expect(KeyMap.intent(for: .ctrl("l"), state: s) == .redraw)
        #expect(KeyMap.intent(for: .char("q"), state: s) == .quit(status: 0))
        #expect(KeyMap.intent(for: .function(10), state: s) == .quit(status: 0))
        #expect(KeyMap.intent(for: .ctrl("c"), state: s) == .quit(status: 130))
        #expect(KeyMap.intent(for: .char("+"), state: s) == .faster)
        #expect(KeyMap.intent(for: .char("-"), state: s) == .slower)
    }

    @Test func clickOnAFooterHintActsLikeItsKey() throws {
        var s = UIState(size: Size(80, 24))
        let footer = Shell.footerHints(in: Rect(0, 23, 80, 1))
        let help = try #require(footer.first { $0.intent == .toggleHelp })
        let click = MouseEvent(kind: .click, point: Point(help.rect.x + 1, 23))
        let intent = try #require(KeyMap.intent(for: .mouse(click), state: s))
        #expect(reduce(&s, intent) == .none)
        #expect(s.helpVisible)
        // A click elsewhere does nothing; a press alone is not a click.
        #expect(reduce(&s, .click(Point(40, 10))) == .none)
        #expect(s.helpVisible)
        #expect(KeyMap.intent(for: .mouse(MouseEvent(kind: .press, point: Point(1, 23))), state: s) == nil)
    }

    @Test func helpListsEveryBinding() {
        var s = UIState(size: Size(80, 24))
        s.helpVisible = true
        let text = Shell.render(data: ViewData(), state: s).text
        for b in KeyMap.bindings {
            #expect(text.contains(b.keyLabel), "\(b.keyLabel)")
            #expect(text.contains(b.help), "\(b.help)")
        }
    }

    @Test func viewDataKeepsABoundedHistory() {
        var d = ViewData(sourceAttached: true)
        for i in 0..<(ViewData.historyLength + 50) {
            d.ingest(Fixtures.snapshot(sequence: UInt64(i)))
        }
        #expect(d.lagHistory.count == ViewData.historyLength)
        #expect(d.snapshot?.sequence == UInt64(ViewData.historyLength + 49))
        var switched = Fixtures.snapshot(sequence: 1000)
        switched.preset = "event-loop"
        d.ingest(switched)
        #expect(d.lagHistory[d.lagHistory.count - 2].isNaN)
    }
}
