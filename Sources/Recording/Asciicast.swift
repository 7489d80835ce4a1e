// asciicast v2 export (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line,
// then one `[seconds, "o", text]` line per frame with the original timing, so
// `asciinema play session.cast` shows the session as it was recorded. The first frame paints
// the whole screen; later frames repaint only the rows that changed (a frame where nothing
// changed writes nothing).
//
// The frame renderer is a parameter, `(Snapshot, width, height) -> String` of ANSI text, so
// this module does not depend on Dashboard: qvtop passes the dashboard's renderer once it
// exists; `PlainTextRenderer` is the stand-in until then. The renderer returns rows separated
// by LF or CR LF, each at most `width` columns.
import Telemetry

public enum AsciicastExport {
    /// Renders one frame as ANSI text of at most `height` lines of `width` columns.
    public typealias FrameRenderer = (Snapshot, _ width: Int, _ height: Int) -> String

    /// The whole .cast file.
    public static func export(
        _ recording: Recording, width: Int, height: Int, title: String? = nil,
        render: FrameRenderer = PlainTextRenderer.render
    ) -> String {
        let m = recording.metadata
        let name =
            title ?? "qvtop "
            + (recording.frames.first.map { $0.presetTitle.isEmpty ? $0.preset : $0.presetTitle } ?? "")
        var header = #"{"version":2,"width":\#(width),"height":\#(height)"#
        if m.startTime.isFinite, m.startTime > 0, m.startTime < 1e15 {
            header += #","timestamp":\#(Int64(m.startTime))"#
        }
        header += #","title":\#(json(name)),"env":{"TERM":"xterm-256color","SHELL":"/bin/sh"}}"#
        var out = header + "\n"
        let start = recording.startTime
        var last = 0.0
        var previous: [Substring]?
        for (i, f) in recording.frames.enumerated() {
            // Non-decreasing offsets, whatever the file says.
            let t = f.time.isFinite ? max(last, f.time - start) : last
            last = t
            let text = render(f, width, height)
            // "\r\n" is one Character in Swift, so split on both separators.
            let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
            let screen = repaint(from: previous, to: lines)
            previous = lines
            // An unchanged frame writes nothing, except the last, which keeps the cast's length.
            guard !screen.isEmpty || i == recording.frames.count - 1 else { continue }
            out += "[\(formatTime(t)), \"o\", \(json(screen))]\n"
        }
        return out
    }

    /// Terminal output that turns the screen showing `old` into `new`: the whole screen the
    /// first time; afterwards only the rows that changed (cursor to the row, or CR LF when it is
    /// the next one, the text, erase to end of line), or the whole screen again when that is
    /// shorter. Keeps casts small and playback free of flicker.
    static func repaint(from old: [Substring]?, to new: [Substring]) -> String {
        let full = "\u{1B}[H\u{1B}[2J" + new.joined(separator: "\r\n")
        guard let old else { return full }
        var out = ""
        var cursorRow = -2
        for row in 0..<max(old.count, new.count) {
            let line = row < new.count ? new[row] : ""
            if row < old.count, line == old[row] { continue }
            out += row == cursorRow + 1 ? "\r\n" : "\u{1B}[\(row + 1);1H"
            out += line + "\u{1B}[K"
            cursorRow = row
        }
        return out.utf8.count < full.utf8.count ? out : full
    }

    static func formatTime(_ t: Double) -> String {
        guard t.isFinite, t >= 0, t < 1e12 else { return t < 0 ? "0.000000" : "999999999999.000000" }
        let micros = Int64((t * 1_000_000).rounded())
        let whole = micros / 1_000_000
        let frac = String(micros % 1_000_000)
        return "\(whole)." + String(repeating: "0", count: 6 - frac.count) + frac
    }
}

/// A plain text frame: preset, fibers, one line per carrier/loop, pool, lag, task kinds, the
/// latest events. A stand-in for the dashboard's renderer in exports.
public enum PlainTextRenderer {
    public static func render(_ s: Snapshot, width: Int, height: Int) -> String {
        var lines: [String] = []
        let title = s.presetTitle.isEmpty ? s.preset : s.presetTitle
        lines.append("qvtop  \(title) [\(s.preset), \(s.model.rawValue)]  t=\(fixed(s.time, 1))s  #\(s.sequence)")
        if s.model.usesFibers {
            let f = s.fibers
            lines.append(
                "fibers \(f.total): running \(f.running)  runnable \(f.runnable)  parked \(f.parked)  "
                    + "blocked \(f.blocked)  injector \(s.injectorDepth)")
        }
        for w in s.workers {
            let bar = meter(w.busyRatio, 10)
            let fiber = w.currentFiber.map { "  \($0)" } ?? ""
            lines.append(
                "carrier \(w.id) \(pad(w.state.rawValue, 9)) \(bar) q \(w.queueDepth)/\(w.queueCapacity)  "
                    + "runs \(w.runs)  steals \(w.stolenIn)/\(w.stolenOut)  parks \(w.parks)\(fiber)")
        }
        for l in s.loops {
            let current = l.current.map { "  \($0)" } ?? ""
            lines.append(
                "loop \(l.id) \(meter(l.busyRatio ?? 0, 10)) ready \(na(l.readyDepth))  timers \(na(l.timersPending))  "
                    + "tasks \(na(l.tasksAlive))  heartbeat lag p99 \(fixed(l.lag.p99Ms, 1))ms  slow \(l.slowCallbacks)\(current)"
            )
        }
        if let p = s.pool {
            lines.append("pool \(p.threads) threads: busy \(p.busy)  queued \(p.queueDepth)  done \(p.completed)")
        }
        lines.append(
            "heartbeat lag p50 \(fixed(s.lag.p50Ms, 2))ms  p99 \(fixed(s.lag.p99Ms, 2))ms  max \(fixed(s.lag.maxMs, 2))ms  "
                + "recent \(fixed(s.lag.recentMs, 2))ms")
        lines.append(
            "ready → running "
                + (s.readyDelay.map {
                    "p50 \(fixed($0.p50Ms, 3))ms  p99 \(fixed($0.p99Ms, 3))ms  max \(fixed($0.maxMs, 3))ms"
                } ?? "n/a"))
        for k in s.taskKinds {
            lines.append(
                "\(pad(k.kind, 12)) done \(k.completed)  in flight \(k.inFlight)  p50 \(fixed(k.p50Ms, 1))ms  "
                    + "p99 \(fixed(k.p99Ms, 1))ms  \(fixed(k.throughput, 0))/s")
        }
        if s.droppedEvents > 0 { lines.append("dropped events: \(s.droppedEvents)") }
        let room = max(0, height - lines.count)
        for e in s.events.suffix(room) {
            var line = "  \(fixed(e.time, 3))s \(e.kind.rawValue)"
            if e.worker >= 0 { line += " w\(e.worker)" }
            if e.other >= 0 { line += "←w\(e.other)" }
            if e.count != 0 { line += " ×\(e.count)" }
            if e.durationMs != 0 { line += " \(fixed(e.durationMs, 1))ms" }
            if let n = e.name { line += " \(n)" }
            lines.append(line)
        }
        return lines.prefix(max(0, height)).map { String(printable($0).prefix(max(0, width))) }
            .joined(separator: "\r\n")
    }

    /// `s` with control characters (from names in the recording) shown as `?`, so a name can
    /// never break a row or inject terminal escapes.
    private static func printable(_ s: String) -> String {
        String(
            s.map { c in c.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) } ? "?" : c })
    }

    /// A figure the source lacks is "n/a", never 0.
    private static func na(_ v: Int?) -> String { v.map { "\($0)" } ?? "n/a" }

    private static func meter(_ ratio: Double, _ cells: Int) -> String {
        let r = ratio.isFinite ? min(1, max(0, ratio)) : 0
        let full = Int((r * Double(cells)).rounded())
        return String(repeating: "█", count: full) + String(repeating: "░", count: cells - full)
    }

    private static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }

    /// `x` with `digits` decimals, without Foundation's String(format:).
    public static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return x.isNaN ? "nan" : (x < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        guard abs(x) * scale < 9e18 else { return String(x) }
        let n = Int64((abs(x) * scale).rounded())
        let sign = x < 0 && n != 0 ? "-" : ""
        let whole = n / Int64(scale)
        guard digits > 0 else { return sign + String(whole) }
        let frac = String(n % Int64(scale))
        return sign + String(whole) + "." + String(repeating: "0", count: digits - frac.count) + frac
    }
}
