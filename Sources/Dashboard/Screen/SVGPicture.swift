// SVGPicture: a grid as an SVG picture, for slides.
//
// The picture is drawn from the same `Grid` the terminal blits, cell by cell, so the picture and the
// screen cannot differ in what they show. Every cell is a fixed box of `cellWidth` × `cellHeight`
// units at its column and row:
//
// - a background colour other than the default is a rectangle (runs of one colour merged per row);
// - a line piece (─ │ ┌ ┼ ╴ …, heavy ━ ┃) is a path of one arm per side it connects, from the cell's
//   centre to its edge, so neighbouring pieces meet exactly whatever font the viewer has;
// - a block element (█, ▁…▇ from the bottom, ▏…▉ from the left, ░ as a quarter-tone) is a rectangle;
// - any other character is a `<text>` element of its own at the cell's left edge, in a monospaced font
//   stack. Options rejected: one `<text>` per row with an `x` per character (the SVG 1.1 way) — librsvg
//   uses only the first value and lays the rest out with the font's advance, which drifts from the grid
//   with any font whose advance is not exactly the cell; `textLength` — not honoured by librsvg either.
//   One element per cell costs bytes (a 160×50 dashboard is a few hundred KB) and never drifts.
//
// Every drawn cell carries its character: `<text>` as its content, shapes in a `data-c` attribute, so
// the picture's text can be read back (tests do) and searched.
//
// Colours are the terminal's: xterm's palette for the 16 ANSI colours and the 6×6×6 cube and grey ramp
// (`Color.rgb(of:)`), the default foreground and background of a dark terminal (`Theme`). Bold is a
// bold font, italic an italic one, dim 60 % opacity, reverse swaps foreground and background, underline
// a rectangle along the cell's bottom. Pure: a function of the grid and the theme.

/// Renders grids as SVG documents.
public enum SVGPicture {
    /// A colour as 8-bit red, green and blue.
    public struct RGB: Hashable, Sendable {
        public var r, g, b: Int
        public init(_ r: Int, _ g: Int, _ b: Int) {
            self.r = r
            self.g = g
            self.b = b
        }
    }

    /// The default colours a picture fills in for `Color.default`.
    public struct Theme: Hashable, Sendable {
        public var foreground: RGB
        public var background: RGB

        public init(foreground: RGB, background: RGB) {
            self.foreground = foreground
            self.background = background
        }

        /// xterm's defaults on a dark background: light grey on near-black.
        public static let dark = Theme(foreground: RGB(0xE5, 0xE5, 0xE5), background: RGB(0x12, 0x12, 0x12))
    }

    /// Size of one cell in SVG user units (px at 96 dpi).
    public static let cellWidth = 10
    public static let cellHeight = 20
    /// Font size and baseline offset within a cell.
    static let fontSize = 16
    static let baseline = 15
    /// Thickness of a light and of a heavy line piece: even, so arms sit on whole pixels at 96 dpi.
    static let light = 2.0
    static let heavy = 4.0
    /// The monospaced font stack (DejaVu Sans Mono first: the one the CI renderer has).
    public static let fontStack = "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', 'Courier New', monospace"

    /// The whole SVG document for `grid`; `title` becomes its `<title>` (what viewers show as its name).
    public static func render(_ grid: Grid, title: String = "qvtop", theme: Theme = .dark) -> String {
        let w = grid.width * cellWidth
        let h = grid.height * cellHeight
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)" \
            font-family="\(escape(fontStack))" font-size="\(fontSize)">
            <title>\(escape(title))</title>
            <rect width="\(w)" height="\(h)" fill="\(hex(theme.background))"/>

            """
        out.reserveCapacity(grid.width * grid.height * 40)
        // Backgrounds first, merged per row, so glyphs of any cell draw above every background.
        for y in 0..<grid.height {
            var x = 0
            while x < grid.width {
                let bg = colors(grid[x, y].style, theme).bg
                var end = x + 1
                while end < grid.width, colors(grid[end, y].style, theme).bg == bg { end += 1 }
                if bg != hex(theme.background) {
                    out += #"<rect x="\#(x * cellWidth)" y="\#(y * cellHeight)" width="\#((end - x) * cellWidth)" "#
                    out += #"height="\#(cellHeight)" fill="\#(bg)"/>"# + "\n"
                }
                x = end
            }
        }
        for y in 0..<grid.height {
            for x in 0..<grid.width {
                let cell = grid[x, y]
                if cell.isContinuation { continue }
                out += element(cell, x: x, y: y, theme: theme)
            }
        }
        out += "</svg>\n"
        return out
    }

    /// The element drawing one cell's foreground (empty for a blank without underline).
    static func element(_ cell: Cell, x: Int, y: Int, theme: Theme) -> String {
        let (fg, _) = colors(cell.style, theme)
        let a = cell.style.attributes
        let x0 = Double(x * cellWidth)
        let y0 = Double(y * cellHeight)
        var paint = #"fill="\#(fg)""#
        if a.contains(.dim) { paint += #" opacity="0.6""# }
        var out = ""
        if a.contains(.underline) {
            let top = num(y0 + Double(cellHeight) - 2)
            out += #"<rect x="\#(num(x0))" y="\#(top)" width="\#(Int(cell.width) * cellWidth)" height="1" "#
            out += paint + "/>\n"
        }
        let c = cell.scalar
        if c == " " { return out }
        let char = escape(String(Character(c)))
        if let d = shape(c, x: x0, y: y0) {
            return out + #"<path data-c="\#(char)" d="\#(d)" \#(paint)/>"# + "\n"
        }
        var font = ""
        if a.contains(.bold) { font += #" font-weight="bold""# }
        if a.contains(.italic) { font += #" font-style="italic""# }
        return out + #"<text x="\#(x * cellWidth)" y="\#(y * cellHeight + baseline)" \#(paint)\#(font)>\#(char)</text>"#
            + "\n"
    }

    /// The path drawing a line piece or block element in the cell at (x0, y0), or nil for a character
    /// that is drawn as text.
    static func shape(_ c: Unicode.Scalar, x: Double, y: Double) -> String? {
        let w = Double(cellWidth)
        let h = Double(cellHeight)
        func rect(_ rx: Double, _ ry: Double, _ rw: Double, _ rh: Double) -> String {
            "M\(num(rx)) \(num(ry))h\(num(rw))v\(num(rh))h\(num(-rw))z"
        }
        switch c.value {
        case 0x2588: return rect(x, y, w, h)  // █
        case 0x2581...0x2587:  // ▁…▇: lower n eighths
            let n = Double(c.value - 0x2580)
            return rect(x, y + h * (8 - n) / 8, w, h * n / 8)
        case 0x2589...0x258F:  // ▉…▏: left n eighths (▉ 7/8 … ▏ 1/8)
            let n = Double(0x2590 - c.value)
            return rect(x, y, w * n / 8, h)
        case 0x2591:  // ░: a quarter-tone, one unit square in every 2 × 2
            var d = ""
            for row in 0..<10 {
                for col in 0..<5 {
                    d += rect(x + Double(col) * 2, y + Double(row) * 2, 1, 1)
                }
            }
            return d
        default: break
        }
        let heavyPiece: Directions?
        switch c {
        case "━": heavyPiece = .horizontal
        case "┃": heavyPiece = .vertical
        default: heavyPiece = nil
        }
        guard let dirs = heavyPiece ?? Glyphs.unicode.directions(of: c), !dirs.isEmpty else { return nil }
        let t = heavyPiece != nil ? heavy : light
        let cx = x + (w - t) / 2  // the arms' left / top edges
        let cy = y + (h - t) / 2
        var d = ""
        if dirs.contains(.left) { d += rect(x, cy, cx + t - x, t) }
        if dirs.contains(.right) { d += rect(cx, cy, x + w - cx, t) }
        if dirs.contains(.up) { d += rect(cx, y, t, cy + t - y) }
        if dirs.contains(.down) { d += rect(cx, cy, t, y + h - cy) }
        return d
    }

    /// Foreground and background as `#rrggbb`, after reverse video.
    static func colors(_ style: Style, _ theme: Theme) -> (fg: String, bg: String) {
        let fg = hex(rgb(style.fg, theme.foreground))
        let bg = hex(rgb(style.bg, theme.background))
        return style.attributes.contains(.reverse) ? (bg, fg) : (fg, bg)
    }

    /// The RGB of a palette colour (xterm's values), or `fallback` for the default.
    public static func rgb(_ color: Color, _ fallback: RGB) -> RGB {
        guard case .indexed(let i) = color else { return fallback }
        if i < 16 { return ansi[Int(i)] }
        let (r, g, b) = Color.rgb(of: i)
        return RGB(r, g, b)
    }

    /// xterm's 16 ANSI colours.
    static let ansi: [RGB] = [
        RGB(0x00, 0x00, 0x00), RGB(0xCD, 0x00, 0x00), RGB(0x00, 0xCD, 0x00), RGB(0xCD, 0xCD, 0x00),
        RGB(0x00, 0x00, 0xEE), RGB(0xCD, 0x00, 0xCD), RGB(0x00, 0xCD, 0xCD), RGB(0xE5, 0xE5, 0xE5),
        RGB(0x7F, 0x7F, 0x7F), RGB(0xFF, 0x00, 0x00), RGB(0x00, 0xFF, 0x00), RGB(0xFF, 0xFF, 0x00),
        RGB(0x5C, 0x5C, 0xFF), RGB(0xFF, 0x00, 0xFF), RGB(0x00, 0xFF, 0xFF), RGB(0xFF, 0xFF, 0xFF),
    ]

    static func hex(_ c: RGB) -> String {
        let digits = Array("0123456789abcdef")
        var s = "#"
        for v in [c.r, c.g, c.b] {
            let b = max(0, min(255, v))
            s.append(digits[b / 16])
            s.append(digits[b % 16])
        }
        return s
    }

    /// A coordinate without a trailing `.0`, at most two decimals.
    static func num(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    /// Text safe inside XML content and attribute values.
    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 has no control characters but tab/LF/CR; the grid drops them on write anyway.
                if ch.value < 0x20 { out += "?" } else { out.unicodeScalars.append(ch) }
            }
        }
        return out
    }
}
