// The sampler benchmark (issue 15, "Many workers"): what one sample of a live fiber scheduler costs the
// sampling thread, at 16, 64 and 256 carriers.
//
// One sample is what the live source does each frame (FiberModels' `sample`: `FiberSampler.sample(scheduler,
// into:)`): `Scheduler.sample(into:eachWorker:)` — metrics, interval and events in one pass into the sampler's
// reused buffers, each worker's snapshot row made in the pass — then the rest of the `Snapshot`. It is timed whole,
// as the one call the live source makes (a clock read between steps was itself a system call inside the figure),
// in the sampling
// thread's own CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time: on a machine shared with 256 carriers and
// other processes, a wall figure would mostly measure how often the sampler was descheduled. The median over
// many samples is the figure (goal: ≤ 50 µs at 256 carriers).
//
// Two kinds of load on the sampled scheduler:
// - the shipped `vt-256` preset, running live as the dashboard runs it (its fan-out batches, 500 parked `web`
//   fibers, the 1 ms heartbeat), sampled every 100 ms as the dashboard does at 10 Hz: what one frame's sample costs
//   the dashboard at 256 carriers (`sample.vt-256`);
// - a synthetic load, 4 named fibers per carrier looping on "spin ~20 µs, sleep 1–4 ms", sampled every 20 ms, at
//   16, 64 and 256 carriers (and 256 idle ones). It asks ~0.8 % of a core per fiber: at 64 carriers that is
//   about the machine's 2 cores and at 256 about 8, so the 64- and 256-carrier cases sample an overloaded machine
//   (128 runnable carriers per core, which evict the sampler's code and data between samples): a stress figure.
// The goal is reported on both 256-carrier cases.
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

    /// `--count N`: samples per synthetic case (default 300); the preset case takes at most 100 (10 s at 10 Hz).
    static func sample(_ o: BenchOptions) throws -> [BenchResult] {
        let samples = max(10, o.count ?? 300)
        var results: [BenchResult] = [try presetSampleCost(samples: min(samples, 100))]
        for carriers in [16, 64, 256] {
            results.append(try sampleCost(carriers: carriers, samples: samples))
        }
        // The same read of an idle scheduler: what the sample costs when no carrier writes the lines it reads.
        results.append(try sampleCost(carriers: 256, samples: samples, load: false))
        return results
    }

    /// The median thread-CPU cost of one sample of the shipped `vt-256` preset's scheduler, running live (a
    /// `LiveSource`, as the dashboard starts it), 100 ms apart after a 2 s warm-up (its population parks, batches
    /// arrive).
    static func presetSampleCost(samples: Int) throws -> BenchResult {
        let preset = try PresetCatalog.discover().choose("vt-256")
        let source = try LiveSource(preset: preset)
        defer { source.stop() }
        guard let s = source.fiberScheduler else {
            throw SchedulerBenchError.wrongResult("sample: vt-256 runs no fiber scheduler")
        }
        usleep(2_000_000)
        var r = try measure(
            s, name: "sample.vt-256", samples: samples, intervalMicros: 100_000, goal: "≤ 50 µs", warmUp: 2)
        r.detail["preset"] = preset.name
        r.detail["carriers"] = "\(s.configuration.carriers)"
        return r
    }

    /// The median thread-CPU cost of one sample of a live `carriers`-carrier scheduler under the synthetic load
    /// (`load`: 4 fibers per carrier; else none).
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
        defer {
            stop.store(true, ordering: .relaxed)
            for h in handles { h.join() }
        }
        var r = try measure(
            s, name: "sample.\(carriers)\(load ? "" : "-idle")", samples: samples, intervalMicros: 20_000,
            goal: carriers == 256 && load ? "≤ 50 µs" : "-", warmUp: 5)
        r.detail["carriers"] = "\(carriers)"
        r.detail["load"] = load ? "4 fibers per carrier: spin 20 µs, sleep 1–4 ms" : "none"
        return r
    }

    /// Samples `s` `samples` times, `intervalMicros` apart (after `warmUp` untimed ones: the first has no previous
    /// read, and they size the sampler's arrays), each `FiberSampler.sample(scheduler, into:)` timed in this thread's
    /// CPU time.
    static func measure(
        _ s: Scheduler, name: String, samples: Int, intervalMicros: UInt32, goal: String, warmUp: Int
    ) throws -> BenchResult {
        var sampler = FiberSampler(sessionStart: qv_now_ns())
        var costs: [Double] = []
        var events = 0
        var checksum = 0
        // Page faults taken inside the timed region, and samples the kernel switched the thread out of (its
        // caches then start cold): each counts in the CPU figure without being the sampler's own work.
        var faults = 0
        var switchedSamples = 0
        costs.reserveCapacity(samples)
        let start = qv_now_ns()
        // Warm-up: the first samples have no previous read (no deltas) and size the sampler's arrays.
        for seq in 0..<(samples + warmUp) {
            usleep(intervalMicros)
            var snapshot = Snapshot(
                time: Double(qv_now_ns() &- start) / 1e9, sequence: UInt64(seq), preset: "bench-sample",
                model: .virtualThreads)
            let r0 = threadFaultsAndSwitches()
            let t0 = threadCPUNanos()
            sampler.sample(s, into: &snapshot)
            let t1 = threadCPUNanos()
            let r1 = threadFaultsAndSwitches()
            checksum &+= snapshot.workers.count &+ snapshot.events.count
            if seq >= warmUp {
                costs.append(Double(t1 &- t0) / 1000)
                events += snapshot.events.count
                faults += r1.faults - r0.faults
                if r1.switches != r0.switches { switchedSamples += 1 }
            }
        }
        let sorted = costs.sorted()
        let median = sorted[sorted.count / 2]
        let p90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
        return BenchResult(
            name: name, value: (median * 10).rounded() / 10, unit: "µs CPU/sample",
            detail: [
                "samples": "\(costs.count)", "interval": "\(intervalMicros / 1000) ms",
                "p90": "\(SchedulerBenchmarks.f1(p90)) µs",
                "spread": SchedulerBenchmarks.spread(costs, SchedulerBenchmarks.f1),
                "events_per_sample": SchedulerBenchmarks.f1(Double(events) / Double(max(1, costs.count))),
                "faults_per_sample": SchedulerBenchmarks.f1(Double(faults) / Double(max(1, costs.count))),
                "switched_samples": "\(switchedSamples)",
                "clock": "CLOCK_THREAD_CPUTIME_ID", "goal": goal,
                "checksum": "\(checksum)",
            ])
    }
}
