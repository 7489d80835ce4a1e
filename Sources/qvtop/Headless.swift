// `qvtop run --headless`: run a preset with no terminal and print one summary.
//
// The headless path is the live path minus the dashboard: a `LiveSource` polled at a fixed rate
// on this thread, every snapshot kept, and `RunSummary` computed from the snapshots alone — the
// same function a replayed recording goes through, so both print the same JSON.

import ArgumentParser
import Foundation
import Telemetry
import Workloads

/// The options `run` takes for a headless run (`--headless` and `--preset` are `run`'s own).
struct HeadlessOptions: ParsableArguments {
    @Option(help: "Headless run length in seconds (0.1…3600).") var duration: Double = 5
    @Flag(help: "With --headless: print the summary as one JSON object.") var json = false
    @Option(help: "With --headless: snapshots per second (1…100).") var sampleRate: Double = 10
}

enum Headless {
    /// Runs `presetName` (a name or a path; nil = the first shipped preset) and prints its summary.
    static func run(preset presetName: String?, options: HeadlessOptions) throws {
        guard options.duration >= 0.1, options.duration <= 3600 else {
            throw fail("--duration must be between 0.1 and 3600 seconds")
        }
        guard options.sampleRate >= 1, options.sampleRate <= 100 else {
            throw fail("--sample-rate must be between 1 and 100")
        }
        let preset: Preset
        do throws(PresetError) {
            if let presetName {
                preset = try PresetCatalog.resolve(presetName)
            } else {
                preset = try PresetCatalog.defaultPreset()
            }
        } catch {
            throw failLine(error.description)
        }
        let snapshots: [Snapshot]
        do {
            snapshots = try HeadlessRun.collect(preset: preset, seconds: options.duration, rate: options.sampleRate)
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
