// The sampler benchmark (issue 15, "Many workers"): what one sample of a live fiber scheduler costs the
// sampling thread, at 16, 64 and 256 carriers.
//
// One sample is what the live source does each frame (FiberModels' `sample`: `FiberSampler.sample(scheduler,
// into:)`): `Scheduler.sample(into:)` — metrics, interval and events in one pass into the sampler's reused
// buffers, the "read" phase — then the mapping into a `Snapshot` (the "map" phase). It is timed in the sampling
// thread's own CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a machine shared with 256 carriers and
// other processes, a wall figure would mostly measure how often the sampler was descheduled. The median over
// many samples is the figure (goal: ≤ 50 µs at 256 carriers).
//
// The scheduler is live: 4 named fibers per carrier loop on "spin ~20 µs, sleep 1–4 ms", so carriers park,
// wake, steal and publish names and events between samples, as under a preset. Samples are 20 ms apart (the
// dashboard's are 100 ms at 10 Hz; closer samples find fewer events each, which the spread shows).
import CRuntime
import Runtime
import Synchronization
import Telemetry
import Workloads

#if canImport(Glibc)
    import Glibc
#endif

enum SamplerBenchmarks {
    /// The calling thread's minor page faults and context switches (voluntary + involuntary) so far.
    static func threadFaultsAndSwitches() -> (faults: Int, switches: Int) {
        var u = rusage()
        // RUSAGE_THREAD (1, Linux): the Glibc module leaves out its _GNU_SOURCE name.
        getrusage(__rusage_who_t(1), &u)
        return (u.ru_minflt, u.ru_nvcsw + u.ru_nivcsw)
    }

    /// Busy-waits `nanos` on the calling fiber (holds its carrier, like a short CPU step).
    static func spin(nanos: UInt64) {
        let end = qv_now_ns() &+ nanos
        while qv_now_ns() < end {}
    }

    static func sample(_ o: BenchOptions) throws -> [BenchResult] {
        let samples = max(10, o.count ?? 300)
        var results: [BenchResult] = []
        for carriers in [16, 64, 256] {
            results.append(try sampleCost(carriers: carriers, samples: samples))
        }
        // The same read of an idle scheduler: what the sample costs when no carrier writes the lines it reads.
        results.append(try sampleCost(carriers: 256, samples: samples, load: false))
        return results
    }

    /// The median thread-CPU cost of one sample of a live `carriers`-carrier scheduler.
    static func sampleCost(carriers: Int, samples: Int, load: Bool = true) throws -> BenchResult {
        let s = try Scheduler(.init(carriers: carriers))
        defer { s.shutdown() }
        let stop = Atomic<Bool>(false)
        var handles: [JoinHandle<Void>] = []
        for k in 0..<(load ? 4 * carriers : 0) {
            handles.append(
                s.spawn(name: "load-\(k)", kind: k % 2 == 0 ? "io" : "cpu") {
                    var i = UInt64(k)
                    // relaxed: a stop flag; the joins below order everything else.
                    while !stop.load(ordering: .relaxed) {
                        spin(nanos: 20_000)
                        i = i &* 6_364_136_223_846_793_005 &+ 1
                        Scheduler.sleep(nanoseconds: 1_000_000 + (i >> 33) % 3_000_000)
                    }
                })
        }
        var sampler = FiberSampler(sessionStart: qv_now_ns())
        var reads = SchedulerSample()
        var costs: [Double] = []
        // Per phase (µs of thread CPU): Scheduler.sample (metrics, interval and events in one pass), the mapping.
        var phases: [[Double]] = [[], []]
        var events = 0
        var checksum = 0
        // Page faults taken inside the timed region, and samples the kernel switched the thread out of (its
        // caches then start cold): each counts in the CPU figure without being the sampler's own work.
        var faults = 0
        var switchedSamples = 0
        costs.reserveCapacity(samples)
        let start = qv_now_ns()
        // Warm-up: the first samples have no previous read (no deltas) and size the sampler's arrays.
        for seq in 0..<(samples + 5) {
            usleep(20_000)
            var snapshot = Snapshot(
                time: Double(qv_now_ns() &- start) / 1e9, sequence: UInt64(seq), preset: "bench-sample",
                model: .virtualThreads)
            // `FiberSampler.sample(scheduler, into:)` in its two steps, timed apart: the scheduler's one-pass read
            // into the reused buffers, then the mapping to the snapshot.
            let r0 = threadFaultsAndSwitches()
            let t0 = threadCPUNanos()
            s.sample(into: &reads)
            let ta = threadCPUNanos()
            sampler.sample(reads.metrics, interval: reads.interval, events: reads.events, into: &snapshot)
            let t1 = threadCPUNanos()
            let r1 = threadFaultsAndSwitches()
            checksum &+= snapshot.workers.count &+ snapshot.events.count
            if seq >= 5 {
                costs.append(Double(t1 &- t0) / 1000)
                phases[0].append(Double(ta &- t0) / 1000)
                phases[1].append(Double(t1 &- ta) / 1000)
                events += snapshot.events.count
                faults += r1.faults - r0.faults
                if r1.switches != r0.switches { switchedSamples += 1 }
            }
        }
        stop.store(true, ordering: .relaxed)
        for h in handles { h.join() }
        let sorted = costs.sorted()
        let median = sorted[sorted.count / 2]
        let p90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
        return BenchResult(
            name: "sample.\(carriers)\(load ? "" : "-idle")", value: (median * 10).rounded() / 10,
            unit: "µs CPU/sample",
            detail: [
                "carriers": "\(carriers)", "samples": "\(costs.count)", "interval": "20 ms",
                "p90": "\(SchedulerBenchmarks.f1(p90)) µs",
                "spread": SchedulerBenchmarks.spread(costs, SchedulerBenchmarks.f1),
                "events_per_sample": SchedulerBenchmarks.f1(Double(events) / Double(max(1, costs.count))),
                "faults_per_sample": SchedulerBenchmarks.f1(Double(faults) / Double(max(1, costs.count))),
                "switched_samples": "\(switchedSamples)",
                "clock": "CLOCK_THREAD_CPUTIME_ID", "goal": carriers == 256 ? "≤ 50 µs" : "-",
                "phases_median_us": zip(["read", "map"], phases).map {
                    "\($0.0) \(SchedulerBenchmarks.f1(SchedulerBenchmarks.median($0.1)))"
                }.joined(separator: ", "),
                "checksum": "\(checksum)",
            ])
    }
}
