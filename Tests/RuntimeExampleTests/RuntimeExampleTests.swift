import Foundation
import Testing

// README's "The runtime as a library" example is Example.swift, compiled here against the public API
// only (no @testable import) and run.
@Suite(.timeLimit(.minutes(1))) struct RuntimeExampleTests {
    @Test func exampleRuns() async throws {
        #expect(try await runtimeExample() == ["sum 6", "read hello", "to_thread 42"])
    }

    /// README shows Example.swift verbatim, between the markers around its code block.
    @Test func readmeShowsTheExampleAsCompiled() throws {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        let example = try String(contentsOf: here.appendingPathComponent("Example.swift"), encoding: .utf8)
        let readme = try String(
            contentsOf: here.appendingPathComponent("../../README.md").standardized, encoding: .utf8)
        let begin = "<!-- BEGIN Tests/RuntimeExampleTests/Example.swift -->\n```swift\n"
        let end = "```\n<!-- END Tests/RuntimeExampleTests/Example.swift -->"
        let start = try #require(readme.range(of: begin), "README has no example block")
        let stop = try #require(readme.range(of: end, range: start.upperBound..<readme.endIndex))
        #expect(String(readme[start.upperBound..<stop.lowerBound]) == example)
    }
}
