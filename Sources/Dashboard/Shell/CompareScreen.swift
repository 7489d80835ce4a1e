import Telemetry

// The compare screen (`qvtop compare A B`): two runs on one timeline.
//
//   row 0        header: "qvtop compare", A's and B's preset, the playhead, COMPARE / COMPARE PAUSED
//   body         A's and B's dashboards, each in a box named after its side, side by side from 160
//                columns (each then gets the 80 a dashboard needs), stacked one above the other below
//   strip        the headline figures of both runs (`RunComparison`): name, A, B, B − A; "n/a" where a
//                side lacks the figure; failed tasks and drops red where non-zero; a line saying so when
//                the workloads differ
//   row h-2      the timeline bar of the leading (longer) recording
//   row h-1      footer: the replay keys
//
// Each side is the same `Body.draw` the dashboard draws, with its own `ViewData` (snapshot and
// histories), so a side reads like the single-run screen of its model. Pure: a function of both sides'
// data, the comparison, the UI state and the charset; the app loop owns them all.

/// One side of the compare screen.
public struct CompareSide: Sendable, Equatable {
    /// "A" or "B".
    public var name: String
    public var data: ViewData
    /// True when this recording is shorter and the playhead is past its end: it shows its last frame.
    public var held: Bool

    public init(name: String, data: ViewData, held: Bool = false) {
        self.name = name
        self.data = data
        self.held = held
    }
}

public enum CompareScreen {
    /// Width from which the two sides stand side by side.
    public static let sideBySideWidth = 160

    /// The whole compare frame for `state.size`; `timeline` is the bar's (the leader's).
    public static func render(
        a: CompareSide, b: CompareSide, comparison: RunComparison?, timeline: ReplayStatus?, state: UIState,
        glyphs: Glyphs = .unicode
    ) -> Grid {
        var grid = Grid(size: state.size, glyphs: glyphs)
        if state.tooSmall {
            Shell.drawTooSmall(into: &grid, size: state.size)
            return grid
        }
        let (header, rest) = grid.bounds.splitTop(1)
        var (body, footer) = rest.splitBottom(1)
        let overlayArea = body
        if let timeline {
            let (top, bar) = body.splitBottom(1)
            body = top
            Shell.drawTimeline(into: &grid, in: bar, replay: timeline)
        }
        drawHeader(into: &grid, in: header, a: a, b: b, timeline: timeline, state: state)
        let stripRows = comparison.map { stripHeight($0, width: body.width, limit: max(4, body.height / 3)) } ?? 0
        let (panes, strip) = body.splitBottom(stripRows)
        let sideBySide = panes.width >= sideBySideWidth
        let halves: [Rect]
        if sideBySide {
            let (left, right) = panes.splitLeft(panes.width / 2)
            halves = [left, right]
        } else {
            let (top, bottom) = panes.splitTop(panes.height / 2)
            halves = [top, bottom]
        }
        for (side, rect) in zip([a, b], halves) { drawSide(into: &grid, in: rect, side: side, state: state) }
        if let comparison { drawStrip(into: &grid, in: strip, comparison) }
        Shell.drawFooter(into: &grid, in: footer, state: state)
        if state.helpVisible {
            Shell.drawHelp(into: &grid, in: overlayArea, state: state, lines: Shell.helpLines(replaying: true))
        }
        return grid
    }

    // MARK: - Header and sides

    static func drawHeader(
        into grid: inout Grid, in rect: Rect, a: CompareSide, b: CompareSide, timeline: ReplayStatus?, state: UIState
    ) {
        grid.fill(rect, style: Shell.headerStyle)
        let sep = "  \(Character(grid.glyphs.separator))  "
        var x = rect.x + 1
        x += grid.text(at: Point(x, rect.y), "qvtop compare", style: Shell.headerNameStyle) + 2
        let mode = timeline?.paused == true ? "COMPARE PAUSED" : "COMPARE"
        var right = "\(state.rateHz) Hz"
        if let timeline { right = timeline.label(times: Character(grid.glyphs.times)) + sep + right }
        if let status = state.status { right = status + sep + right }
        let modeWidth = DisplayWidth.of(mode) + 2
        let rightWidth = min(DisplayWidth.of(right), max(0, rect.width / 2))
        let rightX = rect.maxX - 1 - modeWidth - 1 - rightWidth
        grid.text(at: Point(rightX, rect.y), right, style: Shell.headerStyle, maxWidth: rightWidth)
        let modeStyle = timeline?.paused == true ? Shell.pausedStyle : Shell.headerNameStyle
        grid.text(at: Point(rect.maxX - 1 - modeWidth, rect.y), " \(mode) ", style: modeStyle)
        // Narrow: the presets' short names; wide: their titles.
        let wide = rect.width >= sideBySideWidth
        let names = "A: \(title(a.data.snapshot, wide))" + sep + "B: \(title(b.data.snapshot, wide))"
        grid.text(at: Point(x, rect.y), names, style: Shell.headerNameStyle, maxWidth: max(0, rightX - 2 - x))
    }

    static func title(_ s: Snapshot?, _ long: Bool) -> String {
        guard let s else { return String(Character(Glyphs.unicode.dash)) }
        return long && !s.presetTitle.isEmpty ? s.presetTitle : s.preset
    }

    /// One side: a box named `A · preset · model` (and `held at its end`), its dashboard inside.
    static func drawSide(into grid: inout Grid, in rect: Rect, side: CompareSide, state: UIState) {
        guard rect.width >= 4, rect.height >= 3 else { return }
        var name = side.name
        if let s = side.data.snapshot { name += " · \(s.preset) · \(s.model.rawValue)" }
        if side.held { name += " · held at its end" }
        let inner = grid.box(rect, title: name, style: .dim, titleStyle: .bold)
        grid.clipped(to: inner) { g in Body.draw(into: &g, in: inner, data: side.data, state: state) }
    }

    // MARK: - The strip of headline figures

    /// Width of one figure's cell: name, A, B, B − A.
    static let nameWidth = 20
    static let valueWidth = 9
    static var cellWidth: Int { nameWidth + 3 * (valueWidth + 1) }

    /// Figure columns that fit `width` (inside the box).
    static func columns(width: Int) -> Int { max(1, (width - 2 + 3) / (cellWidth + 3)) }

    /// Rows the strip takes at `width`, at most `limit`: box, column heads, figures, the workload note.
    static func stripHeight(_ c: RunComparison, width: Int, limit: Int) -> Int {
        let rows = (c.figures.count + columns(width: width) - 1) / columns(width: width)
        return min(limit, 2 + 1 + rows + (c.workloadNote == nil ? 0 : 1))
    }

    static func drawStrip(into grid: inout Grid, in rect: Rect, _ c: RunComparison) {
        guard rect.height >= 3 else { return }
        let inner = grid.box(rect, title: "Headline figures · whole run · B − A", style: .dim, titleStyle: .bold)
        guard inner.height > 0 else { return }
        var rows = inner.height - 1
        var y = inner.y
        if let note = c.workloadNote {
            grid.text(at: Point(inner.x, y), note, style: Style(fg: .yellow, .bold), maxWidth: inner.width)
            y += 1
            rows -= 1
        }
        guard rows > 0 else { return }
        let cols = columns(width: inner.width)
        for col in 0..<cols {
            let x = inner.x + col * (cellWidth + 3)
            drawCell(into: &grid, at: Point(x, y), ["figure", "A", "B", "B − A"], style: .dim)
        }
        // When not every figure fits, the last row says how many more there are and where to see them.
        let fits = c.figures.count <= rows * cols
        if !fits { rows -= 1 }
        let shown = min(c.figures.count, max(0, rows) * cols)
        for (i, f) in c.figures.prefix(shown).enumerated() {
            // Column-major: read down the first column, then the next.
            let col = i / rows
            let row = i % rows
            let values =
                [f.a, f.b].map { format($0, f.unit, signed: false) } + [format(f.difference, f.unit, signed: true)]
            // A fault (failed tasks, drops) is red where a side has any, as the task-kinds panel draws it.
            let styles = [f.a, f.b].map { f.alarm && ($0 ?? 0) > 0 ? PanelPalette.blocked : Style.plain } + [.plain]
            drawCell(
                into: &grid, at: Point(inner.x + col * (cellWidth + 3), y + 1 + row), [f.name] + values, style: .plain,
                valueStyles: styles)
        }
        if !fits {
            let more = "+\(c.figures.count - shown) more figures: qvtop compare A B --headless --json"
            grid.text(at: Point(inner.x, inner.maxY - 1), more, style: .dim, maxWidth: inner.width)
        }
    }

    /// `valueStyles`: A's, B's and B − A's style when they differ from `style` (n/a is always dim).
    static func drawCell(
        into grid: inout Grid, at p: Point, _ texts: [String], style: Style, valueStyles: [Style]? = nil
    ) {
        grid.text(at: p, texts[0], style: style == .plain ? .bold : style, maxWidth: nameWidth)
        for (i, t) in texts.dropFirst().enumerated() {
            let x = p.x + nameWidth + 1 + i * (valueWidth + 1)
            let s = t == "n/a" ? Style.dim : valueStyles.map { $0[i] } ?? style
            grid.text(at: Point(x, p.y), t, style: s, maxWidth: valueWidth, align: .right)
        }
    }

    /// A figure's value with its unit (`Fmt`): `3.2ms`, `1250/s`, `0.42`, `12`; "n/a" for nil; `signed`
    /// puts `+` before a positive difference.
    public static func format(_ v: Double?, _ unit: String, signed: Bool) -> String {
        guard let v, v.isFinite else { return "n/a" }
        let sign = v < 0 ? "-" : signed && v > 0 ? "+" : ""
        let m = abs(v)
        switch unit {
        case "ms": return sign + Fmt.delayMs(m)
        case "/s": return sign + Fmt.rate(m) + "/s"
        case "ratio": return sign + Fmt.fixed(m, 2)
        default: return sign + (m == m.rounded() ? Fmt.count(Int(m)) : Fmt.fixed(m, 1))
        }
    }
}
