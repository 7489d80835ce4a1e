import ArgumentParser
import Foundation
import Recording

/// `qvtop export FILE --format chrome|asciicast -o OUT [--size 120x40]`.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a recording (chrome trace or asciicast).",
        discussion: """
            chrome: Chrome Trace Event JSON for ui.perfetto.dev or chrome://tracing.

            asciicast: asciicast v2 for `asciinema play`, with the original timing. Frames are drawn by \
            a plain text renderer until the dashboard's renderer is wired in.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case chrome, asciicast
    }

    @Argument(help: "The recording file (.qvrec).") var file: String
    @Option(help: "chrome or asciicast.") var format: Format
    @Option(name: .shortAndLong, help: "Output file (`-` for stdout).") var output: String
    @Option(help: "Terminal size for asciicast, WIDTHxHEIGHT (default: as recorded, else 120x40).") var size: String?

    func run() throws {
        let recording = try loadRecording(file)
        let text: String
        switch format {
        case .chrome:
            text = ChromeTraceExport.export(recording)
        case .asciicast:
            let (w, h) = try terminalSize(recording.metadata)
            text = AsciicastExport.export(recording, width: w, height: h)
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
