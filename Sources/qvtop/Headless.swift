// `qvtop run --headless`: run a preset with no terminal and print one summary.
//
// The headless path is the live path minus the dashboard: a `LiveSource` polled at a fixed rate
// on this thread, every snapshot kept, and `RunSummary` computed from the snapshots alone — the
// same function a replayed recording goes through, so both print the same JSON.

import ArgumentParser
import Foundation
import Recording
import Telemetry
import Workloads

/// The options `run` takes for a headless run (`--headless` and `--preset` are `run`'s own).
struct HeadlessOptions: ParsableArguments {
    @Option(help: "Headless run length in seconds (0.1…3600).") var duration: Double = 5
    @Flag(help: "With --headless: print the summary as one JSON object.") var json = false
    @Option(help: "With --headless: snapshots per second (1…100).") var sampleRate: Double = 10

    /// One line and exit 2 when --duration or --sample-rate is out of range.
    func checkRanges() throws {
        guard duration >= 0.1, duration <= 3600 else { throw fail("--duration must be between 0.1 and 3600 seconds") }
        guard sampleRate >= 1, sampleRate <= 100 else { throw fail("--sample-rate must be between 1 and 100") }
    }
}

enum Headless {
    /// Runs `presetName` (a name or a path; nil = the first shipped preset) and prints its summary.
    static func run(preset presetName: String?, options: HeadlessOptions, record: RecordSetup? = nil) throws {
        try options.checkRanges()
        let preset: Preset
        do throws(PresetError) {
            preset = try PresetCatalog.discover().choose(presetName)
        } catch {
            throw failLine(error.description)
        }
        let snapshots: [Snapshot]
        do {
            if let record {
                snapshots = try collectRecording(preset: preset, options: options, record: record)
            } else {
                snapshots = try HeadlessRun.collect(preset: preset, seconds: options.duration, rate: options.sampleRate)
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            throw fail("\(preset.name): \(error)")
        }
        guard let summary = RunSummary(snapshots) else { throw fail("\(preset.name): no snapshot was taken") }
        print(options.json ? summary.jsonText : summary.table)
    }
}

/// Exit status 2 with `message` as the whole line (already names file and line).
func failLine(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("\(message)\n".utf8))
    return ExitCode(2)
}

extension Headless {
    /// The recorder of a headless run (Swift preset or `--python`): `record.path`, or `qvtop-headless.qvrec`; a
    /// file that cannot be written is the writer's one-line error.
    static func openRecorder(_ record: RecordSetup, options: HeadlessOptions, command: String, preset: String) throws
        -> Recorder
    {
        let path = record.path ?? "qvtop-headless.qvrec"
        do throws(RecordingWriteError) {
            return try Recorder(
                path: path,
                metadata: .now(
                    qvtopVersion: Qvtop.version, sampleHz: options.sampleRate,
                    extra: ["command": command, "preset": preset]),
                force: record.force || SessionRecording.isDevice(path))
        } catch {
            throw fail(error.description)
        }
    }

    /// `HeadlessRun.collect` with every snapshot also queued to a recorder as it is taken (so a
    /// killed run replays up to its last flush); the file starts with the preset's full text.
    /// The summary of the returned snapshots is what `replay FILE --headless` prints.
    static func collectRecording(preset: Preset, options: HeadlessOptions, record: RecordSetup) throws -> [Snapshot] {
        let recorder = try openRecorder(record, options: options, command: "run --headless", preset: preset.name)
        let source = try LiveSource(preset: preset)
        defer { source.stop() }
        recorder.presetSwitch(PresetSwitch(time: 0, name: preset.name, title: preset.title, text: preset.text))
        let period = UInt64(1e9 / max(1, options.sampleRate))
        let end = source.sessionStart + UInt64(max(0, options.duration) * 1e9)
        var snapshots: [Snapshot] = []
        func take() {
            guard let s = source.poll() else { return }
            snapshots.append(s)
            recorder.append(SessionRecording.thinned(s))
        }
        take()
        var next = Monotonic.now() + period
        while next <= end {
            let now = Monotonic.now()
            if next > now { usleep(useconds_t((next - now) / 1000)) }
            take()
            next += period
        }
        let status = recorder.stop()
        if case .failed(let error) = status.state { throw fail(error.description) }
        if status.framesDropped > 0 {
            FileHandle.standardError.write(
                Data("qvtop: \(recorder.path): \(status.framesDropped) frame(s) dropped while recording\n".utf8))
        }
        return snapshots
    }
}
