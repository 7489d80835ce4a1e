import Telemetry

// The shell: header, body, footer, and the overlays above them.
//
//   row 0        header: "qvtop", the preset, the model, the rate, LIVE / PAUSED / no runtime, status
//   rows 1…h-2   body (Body.swift): the panels for the snapshot, or "no runtime attached"
//   row h-1      footer: key hints from `KeyMap` (clickable)
//   overlays     help (every binding in `KeyMap`), drawn last, centred
//
// Below `UIState.minimumSize` only a centred message is drawn, naming the size needed; the
// state is kept, so growing the terminal back restores the dashboard as it was.
//
// `Shell.render` is a pure function of (data, state, glyphs): the app loop calls it once per
// frame and hands the grid to the terminal, and snapshot tests call it with fixed inputs.

public enum Shell {
    /// Styles of the shell's own parts.
    public static let headerStyle = Style(fg: .black, bg: .cyan)
    public static let headerNameStyle = Style(fg: .black, bg: .cyan, .bold)
    public static let pausedStyle = Style(fg: .brightWhite, bg: .red, .bold)
    public static let footerKeyStyle = Style(fg: .black, bg: .cyan)
    public static let footerTextStyle = Style.plain
    public static let overlayStyle = Style(fg: .default, bg: .default)

    /// The whole frame for `state.size`.
    public static func render(data: ViewData, state: UIState, glyphs: Glyphs = .unicode) -> Grid {
        var grid = Grid(size: state.size, glyphs: glyphs)
        draw(into: &grid, data: data, state: state)
        return grid
    }

    /// Draws the frame into `grid` (which must be `state.size`).
    public static func draw(into grid: inout Grid, data: ViewData, state: UIState) {
        if state.tooSmall {
            drawTooSmall(into: &grid, size: state.size)
            return
        }
        let (header, rest) = grid.bounds.splitTop(1)
        let (body, footer) = rest.splitBottom(1)
        drawHeader(into: &grid, in: header, data: data, state: state)
        grid.clipped(to: body) { g in Body.draw(into: &g, in: body, data: data, state: state) }
        drawFooter(into: &grid, in: footer, state: state)
        if state.helpVisible { drawHelp(into: &grid, in: body, state: state) }
    }

    // MARK: - Header

    static func drawHeader(into grid: inout Grid, in rect: Rect, data: ViewData, state: UIState) {
        grid.fill(rect, style: headerStyle)
        let g = grid.glyphs
        let sep = "  \(Character(g.separator))  "
        var x = rect.x + 1
        x += grid.text(at: Point(x, rect.y), "qvtop", style: headerNameStyle) + 2
        let snapshot = data.snapshot
        let preset: String
        if let s = snapshot, !s.presetTitle.isEmpty {
            preset = s.presetTitle
        } else if let s = snapshot, !s.preset.isEmpty {
            preset = s.preset
        } else {
            preset = state.presetName.isEmpty ? String(Character(g.dash)) : state.presetName
        }
        let mode: String
        if state.paused {
            mode = "PAUSED"
        } else if snapshot != nil {
            mode = "LIVE"
        } else {
            mode = data.sourceAttached ? "starting" : "no runtime"
        }
        var right = "\(state.rateHz) Hz"
        if let s = snapshot { right = s.model.rawValue + sep + "t=\(formatSeconds(s.time))" + sep + right }
        if let status = state.status { right = status + sep + right }
        // Right side first, at most half the row, so the preset title gets what is left.
        let modeWidth = DisplayWidth.of(mode) + 2
        let rightWidth = min(DisplayWidth.of(right), max(0, rect.width / 2))
        let rightX = rect.maxX - 1 - modeWidth - 1 - rightWidth
        grid.text(at: Point(rightX, rect.y), right, style: headerStyle, maxWidth: rightWidth)
        let modeStyle = state.paused ? pausedStyle : headerNameStyle
        grid.text(at: Point(rect.maxX - 1 - modeWidth, rect.y), " \(mode) ", style: modeStyle)
        grid.text(at: Point(x, rect.y), preset, style: headerNameStyle, maxWidth: max(0, rightX - 2 - x))
    }

    static func formatSeconds(_ t: Double) -> String {
        guard t.isFinite, t >= 0 else { return "-" }
        let s = Int(t)
        return s >= 3600 ? "\(s / 3600)h\(pad2((s / 60) % 60))m" : s >= 60 ? "\(s / 60)m\(pad2(s % 60))s" : "\(s)s"
    }

    private static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    // MARK: - Footer

    /// The footer hints and the cells they take, for drawing and for mouse clicks.
    static func footerHints(in rect: Rect) -> [(rect: Rect, key: String, label: String, intent: Intent)] {
        var out: [(Rect, String, String, Intent)] = []
        var x = rect.x
        for b in KeyMap.bindings {
            guard let hint = b.hint, let k = b.keys.first else { continue }
            let key = b.intent == .faster ? "+/-" : k.description
            let w = DisplayWidth.of(key) + 1 + DisplayWidth.of(hint)
            if x + w > rect.maxX { break }
            out.append((Rect(x, rect.y, w, 1), key, hint, b.intent))
            x += w + 2
        }
        return out
    }

    static func drawFooter(into grid: inout Grid, in rect: Rect, state: UIState) {
        for h in footerHints(in: rect) {
            let w = grid.text(at: h.rect.origin, h.key, style: footerKeyStyle)
            grid.text(at: Point(h.rect.x + w + 1, h.rect.y), h.label, style: footerTextStyle)
        }
    }

    /// The intent of what is drawn at `point` (a footer hint), or nil.
    public static func hitTest(_ point: Point, state: UIState) -> Intent? {
        guard !state.tooSmall else { return nil }
        let footer = Rect(0, state.size.height - 1, state.size.width, 1)
        return footerHints(in: footer).first { $0.rect.contains(point) }?.intent
    }

    // MARK: - Help

    static func helpLines() -> [(keys: String, help: String)] {
        KeyMap.bindings.map { ($0.keyLabel, $0.help) }
    }

    static func drawHelp(into grid: inout Grid, in body: Rect, state: UIState) {
        let lines = helpLines()
        let keyWidth = lines.map { DisplayWidth.of($0.keys) }.max() ?? 0
        let helpWidth = lines.map { DisplayWidth.of($0.help) }.max() ?? 0
        let footerNote = "? or Esc closes this help"
        let inner = max(keyWidth + 2 + helpWidth, DisplayWidth.of(footerNote))
        let rect = body.centered(Size(inner + 4, lines.count + 4))
        grid.fill(rect, style: overlayStyle)
        let inside = grid.box(rect, title: "Keys", style: Style(fg: .cyan), titleStyle: Style(fg: .cyan, .bold))
        let area = inside.inset(dx: 1, dy: 0)
        for (i, line) in lines.enumerated() {
            let y = area.y + i
            grid.text(at: Point(area.x, y), line.keys, style: .bold, maxWidth: keyWidth)
            grid.text(at: Point(area.x + keyWidth + 2, y), line.help, maxWidth: max(0, area.width - keyWidth - 2))
        }
        grid.text(
            at: Point(area.x, area.y + lines.count + 1), footerNote, style: .dim, maxWidth: area.width,
            align: .right)
    }

    // MARK: - Too small

    static func drawTooSmall(into grid: inout Grid, size: Size) {
        let lines = [
            "Terminal too small: \(grid.glyphs.size(size))",
            "qvtop needs at least \(grid.glyphs.size(UIState.minimumSize))",
            "(q quits)",
        ]
        let top = max(0, (size.height - lines.count) / 2)
        for (i, line) in lines.enumerated() {
            grid.text(
                at: Point(0, top + i), line, style: i == 0 ? .bold : .plain, maxWidth: size.width, align: .center)
        }
    }
}
