// Intents, the UI state and the reducer.
//
// Keys become `Intent` values (`KeyMap`); `reduce(&state, intent)` is the only place the UI
// state changes, and it answers with an `Effect` the app loop carries out (quit, repaint the
// whole terminal). Drawing reads the state and never changes it (GUIDE habit 10/11). The app
// loop owns the one `UIState` and calls `reduce` on the UI thread only.

/// What the user asked for, independent of the key that asked.
public enum Intent: Hashable, Sendable {
    /// Leave qvtop. `status` is the process exit status: 0 for q/F10, 130 for Ctrl-C typed as a key.
    case quit(status: Int32)
    case toggleHelp
    /// Close the topmost overlay (help); nothing when none is open.
    case closeOverlay
    /// Freeze the view (the runtime keeps running) or thaw it.
    case togglePause
    /// Redraw rate up / down one step, within `UIState.rateRange`.
    case faster, slower
    /// Repaint the whole terminal (Ctrl-L).
    case redraw
    /// The terminal is now `size`.
    case resize(Size)
    /// A mouse click at a cell; mapped to what is drawn there (footer hints) by the reducer.
    case click(Point)
}

/// What the app loop must do after a reduction.
public enum Effect: Hashable, Sendable {
    case none
    /// Forget what the terminal shows and repaint every cell.
    case repaintAll
    /// Restore the terminal and exit with this status.
    case quit(status: Int32)
}

/// Everything the shell needs besides the data. Owned by the app loop, UI thread only.
public struct UIState: Hashable, Sendable {
    /// Redraw rates, Hz.
    public static let rateRange = 1...60
    public static let rateSteps = [1, 2, 5, 10, 15, 20, 30, 60]
    /// Smallest terminal the dashboard draws in; below it, a message asks for more room.
    public static let minimumSize = Size(80, 24)

    public var size: Size
    /// Redraw rate, Hz (default 10).
    public var rateHz: Int
    public var paused = false
    public var helpVisible = false
    /// Name of the preset asked for (`--preset`), shown until a snapshot names the running one.
    public var presetName: String
    /// One-line status message on the right of the header (errors, "redrawn"); nil for none.
    public var status: String?

    public init(size: Size = UIState.minimumSize, rateHz: Int = 10, presetName: String = "") {
        self.size = size
        self.rateHz = max(Self.rateRange.lowerBound, min(Self.rateRange.upperBound, rateHz))
        self.presetName = presetName
    }

    /// True when the terminal is below `minimumSize`.
    public var tooSmall: Bool { !size.covers(Self.minimumSize) }
}

/// Applies `intent` to `state` and says what the app loop must do. Pure.
public func reduce(_ state: inout UIState, _ intent: Intent) -> Effect {
    switch intent {
    case .quit(let status):
        return .quit(status: status)
    case .toggleHelp:
        state.helpVisible.toggle()
    case .closeOverlay:
        state.helpVisible = false
    case .togglePause:
        state.paused.toggle()
    case .faster:
        state.rateHz = UIState.rateSteps.first { $0 > state.rateHz } ?? UIState.rateRange.upperBound
    case .slower:
        state.rateHz = UIState.rateSteps.last { $0 < state.rateHz } ?? UIState.rateRange.lowerBound
    case .redraw:
        return .repaintAll
    case .resize(let size):
        state.size = size
        return .repaintAll
    case .click(let point):
        if let hit = Shell.hitTest(point, state: state) { return reduce(&state, hit) }
    }
    return .none
}
