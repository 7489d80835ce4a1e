// The key table: one entry per binding, used to map keys, to draw the help overlay and the
// footer hints, so the three can never disagree.

/// One key binding: the keys, what they do (help text), and the intent.
public struct KeyBinding: Sendable {
    public var keys: [Key]
    public var help: String
    public var intent: Intent
    /// Short label for the footer; nil keeps the binding out of the footer.
    public var hint: String?

    public init(keys: [Key], help: String, intent: Intent, hint: String? = nil) {
        self.keys = keys
        self.help = help
        self.intent = intent
        self.hint = hint
    }

    /// The keys as help shows them: `q, F10`.
    public var keyLabel: String { keys.map(\.description).joined(separator: ", ") }
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
        KeyBinding(keys: [.char("+"), .char("=")], help: "redraw faster (up to 60 Hz)", intent: .faster, hint: "rate"),
        KeyBinding(keys: [.char("-")], help: "redraw slower (down to 1 Hz)", intent: .slower),
        KeyBinding(keys: [.ctrl("l")], help: "repaint the whole screen", intent: .redraw),
        KeyBinding(keys: [.escape], help: "close the help", intent: .closeOverlay),
        KeyBinding(keys: [.char("q"), .function(10)], help: "quit", intent: .quit(status: 0), hint: "quit"),
        KeyBinding(keys: [.ctrl("c")], help: "quit (exit status 130)", intent: .quit(status: 130)),
    ]

    /// The intent for a key, or nil when the key means nothing here.
    public static func intent(for key: Key, state: UIState) -> Intent? {
        switch key {
        case .resize:
            return nil  // the app loop reads the new size and sends `.resize(size)`
        case .mouse(let m):
            return m.kind == .click || m.kind == .release ? .click(m.point) : nil
        default:
            break
        }
        // Letters are case-insensitive for the bindings (Q quits too).
        let keys: [Key]
        if case .char(let c) = key, c.isLetter, c.isUppercase {
            keys = [key, .char(Character(c.lowercased()))]
        } else {
            keys = [key]
        }
        for k in keys {
            if let b = bindings.first(where: { $0.keys.contains(k) }) { return b.intent }
        }
        return nil
    }
}
