// The key table: one entry per binding, used to map keys, to draw the help overlay and the
// footer hints, so the three can never disagree.

/// One key binding: the keys, what they do (help text), and the intent.
public struct KeyBinding: Sendable {
    public var keys: [Key]
    public var help: String
    public var intent: Intent
    /// Short label for the footer; nil keeps the binding out of the footer.
    public var hint: String?
    /// How help writes the keys, when it shares one line with the next binding(s) (`+, -`).
    public var helpKeys: String?
    /// False for a binding whose help line is the previous binding's (shared line).
    public var inHelp: Bool

    public init(
        keys: [Key], help: String, intent: Intent, hint: String? = nil, helpKeys: String? = nil, inHelp: Bool = true
    ) {
        self.keys = keys
        self.help = help
        self.intent = intent
        self.hint = hint
        self.helpKeys = helpKeys
        self.inHelp = inHelp
    }

    /// The keys as help shows them: `q, F10` (a run of digits as `1-9`).
    public var keyLabel: String {
        if let helpKeys { return helpKeys }
        if keys.count > 2, case .char(let a) = keys[0], case .char(let b) = keys[keys.count - 1], a.isNumber, b.isNumber
        {
            return "\(a)-\(b)"
        }
        return keys.map(\.description).joined(separator: ", ")
    }
}

public enum KeyMap {
    /// Every binding, in help order.
    public static let bindings: [KeyBinding] = [
        KeyBinding(
            keys: [.char("?"), .char("h"), .function(1)], help: "show or hide this help", intent: .toggleHelp,
            hint: "help"),
        KeyBinding(
            keys: [.char(" ")], help: "pause / resume the view (the runtime keeps running)", intent: .togglePause,
            hint: "pause"),
        KeyBinding(
            keys: (1...9).map { .char(Character(String($0))) }, help: "switch to preset 1 to 9, or the next (live)",
            intent: .choosePreset(0), helpKeys: "1-9, Tab"),
        KeyBinding(keys: [.tab], help: "switch to the next preset", intent: .cyclePreset, inHelp: false),
        KeyBinding(
            keys: [.char("p")], help: "preset picker: titles and explanations", intent: .togglePicker,
            hint: "presets"),
        KeyBinding(
            keys: [.char("+"), .char("=")], help: "redraw faster / slower (1 to 60 Hz)", intent: .faster, hint: "rate",
            helpKeys: "+, -"),
        KeyBinding(keys: [.char("-")], help: "redraw slower", intent: .slower, inHelp: false),
        KeyBinding(
            keys: [.char("c")], help: "code pane (sync and async bodies); n next task kind", intent: .toggleCode,
            helpKeys: "c, n"),
        KeyBinding(keys: [.char("n")], help: "next task kind in the code pane", intent: .nextCode, inHelp: false),
        KeyBinding(
            keys: [.right, .down], help: "select a worker or loop (or click); PgUp/PgDn by 16",
            intent: .moveSelection(1), helpKeys: "arrows"),
        KeyBinding(
            keys: [.left, .up], help: "select the previous one", intent: .moveSelection(-1), helpKeys: "arrows",
            inHelp: false),
        // Many workers: a heat-map row of carriers at a time.
        KeyBinding(
            keys: [.pageDown], help: "select 16 workers on", intent: .moveSelection(16), helpKeys: "PgDn",
            inHelp: false),
        KeyBinding(keys: [.pageUp], help: "select 16 workers back", intent: .moveSelection(-16), inHelp: false),
        KeyBinding(keys: [.enter], help: "details of the selected worker or loop", intent: .openDetails),
        KeyBinding(keys: [.escape], help: "close help, picker, details or banner", intent: .closeOverlay),
        KeyBinding(keys: [.ctrl("l")], help: "repaint the whole screen", intent: .redraw),
        KeyBinding(
            keys: [.char("r")], help: "record to a file / stop; b bookmarks", intent: .toggleRecording,
            helpKeys: "r, b"),
        KeyBinding(keys: [.char("b")], help: "bookmark the recording", intent: .bookmark, inHelp: false),
        KeyBinding(keys: [.char("s")], help: "save the screen as an SVG picture (for slides)", intent: .savePicture),
        KeyBinding(
            keys: [.char("q"), .function(10)], help: "quit (Ctrl-C: exit status 130)", intent: .quit(status: 0),
            hint: "quit", helpKeys: "q, F10, Ctrl-C"),
        KeyBinding(keys: [.ctrl("c")], help: "quit (exit status 130)", intent: .quit(status: 130), inHelp: false),
    ]

    /// The intent for a key, or nil when the key means nothing here. Mouse reports are resolved against
    /// what is drawn by `Shell.intent(for:data:state:)`; here they mean nothing.
    public static func intent(for key: Key, state: UIState) -> Intent? {
        switch key {
        case .resize, .mouse:
            return nil  // resize: the app loop reads the new size and sends `.resize(size)`
        case .char(let c) where c.isNumber && !state.replaying:
            if let d = c.wholeNumberValue, d >= 1 { return .choosePreset(d - 1) }
        default:
            break
        }
        // The picker takes the arrows and Enter while it is open.
        if state.pickerVisible && !state.helpVisible {
            switch key {
            case .up, .left: return .movePickerCursor(-1)
            case .down, .right: return .movePickerCursor(1)
            case .enter: return .pickCursor
            default: break
            }
        }
        // A replay takes Space, the left/right arrows, [ ] Home End < > first (ReplayKeys.swift).
        if state.replaying && !state.helpVisible, let intent = replayIntent(for: key) { return intent }
        // Letters are case-insensitive for the bindings (Q quits too).
        let keys: [Key]
        if case .char(let c) = key, c.isLetter, c.isUppercase {
            keys = [key, .char(Character(c.lowercased()))]
        } else {
            keys = [key]
        }
        for k in keys {
            if let b = activeBindings(replaying: state.replaying).first(where: { $0.keys.contains(k) }) {
                return b.intent
            }
        }
        return nil
    }
}
