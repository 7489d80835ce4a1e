// Glyphs: the characters primitives draw with, as one value per charset.
//
// Panels never spell a box-drawing character themselves; they call primitives, which take
// their characters from `grid.glyphs`. `--ascii` (or a terminal without UTF-8) selects
// `Glyphs.ascii`, so every screen has an ASCII equivalent and snapshots can be taken of both.

/// Which of the four sides a line cell connects to. Used to merge crossing lines into tees and crosses.
public struct Directions: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let up = Directions(rawValue: 1)
    public static let down = Directions(rawValue: 2)
    public static let left = Directions(rawValue: 4)
    public static let right = Directions(rawValue: 8)
    public static let horizontal: Directions = [.left, .right]
    public static let vertical: Directions = [.up, .down]
}

/// The characters of one charset.
public struct Glyphs: Hashable, Sendable {
    /// Line pieces by the sides they connect: index is `Directions.rawValue` (0…15).
    public var lines: [Unicode.Scalar]
    public var arrowRight: Unicode.Scalar
    public var arrowLeft: Unicode.Scalar
    public var arrowUp: Unicode.Scalar
    public var arrowDown: Unicode.Scalar
    /// Sparkline levels, lowest first (8 of them).
    public var sparks: [Unicode.Scalar]
    /// Bar: a full cell, partial fills in eighths (index 1…7 used; may be empty for whole cells only),
    /// and the unfilled track.
    public var barFull: Unicode.Scalar
    public var barPartials: [Unicode.Scalar]
    public var barEmpty: Unicode.Scalar
    /// Peak-hold marker on a bar: the highest value since the previous frame.
    public var peak: Unicode.Scalar
    /// One-cell mark of truncated text.
    public var ellipsis: Unicode.Scalar
    /// A small dot for lists and legends.
    public var bullet: Unicode.Scalar
    /// Separator between header fields (`·`), the "by" sign of sizes (`×`), and a dash for "none" (`—`).
    public var separator: Unicode.Scalar
    public var times: Unicode.Scalar
    public var dash: Unicode.Scalar
    /// True for `Glyphs.ascii`.
    public var isASCII: Bool

    /// Box drawing, block elements and arrows.
    public static let unicode = Glyphs(
        lines: [
            " ", "╵", "╷", "│", "╴", "┘", "┐", "┤", "╶", "└", "┌", "├", "─", "┴", "┬", "┼",
        ],
        arrowRight: "→", arrowLeft: "←", arrowUp: "↑", arrowDown: "↓",
        sparks: ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"],
        barFull: "█", barPartials: [" ", "▏", "▎", "▍", "▌", "▋", "▊", "▉"], barEmpty: "░", peak: "┃",
        ellipsis: "…", bullet: "•", separator: "·", times: "×", dash: "—", isASCII: false
    )

    /// Printable ASCII only.
    public static let ascii = Glyphs(
        lines: [
            " ", "|", "|", "|", "-", "+", "+", "+", "-", "+", "+", "+", "-", "+", "+", "+",
        ],
        arrowRight: ">", arrowLeft: "<", arrowUp: "^", arrowDown: "v",
        sparks: ["_", ".", ",", "-", "=", "+", "*", "#"],
        barFull: "#", barPartials: [], barEmpty: ".", peak: "|",
        ellipsis: "~", bullet: "*", separator: "|", times: "x", dash: "-", isASCII: true
    )

    /// `width×height` with this charset's sign.
    public func size(_ s: Size) -> String { "\(s.width)\(Character(times))\(s.height)" }

    /// The line piece connecting `dirs`.
    public func line(_ dirs: Directions) -> Unicode.Scalar { lines[Int(dirs.rawValue & 15)] }

    public var horizontal: Unicode.Scalar { line(.horizontal) }
    public var vertical: Unicode.Scalar { line(.vertical) }
    public var topLeft: Unicode.Scalar { line([.down, .right]) }
    public var topRight: Unicode.Scalar { line([.down, .left]) }
    public var bottomLeft: Unicode.Scalar { line([.up, .right]) }
    public var bottomRight: Unicode.Scalar { line([.up, .left]) }
    /// ├ ┤ ┬ ┴ ┼
    public var teeRight: Unicode.Scalar { line([.up, .down, .right]) }
    public var teeLeft: Unicode.Scalar { line([.up, .down, .left]) }
    public var teeDown: Unicode.Scalar { line([.left, .right, .down]) }
    public var teeUp: Unicode.Scalar { line([.left, .right, .up]) }
    public var cross: Unicode.Scalar { line([.left, .right, .up, .down]) }

    /// The arrowhead pointing along `dir` (one side).
    public func arrow(_ dir: Directions) -> Unicode.Scalar {
        switch dir {
        case .left: return arrowLeft
        case .up: return arrowUp
        case .down: return arrowDown
        default: return arrowRight
        }
    }

    /// The sides a drawn line piece connects, or nil for anything else. ASCII `+` reads as a
    /// corner of unknown shape: it keeps what is drawn over it and stays `+`.
    public func directions(of scalar: Unicode.Scalar) -> Directions? {
        if isASCII {
            switch scalar {
            case "-": return .horizontal
            case "|": return .vertical
            case "+": return [.up, .down, .left, .right]
            default: return nil
            }
        }
        guard scalar != " ", let i = lines.firstIndex(of: scalar) else { return nil }
        return Directions(rawValue: UInt8(i))
    }
}
