import ArgumentParser

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open the live dashboard (the default).")

    func run() throws {
        throw fail("run is not yet available")
    }
}
