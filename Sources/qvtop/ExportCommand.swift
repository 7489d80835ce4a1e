import ArgumentParser
import Dashboard
import Foundation
import Recording
import Telemetry

/// `qvtop export FILE --format chrome|asciicast -o OUT [--size 120x40]`.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a recording (chrome trace or asciicast).",
        discussion: """
            chrome: Chrome Trace Event JSON for ui.perfetto.dev or chrome://tracing.

            asciicast: asciicast v2 for `asciinema play`, with the original timing, showing the dashboard \
            as it was drawn (--renderer plain: a compact text summary per frame instead).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case chrome, asciicast
    }

    enum Renderer: String, ExpressibleByArgument, CaseIterable {
        case dashboard, plain
    }

    @Argument(help: "The recording file (.qvrec).") var file: String
    @Option(help: "chrome or asciicast.") var format: Format
    @Option(name: .shortAndLong, help: "Output file (`-` for stdout).") var output: String
    @Option(help: "Terminal size for asciicast, WIDTHxHEIGHT (default: as recorded, else 120x40).") var size: String?
    @Option(help: "Frames for asciicast: dashboard or plain.") var renderer: Renderer = .dashboard

    func run() throws {
        let recording = try loadRecording(file)
        let text: String
        switch format {
        case .chrome:
            text = ChromeTraceExport.export(recording)
        case .asciicast:
            let (w, h) = try terminalSize(recording.metadata)
            switch renderer {
            case .plain:
                text = AsciicastExport.export(recording, width: w, height: h)
            case .dashboard:
                let frames = DashboardFrames(recording)
                text = AsciicastExport.export(recording, width: w, height: h, render: frames.render)
            }
        }
        if output == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        try writeFile(output, Array(text.utf8))
        FileHandle.standardError.write(
            Data("qvtop: wrote \(output) (\(format.rawValue), \(recording.frames.count) frames)\n".utf8))
    }

    private func terminalSize(_ m: RecordingMetadata) throws -> (Int, Int) {
        guard let size else {
            return m.columns > 0 && m.rows > 0 ? (m.columns, m.rows) : (120, 40)
        }
        let parts = size.lowercased().split(separator: "x")
        guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), (10...1000).contains(w),
            (5...1000).contains(h)
        else { throw fail("--size must be WIDTHxHEIGHT within 10x5…1000x1000, e.g. 120x40 (got '\(size)')") }
        return (w, h)
    }

    /// Writes `bytes` to `path` (created or truncated); one line and exit 2 on failure.
    private func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                // safety: `done < bytes.count`, so the pointer and length stay inside `raw`.
                write(fd, raw.baseAddress! + done, bytes.count - done)
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw fail("cannot write \(path): \(String(cString: strerror(n < 0 ? errno : EIO)))") }
            done += n
        }
    }
}

/// The dashboard as the app loop draws it, for asciicast frames: a `ViewData` fed the snapshots in
/// order (so histories and sparklines build up as they did live) and `Shell.render`, turned into
/// ANSI text. Called in frame order by `AsciicastExport`.
final class DashboardFrames {
    private var data = ViewData(sourceAttached: true)
    private var state: UIState

    init(_ recording: Recording) {
        let hz = Int(recording.metadata.sampleHz.isFinite ? recording.metadata.sampleHz.rounded() : 10)
        state = UIState(
            rateHz: min(max(hz, UIState.rateRange.lowerBound), UIState.rateRange.upperBound),
            presetName: recording.frames.first?.preset ?? "")
    }

    func render(_ snapshot: Snapshot, width: Int, height: Int) -> String {
        data.ingest(snapshot)
        state.size = Size(width, height)
        state.presetName = snapshot.preset
        return ANSIText.render(Shell.render(data: data, state: state))
    }
}

/// A grid as ANSI text: rows joined by CR LF, SGR codes where the style changes (xterm 256-color
/// palette, as the terminal layer uses), each row ending in a reset, trailing plain blanks cut.
enum ANSIText {
    static func render(_ grid: Grid) -> String {
        var rows: [String] = []
        rows.reserveCapacity(grid.height)
        for y in 0..<grid.height {
            // Cut trailing plain blanks.
            var end = grid.width
            while end > 0, grid[end - 1, y].scalar == " ", grid[end - 1, y].style == .plain { end -= 1 }
            var row = ""
            var current = Style.plain
            for x in 0..<end {
                let cell = grid[x, y]
                if cell.width == 0 { continue }
                if cell.style != current {
                    row += sgr(cell.style)
                    current = cell.style
                }
                row.unicodeScalars.append(cell.scalar)
            }
            if current != .plain { row += "\u{1B}[0m" }
            rows.append(row)
        }
        while rows.last?.isEmpty == true { rows.removeLast() }
        return rows.joined(separator: "\r\n")
    }

    static func sgr(_ style: Style) -> String {
        var codes = ["0"]
        let a = style.attributes
        if a.contains(.bold) { codes.append("1") }
        if a.contains(.dim) { codes.append("2") }
        if a.contains(.italic) { codes.append("3") }
        if a.contains(.underline) { codes.append("4") }
        if a.contains(.reverse) { codes.append("7") }
        if case .indexed(let i) = style.fg {
            codes.append(i < 8 ? "\(30 + Int(i))" : i < 16 ? "\(90 + Int(i) - 8)" : "38;5;\(i)")
        }
        if case .indexed(let i) = style.bg {
            codes.append(i < 8 ? "\(40 + Int(i))" : i < 16 ? "\(100 + Int(i) - 8)" : "48;5;\(i)")
        }
        return "\u{1B}[" + codes.joined(separator: ";") + "m"
    }
}
