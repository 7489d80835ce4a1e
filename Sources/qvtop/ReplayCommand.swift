import ArgumentParser

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replay a recording in the dashboard.")
    @Argument(help: "The recording file.") var file: String
    func run() throws { throw fail("replay is not yet available") }
}
