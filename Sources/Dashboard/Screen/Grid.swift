// Grid: the screen as plain values. Panels draw into it; the Terminal module blits it.
//
// A grid is a width×height array of `Cell`s, a charset (`glyphs`) the primitives draw with,
// and a clip rectangle every write respects. Nothing here touches a terminal, a clock or a
// file, so a screen is a pure function of its inputs and tests compare grids as text
// (`GridText.swift`).
//
// Writes outside the clip are dropped silently: drawing code on a small terminal never
// traps, it just shows less. A wide character that does not fit entirely inside the clip is
// not drawn (a blank takes its visible half), so nothing ever spills past a panel's edge.
//
// How panel code reads (see Primitives.swift for the rest):
//
//     let inner = grid.box(rect, title: "carriers")                  // border + title, returns the inside
//     for (row, w) in zip(inner.rows(workers.count), workers) {
//         grid.bar(at: row.origin, width: row.width, fraction: w.busyRatio, label: "W\(w.id)", value: "87%")
//     }
//     grid.text(at: Point(inner.x, inner.maxY - 1), "steals 12", style: .dim, maxWidth: inner.width)
//     grid.sparkline(at: p, width: 20, values: lagHistory)
//     grid.connector(from: Point(a.maxX, a.y + 1), to: Point(b.x - 1, b.y + 1))   // a → b, merges with borders
//     grid.clipped(to: inner) { g in ... }                              // draw without spilling

/// A rectangle of cells to draw into.
public struct Grid: Hashable, Sendable {
    public let width: Int
    public let height: Int
    /// Row-major cells: index `y * width + x`.
    public private(set) var cells: [Cell]
    /// The characters primitives draw with (`Glyphs.unicode` or `Glyphs.ascii`).
    public var glyphs: Glyphs
    /// Writes outside this rectangle are dropped. Always within `bounds`; see `clipped(to:_:)`.
    public private(set) var clip: Rect

    /// A blank grid of `size`.
    public init(size: Size, glyphs: Glyphs = .unicode, fill: Style = .plain) {
        width = size.width
        height = size.height
        cells = Array(repeating: .blank(fill), count: size.width * size.height)
        self.glyphs = glyphs
        clip = Rect(0, 0, size.width, size.height)
    }

    public init(width: Int, height: Int, glyphs: Glyphs = .unicode) {
        self.init(size: Size(width, height), glyphs: glyphs)
    }

    public var size: Size { Size(width, height) }
    public var bounds: Rect { Rect(0, 0, width, height) }

    /// The cell at (x, y); a blank cell outside the grid.
    public subscript(x: Int, y: Int) -> Cell {
        guard x >= 0 && x < width && y >= 0 && y < height else { return .blank() }
        return cells[y * width + x]
    }

    /// Runs `body` with the clip narrowed to `rect` (intersected with the current clip), then restores it.
    public mutating func clipped<R>(to rect: Rect, _ body: (inout Grid) throws -> R) rethrows -> R {
        let saved = clip
        clip = clip.intersection(rect)
        defer { clip = saved }
        return try body(&self)
    }

    // MARK: - Writing cells

    /// Writes one scalar at (x, y). Wide scalars take two cells; zero-width scalars are ignored.
    /// Returns the number of columns advanced (0 for a zero-width scalar), whether or not it was visible.
    @discardableResult
    public mutating func put(_ scalar: Unicode.Scalar, x: Int, y: Int, style: Style = .plain) -> Int {
        let w = DisplayWidth.of(scalar)
        guard w > 0 else { return 0 }
        guard y >= clip.y && y < clip.maxY else { return w }
        if w == 1 {
            if x >= clip.x && x < clip.maxX { store(Cell(scalar, width: 1, style: style), x: x, y: y) }
            return 1
        }
        let leftIn = x >= clip.x && x < clip.maxX
        let rightIn = x + 1 >= clip.x && x + 1 < clip.maxX
        if leftIn && rightIn {
            store(Cell(scalar, width: 2, style: style), x: x, y: y)
            store(Cell(" ", width: 0, style: style), x: x + 1, y: y)
        } else if leftIn {
            store(.blank(style), x: x, y: y)
        } else if rightIn {
            store(.blank(style), x: x + 1, y: y)
        }
        return 2
    }

    /// Stores a cell, first blanking the other half of any wide character it breaks.
    private mutating func store(_ cell: Cell, x: Int, y: Int) {
        let i = y * width + x
        let old = cells[i]
        // Overwriting a wide character's left half with anything but another left half orphans its
        // right half; overwriting a right half (with anything but a right half) orphans its left half.
        if old.width == 2 && cell.width != 2 && x + 1 < width {
            cells[i + 1] = .blank(cells[i + 1].style)
        } else if old.width == 0 && cell.width != 0 && x > 0 {
            cells[i - 1] = .blank(cells[i - 1].style)
        }
        cells[i] = cell
    }

    /// Fills `rect` (clipped) with `scalar` in `style`.
    public mutating func fill(_ rect: Rect, with scalar: Unicode.Scalar = " ", style: Style = .plain) {
        let r = rect.intersection(clip)
        guard !r.isEmpty else { return }
        let w = max(1, DisplayWidth.of(scalar))
        for y in r.y..<r.maxY {
            var x = r.x
            while x < r.maxX {
                put(scalar, x: x, y: y, style: style)
                x += w
            }
        }
    }

    /// Blanks the whole clip rectangle.
    public mutating func clear(style: Style = .plain) { fill(clip, style: style) }

    /// Changes the style of the cells in `rect` (clipped), keeping their characters.
    public mutating func restyle(_ rect: Rect, _ transform: (Style) -> Style) {
        let r = rect.intersection(clip)
        guard !r.isEmpty else { return }
        for y in r.y..<r.maxY {
            for x in r.x..<r.maxX { cells[y * width + x].style = transform(cells[y * width + x].style) }
        }
    }

    /// Copies `other` into this grid with its top-left corner at `origin` (clipped).
    public mutating func paste(_ other: Grid, at origin: Point) {
        for y in 0..<other.height {
            var x = 0
            while x < other.width {
                let c = other.cells[y * other.width + x]
                if c.width == 0 {
                    x += 1
                    continue
                }
                put(c.scalar, x: origin.x + x, y: origin.y + y, style: c.style)
                x += Int(max(1, c.width))
            }
        }
    }

    // MARK: - Text

    /// Horizontal alignment of text within `maxWidth`.
    public enum Alignment: Sendable {
        case left, center, right
    }

    /// Writes `string` on one row starting at `point`. Text longer than `maxWidth` columns (or than the
    /// room left before the clip's right edge) is cut and ends with an ellipsis. With `.center` or
    /// `.right`, the text is placed within `maxWidth` columns from `point`. Newlines and other control
    /// characters are dropped. Returns the columns written.
    @discardableResult
    public mutating func text(
        at point: Point, _ string: String, style: Style = .plain, maxWidth: Int? = nil,
        align: Alignment = .left
    ) -> Int {
        let room = max(0, clip.maxX - max(point.x, clip.x))
        let limit = min(maxWidth ?? Int.max, point.x < clip.x ? Int.max : room)
        guard limit > 0 else { return 0 }
        let fitted = Grid.fit(string, width: limit, ellipsis: glyphs.ellipsis)
        var x = point.x
        if let mw = maxWidth, align != .left {
            let w = DisplayWidth.of(fitted)
            x += align == .right ? mw - w : (mw - w) / 2
        }
        let start = x
        for s in fitted.unicodeScalars { x += put(s, x: x, y: point.y, style: style) }
        return x - start
    }

    /// `string` broken into lines of at most `width` columns at spaces (a word longer than a line is cut
    /// hard). Newlines in `string` start new lines.
    public static func wrap(_ string: String, width: Int) -> [String] {
        guard width > 0 else { return [] }
        var lines: [String] = []
        for paragraph in string.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            var used = 0
            for word in paragraph.split(separator: " ") {
                var w = String(word)
                var ww = DisplayWidth.of(w)
                if used > 0 && used + 1 + ww > width {
                    lines.append(line)
                    line = ""
                    used = 0
                }
                while ww > width {  // a word longer than the line: hard cuts
                    var head = String.UnicodeScalarView()
                    var hw = 0
                    var rest = Substring(w).unicodeScalars[...]
                    while let s = rest.first, hw + DisplayWidth.of(s) <= width - used - (used > 0 ? 1 : 0) {
                        head.append(s)
                        hw += DisplayWidth.of(s)
                        rest = rest.dropFirst()
                    }
                    if hw == 0 && used == 0 { break }  // a single character wider than the line
                    lines.append(used > 0 ? line + " " + String(head) : String(head))
                    line = ""
                    used = 0
                    w = String(String.UnicodeScalarView(rest))
                    ww = DisplayWidth.of(w)
                }
                if used > 0 {
                    line += " "
                    used += 1
                }
                line += w
                used += ww
            }
            lines.append(line)
        }
        return lines
    }

    /// `string` cut to at most `width` columns; when cut, the last column is `ellipsis`.
    public static func fit(_ string: String, width: Int, ellipsis: Unicode.Scalar = "…") -> String {
        guard width > 0 else { return "" }
        if DisplayWidth.of(string) <= width { return string }
        var out = String.UnicodeScalarView()
        var used = 0
        for s in string.unicodeScalars {
            let w = DisplayWidth.of(s)
            if used + w > width - 1 { break }
            out.append(s)
            used += w
        }
        out.append(ellipsis)
        return String(out)
    }
}
