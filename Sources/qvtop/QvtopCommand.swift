import ArgumentParser
import Benchmarks
import Foundation
import Runtime

/// `qvtop`: htop for schedulers. `qvtop` alone is `qvtop run`.
@main
struct Qvtop: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "qvtop",
        abstract: "Run scheduler models live and draw what they do.",
        version: version,
        subcommands: [
            Run.self, Replay.self, Compare.self, Export.self, Bench.self, Presets.self, DebugFiberOverflow.self,
        ],
        defaultSubcommand: Run.self
    )

    /// Sets the process's heap policy (HeapPolicy.swift) before parsing and running the command.
    static func main() {
        HeapPolicy.apply()
        FiberCrashReport.install()  // a crash on a fiber names it (chains to Swift's backtracer)
        main(nil)
    }
}

/// Exit status 2 with one line on stderr: what later issues fill in, or bad input.
struct NotYetAvailable: Error, CustomStringConvertible {
    var what: String
    var description: String { "qvtop: \(what) is not yet available" }
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("qvtop: \(message)\n".utf8))
    return ExitCode(2)
}
