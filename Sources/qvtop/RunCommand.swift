import ArgumentParser
import Foundation
import Recording
import Telemetry
import Terminal
import Workloads

/// `qvtop run` (the default): the live dashboard.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the live dashboard (the default).",
        discussion: """
            Keys: ? help, Space pause, 1-9/Tab/p presets, c code, arrows+Enter details, +/- redraw rate, \
            r record / stop, b bookmark, s save the screen as SVG, Ctrl-L repaint, q quit. Needs a terminal; --headless runs without \
            one (and records too with --record). Replay a recording with `qvtop replay FILE`.
            """
    )

    @Flag(help: "Run without the dashboard and print a summary (for CI and scripts).") var headless = false
    @Option(help: "The preset to start with (see `qvtop presets`).") var preset: String?
    @Flag(help: "Draw with ASCII characters only.") var ascii = false
    @Option(help: "Redraw rate in Hz, 1…60 (+ and - change it live).") var rate = 10
    @Option(
        help: ArgumentHelp(
            "Record the session to this file (r toggles recording, b drops a bookmark).", valueName: "file"))
    var record: String?
    @Flag(help: "With --record: replace the file if it exists.") var force = false
    @Option(
        help: ArgumentHelp(
            "Where `r` puts recordings when --record names no file, and `s` its pictures (default: the current directory).",
            valueName: "dir"))
    var recordDir: String?
    @Option(
        help: ArgumentHelp(
            "Run two presets one after the other for --duration each, record both (in --record-dir) and compare them.",
            valueName: "P1,P2"))
    var compare: String?
    @Flag(
        help: ArgumentHelp("Draw made-up snapshots instead of a runtime (UI development, tests).", visibility: .hidden))
    var synthetic = false
    @Option(
        help: ArgumentHelp(
            "Run this Python program under qvtop's agent and draw its asyncio loop (arguments after it are the program's).",
            valueName: "script.py"))
    var python: String?
    @Option(help: ArgumentHelp("The Python interpreter for --python and the py-* presets.", valueName: "path"))
    var pythonBin: String?
    @Argument(
        parsing: .allUnrecognized, help: ArgumentHelp("With --python: the program's arguments.", valueName: "args"))
    var programArguments: [String] = []

    func validate() throws {
        guard (1...60).contains(rate) else { throw ValidationError("--rate must be between 1 and 60 Hz") }
        if python == nil, let first = programArguments.first {
            throw ValidationError("unknown option or argument '\(first)' (program arguments go after --python SCRIPT)")
        }
    }

    @OptionGroup var headlessOptions: HeadlessOptions

    /// What to run under the Python agent: `--python SCRIPT ARGS…`, or a py-* preset; nil otherwise.
    func pythonLaunch() -> PythonLaunch? {
        if let python {
            return PythonRun.launch(
                script: python, arguments: programArguments, python: pythonBin, preset: nil, rate: Double(rate))
        }
        if let preset, let script = PythonRun.presetScript(preset) {
            return PythonRun.launch(
                script: script, arguments: [], python: pythonBin, preset: preset, rate: Double(rate))
        }
        return nil
    }

    func run() throws {
        if let compare {
            guard record == nil else { throw ValidationError("--compare records into --record-dir, not --record") }
            return try Self.runCompare(
                compare, options: headlessOptions, directory: recordDir, headless: headless, ascii: ascii)
        }
        if let record, !force, SessionRecording.wouldClobber(record) {
            throw fail("\(record) exists; use --force to overwrite it")
        }
        if var launch = pythonLaunch() {
            if headless {
                launch.rateHz = headlessOptions.sampleRate
                return try PythonRun.headless(
                    launch, options: headlessOptions, record: record.map { RecordSetup(path: $0, force: force) })
            }
            Signals.blockInThisThread()
            do {
                try Terminal.checkInteractive(environment: ProcessInfo.processInfo.environment)
            } catch {
                throw fail("\(error)")
            }
            var options = AppOptions(rateHz: rate, ascii: ascii, presetName: launch.presetName)
            options.record = RecordSetup()
            options.record?.path = record
            options.record?.directory = recordDir
            options.record?.force = force
            options.record?.startNow = record != nil
            options.record?.extra = ["command": "run --python", "preset": launch.presetName]
            return try PythonRun.live(launch, options: options)
        }
        if headless {
            return try Headless.run(
                preset: preset, options: headlessOptions, record: record.map { RecordSetup(path: $0, force: force) })
        }
        // Before any source starts threads: only the UI thread will take SIGINT/SIGTERM/SIGHUP/SIGWINCH.
        Signals.blockInThisThread()
        do {
            try Terminal.checkInteractive(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw fail("\(error)")
        }
        var options = AppOptions(rateHz: rate, ascii: ascii, presetName: preset ?? "")
        // The live runtime: a `LiveSource` for the chosen preset, and a `PresetMenu` over the catalog
        // whose `start` switches the running source to preset i (keys 1-9, Tab, the picker).
        var source: (any SnapshotSource)?
        var menu: PresetMenu?
        if synthetic {
            let first = SyntheticSource.presets.firstIndex { $0.info.name == preset } ?? 0
            source = SyntheticSource(index: first)
            menu = SyntheticSource.menu(startingAt: first)
        } else {
            let live = try LivePresets.start(presetName: preset)
            (source, menu, options.code) = (live.source, live.menu, live.code)
            options.record = RecordSetup(presets: live.texts)
        }
        options.record = options.record ?? RecordSetup()
        options.record?.path = record
        options.record?.directory = recordDir
        options.pictureDirectory = recordDir
        options.record?.force = force
        options.record?.startNow = record != nil
        options.record?.extra = ["command": "run", "preset": preset ?? ""]
        let status = App.run(source: source, menu: menu, options: options)
        if status != 0 { throw ExitCode(status) }
    }
}

extension Run {
    /// `run --compare P1,P2`: runs P1 headless for `--duration` and records it, then P2 (one at a time,
    /// so they do not share the machine), reads both files back and opens the comparison (or prints it
    /// with `--headless`, as JSON with `--json`). Files: `DIR/qvtop-compare-P-DATE.qvrec`.
    static func runCompare(
        _ list: String, options: HeadlessOptions, directory: String?, headless: Bool, ascii: Bool
    ) throws {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard names.count == 2, names.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("--compare takes two presets, P1,P2 (got '\(list)')")
        }
        try options.checkRanges()
        var presets: [Preset] = []
        let catalog = PresetCatalog.discover()  // scanned once for both names
        for name in names {
            do throws(PresetError) {
                presets.append(try catalog.resolve(name))
            } catch {
                throw failLine(error.description)
            }
        }
        let date = SessionRecording.dateStamp()
        var recordings: [Recording] = []
        var paths: [String] = []
        for (i, preset) in presets.enumerated() {
            let file = "qvtop-compare-\(i == 0 ? "A" : "B")-\(preset.name)-\(date).qvrec"
            let path = directory.map { ($0 as NSString).appendingPathComponent(file) } ?? file
            FileHandle.standardError.write(
                Data("qvtop: running \(preset.name) for \(options.duration) s, recording to \(path)\n".utf8))
            _ = try Headless.collectRecording(preset: preset, options: options, record: RecordSetup(path: path))
            recordings.append(try loadRecording(path))
            paths.append(path)
        }
        try Compare.compare(
            recordings[0], recordings[1], names: (paths[0], paths[1]), headless: headless || options.json,
            json: options.json, ascii: ascii, pictureDirectory: directory)
    }
}
