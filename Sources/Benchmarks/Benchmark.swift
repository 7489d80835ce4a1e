// `qvtop bench NAME`: the registry. Each area owns one file that defines its list
// (FiberBenchmarks.swift, SchedulerBenchmarks.swift, LoopBenchmarks.swift, UIBenchmarks.swift,
// PythonBenchmarks.swift);
// this file only joins them (and holds the measurement helpers they share), so areas never edit each
// other's files.
import Glibc

/// CPU time of the whole process so far (ns, `CLOCK_PROCESS_CPUTIME_ID`): every thread together. Under load a
/// wall figure measures how much CPU the benchmark got; this measures what the work cost.
func processCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU time of the calling thread so far (ns, `CLOCK_THREAD_CPUTIME_ID`). On a carrier, around a stretch with no
/// scheduling point, it is the cost of that stretch alone: what the other threads do, or how long the OS kept
/// this one waiting, does not enter it.
func threadCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Context switches of the whole process so far (`getrusage`: voluntary, involuntary), every thread together. A
/// rep's pair of differences tells a rep whose carriers slept or were preempted from one that ran straight through.
func processContextSwitches() -> (voluntary: Int, involuntary: Int) {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return (u.ru_nvcsw, u.ru_nivcsw)
}

/// Options every benchmark receives from the command line.
public struct BenchOptions: Sendable {
    /// `--count N`: overrides the benchmark's default population/iterations when set.
    public var count: Int?
    /// `--reps N`: measured repetitions (median reported); benchmarks pick a default when nil.
    public var reps: Int?
    /// What the app does once a preset switch has stopped the old runtime: give the heap's free pages back (qvtop's
    /// `HeapPolicy.release`, which the executable owns). `teardown` times it with `stop()`. Default: nothing.
    public var releaseHeap: @Sendable () -> Void
    public init(count: Int? = nil, reps: Int? = nil, releaseHeap: @escaping @Sendable () -> Void = {}) {
        self.count = count
        self.reps = reps
        self.releaseHeap = releaseHeap
    }
}

/// One printed figure. `--json` prints one object per result with at least name, value, unit.
public struct BenchResult: Codable, Sendable, Equatable {
    public var name: String
    public var value: Double
    public var unit: String
    /// Optional detail: spread, n, goal, the anchor figure for comparison.
    public var detail: [String: String]
    public init(name: String, value: Double, unit: String, detail: [String: String] = [:]) {
        self.name = name
        self.value = value
        self.unit = unit
        self.detail = detail
    }
}

/// A named benchmark. `run` executes in the calling thread and returns its figures.
public struct Benchmark: Sendable {
    public var name: String
    public var summary: String
    public var run: @Sendable (BenchOptions) throws -> [BenchResult]
    public init(name: String, summary: String, run: @escaping @Sendable (BenchOptions) throws -> [BenchResult]) {
        self.name = name
        self.summary = summary
        self.run = run
    }
}

public enum BenchRegistry {
    public static var all: [Benchmark] {
        FiberBenchmarks.all + SchedulerBenchmarks.all + LoopBenchmarks.all + UIBenchmarks.all + PythonBenchmarks.all
            + MemoryBenchmarks.all
    }
    public static func named(_ name: String) -> Benchmark? { all.first { $0.name == name } }
}
