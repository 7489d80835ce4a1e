import ArgumentParser
import Benchmarks
import Foundation

/// `qvtop bench [NAME…]`: runs benchmarks, prints a table or one JSON object per figure.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Run benchmarks (switch, parked, spawn, fanout, channel, loop-*, timer-lag, overhead, render, sample).",
        discussion: "With no NAME, lists the benchmarks. `all` runs every one."
    )

    @Argument(help: "Benchmark names, or `all`.") var names: [String] = []
    @Flag(help: "Print one JSON object per result (name, value, unit, detail).") var json = false
    @Option(help: "Population or iteration count, overriding the default.") var count: Int?
    @Option(help: "Measured repetitions (the median is reported).") var reps: Int?

    func run() throws {
        let registry = BenchRegistry.all
        if names.isEmpty {
            // Columns as wide as the longest name (`padding(toLength:)` alone would cut longer names).
            let width = max(16, (registry.map(\.name.count).max() ?? 0) + 2)
            for b in registry { print(b.name.padding(toLength: width, withPad: " ", startingAt: 0) + b.summary) }
            if registry.isEmpty { print("(no benchmarks yet)") }
            return
        }
        let chosen: [Benchmark]
        if names == ["all"] {
            chosen = registry
        } else {
            chosen = try names.map { name in
                guard let b = BenchRegistry.named(name) else {
                    throw fail("unknown benchmark '\(name)'; known: \(registry.map(\.name).joined(separator: ", "))")
                }
                return b
            }
        }
        let options = BenchOptions(count: count, reps: reps, releaseHeap: { HeapPolicy.release() })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for b in chosen {
            let results = try b.run(options)
            for r in results {
                if json {
                    emit(String(decoding: try encoder.encode(r), as: UTF8.self))
                } else {
                    let value = String(format: r.value >= 100 ? "%.0f" : "%.2f", r.value)
                    let detail = r.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                        .joined(separator: " ")
                    emit(
                        r.name.padding(toLength: max(26, r.name.count + 1), withPad: " ", startingAt: 0)
                            + value.leftPad(12) + " " + r.unit.padding(toLength: 12, withPad: " ", startingAt: 0)
                            + detail)
                }
            }
        }
    }
}

/// Writes one line to stdout at once (unbuffered), so a long benchmark run shows progress.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
