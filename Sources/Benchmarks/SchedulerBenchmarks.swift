/// Benchmarks of this area, joined by `BenchRegistry`.
public enum SchedulerBenchmarks {
    public static let all: [Benchmark] = []
}
