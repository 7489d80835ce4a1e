// Where presets come from: the shipped `presets/` folder, the user's folder, or a path.
//
// Shipped presets are files named `NN-name.toml`; NN is their place in the talk, so a plain sort by
// file name gives the talk order. User presets live in `$XDG_CONFIG_HOME/qvtop/presets/`
// (default `~/.config/qvtop/presets/`); a user preset with the same `name` as a shipped one
// shadows it. `--preset` takes a name, or a path when the value contains `/` or ends in `.toml`.
//
// A catalog is scanned once (`discover`) and each preset keeps the text it was parsed from
// (`Preset.text`): choosing a preset (`resolve`, `defaultPreset`, `choose`) and recording it read no
// file again, so a recording holds exactly the text that ran.
//
// Finding the shipped folder: `$QVTOP_PRESETS_DIR` when set, else `presets/` next to the package
// the binary was built from (the executable lives in `.build/<triple>/<config>/`, and the source
// file's `#filePath` gives the same root), else `./presets`, else `<prefix>/share/qvtop/presets`.

import Foundation

/// Where a preset was found.
public enum PresetOrigin: String, Sendable, Equatable {
    case shipped, user, path
}

/// A loaded preset with its origin, as `qvtop presets` lists it.
public struct PresetEntry: Sendable, Equatable {
    public var preset: Preset
    public var origin: PresetOrigin
    /// True when a user preset with the same name hides this one.
    public var shadowed: Bool
}

/// The presets available to this process. Build with `PresetCatalog.discover()`.
public struct PresetCatalog: Sendable {
    /// Every readable preset: shipped ones in talk order, then user ones by file name.
    public var entries: [PresetEntry]
    /// One error per broken file (each renders as one line).
    public var errors: [PresetError]

    /// Environment values the catalog reads; injectable for tests.
    public struct Environment: Sendable {
        public var shippedDirectory: String?
        public var userDirectory: String?
        public var workingDirectory: String
        public init(shippedDirectory: String?, userDirectory: String?, workingDirectory: String) {
            self.shippedDirectory = shippedDirectory
            self.userDirectory = userDirectory
            self.workingDirectory = workingDirectory
        }

        /// The real process environment.
        public static var current: Environment {
            let env = ProcessInfo.processInfo.environment
            let cwd = FileManager.default.currentDirectoryPath
            return Environment(
                shippedDirectory: PresetCatalog.findShippedDirectory(env: env, cwd: cwd),
                userDirectory: PresetCatalog.userDirectory(env: env), workingDirectory: cwd)
        }
    }

    /// Loads every preset of `environment`.
    public static func discover(_ environment: Environment = .current) -> PresetCatalog {
        var entries: [PresetEntry] = []
        var errors: [PresetError] = []
        for (dir, origin) in [(environment.shippedDirectory, PresetOrigin.shipped), (environment.userDirectory, .user)]
        {
            guard let dir else { continue }
            for path in tomlFiles(in: dir) {
                do {
                    let p = try Preset.load(path: path, display: display(path, cwd: environment.workingDirectory))
                    entries.append(PresetEntry(preset: p, origin: origin, shadowed: false))
                } catch {
                    errors.append(error)
                }
            }
        }
        let userNames = Set(entries.filter { $0.origin == .user }.map(\.preset.name))
        for i in entries.indices where entries[i].origin == .shipped && userNames.contains(entries[i].preset.name) {
            entries[i].shadowed = true
        }
        return PresetCatalog(entries: entries, errors: errors)
    }

    /// The presets `--preset` chooses from, in listing order (shadowed ones left out).
    public var presets: [Preset] { entries.filter { !$0.shadowed }.map(\.preset) }

    /// The preset `--preset VALUE` means: a path (contains `/` or ends in `.toml`, read now) or the
    /// name of one of this catalog's presets (no file is read again). A name whose own file is broken
    /// reports that file's error.
    public func resolve(_ value: String) throws(PresetError) -> Preset {
        if value.contains("/") || value.hasSuffix(".toml") {
            return try Preset.load(path: value)
        }
        if let p = presets.first(where: { $0.name == value }) { return p }
        // A broken file named after the preset is the likely culprit: show its error, not "unknown".
        if let e = errors.first(where: { ($0.file as NSString).lastPathComponent.contains(value) }) {
            throw e
        }
        let known = presets.map(\.name).joined(separator: ", ")
        throw PresetError(
            file: "--preset", message: "unknown preset '\(value)'; known: \(known.isEmpty ? "(none found)" : known)")
    }

    /// The preset `qvtop` starts with when `--preset` is not given.
    public static let defaultName = "vt-steal"

    /// The default preset: `defaultName` (the first impression is the talk's last picture: virtual
    /// threads with work stealing), else the first one.
    public func defaultPreset() throws(PresetError) -> Preset {
        if let vt = presets.first(where: { $0.name == Self.defaultName }) { return vt }
        if let first = presets.first { return first }
        if let e = errors.first { throw e }
        throw PresetError(file: "presets", message: "no presets found (set QVTOP_PRESETS_DIR to the presets folder)")
    }

    /// `--preset VALUE` when given (`resolve`), else `defaultPreset()`.
    public func choose(_ value: String?) throws(PresetError) -> Preset {
        if let value { return try resolve(value) }
        return try defaultPreset()
    }

    // MARK: - Locations

    /// `$XDG_CONFIG_HOME/qvtop/presets`, or `~/.config/qvtop/presets`.
    public static func userDirectory(env: [String: String]) -> String? {
        if let xdg = env["XDG_CONFIG_HOME"], !xdg.isEmpty { return xdg + "/qvtop/presets" }
        if let home = env["HOME"], !home.isEmpty { return home + "/.config/qvtop/presets" }
        return nil
    }

    /// The shipped `presets/` folder (see the comment at the top of this file).
    public static func findShippedDirectory(env: [String: String], cwd: String) -> String? {
        if let dir = env["QVTOP_PRESETS_DIR"], !dir.isEmpty { return dir }
        var candidates: [String] = []
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        // .build/<triple>/<config>/qvtop → package root is three levels up.
        candidates.append(exe.deletingLastPathComponent().appendingPathComponent("../../../presets").standardized.path)
        // Sources/Workloads/Presets/PresetCatalog.swift → package root is three levels up.
        let source = URL(fileURLWithPath: #filePath)
        candidates.append(
            source.deletingLastPathComponent().appendingPathComponent("../../../presets").standardized.path)
        candidates.append(cwd + "/presets")
        candidates.append(
            exe.deletingLastPathComponent().appendingPathComponent("../share/qvtop/presets").standardized.path)
        return candidates.first { !tomlFiles(in: $0).isEmpty }
    }

    /// `*.toml` files directly in `dir`, sorted by file name (talk order for `NN-name.toml`).
    static func tomlFiles(in dir: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }.sorted().map { dir + "/" + $0 }
    }

    /// `path` relative to `cwd` when it lies below it, else as is.
    public static func display(_ path: String, cwd: String) -> String {
        let std = URL(fileURLWithPath: path).standardized.path
        let base = URL(fileURLWithPath: cwd).standardized.path
        if std.hasPrefix(base + "/") { return String(std.dropFirst(base.count + 1)) }
        return std
    }
}
