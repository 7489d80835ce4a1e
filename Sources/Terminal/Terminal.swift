// Terminal: the only module that talks to ncursesw.
//
// It opens the terminal (locale, colors, keypad, mouse), blits a `Grid` touching only the
// cells that changed since the last blit, turns ncurses input into `Key` values, and restores
// the terminal on close. It makes no layout decisions: what to draw is the Dashboard's.
//
// Colors: 256-color terminals get the palette indices as they are; 8-color terminals get the
// nearest basic color (`Color.basic`); `NO_COLOR` (any non-empty value) or a terminal without
// colors gets monochrome, where a cell with a background color is drawn in reverse video so
// headers and highlights stay visible. Color pairs are allocated on first use and cached.
//
// Keys: ncurses recognizes the escape sequences the terminfo entry of $TERM names. Terminals and
// multiplexers often send others for the same keys (tmux sends End as `ESC [ 4 ~`, which the
// xterm-256color entry calls nothing, so curses would hand over Esc, `[`, `4`, `~`). So, as htop does,
// the common alternates of Home, End, PgUp, PgDn and F1–F4 (`alternateKeys`: xterm's normal and
// application modes, VT220/screen/tmux, rxvt, the Linux console) are added with `define_key` — each
// only when the entry does not already give that sequence a meaning.
//
// Ownership: a `Terminal` is created, used and closed on the UI thread only (ncurses is not
// thread-safe). It is deliberately not Sendable.

@preconcurrency import CCurses
import Dashboard

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Why the terminal cannot be used; each message is one line for stderr.
public enum TerminalError: Error, Equatable, CustomStringConvertible {
    case notATTY(stream: String)
    case termUnset
    case termDumb
    case cannotOpen(term: String)

    public var description: String {
        let hint = "use --headless to run without one"
        switch self {
        case .notATTY(let stream): return "the dashboard needs a terminal, but \(stream) is not a TTY; \(hint)"
        case .termUnset: return "the dashboard needs a terminal, but TERM is not set; \(hint)"
        case .termDumb: return "the dashboard needs a terminal, but TERM is 'dumb'; \(hint)"
        case .cannotOpen(let term): return "cannot open the terminal (TERM=\(term)); \(hint)"
        }
    }
}

/// How many colors the terminal shows.
public enum ColorMode: String, Sendable {
    case colors256 = "256 colors"
    case colors8 = "8 colors"
    case monochrome
}

public struct TerminalOptions: Sendable {
    /// Draw with ASCII only (`--ascii`).
    public var ascii: Bool
    /// Mouse reporting (clicks on footer hints, later panel selection).
    public var mouse: Bool

    public init(ascii: Bool = false, mouse: Bool = true) {
        self.ascii = ascii
        self.mouse = mouse
    }
}

public final class Terminal {
    /// ncurses version string, proving the link works.
    public static var cursesVersion: String { String(cString: curses_version()) }

    /// Checks, before anything opens, that stdin and stdout are TTYs and TERM can draw.
    public static func checkInteractive(environment: [String: String]) throws(TerminalError) {
        if isatty(0) == 0 { throw .notATTY(stream: "stdin") }
        if isatty(1) == 0 { throw .notATTY(stream: "stdout") }
        guard let term = environment["TERM"], !term.isEmpty else { throw .termUnset }
        if term == "dumb" { throw .termDumb }
    }

    /// `setlocale(LC_ALL, "")`, falling back to C.UTF-8 for LC_CTYPE when the environment's locale
    /// is not UTF-8 (without it every non-ASCII character would vanish). Returns true when the
    /// locale ends up UTF-8. Process-wide: call on the main thread before other threads start.
    @discardableResult
    public static func setUpLocale() -> Bool {
        setlocale(LC_ALL, "")
        if qv_locale_is_utf8() != 0 { return true }
        if setlocale(LC_CTYPE, "C.UTF-8") == nil { setlocale(LC_CTYPE, "C.utf8") }
        return qv_locale_is_utf8() != 0
    }

    /// Escape sequences of keys that terminals send besides the ones their terminfo entry names (see the
    /// file's notes), with the curses key code each means.
    static let alternateKeys: [(String, Int32)] = {
        let esc = "\u{1B}"
        var table: [(String, Int32)] = []
        for s in ["[1~", "[7~", "[H", "OH"] { table.append((esc + s, KEY_HOME)) }
        for s in ["[4~", "[8~", "[F", "OF"] { table.append((esc + s, KEY_END)) }
        for s in ["[5~"] { table.append((esc + s, KEY_PPAGE)) }
        for s in ["[6~"] { table.append((esc + s, KEY_NPAGE)) }
        // F1–F4: xterm (SS3 P…S), VT220/rxvt (`[11~`…`[14~`), the Linux console (`[[A`…`[[D`).
        for (n, letters) in [
            (1, ["OP", "[11~", "[[A"]), (2, ["OQ", "[12~", "[[B"]), (3, ["OR", "[13~", "[[C"]),
            (4, ["OS", "[14~", "[[D"]),
        ] {
            for s in letters { table.append((esc + s, qv_key_f(Int32(n)))) }
        }
        return table
    }()

    public let glyphs: Glyphs
    public let colorMode: ColorMode
    /// False when no UTF-8 locale exists: non-ASCII characters are then written as `?`.
    public let utf8: Bool

    private var screen: OpaquePointer?
    /// What the terminal shows now (as far as this object knows); nil forces a full blit.
    private var shown: Grid?
    private var pairs: [PairKey: Int32] = [:]
    private var nextPair: Int32 = 1
    private var closed = false

    private struct PairKey: Hashable {
        var fg: Int32
        var bg: Int32
    }

    /// Opens the terminal. The caller has checked `checkInteractive` and set the locale.
    public init(options: TerminalOptions, environment: [String: String]) throws(TerminalError) {
        utf8 = qv_locale_is_utf8() != 0
        guard let scr = qv_newterm() else { throw .cannotOpen(term: environment["TERM"] ?? "") }
        screen = scr
        glyphs = options.ascii || !utf8 ? .ascii : .unicode
        cbreak()
        noecho()
        nonl()
        intrflush(qv_stdscr(), false)
        keypad(qv_stdscr(), true)
        for (sequence, code) in Self.alternateKeys where key_defined(sequence) == 0 {
            define_key(sequence, code)
        }
        set_escdelay(25)
        curs_set(0)
        if options.mouse {
            mousemask(qv_mouse_mask_all(), nil)
            mouseinterval(0)
        }
        let noColor = !(environment["NO_COLOR"] ?? "").isEmpty
        if !noColor && has_colors() {
            start_color()
            use_default_colors()
            colorMode = qv_colors() >= 256 ? .colors256 : qv_colors() >= 8 ? .colors8 : .monochrome
        } else {
            colorMode = .monochrome
        }
        erase()
    }

    deinit { close() }

    /// Restores the terminal (cursor, echo, cooked mode, main screen). Idempotent.
    public func close() {
        guard !closed else { return }
        closed = true
        curs_set(1)
        endwin()
        if let screen { delscreen(screen) }
        screen = nil
    }

    /// The terminal's size now (updated by ncurses on KEY_RESIZE).
    public var size: Size { Size(Int(getmaxx(qv_stdscr())), Int(getmaxy(qv_stdscr()))) }

    /// Forgets what the screen shows: the next `draw` repaints every cell (Ctrl-L, resize).
    public func repaintAll() {
        shown = nil
        clearok(qv_curscr(), true)
    }

    /// Shows `grid`, writing only the cells that differ from the last grid shown.
    /// Returns the number of cells written.
    @discardableResult
    public func draw(_ grid: Grid) -> Int {
        let cells = grid.cells
        let w = grid.width
        let old = shown?.size == grid.size ? shown?.cells : nil
        if old == nil { erase() }
        var written = 0
        for y in 0..<grid.height {
            for x in 0..<w {
                let i = y * w + x
                let c = cells[i]
                if c.width == 0 { continue }
                if let old, old[i] == c, c.width != 2 || old[i + 1] == cells[i + 1] { continue }
                var value = c.scalar.value
                if !utf8 && value >= 0x80 { value = 0x3F }  // '?'
                let (attrs, pair) = rendition(c.style)
                _ = qv_put_wch(Int32(y), Int32(x), wchar_t(bitPattern: value), attrs, pair)
                if value == 0x3F && c.width == 2 {  // a wide character shown as '?': fill its right half too
                    _ = qv_put_wch(Int32(y), Int32(x + 1), wchar_t(bitPattern: value), attrs, pair)
                }
                written += 1
            }
        }
        refresh()
        shown = grid
        return written
    }

    /// Attributes and color pair for a style, per the color mode.
    private func rendition(_ style: Style) -> (attr_t, Int32) {
        var a = qv_attr_normal()
        let s = style.attributes
        if s.contains(.bold) { a |= qv_attr_bold() }
        if s.contains(.dim) { a |= qv_attr_dim() }
        if s.contains(.underline) { a |= qv_attr_underline() }
        if s.contains(.reverse) { a |= qv_attr_reverse() }
        if s.contains(.italic) { a |= qv_attr_italic() }
        switch colorMode {
        case .monochrome:
            if style.bg != .default && !s.contains(.reverse) { a |= qv_attr_reverse() }
            return (a, 0)
        case .colors8:
            return (a, pair(fg: index(style.fg.basic), bg: index(style.bg.basic)))
        case .colors256:
            return (a, pair(fg: index(style.fg), bg: index(style.bg)))
        }
    }

    private func index(_ c: Color) -> Int32 {
        switch c {
        case .default: return -1
        case .indexed(let i): return Int32(i)
        }
    }

    private func pair(fg: Int32, bg: Int32) -> Int32 {
        if fg == -1 && bg == -1 { return 0 }
        let key = PairKey(fg: fg, bg: bg)
        if let p = pairs[key] { return p }
        guard nextPair < qv_color_pairs() else { return 0 }  // out of pairs: default colors
        let p = nextPair
        nextPair += 1
        if qv_init_pair(p, fg, bg) == ERR { return 0 }
        pairs[key] = p
        return p
    }

    /// Waits up to `timeoutMs` (0: do not wait) for a key or mouse report. nil on timeout or when a
    /// signal interrupted the wait.
    public func readKey(timeoutMs: Int) -> Key? {
        wtimeout(qv_stdscr(), Int32(max(0, min(timeoutMs, 60_000))))
        var ch: wint_t = 0
        let r = wget_wch(qv_stdscr(), &ch)
        if r == ERR { return nil }
        if r == KEY_CODE_YES { return functionKey(Int32(ch)) }
        return characterKey(ch)
    }

    private func characterKey(_ ch: wint_t) -> Key? {
        switch ch {
        case 27: return .escape
        case 9: return .tab
        case 10, 13: return .enter
        case 8, 127: return .backspace
        case 1...26: return .ctrl(Character(Unicode.Scalar(UInt8(ch) + 96)))
        default:
            guard ch >= 32, let s = Unicode.Scalar(UInt32(ch)) else { return nil }
            return .char(Character(s))
        }
    }

    private func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_RESIZE: return .resize
        case KEY_MOUSE:
            var x: Int32 = 0
            var y: Int32 = 0
            var button: Int32 = 0
            let kinds: [Int32: MouseEvent.Kind] = [
                1: .press, 2: .release, 3: .click, 4: .doubleClick, 5: .scrollUp, 6: .scrollDown,
            ]
            guard let kind = kinds[qv_mouse_read(&x, &y, &button)] else { return nil }
            return .mouse(MouseEvent(kind: kind, button: Int(button), point: Point(Int(x), Int(y))))
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_ENTER: return .enter
        case KEY_BTAB: return .backTab
        case KEY_BACKSPACE: return .backspace
        default:
            for n in 1...12 where code == qv_key_f(Int32(n)) { return .function(n) }
            return nil
        }
    }
}
