import Telemetry

// Palette and number formats shared by every panel.
//
// One meaning per color, everywhere (issue 7):
//   green   running (a carrier or loop executing, a busy pool thread)
//   yellow  runnable (queued work waiting for a thread: run queues, the injector, ready queues)
//   blue    parked (fibers waiting on sleep, io, channel, mutex, join; idle carriers)
//   red     blocked or lagging (pinned / handed-off carriers, blocked fibers, lag over
//           `lagWarnMs`, slow callbacks, dropped events)
//   cyan    a steal in the last interval (the arrows light up)
//   magenta async-colored code (`async` / `await`) in the code pane
// Every colored fact is also written as text (state words, numbers), so a monochrome or
// ASCII screen carries the same information; color only speeds up reading.

/// Semantic styles of the panels.
public enum PanelPalette {
    public static let running = Style(fg: .green)
    public static let runnable = Style(fg: .yellow)
    public static let parked = Style(fg: .blue)
    public static let blocked = Style(fg: .red, .bold)
    public static let steal = Style(fg: .cyan, .bold)
    /// A steal lane held from the last second, with no steal this interval: cyan, not bold.
    public static let stealHeld = Style(fg: .cyan)
    public static let asyncCode = Style(fg: .magenta, .bold)
    public static let frame = Style.plain
    public static let title = Style.bold
    public static let dim = Style.dim
    /// A lateness (loop lag, scheduling delay, slow callback) at or above this many ms reads as lagging.
    public static let lagWarnMs = 10.0

    /// Red when lagging, else plain.
    static func lag(_ ms: Double) -> Style { ms >= lagWarnMs ? blocked : .plain }

    /// The help legend: one line per color, readable without color.
    public static let legend: [(style: Style, text: String)] = [
        (running, "green    running, busy"),
        (runnable, "yellow   runnable: queued, ready"),
        (parked, "blue     parked, idle"),
        (blocked, "red      blocked, lagging >= 10 ms"),
        (steal, "cyan     steals, last 1 s (bold: now)"),
        (asyncCode, "magenta  async-colored code"),
    ]

    /// Word and style for a carrier state. The word alone says it without color.
    static func state(_ s: WorkerState) -> (String, Style) {
        switch s {
        case .running: return ("RUN", running)
        case .spinning: return ("spin", runnable)
        case .parked: return ("idle", parked)
        case .pinned: return ("PINNED", blocked)
        case .handedOff: return ("HANDOFF", blocked)
        case .stopped: return ("stop", dim)
        }
    }
}

/// Short number formats for narrow cells. All pure; no locale.
enum Fmt {
    /// Milliseconds: "0.21ms", "3.4ms", "17ms", "1.2s"; "-" when not finite.
    static func ms(_ v: Double) -> String {
        guard v.isFinite else { return "-" }
        if v >= 1000 { return fixed(v / 1000, 1) + "s" }
        if v >= 100 { return "\(Int(v.rounded()))ms" }
        if v >= 10 { return "\(Int(v.rounded()))ms" }
        if v >= 1 { return fixed(v, 1) + "ms" }
        return fixed(v, 2) + "ms"
    }

    /// A short delay in milliseconds, finer below 0.1 ms: "0.032ms", "0.51ms", "3.4ms".
    static func delayMs(_ v: Double) -> String {
        guard v.isFinite else { return "-" }
        return v < 0.1 ? fixed(v, 3) + "ms" : ms(v)
    }

    /// A figure the source may not have: its text, or "n/a" (docs/figures.md: no data is not zero).
    static func na<T>(_ v: T?, _ f: (T) -> String) -> String { v.map(f) ?? "n/a" }

    /// Milliseconds without the unit: "0.42", "6.8", "24", "1234".
    static func msNumber(_ v: Double) -> String {
        guard v.isFinite else { return "-" }
        if v >= 10 { return "\(Int(v.rounded()))" }
        return v >= 1 ? fixed(v, 1) : fixed(v, 2)
    }

    /// `v` with `digits` decimals (0…3), rounded half away from zero.
    static func fixed(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return "-" }
        var scale = 1
        for _ in 0..<max(0, min(3, digits)) { scale *= 10 }
        let n = Int((abs(v) * Double(scale)).rounded())
        let sign = v < 0 && n != 0 ? "-" : ""
        if scale == 1 { return sign + "\(n)" }
        var frac = String(n % scale)
        while frac.count < digits { frac = "0" + frac }
        return sign + "\(n / scale).\(frac)"
    }

    /// A count: "987", "12.3k", "4.5M".
    static func count<I: BinaryInteger>(_ n: I) -> String {
        let v = Double(n)
        if v < 10_000 { return "\(n)" }
        if v < 1_000_000 { return fixed(v / 1000, v < 100_000 ? 1 : 0) + "k" }
        return fixed(v / 1_000_000, 1) + "M"
    }

    /// A rate per second: "0.5", "12", "1.2k".
    static func rate(_ v: Double) -> String {
        guard v.isFinite, v >= 0 else { return "-" }
        if v < 10 { return fixed(v, 1) }
        if v < 10_000 { return "\(Int(v.rounded()))" }
        return count(Int(v.rounded()))
    }

    /// A ratio 0…1 as "92%".
    static func pct(_ r: Double) -> String {
        guard r.isFinite else { return "-" }
        return "\(Int((max(0, min(1, r)) * 100).rounded()))%"
    }

    /// Seconds since the session started: "12.3s".
    static func seconds(_ t: Double) -> String { fixed(t, 1) + "s" }
}
