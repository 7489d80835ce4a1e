/// Benchmarks of this area, joined by `BenchRegistry`.
public enum UIBenchmarks {
    public static let all: [Benchmark] = []
}
