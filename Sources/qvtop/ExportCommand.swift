import ArgumentParser
import Dashboard
import Foundation
import Recording
import Telemetry

/// `qvtop export FILE --format chrome|asciicast|svg -o OUT [--size 120x40] [--at MOMENT]`.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a recording (chrome trace, asciicast, or an SVG picture of a moment).",
        discussion: """
            chrome: Chrome Trace Event JSON for ui.perfetto.dev or chrome://tracing.

            asciicast: asciicast v2 for `asciinema play`, with the original timing, showing the dashboard \
            as it was drawn (--renderer plain: a compact text summary per frame instead).

            svg: the dashboard at one moment as an SVG picture for slides (--at 12.5s: seconds since \
            the start; --at bookmark:2; --at bookmarks: every bookmark, -o names a folder), at the \
            recorded terminal size unless --size says otherwise.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case chrome, asciicast, svg
    }

    enum Renderer: String, ExpressibleByArgument, CaseIterable {
        case dashboard, plain
    }

    @Argument(help: "The recording file (.qvrec).") var file: String
    @Option(help: "chrome, asciicast or svg.") var format: Format
    @Option(name: .shortAndLong, help: "Output file (`-` for stdout).") var output: String
    @Option(help: "Terminal size for asciicast, WIDTHxHEIGHT (default: as recorded, else 120x40).") var size: String?
    @Option(help: "Frames for asciicast: dashboard or plain.") var renderer: Renderer = .dashboard
    @Option(help: "Moment for svg: SECONDS[s] since the start, bookmark:N, or bookmarks (one file each into -o DIR).")
    var at: String?

    func validate() throws {
        if format == .svg, at == nil { throw ValidationError("--format svg needs --at (e.g. --at 12.5s)") }
        if format != .svg, at != nil { throw ValidationError("--at applies to --format svg only") }
        if let at, Moment(at) == nil {
            throw ValidationError("--at must be SECONDS[s], bookmark:N or bookmarks (got '\(at)')")
        }
    }

    func run() throws {
        let recording = try loadRecording(file)
        let text: String
        switch format {
        case .svg:
            try exportPictures(recording)
            return
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

    /// `--format svg`: one picture to `-o FILE` (or stdout), or every bookmark into the folder `-o DIR`.
    private func exportPictures(_ recording: Recording) throws {
        guard let at, let moment = Moment(at) else { throw ValidationError("--at is missing") }
        guard !recording.frames.isEmpty else { throw fail("\(file): the recording has no frames") }
        let (w, h) = try terminalSize(recording.metadata)
        let moments = try moment.times(in: recording)
        let pictures = Pictures.render(recording, at: moments.map(\.time), width: w, height: h)
        if moment == .allBookmarks {
            do {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            } catch {
                throw fail("cannot create the folder \(output): \(error.localizedDescription)")
            }
        }
        for (m, (svg, frameTime)) in zip(moments, pictures) {
            let path = moment == .allBookmarks ? (output as NSString).appendingPathComponent(m.stem + ".svg") : output
            if path == "-" {
                FileHandle.standardOutput.write(Data(svg.utf8))
                continue
            }
            try writeFile(path, Array(svg.utf8))
            let seconds = PlainTextRenderer.fixed(frameTime - recording.startTime, 1)
            FileHandle.standardError.write(Data("qvtop: wrote \(path) (svg, \(w)x\(h), at \(seconds) s)\n".utf8))
        }
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
        if case .failure(let e) = writeWholeFile(path, bytes) { throw fail(e.message) }
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
        ANSIText.render(grid(snapshot, width: width, height: height))
    }

    /// The grid after `snapshot` (nil: the one before, again) in the default view.
    func grid(_ snapshot: Snapshot?, width: Int, height: Int) -> Grid {
        if let snapshot {
            data.ingest(snapshot)
            state.presetName = snapshot.preset
        }
        state.size = Size(width, height)
        return Shell.render(data: data, state: state)
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
