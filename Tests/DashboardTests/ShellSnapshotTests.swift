import Testing

@testable import Dashboard

/// The shell's screens as text snapshots (see SnapshotTesting.swift for re-recording).
@Suite struct ShellSnapshotTests {
    static let sizes = [Size(80, 24), Size(160, 50)]

    private func render(
        _ size: Size, data: ViewData = ViewData(), glyphs: Glyphs = .unicode, _ edit: (inout UIState) -> Void = { _ in }
    )
        -> Grid
    {
        var state = UIState(size: size, rateHz: 10, presetName: "virtual-threads")
        edit(&state)
        return Shell.render(data: data, state: state, glyphs: glyphs)
    }

    @Test(arguments: sizes) func normal(size: Size) {
        expectSnapshot(render(size), named: "normal-\(size.width)x\(size.height)")
    }

    @Test(arguments: sizes) func help(size: Size) {
        expectSnapshot(render(size) { $0.helpVisible = true }, named: "help-\(size.width)x\(size.height)")
    }

    @Test(arguments: sizes) func paused(size: Size) {
        expectSnapshot(
            render(size, data: Fixtures.data()) { $0.paused = true }, named: "paused-\(size.width)x\(size.height)")
    }

    @Test(arguments: sizes) func live(size: Size) {
        expectSnapshot(render(size, data: Fixtures.data()), named: "live-\(size.width)x\(size.height)")
    }

    @Test(arguments: [Size(40, 10), Size(79, 24)]) func tooSmall(size: Size) {
        expectSnapshot(render(size), named: "too-small-\(size.width)x\(size.height)")
    }

    @Test(arguments: sizes) func picker(size: Size) {
        let g = render(size, data: Fixtures.data()) { s in
            s.presets = ReducerTests.presets
            s.presetIndex = 0
            s.pickerVisible = true
            s.pickerCursor = 1
        }
        expectSnapshot(g, named: "picker-\(size.width)x\(size.height)")
    }

    @Test func banner() {
        let g = render(Size(80, 24), data: Fixtures.data()) { $0.banner = "preset broken: line 3: unknown field" }
        expectSnapshot(g, named: "banner-80x24")
    }

    @Test func asciiLive() {
        expectSnapshot(render(Size(80, 24), data: Fixtures.data(), glyphs: .ascii), named: "ascii-live-80x24")
    }

    @Test func asciiScreensAreASCII() {
        for size in Self.sizes {
            let g = render(size, data: Fixtures.data(), glyphs: .ascii) { $0.helpVisible = true }
            let p = render(size, data: Fixtures.data(), glyphs: .ascii) { s in
                s.presets = ReducerTests.presets
                s.pickerVisible = true
            }
            #expect(p.text.unicodeScalars.allSatisfy { $0.isASCII }, "\(size)")
            // The preset title and key names are ASCII here, so the whole screen must be.
            #expect(g.text.unicodeScalars.allSatisfy { $0.isASCII }, "\(size)")
        }
    }

    @Test func growingBackRestoresTheDashboard() {
        var s = UIState(size: Size(120, 40), presetName: "virtual-threads")
        s.helpVisible = true
        let before = Shell.render(data: ViewData(), state: s)
        _ = reduce(&s, .resize(Size(40, 10)))
        #expect(Shell.render(data: ViewData(), state: s).text.contains("Terminal too small: 40×10"))
        _ = reduce(&s, .resize(Size(120, 40)))
        #expect(Shell.render(data: ViewData(), state: s) == before)
    }
}
