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
    /// Close the topmost overlay: the help, else the details view; nothing when none is open.
    case closeOverlay
    /// Freeze the view (the runtime keeps running) or thaw it.
    case togglePause
    /// Redraw rate up / down one step, within `UIState.rateRange`.
    case faster, slower
    /// Repaint the whole terminal (Ctrl-L).
    case redraw
    /// The terminal is now `size`.
    case resize(Size)
    /// Show or hide the code pane (the task kinds' sync and async bodies).
    case toggleCode
    /// Next / previous task kind in the code pane.
    case nextCode
    /// Move the worker/loop selection by `delta` (wrapping within `UIState.selectableCount`).
    case moveSelection(Int)
    /// Select worker/loop `index` (a click on it).
    case select(Int)
    /// Open the details view of the selected worker/loop.
    case openDetails
    /// The newest snapshot has `count` selectable workers/loops (sent by the app loop when it changes).
    case selectableCount(Int)
    /// Switch to preset `index` of `UIState.presets` (keys 1–9, Enter in the picker).
    case choosePreset(Int)
    /// Switch to the next preset, wrapping (Tab).
    case cyclePreset
    /// Open or close the preset picker (`p`).
    case togglePicker
    /// Move the picker's cursor by `delta` (wrapping).
    case movePickerCursor(Int)
    /// Choose the preset under the picker's cursor.
    case pickCursor
    /// The app loop switched to preset `index` (after `Effect.switchPreset`).
    case presetSwitched(Int)
    /// The app loop could not switch; the current preset keeps running. Shown as a banner.
    case presetFailed(String)
    /// Start or stop recording to a file (`r`; live only).
    case toggleRecording
    /// Drop a bookmark in the recording (`b`; live only, while recording).
    case bookmark
    /// Recording stopped on an error, or could not start: shown as a banner; the dashboard goes on.
    case recordingFailed(String)
    /// A replay control (replay mode only; see ReplayKeys.swift).
    case replay(ReplayCommand)
    /// Save the screen as an SVG picture (`s`; live and replay).
    case savePicture
    /// The app loop saved the picture at this path: the header says where.
    case pictureSaved(String)
    /// The picture could not be written: shown as a banner.
    case pictureFailed(String)
}

/// What the app loop must do after a reduction.
public enum Effect: Hashable, Sendable {
    case none
    /// Forget what the terminal shows and repaint every cell.
    case repaintAll
    /// Restore the terminal and exit with this status.
    case quit(status: Int32)
    /// Stop the running preset and start preset `index` of `UIState.presets`; answer with
    /// `.presetSwitched(index)` or `.presetFailed(message)`.
    case switchPreset(Int)
    /// Start recording when not recording, else stop.
    case toggleRecording
    /// Add a bookmark to the recording in progress.
    case bookmark
    /// Apply this control to the replayer.
    case replay(ReplayCommand)
    /// Write the grid on screen as an SVG picture; answer with `.pictureSaved(path)` or `.pictureFailed(message)`.
    case savePicture
}

/// A preset the dashboard can switch to: what the header, the picker and the help show.
public struct PresetInfo: Hashable, Sendable {
    public var name: String
    public var title: String
    /// A few sentences: what the preset shows and which part of the talk it is.
    public var explanation: String

    public init(name: String, title: String, explanation: String = "") {
        self.name = name
        self.title = title
        self.explanation = explanation
    }
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
    /// The panels' toggles and selection (code pane, details view, selected worker/loop).
    public var panel = PanelView()
    /// Workers/loops in the newest snapshot, for wrapping the selection.
    public var selectableCount = 0
    /// Presets the user can switch to live (empty: switching is not available, e.g. in a replay).
    public var presets: [PresetInfo] = []
    /// Index in `presets` of the running preset, if it is one of them.
    public var presetIndex: Int?
    /// The preset picker (`p`) and its cursor.
    public var pickerVisible = false
    public var pickerCursor = 0
    /// An error to show under the header until the next successful switch or Esc (e.g. a preset that failed).
    public var banner: String?
    /// True when the source is a recording being replayed: the header says REPLAY, the replay keys
    /// apply and the live-only ones (presets, recording, view freeze) do not.
    public var replaying = false

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
        if state.helpVisible {
            state.helpVisible = false
        } else if state.pickerVisible {
            state.pickerVisible = false
        } else if state.panel.showDetails {
            state.panel.showDetails = false
        } else {
            state.banner = nil
        }
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
    case .toggleCode:
        state.panel.showCode.toggle()
        state.panel.showDetails = false
    case .nextCode:
        state.panel.codeIndex += 1  // clamped (wrapped) by the code pane when drawing
    case .moveSelection(let delta):
        state.panel.moveSelection(by: delta, count: state.selectableCount)
    case .select(let index):
        state.panel.selected = max(0, index)
    case .openDetails:
        if state.selectableCount > 0 { state.panel.showDetails = true }
    case .selectableCount(let n):
        state.selectableCount = max(0, n)
        if let sel = state.panel.selection(count: n) { state.panel.selected = sel }
    case .choosePreset(let i):
        state.pickerVisible = false
        guard i >= 0 && i < state.presets.count else {
            if !state.presets.isEmpty { state.banner = "no preset \(i + 1): there are \(state.presets.count)" }
            return .none
        }
        if i == state.presetIndex { return .none }
        state.status = "starting \(state.presets[i].name)"
        return .switchPreset(i)
    case .cyclePreset:
        guard !state.presets.isEmpty else { return .none }
        return reduce(&state, .choosePreset(((state.presetIndex ?? -1) + 1) % state.presets.count))
    case .togglePicker:
        guard !state.presets.isEmpty else { return .none }
        state.pickerVisible.toggle()
        state.pickerCursor = state.presetIndex ?? 0
    case .movePickerCursor(let delta):
        let n = state.presets.count
        if n > 0 { state.pickerCursor = ((state.pickerCursor + delta) % n + n) % n }
    case .pickCursor:
        return reduce(&state, .choosePreset(state.pickerCursor))
    case .presetSwitched(let i):
        state.presetIndex = i
        state.status = nil
        state.banner = nil
        state.panel.showDetails = false
        state.panel.codeIndex = 0
        if i >= 0 && i < state.presets.count { state.presetName = state.presets[i].name }
    case .presetFailed(let message):
        state.status = nil
        state.banner = message
    case .toggleRecording:
        return state.replaying ? .none : .toggleRecording
    case .bookmark:
        return state.replaying ? .none : .bookmark
    case .recordingFailed(let message):
        state.banner = message
    case .replay(let command):
        return state.replaying ? .replay(command) : .none
    case .savePicture:
        return .savePicture
    case .pictureSaved(let path):
        state.status = "saved \(path)"
    case .pictureFailed(let message):
        state.banner = message
    }
    return .none
}
