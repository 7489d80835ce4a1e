import Foundation
import Testing

/// Telemetry is a leaf module: the snapshot contract must not depend on the runtime it describes (the
/// conversions live in Workloads/Sampling/RuntimeMapping.swift). A build alone would not catch a new
/// `import Runtime` while Package.swift still listed the dependency, so the sources and the manifest are read.
@Suite struct LeafModuleTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func telemetrySourcesImportNoRuntimeModule() throws {
        let dir = Self.root.appendingPathComponent("Sources/Telemetry")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty)
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("import ") {
                let module = line.dropFirst("import ".count).trimmingCharacters(in: .whitespaces)
                #expect(!["Runtime", "CRuntime", "Workloads"].contains(module), "\(f) imports \(module)")
            }
        }
    }

    @Test func manifestGivesTelemetryNoDependency() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let line = manifest.split(separator: "\n").first { $0.contains(".target(name: \"Telemetry\"") }
        let found = try #require(line)
        #expect(!found.contains("dependencies"), "Telemetry's target line: \(found)")
    }
}
