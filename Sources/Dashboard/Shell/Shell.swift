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
        var (body, footer) = rest.splitBottom(1)
        let overlayArea = body  // the help may cover the timeline bar
        if let replay = data.replay {  // replay: the timeline bar above the footer
            let (top, bar) = body.splitBottom(1)
            body = top
            drawTimeline(into: &grid, in: bar, replay: replay)
        }
        drawHeader(into: &grid, in: header, data: data, state: state)
        grid.clipped(to: body) { g in Body.draw(into: &g, in: body, data: data, state: state) }
        drawFooter(into: &grid, in: footer, state: state)
        if let banner = state.banner { drawBanner(into: &grid, in: body.splitTop(1).top, banner) }
        if state.pickerVisible { drawPicker(into: &grid, in: body, state: state) }
        if state.helpVisible {
            drawHelp(into: &grid, in: overlayArea, state: state, lines: helpLines(replaying: state.replaying))
        }
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
        if state.replaying {
            mode = data.replay?.paused == true ? "REPLAY PAUSED" : "REPLAY"
        } else if state.paused {
            mode = "PAUSED"
        } else if snapshot != nil {
            mode = "LIVE"
        } else {
            mode = data.sourceAttached ? "starting" : "no runtime"
        }
        var right = "\(state.rateHz) Hz"
        if let s = snapshot {
            // Narrow terminals leave the model out (the flowchart's title names it) for the preset title.
            let model = rect.width >= 120 ? s.model.rawValue + sep : ""
            right = model + "t=\(formatSeconds(s.time))" + sep + right
        }
        if let replay = data.replay { right = replay.label(times: Character(g.times)) + sep + right }
        if let rec = data.recording { right = rec.label + sep + right }
        if let status = state.status { right = status + sep + right }
        // Right side first, at most half the row, so the preset title gets what is left.
        let modeWidth = DisplayWidth.of(mode) + 2
        let rightWidth = min(DisplayWidth.of(right), max(0, rect.width / 2))
        let rightX = rect.maxX - 1 - modeWidth - 1 - rightWidth
        grid.text(at: Point(rightX, rect.y), right, style: headerStyle, maxWidth: rightWidth)
        let modeStyle =
            state.paused || data.replay?.paused == true || data.recording != nil ? pausedStyle : headerNameStyle
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
    static func footerHints(
        in rect: Rect, state: UIState
    ) -> [(rect: Rect, key: String, label: String, intent: Intent)] {
        var out: [(Rect, String, String, Intent)] = []
        var x = rect.x
        for b in KeyMap.activeBindings(replaying: state.replaying) {
            guard let hint = b.hint, let k = b.keys.first else { continue }
            if b.intent == .togglePicker && state.presets.isEmpty { continue }
            let key = b.intent == .faster ? "+/-" : k.description
            let w = DisplayWidth.of(key) + 1 + DisplayWidth.of(hint)
            if x + w > rect.maxX { break }
            out.append((Rect(x, rect.y, w, 1), key, hint, b.intent))
            x += w + 2
        }
        return out
    }

    static func drawFooter(into grid: inout Grid, in rect: Rect, state: UIState) {
        for h in footerHints(in: rect, state: state) {
            let w = grid.text(at: h.rect.origin, h.key, style: footerKeyStyle)
            grid.text(at: Point(h.rect.x + w + 1, h.rect.y), h.label, style: footerTextStyle)
        }
    }

    /// The body's rectangle for a terminal size: everything between header and footer.
    public static func bodyRect(_ size: Size) -> Rect {
        Rect(0, 0, size.width, size.height).inset(top: 1, bottom: 1)
    }

    /// What a key or mouse report means given what is on screen: keys through `KeyMap`; a click on a
    /// footer hint acts like its key, a click on a worker or loop of the flowchart selects it.
    public static func intent(for key: Key, data: ViewData, state: UIState) -> Intent? {
        guard case .mouse(let m) = key else { return KeyMap.intent(for: key, state: state) }
        guard m.kind == .click || m.kind == .release, !state.tooSmall, !state.helpVisible else { return nil }
        if state.pickerVisible { return nil }
        let footer = Rect(0, state.size.height - 1, state.size.width, 1)
        if let hint = footerHints(in: footer, state: state).first(where: { $0.rect.contains(m.point) }) {
            return hint.intent
        }
        if let s = data.snapshot,
            let i = DashboardPanels.hitTest(m.point, rect: bodyRect(state.size), snapshot: s, view: state.panel)
        {
            return .select(i)
        }
        return nil
    }

    // MARK: - Help

    static func helpLines(replaying: Bool = false) -> [(keys: String, help: String)] {
        KeyMap.activeBindings(replaying: replaying).filter(\.inHelp).map { ($0.keyLabel, $0.help) }
    }

    /// The help overlay: every binding of `KeyMap` (one column, or two when one does not fit the body's
    /// height), then the color legend of the panels, flowed over as many lines as it needs, and where the
    /// figures are defined (docs/figures.md).
    static func drawHelp(
        into grid: inout Grid, in body: Rect, state: UIState,
        lines: [(keys: String, help: String)] = helpLines(),
        legend: [(style: Style, text: String)] = DashboardPanels.legend
    ) {
        let keyWidth = lines.map { DisplayWidth.of($0.keys) }.max() ?? 0
        let helpWidth = lines.map { DisplayWidth.of($0.help) }.max() ?? 0
        let footerNote = "? or Esc closes this help"
        // Where each figure on screen is defined (name, source, window, unit, when n/a).
        let glossaryNote = "figures: docs/figures.md"
        let notesWidth = DisplayWidth.of(glossaryNote) + 2 + DisplayWidth.of(footerNote)
        let columnWidth = keyWidth + 2 + helpWidth
        let maxInner = max(10, body.width - 4)
        // Legend items "green running, busy", flowed into lines of the box's width.
        let items = legend.map { item -> (Style, String, String) in
            let word = String(item.text.prefix { $0 != " " })
            let rest = item.text.dropFirst(word.count).drop { $0 == " " }
            return (item.style, word, String(rest))
        }
        func flow(width fullWidth: Int) -> [[(Style, String, String)]] {
            let width = fullWidth - 7  // "Colors " heading
            var rows: [[(Style, String, String)]] = [[]]
            var used = 0
            for it in items {
                let w = DisplayWidth.of(it.1) + 1 + DisplayWidth.of(it.2) + 3
                if used > 0 && used + w > width {
                    rows.append([])
                    used = 0
                }
                rows[rows.count - 1].append(it)
                used += w
            }
            return items.isEmpty ? [] : rows
        }
        var columns = 1
        var inner = min(maxInner, max(columnWidth, notesWidth))
        var legendRows = flow(width: inner)
        let extra = legendRows.isEmpty ? 0 : legendRows.count + 1
        if lines.count + extra > max(1, body.height - 4) {
            columns = 2
            inner = min(maxInner, max(columnWidth * 2 + 3, notesWidth))
            legendRows = flow(width: inner)
        }
        let perColumn = (lines.count + columns - 1) / columns
        let legendHeight = legendRows.isEmpty ? 0 : legendRows.count + 1
        let rect = body.centered(Size(inner + 4, perColumn + legendHeight + 4))
        grid.fill(rect, style: overlayStyle)
        let inside = grid.box(rect, title: "Keys", style: Style(fg: .cyan), titleStyle: Style(fg: .cyan, .bold))
        let area = inside.inset(dx: 1, dy: 0)
        let colWidth = columns == 1 ? area.width : (area.width - 3) / 2
        for (i, line) in lines.enumerated() {
            let x = area.x + (i / perColumn) * (colWidth + 3)
            let y = area.y + i % perColumn
            let kw = min(keyWidth, colWidth)
            grid.text(at: Point(x, y), line.keys, style: .bold, maxWidth: kw)
            grid.text(at: Point(x + kw + 2, y), line.help, maxWidth: max(0, colWidth - kw - 2))
        }
        if !legendRows.isEmpty {
            let top = area.y + perColumn
            let heading = "Colors "
            for (r, row) in legendRows.enumerated() {
                var x = area.x + DisplayWidth.of(heading)
                if r == 0 { grid.text(at: Point(area.x, top + 1), heading, style: .bold) }
                for (style, word, meaning) in row {
                    let room = max(0, area.maxX - x)
                    x += grid.text(at: Point(x, top + 1 + r), word, style: style, maxWidth: room) + 1
                    x += grid.text(at: Point(x, top + 1 + r), meaning, maxWidth: max(0, area.maxX - x)) + 3
                }
            }
        }
        let notesRow = area.y + perColumn + legendHeight + 1
        grid.text(at: Point(area.x, notesRow), footerNote, style: .dim, maxWidth: area.width, align: .right)
        if area.width >= notesWidth {
            grid.text(at: Point(area.x, notesRow), glossaryNote, style: .dim, maxWidth: area.width)
        }
    }

    // MARK: - Banner and preset picker

    public static let bannerStyle = Style(fg: .brightWhite, bg: .red, .bold)

    static func drawBanner(into grid: inout Grid, in rect: Rect, _ text: String) {
        grid.fill(rect, style: bannerStyle)
        grid.text(at: Point(rect.x + 1, rect.y), text + "  (Esc hides)", style: bannerStyle, maxWidth: rect.width - 2)
    }

    /// The preset picker: one line per preset (`1  name  title`), the cursor's line highlighted, and the
    /// explanation of the preset under the cursor below the list.
    static func drawPicker(into grid: inout Grid, in body: Rect, state: UIState) {
        let presets = state.presets
        guard !presets.isEmpty else { return }
        let width = min(body.width - 4, max(60, body.width * 3 / 4))
        let innerWidth = width - 4
        let cursor = max(0, min(state.pickerCursor, presets.count - 1))
        let explanation = Grid.wrap(reflow(presets[cursor].explanation), width: innerWidth)
        let listRows = min(presets.count, max(1, body.height - 8 - min(explanation.count, 6)))
        let explanationRows = min(explanation.count, max(0, body.height - 6 - listRows))
        let rect = body.centered(Size(width, listRows + explanationRows + 5))
        grid.fill(rect, style: overlayStyle)
        let inside = grid.box(
            rect, title: "Presets", style: Style(fg: .cyan), titleStyle: Style(fg: .cyan, .bold))
        let area = inside.inset(dx: 1, dy: 0)
        let nameWidth = min(24, presets.map { DisplayWidth.of($0.name) }.max() ?? 0)
        let first = max(0, min(cursor - listRows + 1, presets.count - listRows))
        for row in 0..<listRows {
            let i = first + row
            let p = presets[i]
            let y = area.y + row
            let current = i == state.presetIndex
            let style: Style = i == cursor ? .reverse : current ? .bold : .plain
            if i == cursor { grid.fill(Rect(area.x, y, area.width, 1), style: style) }
            let key = i < 9 ? "\(i + 1)" : " "
            let mark = current ? "\(Character(grid.glyphs.bullet))" : " "
            var x = area.x
            x += grid.text(at: Point(x, y), "\(key) \(mark) ", style: style)
            grid.text(at: Point(x, y), p.name, style: style.with(.bold), maxWidth: nameWidth)
            x += nameWidth + 2
            grid.text(at: Point(x, y), p.title, style: style, maxWidth: max(0, area.maxX - x))
        }
        for (r, line) in explanation.prefix(explanationRows).enumerated() {
            grid.text(at: Point(area.x, area.y + listRows + 1 + r), line, style: .dim, maxWidth: area.width)
        }
        let sep = Character(grid.glyphs.separator)
        grid.text(
            at: Point(area.x, inside.maxY - 1), "Up/Down move \(sep) Enter or 1-9 switch \(sep) Esc closes",
            style: .dim, maxWidth: area.width, align: .right)
    }

    /// Text as written in a preset file (hard-wrapped lines, blank lines between paragraphs) as paragraphs:
    /// single newlines become spaces, blank lines stay paragraph breaks.
    static func reflow(_ text: String) -> String {
        var paragraphs: [String] = []
        var current: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let t = line.drop { $0 == " " }
            if t.isEmpty {
                if !current.isEmpty { paragraphs.append(current.joined(separator: " ")) }
                current = []
            } else {
                current.append(t)
            }
        }
        if !current.isEmpty { paragraphs.append(current.joined(separator: " ")) }
        return paragraphs.joined(separator: "\n")
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
