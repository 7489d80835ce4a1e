import ArgumentParser
import Foundation
import Recording
import Telemetry

/// `qvtop replay FILE`: the dashboard driven by a recording; `--headless --json` prints a summary.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a recording in the dashboard.",
        discussion: """
            The dashboard plays the recording at its original speed, with a timeline bar (▲ preset \
            switches, ◆ bookmarks). Keys: Space pause/play, Left/Right step one frame, [ ] seek ∓10 s, \
            Home/End, < > speed 0.25x…16x, s save the screen as SVG (beside the file), ? help, q quit.

            --headless prints the summary a headless run prints (`run --headless`), computed from the \
            recorded snapshots; --json as JSON. --info prints facts about the file instead (version, \
            frames, events by kind, presets, bookmarks, damage).
            """
    )

    @Argument(help: "The recording file (.qvrec).") var file: String
    @Flag(help: "Do not open the dashboard; print a summary.") var headless = false
    @Flag(help: "Print the summary as JSON (implies --headless).") var json = false
    @Flag(help: "Print facts about the recording file instead of the run summary.") var info = false
    @Flag(help: "Draw with ASCII characters only.") var ascii = false

    func run() throws {
        let recording = try loadRecording(file)
        guard headless || json || info else {
            let start = ContinuousClock.now
            let replayer = Replayer(recording: recording) {
                let d = ContinuousClock.now - start
                return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
            }
            let hz = recording.metadata.sampleHz.isFinite ? Int(recording.metadata.sampleHz.rounded()) : 10
            var options = AppOptions(
                rateHz: min(max(hz, 1), 60), ascii: ascii, presetName: recording.frames.first?.preset ?? "")
            options.pictureDirectory = (file as NSString).deletingLastPathComponent  // `s` saves beside the file
            if options.pictureDirectory?.isEmpty == true { options.pictureDirectory = nil }
            let status = App.run(source: replayer, options: options)
            if status != 0 { throw ExitCode(status) }
            return
        }
        guard info else {
            guard let summary = RunSummary(recording.frames) else {
                throw fail("\(file): the recording holds no snapshot")
            }
            print(json ? summary.jsonText : summary.table)
            return
        }
        let summary = RecordingSummary(recording, file: file)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            emit(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            emit("\(file): qvtop \(summary.qvtopVersion), format \(summary.formatVersion)")
            emit(
                "\(summary.frames) frames over \(String(format: "%.1f", summary.durationSeconds)) s, "
                    + "\(summary.events) events, \(summary.bookmarks) bookmarks, presets: "
                    + summary.presets.joined(separator: ", "))
            if let dropped = summary.framesDropped, dropped > 0 { emit("\(dropped) frames dropped while recording") }
            if !summary.complete && summary.damage == nil { emit("no end record: the recorder did not stop cleanly") }
        }
    }
}

/// Reads a recording for a subcommand: one line and exit 2 when it cannot be replayed at all;
/// a warning line on stderr when it is truncated or damaged after some point.
func loadRecording(_ file: String) throws -> Recording {
    let recording: Recording
    do {
        recording = try RecordingReader.read(path: file)
    } catch {
        throw fail(error.description)
    }
    if let damage = recording.damage {
        FileHandle.standardError.write(
            Data("qvtop: \(file): \(damage); replaying the \(recording.frames.count) frame(s) before it\n".utf8))
    }
    return recording
}
