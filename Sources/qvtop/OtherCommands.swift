import ArgumentParser

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replay a recording in the dashboard.")
    @Argument(help: "The recording file.") var file: String
    func run() throws { throw fail("replay is not yet available") }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a recording (chrome trace or asciicast).")
    @Argument(help: "The recording file.") var file: String
    func run() throws { throw fail("export is not yet available") }
}

struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the presets: name, title, source file.")
    func run() throws { throw fail("presets is not yet available") }
}
