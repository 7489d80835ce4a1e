// Drawing primitives on `Grid`: boxes, lines and arrows, bars, sparklines.
//
// Every primitive takes its characters from `grid.glyphs` (Unicode or ASCII) and respects the
// clip. Lines merge: a line drawn across an existing line piece joins it (─ over │ gives ┼,
// a line ending on a box edge gives ├ / ┤ / ┬ / ┴), so flowcharts need no special cases for
// junctions. Merging reads only the character already in the cell, never a side table.

extension Grid {
    // MARK: - Lines

    /// Adds the line piece `dirs` at (x, y), merged with a line piece already there. When the cell holds no
    /// line piece, `alone` (if given) is drawn instead: a line's free end is a full `─`, not a stub `╴`, but
    /// the same end landing on a box edge adds only its inward side and makes a tee.
    public mutating func linePiece(_ dirs: Directions, x: Int, y: Int, style: Style = .plain, alone: Directions? = nil)
    {
        var d = dirs
        let existing = self[x, y]
        if existing.width == 1, let old = glyphs.directions(of: existing.scalar) {
            d.formUnion(old)
        } else if let alone {
            d = alone
        }
        put(glyphs.line(d), x: x, y: y, style: style)
    }

    /// A horizontal line of `length` cells from `start` rightwards; ends join existing lines.
    public mutating func hline(at start: Point, length: Int, style: Style = .plain) {
        guard length > 0 else { return }
        for i in 0..<length {
            var d: Directions = []
            if i > 0 || length == 1 { d.insert(.left) }
            if i < length - 1 || length == 1 { d.insert(.right) }
            linePiece(d, x: start.x + i, y: start.y, style: style, alone: .horizontal)
        }
    }

    /// A vertical line of `length` cells from `start` downwards; ends join existing lines.
    public mutating func vline(at start: Point, length: Int, style: Style = .plain) {
        guard length > 0 else { return }
        for i in 0..<length {
            var d: Directions = []
            if i > 0 || length == 1 { d.insert(.up) }
            if i < length - 1 || length == 1 { d.insert(.down) }
            linePiece(d, x: start.x, y: start.y + i, style: style, alone: .vertical)
        }
    }

    /// Where a connector bends when its ends are on different rows and columns.
    public enum Route: Sendable {
        /// Horizontal first, then vertical (─┐ then ↓).
        case horizontalFirst
        /// Vertical first, then horizontal (│ then └→).
        case verticalFirst
        /// Horizontal, a vertical jog half-way, horizontal again (─┐ │ └─→): for left-to-right flowcharts.
        case horizontalMidpoint
        /// Vertical, a horizontal jog half-way, vertical again: for top-to-bottom flowcharts.
        case verticalMidpoint
    }

    /// An orthogonal connector from `from` to `to` (both cells included). With `head`, the last cell is an
    /// arrowhead pointing in the direction of travel; `tail` puts one at the start, pointing back.
    /// Corners and junctions merge with existing lines.
    public mutating func connector(
        from: Point, to: Point, route: Route = .horizontalFirst, head: Bool = true, tail: Bool = false,
        style: Style = .plain
    ) {
        var path: [Point] = [from]
        func walk(to p: Point) {
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
        switch route {
        case .horizontalFirst:
            walk(to: Point(to.x, from.y))
        case .verticalFirst:
            walk(to: Point(from.x, to.y))
        case .horizontalMidpoint:
            let mid = from.x + (to.x - from.x) / 2
            walk(to: Point(mid, from.y))
            walk(to: Point(mid, to.y))
        case .verticalMidpoint:
            let mid = from.y + (to.y - from.y) / 2
            walk(to: Point(from.x, mid))
            walk(to: Point(to.x, mid))
        }
        walk(to: to)
        func side(from a: Point, to b: Point) -> Directions {
            if b.x > a.x { return .right }
            if b.x < a.x { return .left }
            return b.y > a.y ? .down : .up
        }
        let n = path.count
        guard n > 1 else {
            put(glyphs.arrowRight, x: from.x, y: from.y, style: style)
            return
        }
        for i in 0..<n {
            let p = path[i]
            if i == n - 1 && head {
                put(glyphs.arrow(side(from: path[i - 1], to: p)), x: p.x, y: p.y, style: style)
                continue
            }
            if i == 0 && tail {
                put(glyphs.arrow(side(from: path[1], to: p)), x: p.x, y: p.y, style: style)
                continue
            }
            var d: Directions = []
            if i > 0 { d.insert(side(from: p, to: path[i - 1])) }
            if i < n - 1 { d.insert(side(from: p, to: path[i + 1])) }
            // A free end continues straight: its own side plus the opposite one.
            var alone = d
            if i == 0 || i == n - 1 {
                let s = i == 0 ? side(from: p, to: path[1]) : side(from: p, to: path[i - 1])
                alone = s == .left || s == .right ? .horizontal : .vertical
            }
            linePiece(d, x: p.x, y: p.y, style: style, alone: alone)
        }
    }

    /// A straight arrow of `length` cells from `start` in direction `dir` (one side), head at the far end.
    public mutating func arrow(from start: Point, _ dir: Directions, length: Int, style: Style = .plain) {
        guard length > 0 else { return }
        let (dx, dy) = dir == .left ? (-1, 0) : dir == .up ? (0, -1) : dir == .down ? (0, 1) : (1, 0)
        connector(
            from: start, to: Point(start.x + dx * (length - 1), start.y + dy * (length - 1)), head: true,
            style: style)
    }

    // MARK: - Boxes

    /// Draws the border of `rect` with an optional title on the top edge (`┌─ title ─┐`, cut with an
    /// ellipsis when long) and returns the inside. Borders merge with lines already drawn, so boxes
    /// sharing an edge get tees. Does not clear the inside; `fill` first if needed.
    @discardableResult
    public mutating func box(
        _ rect: Rect, title: String? = nil, style: Style = .plain, titleStyle: Style? = nil
    ) -> Rect {
        guard rect.width >= 2 && rect.height >= 2 else { return Rect(rect.x, rect.y, 0, 0) }
        let x0 = rect.x
        let y0 = rect.y
        let x1 = rect.maxX - 1
        let y1 = rect.maxY - 1
        linePiece([.down, .right], x: x0, y: y0, style: style)
        linePiece([.down, .left], x: x1, y: y0, style: style)
        linePiece([.up, .right], x: x0, y: y1, style: style)
        linePiece([.up, .left], x: x1, y: y1, style: style)
        for x in (x0 + 1)..<x1 {
            linePiece(.horizontal, x: x, y: y0, style: style)
            linePiece(.horizontal, x: x, y: y1, style: style)
        }
        for y in (y0 + 1)..<y1 {
            linePiece(.vertical, x: x0, y: y, style: style)
            linePiece(.vertical, x: x1, y: y, style: style)
        }
        if let title, !title.isEmpty {
            // "┌─ title ─┐": corner, one line cell, a space, the title, a space, a line cell, corner.
            let room = rect.width - 6
            if room > 0 {
                let t = Grid.fit(title, width: room, ellipsis: glyphs.ellipsis)
                put(" ", x: x0 + 2, y: y0, style: style)
                let w = text(at: Point(x0 + 3, y0), t, style: titleStyle ?? style.with(.bold))
                put(" ", x: x0 + 3 + w, y: y0, style: style)
            }
        }
        return rect.inset(dx: 1, dy: 1)
    }

    // MARK: - Bars and sparklines

    /// A horizontal bar in `width` columns from `point`: `label`, a space, the track filled to `fraction`
    /// (0…1, clamped; sub-cell precision with Unicode), a space, `value`. Example: `W0 ████▌░░░░ 45%`.
    /// `labelWidth` / `valueWidth` reserve fixed columns (label left-aligned, value right-aligned) so bars
    /// in a column line up; otherwise each takes its own width. Labels and values are cut to leave at
    /// least one track cell.
    public mutating func bar(
        at point: Point, width: Int, fraction: Double, label: String = "", value: String = "",
        labelWidth: Int? = nil, valueWidth: Int? = nil, style: Style = .plain, trackStyle: Style? = nil,
        labelStyle: Style? = nil, peak: Double? = nil
    ) {
        guard width > 0 else { return }
        var x = point.x
        var room = width
        let lw = labelWidth ?? (label.isEmpty ? 0 : DisplayWidth.of(label))
        if lw > 0 && room > 2 {
            let w = min(lw, room - 2)
            text(at: Point(x, point.y), label, style: labelStyle ?? .plain, maxWidth: w)
            x += w + 1
            room -= w + 1
        }
        let vw = valueWidth ?? (value.isEmpty ? 0 : DisplayWidth.of(value))
        var valueCols = 0
        if vw > 0 && room > 2 {
            valueCols = min(vw, room - 2)
            room -= valueCols + 1
        }
        let f = fraction.isFinite ? max(0, min(1, fraction)) : 0
        let eighths =
            glyphs.barPartials.count == 8
            ? Int((f * Double(room * 8)).rounded()) : Int((f * Double(room)).rounded()) * 8
        let full = eighths / 8
        let part = eighths % 8
        let track = trackStyle ?? style.with(.dim)
        for i in 0..<room {
            if i < full {
                put(glyphs.barFull, x: x + i, y: point.y, style: style)
            } else if i == full && part > 0 {
                put(glyphs.barPartials[part], x: x + i, y: point.y, style: style)
            } else {
                put(glyphs.barEmpty, x: x + i, y: point.y, style: track)
            }
        }
        // Peak-hold: the highest value since the previous frame, as a marker where the bar would end
        // (past the fill, or on its last cell when the peak is the instant value).
        if let peak, peak.isFinite, room > 0 {
            let p = max(0, min(1, peak))
            let cell = min(room - 1, max(0, Int((p * Double(room)).rounded(.up)) - 1))
            if p > 0 { put(glyphs.peak, x: x + cell, y: point.y, style: style.with(.bold)) }
        }
        if valueCols > 0 {
            text(
                at: Point(x + room + 1, point.y), value, style: labelStyle ?? .plain, maxWidth: valueCols,
                align: .right)
        }
    }

    /// A sparkline of the last `width` values from `point` (older values scroll off the left; fewer values
    /// are right-aligned). Values scale from 0 to `max` (the largest value when nil) onto the 8 levels, rounded
    /// to the nearest; zero or less draws the lowest level, NaN draws a blank. Returns the columns drawn.
    @discardableResult
    public mutating func sparkline(
        at point: Point, width: Int, values: [Double], max maxValue: Double? = nil, style: Style = .plain
    ) -> Int {
        guard width > 0, !values.isEmpty else { return 0 }
        let shown = values.suffix(width)
        let top = maxValue ?? shown.filter(\.isFinite).max() ?? 0
        let levels = glyphs.sparks.count
        var x = point.x + (width - shown.count)
        for v in shown {
            if v.isNaN {
                put(" ", x: x, y: point.y, style: style)
            } else {
                let r = top > 0 ? Swift.max(0, Swift.min(1, v / top)) : 0
                let level = Swift.max(0, Swift.min(levels - 1, Int((r * Double(levels - 1)).rounded())))
                put(glyphs.sparks[level], x: x, y: point.y, style: style)
            }
            x += 1
        }
        return shown.count
    }
}
