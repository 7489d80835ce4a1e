// Style: colors and attributes of one cell.
//
// Colors are palette indices (0…255, xterm order) or the terminal's default. Panels choose
// colors by index; the Terminal module maps them down when the terminal has only 8 colors
// (nearest of the first eight) or none (`NO_COLOR`, monochrome: colors dropped, attributes
// kept). So a panel never asks how many colors there are; emphasis that must survive
// monochrome goes into attributes (bold, reverse, underline).

/// A cell color: the terminal's default, or an xterm palette index (0…15 the ANSI colors, 16…255 the cube/greys).
public enum Color: Hashable, Sendable {
    case `default`
    case indexed(UInt8)

    public static let black = Color.indexed(0)
    public static let red = Color.indexed(1)
    public static let green = Color.indexed(2)
    public static let yellow = Color.indexed(3)
    public static let blue = Color.indexed(4)
    public static let magenta = Color.indexed(5)
    public static let cyan = Color.indexed(6)
    public static let white = Color.indexed(7)
    public static let brightBlack = Color.indexed(8)
    public static let brightRed = Color.indexed(9)
    public static let brightGreen = Color.indexed(10)
    public static let brightYellow = Color.indexed(11)
    public static let brightBlue = Color.indexed(12)
    public static let brightMagenta = Color.indexed(13)
    public static let brightCyan = Color.indexed(14)
    public static let brightWhite = Color.indexed(15)

    /// A color of the 6×6×6 cube (each component 0…5).
    public static func cube(_ r: Int, _ g: Int, _ b: Int) -> Color {
        let c = { (v: Int) in max(0, min(5, v)) }
        return .indexed(UInt8(16 + 36 * c(r) + 6 * c(g) + c(b)))
    }

    /// A grey of the 24-step ramp (0 darkest … 23 lightest).
    public static func grey(_ level: Int) -> Color { .indexed(UInt8(232 + max(0, min(23, level)))) }

    /// The nearest of the eight basic colors (what an 8-color terminal shows), by xterm's palette.
    public var basic: Color {
        guard case .indexed(let i) = self else { return self }
        if i < 8 { return self }
        if i < 16 { return .indexed(i - 8) }
        let (r, g, b) = Color.rgb(of: i)
        // Threshold each component at half intensity; ANSI index = r + 2g + 4b.
        let bit = { (v: Int) in v >= 128 ? 1 : 0 }
        var idx = bit(r) + 2 * bit(g) + 4 * bit(b)
        // Mid greys read better as white than as black.
        if idx == 0 && max(r, g, b) >= 88 { idx = 7 }
        return .indexed(UInt8(idx))
    }

    /// xterm's RGB for palette entries 16…255 (cube and grey ramp).
    static func rgb(of index: UInt8) -> (Int, Int, Int) {
        let i = Int(index)
        if i >= 232 {
            let v = 8 + 10 * (i - 232)
            return (v, v, v)
        }
        let n = i - 16
        let level = { (v: Int) in v == 0 ? 0 : 55 + 40 * v }
        return (level(n / 36), level((n / 6) % 6), level(n % 6))
    }
}

/// Text attributes. Survive monochrome terminals.
public struct Attributes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let bold = Attributes(rawValue: 1 << 0)
    public static let dim = Attributes(rawValue: 1 << 1)
    public static let underline = Attributes(rawValue: 1 << 2)
    public static let reverse = Attributes(rawValue: 1 << 3)
    public static let italic = Attributes(rawValue: 1 << 4)
}

/// Foreground, background and attributes of a cell.
public struct Style: Hashable, Sendable {
    public var fg: Color
    public var bg: Color
    public var attributes: Attributes

    public init(fg: Color = .default, bg: Color = .default, _ attributes: Attributes = []) {
        self.fg = fg
        self.bg = bg
        self.attributes = attributes
    }

    /// The terminal's default colors, no attributes.
    public static let plain = Style()
    public static let bold = Style(.bold)
    public static let dim = Style(.dim)
    public static let reverse = Style(.reverse)

    /// This style with extra attributes.
    public func with(_ extra: Attributes) -> Style {
        var s = self
        s.attributes.formUnion(extra)
        return s
    }

    /// This style with another foreground.
    public func fg(_ color: Color) -> Style {
        var s = self
        s.fg = color
        return s
    }

    /// This style with another background.
    public func bg(_ color: Color) -> Style {
        var s = self
        s.bg = color
        return s
    }

    /// A short description for snapshot legends: `fg=2 bg=- bold`.
    public var summary: String {
        func name(_ c: Color) -> String {
            switch c {
            case .default: return "-"
            case .indexed(let i): return String(i)
            }
        }
        var parts = ["fg=\(name(fg))", "bg=\(name(bg))"]
        let names: [(Attributes, String)] = [
            (.bold, "bold"), (.dim, "dim"), (.underline, "underline"), (.reverse, "reverse"), (.italic, "italic"),
        ]
        for (a, n) in names where attributes.contains(a) { parts.append(n) }
        return parts.joined(separator: " ")
    }
}
