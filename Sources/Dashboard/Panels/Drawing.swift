// Drawing helpers the panels share, on top of the shell's primitives (Primitives.swift).
// Like the primitives, they take their characters from `grid.glyphs` and respect the clip.

extension Grid {
    /// A polyline through `points` (consecutive points share a row or a column). Every cell gets exactly
    /// the sides it connects, merged with lines already there, so polylines sharing cells form tees and
    /// crosses; with `head`, the last cell is an arrowhead in the direction of travel.
    mutating func polyline(_ points: [Point], head: Bool = true, style: Style = .plain) {
        guard points.count > 1 else { return }
        var path: [Point] = [points[0]]
        for p in points.dropFirst() {
            var c = path[path.count - 1]
            while c != p {
                if c.x != p.x {
                    c.x += p.x > c.x ? 1 : -1
                } else {
                    c.y += p.y > c.y ? 1 : -1
                }
                path.append(c)
            }
        }
        func side(from a: Point, to b: Point) -> Directions {
            if b.x > a.x { return .right }
            if b.x < a.x { return .left }
            return b.y > a.y ? .down : .up
        }
        let n = path.count
        for i in 0..<n {
            let p = path[i]
            if i == n - 1 && head {
                put(glyphs.arrow(side(from: path[i - 1], to: p)), x: p.x, y: p.y, style: style)
                continue
            }
            var d: Directions = []
            if i > 0 { d.insert(side(from: p, to: path[i - 1])) }
            if i < n - 1 { d.insert(side(from: p, to: path[i + 1])) }
            var alone = d
            if i == 0 || i == n - 1 {
                let s = d
                alone = s == .left || s == .right ? .horizontal : s == .up || s == .down ? .vertical : d
            }
            linePiece(d, x: p.x, y: p.y, style: style, alone: alone)
        }
    }

    /// A bar chart of the last `rect.width` values, one column per value, `rect.height` rows tall, scaled
    /// from 0 to `max` (the largest finite value when nil). NaN draws nothing. Columns where `marks` is
    /// true get a dim vertical marker behind the bar (a preset switch). Unicode fills in eighths; ASCII
    /// uses `#` for full cells and the spark levels for the top cell.
    mutating func chart(
        _ rect: Rect, values: [Double], marks: [Bool] = [], max maxValue: Double? = nil, style: Style = .plain
    ) {
        guard rect.width > 0, rect.height > 0, !values.isEmpty else { return }
        let shown = values.suffix(rect.width)
        let shownMarks = marks.suffix(rect.width)
        let top = maxValue ?? shown.filter(\.isFinite).max() ?? 0
        let x0 = rect.x + rect.width - shown.count
        let markOffset = shown.count - shownMarks.count
        for (i, mark) in shownMarks.enumerated() where mark {
            for y in rect.y..<rect.maxY { put(glyphs.vertical, x: x0 + markOffset + i, y: y, style: .dim) }
        }
        let levels = glyphs.sparks.count
        for (i, v) in shown.enumerated() where v.isFinite {
            let r = top > 0 ? Swift.max(0, Swift.min(1, v / top)) : 0
            var eighths = Int((r * Double(rect.height * 8)).rounded())
            if eighths == 0 && rect.height == 1 { eighths = 1 }  // a zero still shows the baseline
            if eighths == 0 { continue }
            let x = x0 + i
            for row in 0..<rect.height {
                let y = rect.maxY - 1 - row
                let cellEighths = Swift.min(8, eighths - row * 8)
                if cellEighths <= 0 { break }
                let level = Swift.max(0, Swift.min(levels - 1, cellEighths * levels / 8 - 1))
                put(cellEighths == 8 ? glyphs.barFull : glyphs.sparks[level], x: x, y: y, style: style)
            }
        }
    }

    /// Text in `rect`'s row `row` (relative), cut to the rect; returns the columns written.
    @discardableResult
    mutating func line(_ rect: Rect, _ row: Int, _ string: String, style: Style = .plain, x dx: Int = 0) -> Int {
        guard row >= 0 && row < rect.height && dx < rect.width else { return 0 }
        return text(at: Point(rect.x + dx, rect.y + row), string, style: style, maxWidth: rect.width - dx)
    }

    /// Pieces of text in different styles on one row of `rect`, left to right; returns the columns written.
    @discardableResult
    mutating func spans(_ rect: Rect, _ row: Int, _ pieces: [(String, Style)], x dx: Int = 0) -> Int {
        var x = dx
        for (s, st) in pieces {
            guard x < rect.width else { break }
            x += line(rect, row, s, style: st, x: x)
        }
        return x - dx
    }
}

extension Grid {
    /// A depth drawn as one cell per item (a count, not a guess at a capacity) at column `dx` of `rect`'s row
    /// `row`, at most `maxCells` and what fits; with `peak`, the peak-hold marker at the peak's cell (the highest
    /// depth since the previous sample). Returns the columns used (0 when the depth and the peak are 0).
    @discardableResult
    mutating func countBar(
        _ rect: Rect, _ row: Int, x dx: Int, count: Int, peak: Int?, maxCells: Int, style: Style
    ) -> Int {
        let top = max(count, peak ?? 0)
        let room = max(0, min(top, rect.width - dx - 2, maxCells))
        guard room > 0, row >= 0, row < rect.height else { return 0 }
        let x0 = rect.x + dx + 1
        let y = rect.y + row
        for i in 0..<min(count, room) { put(glyphs.barFull, x: x0 + i, y: y, style: style) }
        if let peak, peak > 0 { put(glyphs.peak, x: x0 + min(peak, room) - 1, y: y, style: style.with(.bold)) }
        if room < top { put(glyphs.ellipsis, x: x0 + room, y: y, style: .dim) }
        return room + 1
    }
}

extension Rect {
    /// The middle column (left of centre for even widths).
    var centerColumn: Int { x + (width - 1) / 2 }
    /// The middle row (above centre for even heights).
    var centerRow: Int { y + (height - 1) / 2 }
}
