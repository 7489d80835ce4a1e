// Input as values: what the Terminal module reads, before it means anything.
//
// The Terminal module turns ncurses key codes and mouse reports into `Key` values; `KeyMap`
// (pure) turns keys into `Intent`s. So the whole path from a key press to a state change is
// testable without a terminal, and the help overlay is generated from the same table.

/// One key press or mouse report, terminal-independent.
public enum Key: Hashable, Sendable, CustomStringConvertible {
    /// A printable character (Space is `.char(" ")`).
    case char(Character)
    /// Ctrl plus a letter, lowercase (`.ctrl("l")` for Ctrl-L).
    case ctrl(Character)
    /// F1…F12.
    case function(Int)
    case escape, enter, tab, backTab, backspace
    case up, down, left, right, pageUp, pageDown, home, end
    /// The terminal changed size (ncurses' KEY_RESIZE).
    case resize
    case mouse(MouseEvent)

    /// How the key is written in help and footer hints.
    public var description: String {
        switch self {
        case .char(" "): return "Space"
        case .char(let c): return String(c)
        case .ctrl(let c): return "Ctrl-" + String(c).uppercased()
        case .function(let n): return "F\(n)"
        case .escape: return "Esc"
        case .enter: return "Enter"
        case .tab: return "Tab"
        case .backTab: return "Shift-Tab"
        case .backspace: return "Backspace"
        case .up: return "Up"
        case .down: return "Down"
        case .left: return "Left"
        case .right: return "Right"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .home: return "Home"
        case .end: return "End"
        case .resize: return "resize"
        case .mouse(let m): return "mouse \(m.kind) at \(m.point)"
        }
    }
}

/// A mouse report in cell coordinates.
public struct MouseEvent: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case press, release, click, doubleClick, scrollUp, scrollDown
    }
    public var kind: Kind
    /// 1 left, 2 middle, 3 right; 0 for wheel events.
    public var button: Int
    public var point: Point

    public init(kind: Kind, button: Int = 1, point: Point) {
        self.kind = kind
        self.button = button
        self.point = point
    }
}
