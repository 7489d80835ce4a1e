import ArgumentParser

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open the live dashboard (the default).")

    @Option(help: "Preset name or path to a preset .toml (see `qvtop presets`).") var preset: String?
    @OptionGroup var headlessOptions: HeadlessOptions

    func run() throws {
        if headlessOptions.headless { return try Headless.run(preset: preset, options: headlessOptions) }
        throw fail("run is not yet available")
    }
}
