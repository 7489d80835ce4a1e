import ArgumentParser

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a recording (chrome trace or asciicast).")
    @Argument(help: "The recording file.") var file: String
    func run() throws { throw fail("export is not yet available") }
}
