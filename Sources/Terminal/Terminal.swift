@preconcurrency import CCurses

/// Terminal: the only module that talks to ncursesw.
public enum TerminalInfo {
    /// ncurses version string, proving the link works.
    public static var cursesVersion: String { String(cString: curses_version()) }
}
