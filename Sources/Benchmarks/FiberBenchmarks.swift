/// Benchmarks of this area, joined by `BenchRegistry`.
public enum FiberBenchmarks {
    public static let all: [Benchmark] = []
}
