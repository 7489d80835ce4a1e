/// Benchmarks of this area, joined by `BenchRegistry`.
public enum LoopBenchmarks {
    public static let all: [Benchmark] = []
}
