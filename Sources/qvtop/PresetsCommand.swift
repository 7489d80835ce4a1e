import ArgumentParser

struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the presets: name, title, source file.")
    func run() throws { throw fail("presets is not yet available") }
}
