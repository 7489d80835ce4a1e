// `qvtop compare A.qvrec B.qvrec`: two recordings side by side on one timeline (`CompareScreen`,
// `ComparePlayer`), or with `--headless` / `--json` both summaries and the differences
// (`RunComparison`). `run --compare P1,P2` (RunCommand.swift) records two presets one after the other
// and ends here.

import ArgumentParser
import Dashboard
import Foundation
import Recording
import Telemetry
import Terminal
import Workloads

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two recordings side by side.",
        discussion: """
            Both dashboards on one timeline (lined up by time since each recording's start; the shorter \
            holds its last frame), side by side from 160 columns, stacked below, with a strip of headline \
            figures: A, B and B − A, n/a where a side cannot provide a figure. Replay keys: Space, \
            Left/Right, [ ], Home/End, < >; s saves the screen as SVG; q quits.

            --headless prints the figures as a table; --json prints one object: both summaries (as \
            `run --headless --json` prints them), the figures with their differences, and whether the \
            workloads' task kinds are the same.
            """
    )

    @Argument(help: "Recording A (.qvrec).") var a: String
    @Argument(help: "Recording B (.qvrec).") var b: String
    @Flag(help: "Do not open the dashboard; print the comparison.") var headless = false
    @Flag(help: "Print the comparison as JSON (implies --headless).") var json = false
    @Flag(help: "Draw with ASCII characters only.") var ascii = false

    func run() throws {
        try Self.compare(
            try loadRecording(a), try loadRecording(b), names: (a, b), headless: headless || json,
            json: json, ascii: ascii)
    }

    /// Prints or opens the comparison of two loaded recordings (also `run --compare`'s last step).
    static func compare(
        _ ra: Recording, _ rb: Recording, names: (String, String), headless: Bool, json: Bool, ascii: Bool,
        pictureDirectory: String? = nil
    ) throws {
        guard let sa = RunSummary(ra.frames) else { throw fail("\(names.0): the recording holds no snapshot") }
        guard let sb = RunSummary(rb.frames) else { throw fail("\(names.1): the recording holds no snapshot") }
        let comparison = RunComparison(a: sa, b: sb, sameTaskSpecs: sameWorkload(ra, rb))
        if headless {
            print(json ? comparison.jsonText : table(comparison))
            return
        }
        Signals.blockInThisThread()
        do {
            try Terminal.checkInteractive(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw fail("\(error)")
        }
        let start = ContinuousClock.now
        let player = ComparePlayer(a: ra, b: rb) {
            let d = ContinuousClock.now - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
        }
        let hz = max(ra.metadata.sampleHz, rb.metadata.sampleHz)
        var options = AppOptions(rateHz: hz.isFinite ? min(max(Int(hz.rounded()), 1), 60) : 10, ascii: ascii)
        options.pictureDirectory = pictureDirectory
        let status = App.run(
            source: nil, compare: CompareSession(player: player, comparison: comparison), options: options)
        if status != 0 { throw ExitCode(status) }
    }

    /// Whether both recordings ran the same workload (task specs and seed), read from the text of the
    /// last preset each recorded (the one their summaries count); nil when either has none or it does
    /// not parse.
    static func sameWorkload(_ a: Recording, _ b: Recording) -> Bool? {
        func workload(_ r: Recording) -> Workload? {
            guard let p = r.presetSwitches.last, !p.text.isEmpty else { return nil }
            do throws(PresetError) {
                return try Preset.parse(p.text, file: p.name).workload
            } catch {
                return nil
            }
        }
        guard let wa = workload(a), let wb = workload(b) else { return nil }
        return wa == wb
    }

    /// The figures as a readable table: name, A, B, B − A.
    static func table(_ c: RunComparison) -> String {
        func pad(_ s: String, _ w: Int, left: Bool = false) -> String {
            let n = max(0, w - s.count)
            return left ? s + String(repeating: " ", count: n) : String(repeating: " ", count: n) + s
        }
        var lines = [
            "A: \(c.a.preset) (\(c.a.model.rawValue), \(c.a.durationSeconds) s)  B: \(c.b.preset) "
                + "(\(c.b.model.rawValue), \(c.b.durationSeconds) s)"
        ]
        if let note = c.workloadNote { lines.append(note) }
        lines.append(pad("figure", 22, left: true) + pad("A", 10) + pad("B", 10) + pad("B − A", 10))
        for f in c.figures {
            let values = [f.a, f.b].map { CompareScreen.format($0, f.unit, signed: false) }
            lines.append(
                pad(f.name, 22, left: true) + pad(values[0], 10) + pad(values[1], 10)
                    + pad(CompareScreen.format(f.difference, f.unit, signed: true), 10))
        }
        return lines.joined(separator: "\n")
    }
}

/// The compare screen's side of the app loop: the player, the figures, and one frame. UI thread only.
final class CompareSession {
    let player: ComparePlayer
    let comparison: RunComparison

    init(player: ComparePlayer, comparison: RunComparison) {
        self.player = player
        self.comparison = comparison
    }

    /// Polls both sides (unless the view is paused), and draws the compare screen.
    func frame(a: inout ViewData, b: inout ViewData, state: inout UIState, glyphs: Glyphs) -> Grid {
        if !state.paused {
            if let s = player.a.poll() {
                if player.a.lastPollJumped { a.restartHistory() }
                a.ingest(s)
            }
            if let s = player.b.poll() {
                if player.b.lastPollJumped { b.restartHistory() }
                b.ingest(s)
            }
        }
        let count = max(a.selectableCount, b.selectableCount)
        if count != state.selectableCount { _ = reduce(&state, .selectableCount(count)) }
        let timeline = ReplayStatus(player.timeline)
        return CompareScreen.render(
            a: CompareSide(name: "A", data: a, held: player.isHeld(player.a)),
            b: CompareSide(name: "B", data: b, held: player.isHeld(player.b)), comparison: comparison,
            timeline: timeline, state: state, glyphs: glyphs)
    }
}
