import Telemetry

// Many workers (issue 15): how the fiber flowchart stays readable with 16, 64 and 256 carriers.
//
// The flowchart has three densities, chosen by `FiberChartLayout.make` from what fits:
//   boxes     one box per carrier in one row, steal lanes under them (up to ~12 carriers on a wide screen);
//   table     one row per carrier (state, queue bar, busy, what ran), when every row fits;
//   heat-map  one cell per carrier in two maps side by side, queue depth and busy, when rows do not fit:
//
//     q ·0 ░1 ▒4 ▓16 █64      busy ·0 ░5 ▒30 ▓60 █90%      each shade is named by its lower bound
//       0 ·░░▒·····▓·····█·     0 ▓▓█▓░░░··········         row label: the first carrier id of the row
//      16 ···░·········░··      16 █▓▓░░░░··········
//     C37 RUN q 12 peak 30 busy 55% web-812 io             the selection (reversed in both maps)
//
// Beside or under the carriers (table and heat-map), the steals: a thief × victim matrix of the last
// second's counts for up to 16 carriers, else the busiest victim → thief pairs. The selection works as
// everywhere (arrows, PgUp/PgDn by 16, a click on a cell; Enter opens the details of that carrier).
//
// Shades have fixed bounds (log steps for the queue, quarters for busy), not bounds relative to the
// frame's maximum: a shade means the same depth in every frame and on every screen. The maps carry their
// legend in their title row; docs/figures.md says the same.
//
// Options considered and rejected:
// - Scrolling the table to the selection: past one screen of rows, nobody compares row 3 with row 200;
//   a map shows all carriers at once and the selection line gives the numbers of one.
// - One map with two characters per carrier (queue, busy): as wide as two maps, harder to read.
// - Shading relative to the frame's maximum: a carrier with 2 queued fibers would read "full" on a quiet
//   frame and the shades would flicker as the maximum moves.

/// Shades for the heat-map cells: five levels, each with the lower bound the legend names.
enum HeatShade {
    /// Lower bounds of the queue-depth levels 1…4 (level 0: empty queue).
    static let queueBounds = [1, 4, 16, 64]
    /// Lower bounds of the busy levels 1…4, as fractions (level 0: under 5 %).
    static let busyBounds = [0.05, 0.30, 0.60, 0.90]

    /// The five shade characters, lightest first.
    static func glyphs(ascii: Bool) -> [Unicode.Scalar] {
        ascii ? [".", ":", "+", "*", "#"] : ["·", "░", "▒", "▓", "█"]
    }

    static func queueLevel(_ depth: Int) -> Int { queueBounds.lastIndex { depth >= $0 }.map { $0 + 1 } ?? 0 }
    static func busyLevel(_ ratio: Double) -> Int { busyBounds.lastIndex { ratio >= $0 }.map { $0 + 1 } ?? 0 }

    /// "q ·0 ░1 ▒4 ▓16 █64" / "busy ·0 ░5 ▒30 ▓60 █90%".
    static func legend(queue: Bool, ascii: Bool) -> [(String, Style)] {
        let g = glyphs(ascii: ascii)
        let bounds = queue ? [0] + queueBounds : [0] + busyBounds.map { Int(($0 * 100).rounded()) }
        var pieces: [(String, Style)] = [(queue ? "q" : "busy", .bold)]
        for (i, b) in bounds.enumerated() {
            pieces.append((" ", .plain))
            pieces.append(
                (String(Character(g[i])), i == 0 ? .dim : queue ? PanelPalette.runnable : PanelPalette.running))
            pieces.append(("\(b)\(!queue && i == bounds.count - 1 ? "%" : "")", .dim))
        }
        return pieces
    }
}

/// Where the heat-map's parts go: two maps of `columns` cells per row, a selection line, the steals. Pure.
struct HeatMapLayout: Equatable {
    var carriers: Int
    var columns: Int
    /// Columns of the row label ("240 ").
    var labelWidth: Int
    /// The maps, each a title (legend) row then one row of cells per `columns` carriers.
    var queue: Rect
    var busy: Rect
    /// One row: the selected carrier's figures.
    var selection: Rect
    /// The rectangle the layout was made for (the maps' legends may run to its right edge).
    var bounds: Rect

    var rowsPerMap: Int { (carriers + columns - 1) / max(1, columns) }

    /// The cell of carrier `i` in `map` (its title row is the map's first row).
    func cell(_ i: Int, in map: Rect) -> Point {
        Point(map.x + labelWidth + i % columns, map.y + 1 + i / columns)
    }

    /// The carrier whose cell (in either map) is at `p`, if any.
    func index(at p: Point) -> Int? {
        for map in [queue, busy] where map.contains(p) {
            let col = p.x - map.x - labelWidth
            let row = p.y - map.y - 1
            guard col >= 0, col < columns, row >= 0 else { continue }
            let i = row * columns + col
            if i < carriers { return i }
        }
        return nil
    }

    /// Rows a map of `n` carriers in `columns` per row takes with its title row.
    static func mapHeight(_ n: Int, columns: Int) -> Int { 1 + (n + columns - 1) / max(1, columns) }

    /// The layout for `n` carriers at the top of `rect`, or nil when not even one row of cells fits. Rows of 16
    /// (or all carriers when fewer) are preferred, then 32 and 64 per row when the height is short; the two maps
    /// go side by side when they fit, else one above the other. `spare` rows are kept under the selection line
    /// when possible (the steals).
    static func make(_ rect: Rect, carriers n: Int, spare: Int = 1) -> HeatMapLayout? {
        guard n > 0, rect.width >= 8, rect.height >= 3 else { return nil }
        let labelWidth = String(max(0, n - 1)).count + 1
        var options = [16, 32, 64].map { min($0, n) }
        if n > 64 { options.append(n) }
        var fallback: HeatMapLayout? = nil
        for cols in options {
            let mapWidth = labelWidth + cols
            let h = mapHeight(n, columns: cols)
            var layout: HeatMapLayout? = nil
            if 2 * mapWidth + 3 <= rect.width {
                let q = Rect(rect.x, rect.y, mapWidth, h)
                let b = Rect(rect.x + mapWidth + 3, rect.y, mapWidth, h)
                layout = HeatMapLayout(
                    carriers: n, columns: cols, labelWidth: labelWidth, queue: q, busy: b,
                    selection: Rect(rect.x, rect.y + h, rect.width, 1), bounds: rect)
            } else if mapWidth <= rect.width {
                let q = Rect(rect.x, rect.y, mapWidth, h)
                let b = Rect(rect.x, rect.y + h, mapWidth, h)
                layout = HeatMapLayout(
                    carriers: n, columns: cols, labelWidth: labelWidth, queue: q, busy: b,
                    selection: Rect(rect.x, rect.y + 2 * h, rect.width, 1), bounds: rect)
            }
            guard var l = layout else { continue }
            if l.selection.maxY + spare <= rect.maxY { return l }
            if l.selection.maxY <= rect.maxY && fallback == nil { fallback = l }
            if fallback == nil && cols == options.last {
                // Nothing fits whole: the widest rows, cut at the bottom (the selection line goes first).
                l.selection = Rect(rect.x, rect.maxY, rect.width, 0)
                fallback = l
            }
        }
        return fallback
    }
}

/// The two heat-maps and the selection line.
enum CarrierHeatMap {
    static func draw(into grid: inout Grid, layout l: HeatMapLayout, snapshot s: Snapshot, selected: Int?) {
        let shades = HeatShade.glyphs(ascii: grid.glyphs.isASCII)
        for (map, queue) in [(l.queue, true), (l.busy, false)] {
            // The legend may run past the cells: the queue map's into the gap, the busy map's to the right edge.
            let legendRow = Rect(
                map.x, map.y, queue && l.busy.y == l.queue.y ? l.busy.x - 1 - map.x : l.bounds.maxX - map.x, 1)
            grid.spans(legendRow, 0, HeatShade.legend(queue: queue, ascii: grid.glyphs.isASCII))
            for row in 0..<l.rowsPerMap where 1 + row < map.height {
                grid.text(
                    at: Point(map.x, map.y + 1 + row), "\(row * l.columns)", style: .dim, maxWidth: l.labelWidth - 1,
                    align: .right)
            }
            for (i, w) in s.workers.enumerated() {
                let p = l.cell(i, in: map)
                guard p.y < map.maxY else { break }
                let level = queue ? HeatShade.queueLevel(w.queueDepth) : HeatShade.busyLevel(w.busyRatio)
                var style: Style =
                    level == 0 ? .dim : queue ? PanelPalette.runnable : PanelPalette.running
                if !queue && (w.state == .pinned || w.state == .handedOff) { style = PanelPalette.blocked }
                if !queue && w.state == .stopped { style = .dim }
                if i == selected { style = .reverse }
                grid.put(shades[level], x: p.x, y: p.y, style: style)
            }
        }
        if let i = selected, i < s.workers.count { drawSelection(into: &grid, row: l.selection, worker: s.workers[i]) }
    }

    /// "C37 RUN q 12 peak 30 busy 55% web-812 io · Enter details".
    static func drawSelection(into grid: inout Grid, row: Rect, worker w: WorkerSnapshot) {
        let (word, st) = PanelPalette.state(w.state)
        let (ran, ranStyle) = FiberChart.whatRan(w)
        var pieces: [(String, Style)] = [
            ("C\(w.id)", .reverse), (" ", .plain), (word, st.with(.bold)),
            (" q \(w.queueDepth)", PanelPalette.runnable), (" peak \(Fmt.na(w.queuePeak) { "\($0)" })", .dim),
            (" busy \(Fmt.pct(w.busyRatio))", PanelPalette.running), (" ", .plain), (ran, ranStyle),
        ]
        if let k = w.currentKind ?? w.lastKind { pieces.append((" \(k)", .dim)) }
        let x = grid.spans(row, 0, pieces)
        let hint = " \(Character(grid.glyphs.separator)) Enter details"
        if x + DisplayWidth.of(hint) <= row.width { grid.line(row, 0, hint, style: .dim, x: x) }
    }

    /// Carriers by state, zero counts left out: "RUN 200 spin 3 idle 52 PINNED 1".
    static func stateCounts(_ s: Snapshot) -> [(String, Style)] {
        let order: [WorkerState] = [.running, .spinning, .parked, .pinned, .handedOff, .stopped]
        var pieces: [(String, Style)] = []
        for state in order {
            let n = s.workers.filter { $0.state == state }.count
            guard n > 0 else { continue }
            let (word, st) = PanelPalette.state(state)
            if !pieces.isEmpty { pieces.append((" ", .plain)) }
            pieces.append(("\(word) \(n)", st))
        }
        return pieces
    }
}

/// The steals between many carriers: a thief × victim matrix of the last second's counts (up to
/// `matrixLimit` carriers, when it fits), else the busiest victim → thief pairs.
enum StealsView {
    static let matrixLimit = 16

    /// Columns and rows the matrix of `n` carriers needs (title row, header row, one row per thief).
    static func matrixSize(_ n: Int) -> Size { Size(4 + 3 * n, n + 2) }

    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory) {
        guard !rect.isEmpty else { return }
        let n = s.workers.count
        let sep = Character(grid.glyphs.separator)
        let held = FiberChart.steals(history.recentSteals, carriers: n)
        let active = Set(FiberChart.steals(s).map { $0.thief * n + $0.victim })
        let total = s.workers.reduce(UInt64(0)) { $0 + $1.stolenIn }
        if held.isEmpty {
            grid.line(
                rect, 0, "steals: none in the last 1 s \(sep) \(Fmt.count(total)) so far", style: .dim)
            return
        }
        let m = matrixSize(n)
        if n <= matrixLimit && rect.width >= m.width && rect.height >= m.height {
            drawMatrix(into: &grid, rect: rect, flows: held, active: active, carriers: n)
        } else {
            drawPairs(into: &grid, rect: rect, flows: held, active: active, carriers: n)
        }
    }

    static func drawMatrix(into grid: inout Grid, rect: Rect, flows: [StealFlow], active: Set<Int>, carriers n: Int) {
        grid.line(rect, 0, "Steals, last 1 s: row thief, column victim", style: PanelPalette.stealHeld.with(.bold))
        var counts = [Int](repeating: 0, count: n * n)
        for f in flows { counts[f.thief * n + f.victim] += f.count }
        for v in 0..<n {
            grid.text(at: Point(rect.x + 4 + 3 * v, rect.y + 1), "\(v)", style: .dim, maxWidth: 2, align: .right)
        }
        let dot = String(Character(HeatShade.glyphs(ascii: grid.glyphs.isASCII)[0]))
        for t in 0..<n {
            let y = rect.y + 2 + t
            grid.text(at: Point(rect.x, y), "C\(t)", style: .dim, maxWidth: 3)
            for v in 0..<n {
                let c = counts[t * n + v]
                let x = rect.x + 4 + 3 * v
                if t == v { continue }
                let text = c == 0 ? dot : c < 100 ? "\(c)" : "99+"
                let style =
                    c == 0 ? Style.dim : active.contains(t * n + v) ? PanelPalette.steal : PanelPalette.stealHeld
                grid.text(at: Point(x, y), text, style: style, maxWidth: c < 100 ? 2 : 3, align: .right)
            }
        }
    }

    static func drawPairs(into grid: inout Grid, rect: Rect, flows: [StealFlow], active: Set<Int>, carriers n: Int) {
        let arrow = Character(grid.glyphs.arrowRight)
        func pair(_ f: StealFlow) -> String { "C\(f.victim)\(arrow)C\(f.thief) \(f.count)" }
        let style = { (f: StealFlow) in
            active.contains(f.thief * n + f.victim) ? PanelPalette.steal : PanelPalette.stealHeld
        }
        if rect.height == 1 {
            // One row: the title and as many pairs as fit.
            var x = grid.line(rect, 0, "steals 1 s:", style: PanelPalette.stealHeld.with(.bold))
            var shown = 0
            for f in flows {
                let t = " " + pair(f)
                guard x + DisplayWidth.of(t) <= rect.width else { break }
                x += grid.line(rect, 0, t, style: style(f), x: x)
                shown += 1
            }
            if shown < flows.count {
                let more = " +\(flows.count - shown)"
                if x + DisplayWidth.of(more) <= rect.width { grid.line(rect, 0, more, style: .dim, x: x) }
            }
            return
        }
        grid.line(
            rect, 0, "Top steals, last 1 s: victim \(arrow) thief, fibers", style: PanelPalette.stealHeld.with(.bold))
        let colWidth = 16
        let cols = max(1, (rect.width + 2) / (colWidth + 2))
        let rows = rect.height - 1
        var shown = 0
        for (k, f) in flows.enumerated() {
            let c = k / rows
            let r = k % rows
            guard c < cols else { break }
            // The last cell says how many pairs are left out when they do not all fit.
            if c == cols - 1 && r == rows - 1 && k < flows.count - 1 {
                grid.text(
                    at: Point(rect.x + c * (colWidth + 2), rect.y + 1 + r), "+\(flows.count - k) more pairs",
                    style: .dim, maxWidth: colWidth)
                break
            }
            grid.text(
                at: Point(rect.x + c * (colWidth + 2), rect.y + 1 + r), pair(f), style: style(f), maxWidth: colWidth)
            shown += 1
        }
    }
}
