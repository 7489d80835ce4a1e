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
            for (i, k) in b.keys.enumerated() {
                // The digits binding stands for choosePreset(0…8), one per key.
                let expected = b.intent == .choosePreset(0) ? .choosePreset(i) : b.intent
                #expect(KeyMap.intent(for: k, state: s) == expected, "\(k)")
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
        let footer = Shell.footerHints(in: Rect(0, 23, 80, 1), state: s)
        let help = try #require(footer.first { $0.intent == .toggleHelp })
        let click = MouseEvent(kind: .click, point: Point(help.rect.x + 1, 23))
        let intent = try #require(Shell.intent(for: .mouse(click), data: ViewData(), state: s))
        #expect(reduce(&s, intent) == .none)
        #expect(s.helpVisible)
        // A press alone is not a click; with no snapshot a click in the body selects nothing.
        s.helpVisible = false
        let press = MouseEvent(kind: .press, point: Point(help.rect.x + 1, 23))
        #expect(Shell.intent(for: .mouse(press), data: ViewData(), state: s) == nil)
        #expect(
            Shell.intent(for: .mouse(MouseEvent(kind: .click, point: Point(40, 10))), data: ViewData(), state: s) == nil
        )
    }

    @Test func clickOnACarrierSelectsIt() throws {
        let data = Fixtures.data()
        var s = UIState(size: Size(160, 50))
        _ = reduce(&s, .selectableCount(data.selectableCount))
        // Find a cell of the body that selects carrier 2, by asking the panels' hit test over the body.
        let body = Shell.bodyRect(s.size)
        let snapshot = try #require(data.snapshot)
        var target: Point?
        for y in body.y..<body.maxY where target == nil {
            for x in body.x..<body.maxX
            where DashboardPanels.hitTest(Point(x, y), rect: body, snapshot: snapshot, view: s.panel) == 2 {
                target = Point(x, y)
                break
            }
        }
        let p = try #require(target)
        let intent = Shell.intent(for: .mouse(MouseEvent(kind: .click, point: p)), data: data, state: s)
        #expect(intent == .select(2))
        _ = reduce(&s, try #require(intent))
        #expect(s.panel.selected == 2)
    }

    @Test func selectionDetailsAndCodePane() {
        var s = UIState()
        _ = reduce(&s, .openDetails)
        #expect(!s.panel.showDetails)  // nothing to select yet
        _ = reduce(&s, .selectableCount(4))
        _ = reduce(&s, .moveSelection(-1))
        #expect(s.panel.selected == 3)
        _ = reduce(&s, .moveSelection(1))
        #expect(s.panel.selected == 0)
        _ = reduce(&s, .openDetails)
        #expect(s.panel.showDetails)
        _ = reduce(&s, .toggleHelp)
        _ = reduce(&s, .closeOverlay)  // closes the help first
        #expect(!s.helpVisible && s.panel.showDetails)
        _ = reduce(&s, .closeOverlay)  // then the details view
        #expect(!s.panel.showDetails)
        _ = reduce(&s, .toggleCode)
        #expect(s.panel.showCode)
        _ = reduce(&s, .nextCode)
        #expect(s.panel.codeIndex == 1)
        _ = reduce(&s, .select(3))
        _ = reduce(&s, .selectableCount(2))  // fewer workers now: the selection follows
        #expect(s.panel.selected == 1)
    }

    @Test func helpListsEveryBinding() {
        var s = UIState(size: Size(80, 24))
        s.helpVisible = true
        let text = Shell.render(data: ViewData(), state: s).text
        for b in KeyMap.bindings where b.inHelp {
            #expect(text.contains(b.keyLabel), "\(b.keyLabel)")
            #expect(text.contains(b.help), "\(b.help)")
        }
        // A binding left out of help shares the line of the binding before it.
        for (i, b) in KeyMap.bindings.enumerated() where !b.inHelp {
            #expect(i > 0 && KeyMap.bindings[i - 1].helpKeys != nil, "\(b.help)")
        }
    }

    @Test func longHelpUsesTwoColumnsAndStaysComplete() {
        let lines = (1...30).map { (keys: "k\($0)", help: "action number \($0)") }
        var g = Grid(width: 80, height: 24)
        let body = Rect(0, 1, 80, 22)
        g.clipped(to: body) { g in Shell.drawHelp(into: &g, in: body, state: UIState(), lines: lines) }
        let text = g.text
        for l in lines { #expect(text.contains("\(l.keys) ") && text.contains(l.help), "\(l.keys)") }
    }

    static let presets = [
        PresetInfo(name: "vt", title: "Virtual threads", explanation: "Fibers on carriers."),
        PresetInfo(name: "loop", title: "Event loop", explanation: "One loop, one thread."),
        PresetInfo(name: "lpt", title: "Loop per thread", explanation: "N loops on N threads."),
    ]

    @Test func presetKeysAskTheAppLoopToSwitch() {
        var s = UIState()
        s.presets = Self.presets
        s.presetIndex = 0
        #expect(KeyMap.intent(for: .char("2"), state: s) == .choosePreset(1))
        #expect(reduce(&s, .choosePreset(1)) == .switchPreset(1))
        #expect(s.status == "starting loop")
        _ = reduce(&s, .presetSwitched(1))
        #expect(s.presetIndex == 1 && s.status == nil && s.presetName == "loop")
        #expect(reduce(&s, .choosePreset(1)) == .none)  // already running
        #expect(reduce(&s, .cyclePreset) == .switchPreset(2))
        _ = reduce(&s, .presetSwitched(2))
        #expect(reduce(&s, .cyclePreset) == .switchPreset(0))  // wraps
        #expect(reduce(&s, .choosePreset(8)) == .none)
        #expect(s.banner == "no preset 9: there are 3")
        _ = reduce(&s, .closeOverlay)
        #expect(s.banner == nil)
    }

    @Test func aFailedSwitchKeepsTheCurrentPresetAndShowsABanner() {
        var s = UIState()
        s.presets = Self.presets
        s.presetIndex = 0
        #expect(reduce(&s, .choosePreset(2)) == .switchPreset(2))
        _ = reduce(&s, .presetFailed("preset lpt: carriers must be between 1 and 256"))
        #expect(s.presetIndex == 0)
        #expect(s.banner == "preset lpt: carriers must be between 1 and 256")
        let text = Shell.render(data: ViewData(), state: s).text
        #expect(text.contains("carriers must be between 1 and 256"))
    }

    @Test func pickerTakesArrowsAndEnter() {
        var s = UIState()
        s.presets = Self.presets
        s.presetIndex = 1
        _ = reduce(&s, .togglePicker)
        #expect(s.pickerVisible && s.pickerCursor == 1)
        #expect(KeyMap.intent(for: .down, state: s) == .movePickerCursor(1))
        _ = reduce(&s, .movePickerCursor(1))
        _ = reduce(&s, .movePickerCursor(1))
        #expect(s.pickerCursor == 0)  // wraps
        #expect(KeyMap.intent(for: .enter, state: s) == .pickCursor)
        #expect(reduce(&s, .pickCursor) == .switchPreset(0))
        #expect(!s.pickerVisible)
        // Without presets (a replay), the picker and Tab do nothing.
        var none = UIState()
        #expect(reduce(&none, .togglePicker) == .none && !none.pickerVisible)
        #expect(reduce(&none, .cyclePreset) == .none)
    }

    @Test func presetExplanationsAreReflowed() {
        #expect(
            Shell.reflow("One loop\non one thread.\n\nWatch the lag.\n") == "One loop on one thread.\nWatch the lag.")
        #expect(Shell.reflow("") == "")
    }

    @Test func wrapBreaksAtSpacesAndCutsLongWords() {
        #expect(Grid.wrap("one two three four", width: 9) == ["one two", "three", "four"])
        #expect(Grid.wrap("abcdefghij", width: 4) == ["abcd", "efgh", "ij"])
        #expect(Grid.wrap("a\nb", width: 5) == ["a", "b"])
        #expect(Grid.wrap("日本語", width: 4) == ["日本", "語"])
        #expect(Grid.wrap("x", width: 0) == [])
    }

    @Test func viewDataKeepsABoundedHistory() {
        var d = ViewData(sourceAttached: true)
        for i in 0..<(PanelHistory.defaultCapacity + 50) {
            d.ingest(Fixtures.snapshot(sequence: UInt64(i)))
        }
        #expect(d.history.samples.count == PanelHistory.defaultCapacity)
        #expect(d.snapshot?.sequence == UInt64(PanelHistory.defaultCapacity + 49))
        #expect(d.selectableCount == 4)
    }

    @Test func sSavesAPictureLiveAndInAReplayAndTheHeaderSaysWhere() {
        for replaying in [false, true] {
            var s = UIState(size: Size(80, 24))
            s.replaying = replaying
            let intent = KeyMap.intent(for: .char("s"), state: s)
            #expect(intent == .savePicture, "replaying: \(replaying)")
            #expect(reduce(&s, .savePicture) == .savePicture)
            _ = reduce(&s, .pictureSaved("pictures/qvtop-vt-steal-12.5s.svg"))
            #expect(s.status == "saved pictures/qvtop-vt-steal-12.5s.svg")
            let header = Shell.render(data: ViewData(), state: s).text.prefix { $0 != "\n" }
            #expect(header.contains("saved pictures/"), "\(header)")
            _ = reduce(&s, .pictureFailed("cannot write x.svg: Permission denied"))
            #expect(s.banner == "cannot write x.svg: Permission denied")
        }
    }
}
