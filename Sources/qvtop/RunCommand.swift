import ArgumentParser
import Foundation
import Terminal

/// `qvtop run` (the default): the live dashboard.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open the live dashboard (the default).",
        discussion: """
            Keys: ? help, Space pause, +/- redraw rate, Ctrl-L repaint, q quit. \
            Needs a terminal; --headless runs without one.
            """
    )

    @Flag(help: "Run without the dashboard and print a summary (for CI and scripts).") var headless = false
    @Option(help: "The preset to start with (see `qvtop presets`).") var preset: String?
    @Flag(help: "Draw with ASCII characters only.") var ascii = false
    @Option(help: "Redraw rate in Hz, 1…60 (+ and - change it live).") var rate = 10

    func validate() throws {
        guard (1...60).contains(rate) else { throw ValidationError("--rate must be between 1 and 60 Hz") }
    }

    func run() throws {
        Signals.blockInThisThread()
        if headless { throw fail("--headless is not yet available") }
        do {
            try Terminal.checkInteractive(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw fail("\(error)")
        }
        let options = AppOptions(rateHz: rate, ascii: ascii, presetName: preset ?? "")
        let status = App.run(source: nil, options: options)
        if status != 0 { throw ExitCode(status) }
    }
}
