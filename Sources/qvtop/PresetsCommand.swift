import ArgumentParser
import Foundation
import Workloads

/// `qvtop presets`: name, title and source file of every preset, shipped ones in talk order.
/// A broken preset file prints its one-line error on stderr and the exit status is 2.
struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the presets: name, title, source file.",
        discussion: """
            Shipped presets come from presets/ in talk order; user presets from \
            $XDG_CONFIG_HOME/qvtop/presets/ (default ~/.config/qvtop/presets/). A user preset with the \
            same name hides the shipped one. `qvtop run --preset NAME|PATH` runs one.
            """
    )

    @Flag(help: "Also print each preset's explanation.") var verbose = false

    func run() throws {
        let catalog = PresetCatalog.discover()
        let visible = catalog.entries.filter { !$0.shadowed }
        let nameWidth = max(4, visible.map(\.preset.name.count).max() ?? 0)
        let python = PythonRun.presetNames.compactMap { name in
            PythonRun.presetScript(name).map { (name: name, script: $0, title: PythonRun.title(ofScript: $0) ?? "") }
        }
        let titleWidth = max(5, (visible.map(\.preset.title.count) + python.map(\.title.count)).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        print([pad("NAME", nameWidth), pad("TITLE", titleWidth), "SOURCE"].joined(separator: "  "))
        for e in visible {
            let source = e.origin == .user ? "\(e.preset.source) (user)" : e.preset.source
            print([pad(e.preset.name, nameWidth), pad(e.preset.title, titleWidth), source].joined(separator: "  "))
            if verbose {
                let text = e.preset.explain.split(whereSeparator: \.isNewline).joined(separator: " ")
                print("    " + text + "\n")
            }
        }
        // The Python presets (python/presets/*.py, run under the agent with python3).
        for p in python {
            let shown = PresetCatalog.display(p.script, cwd: FileManager.default.currentDirectoryPath)
            print([pad(p.name, nameWidth), pad(p.title, titleWidth), shown + " (python3)"].joined(separator: "  "))
        }
        if visible.isEmpty && catalog.errors.isEmpty {
            FileHandle.standardError.write(Data("qvtop: no presets found (set QVTOP_PRESETS_DIR)\n".utf8))
        }
        for e in catalog.errors { FileHandle.standardError.write(Data("\(e.description)\n".utf8)) }
        if !catalog.errors.isEmpty || visible.isEmpty { throw ExitCode(2) }
    }
}
