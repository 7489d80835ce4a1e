// `qvtop run --python app.py [ARGS…]` and `qvtop run --preset py-…`: a real CPython program, measured by
// qvtop's agent (python/qvtop_agent) and drawn by the same dashboard (PythonSource in Workloads).
//
// The Python presets are scripts in python/presets/ (`py-asyncio.py`, …), run the same way as a
// user's program. Live: the dashboard with no preset menu (a Python program is not switched from the
// keyboard), the program's end shown as a banner while the last frame stays. Headless: the same
// summary as the Swift models; Ctrl-C, SIGTERM and SIGHUP end the program's process group before
// qvtop exits (the main thread takes them over, as the UI thread does in a live session).

import ArgumentParser
import Foundation
import Recording
import Telemetry
import Terminal
import Workloads

enum PythonRun {
    /// The shipped Python presets (python/presets/NAME.py), in listing order.
    static let presetNames = ["py-asyncio", "py-to-thread", "py-uvloop", "py-gevent"]

    /// The script of Python preset `name`, when `name` is one.
    static func presetScript(_ name: String) -> String? {
        guard presetNames.contains(name), let dir = PythonAgent.findDirectory() else { return nil }
        let path = dir + "/presets/" + name + ".py"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// The first line of a preset script's docstring (its title).
    static func title(ofScript path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        guard let start = text.range(of: "\"\"\"") else { return nil }
        return text[start.upperBound...].split(separator: "\n").first.map { String($0) }
    }

    static func launch(script: String, arguments: [String], python: String?, preset: String?, rate: Double)
        -> PythonLaunch
    {
        var l = PythonLaunch(script: script, arguments: arguments)
        if let python { l.python = python }
        if let preset {
            l.presetName = preset
            l.title = title(ofScript: script).map { "\($0) [CPython]" }
        }
        l.rateHz = rate
        return l
    }

    /// Prints a start failure (its line, then the program's output: a traceback) and returns exit 2.
    static func failure(_ error: PythonError) -> ExitCode {
        // The output (a traceback) first, unless the line already quotes all of it.
        if let last = error.output.last, error.output.count > 1 || !error.message.contains(last) {
            FileHandle.standardError.write(Data((error.output.joined(separator: "\n") + "\n").utf8))
        }
        return fail(error.message)
    }

    /// The live dashboard on `launch`. Call after `Signals.blockInThisThread()`.
    static func live(_ launch: PythonLaunch, options: AppOptions) throws {
        let source: PythonSource
        do throws(PythonError) {
            source = try PythonSource(launch)
        } catch {
            throw failure(error)
        }
        let status = App.run(source: source, menu: nil, options: options)
        if source.ended, source.exitedCleanly != true {
            let tail = source.outputTail.suffix(20)
            if !tail.isEmpty { FileHandle.standardError.write(Data((tail.joined(separator: "\n") + "\n").utf8)) }
            if let n = source.notice { FileHandle.standardError.write(Data("qvtop: \(n)\n".utf8)) }
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// A headless run of `launch`: polls for `options.duration` (or until the program ends), prints the summary.
    static func headless(_ launch: PythonLaunch, options: HeadlessOptions, record: RecordSetup?) throws {
        guard options.duration >= 0.1, options.duration <= 3600 else {
            throw fail("--duration must be between 0.1 and 3600 seconds")
        }
        guard options.sampleRate >= 1, options.sampleRate <= 100 else {
            throw fail("--sample-rate must be between 1 and 100")
        }
        // Before the source starts its reader thread: the signals are this thread's alone.
        Signals.blockInThisThread()
        let source: PythonSource
        do throws(PythonError) {
            source = try PythonSource(launch)
        } catch {
            throw failure(error)
        }
        defer { source.stop() }
        Signals.takeOverInThisThread()
        var recorder: Recorder?
        if let record {
            recorder = try Headless.openRecorder(
                record, options: options, command: "run --headless --python", preset: launch.presetName)
            let text = (try? String(contentsOfFile: launch.script, encoding: .utf8)) ?? ""
            recorder?.presetSwitch(
                PresetSwitch(time: 0, name: launch.presetName, title: launch.title ?? launch.script, text: text))
        }
        let period = UInt64(1e9 / options.sampleRate)
        let end = source.sessionStart + UInt64(options.duration * 1e9)
        var snapshots: [Snapshot] = []
        func take() {
            guard let s = source.poll() else { return }
            snapshots.append(s)
            recorder?.append(SessionRecording.thinned(s))
        }
        take()
        var next = Monotonic.now() + period
        while next <= end, !source.ended {
            if let sig = Signals.pending {
                source.stop()
                _ = recorder?.stop()
                throw ExitCode(128 + sig)
            }
            let now = Monotonic.now()
            if next > now { usleep(useconds_t(min(next - now, 50_000_000) / 1000)) }
            if Monotonic.now() >= next {
                take()
                next += period
            }
        }
        take()
        if let status = recorder?.stop(), case .failed(let error) = status.state { throw fail(error.description) }
        guard let summary = RunSummary(snapshots) else { throw fail("\(launch.script): no snapshot was taken") }
        print(options.json ? summary.jsonText : summary.table)
        if source.ended, source.exitedCleanly != true || source.streamFailure != nil {
            let tail = source.outputTail.suffix(20)
            if !tail.isEmpty { FileHandle.standardError.write(Data((tail.joined(separator: "\n") + "\n").utf8)) }
            throw fail(source.notice ?? "python ended")
        }
        if source.ended, let n = source.notice { FileHandle.standardError.write(Data("qvtop: \(n)\n".utf8)) }
    }
}
