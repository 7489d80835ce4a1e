// Scheduler benchmarks: spawn (W2), fanout (W5), channel (W1 over a channel), yield (W1 through the run queue, Go's
// `w1-gosched`). Each mirrors the anchor of the same name in the shared anchors folder, `../shared/anchors/` (see docs/performance.md for the figures side by side).
import CRuntime
import Runtime

/// Benchmarks of this area, joined by `BenchRegistry`.
public enum SchedulerBenchmarks {
    public static let all: [Benchmark] = [
        Benchmark(
            name: "spawn",
            summary: "one fiber spawns N trivial fibers on 2 carriers and joins them all (ns/task; goal ≤ 200)",
            run: { try spawn($0) }),
        Benchmark(
            name: "fanout",
            summary: "W5: 10,000 busy-spin fibers (9,000×10µs + 1,000×1ms, anchors' LCG order) on 2 carriers",
            run: { try fanout($0) }),
        Benchmark(
            name: "sleep-lag",
            summary: "lateness of a fiber's 1 ms sleep on an idle 2-carrier scheduler (µs p50/p99/max; goal p99 ≤ 200)",
            run: { try sleepLag($0) }),
        Benchmark(
            name: "channel",
            summary: "ping-pong over an unbuffered channel, 1 and 2 carriers (ns/message)",
            run: { try channel($0) }),
        Benchmark(
            name: "yield",
            summary:
                "two fibers each yield N times through their carrier's run queue, 1 carrier (ns/yield; Go Gosched)",
            run: { try yieldRoundTrip($0) }),
    ]

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.isEmpty ? 0 : s[s.count / 2]
    }

    static func spread(_ xs: [Double], _ fmt: (Double) -> String) -> String {
        guard let lo = xs.min(), let hi = xs.max() else { return "" }
        return "\(fmt(lo))–\(fmt(hi))"
    }

    static func f1(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return "\(r)"
    }

    /// Runs `body` on a fresh fiber of `s` and returns its result (waits on this thread).
    static func onFiber<T>(_ s: Scheduler, _ body: @escaping () -> T) -> T {
        s.spawn(name: "bench-root", body).join()
    }

    // MARK: spawn (W2)

    static func spawn(_ o: BenchOptions) throws -> [BenchResult] {
        let n = o.count ?? 1_000_000
        let reps = o.reps ?? 7
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let out = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        defer { out.deallocate() }
        // nonisolated(unsafe): each fiber writes its own slot; the joins order those writes before the check.
        nonisolated(unsafe) let buffer = out
        // The wall time per task, and the spawning carrier thread's CPU time per task over the spawn loop alone (the
        // root has no scheduling point there, so it stays on one carrier): the spawner's own cost, which the wall
        // figure's critical path is made of, whatever the machine's load.
        func once() -> (wall: Double, spawnerCPU: Double) {
            onFiber(s) { () -> (wall: Double, spawnerCPU: Double) in
                let t0 = qv_now_ns()
                var hs: [JoinHandle<Void>] = []
                hs.reserveCapacity(n)
                let c0 = threadCPUNanos()
                for i in 0..<n { hs.append(s.spawn { buffer[i] = i &* 2 }) }
                let c1 = threadCPUNanos()
                for h in hs { h.join() }
                let el = qv_now_ns() &- t0
                return (Double(el) / Double(n), Double(c1 &- c0) / Double(n))
            }
        }
        _ = once()  // warm-up
        var xs: [Double] = []
        // Per repetition: ns/task, steal operations and worker parks (the figures are bimodal; these tell why).
        var perRep: [String] = []
        var last = s.metrics()
        var cpu: [Double] = []
        var spawner: [Double] = []
        for _ in 0..<reps {
            let c0 = processCPUNanos()
            let r = once()
            xs.append(r.wall)
            spawner.append(r.spawnerCPU)
            cpu.append(Double(processCPUNanos() &- c0) / Double(n))
            let m = s.metrics()
            let d = RepCounters(m, since: last)
            perRep.append("\(f1(xs[xs.count - 1]))/cpu\(f1(cpu[cpu.count - 1]))/s\(d.steals)/p\(d.parks)/r\(d.runs)")
            last = m
        }
        for i in 0..<n where out[i] != i &* 2 { throw SchedulerBenchError.wrongResult("spawn: slot \(i)") }
        let m = s.metrics()
        return [
            BenchResult(
                name: "spawn", value: median(xs), unit: "ns/task",
                detail: [
                    "n": "\(n)", "reps": "\(reps)", "carriers": "2", "spread": spread(xs, f1), "goal": "≤200",
                    "anchor": "Go 2 Ps 279–309 ns/task; uvloop 7070; asyncio 7816; gevent 17800; pthread 36000",
                    "steals": "\(m.workers.reduce(0) { $0 + $1.stealOps })",
                    "parks": "\(m.workers.reduce(0) { $0 + $1.parks })",
                    "delay_p50_ns": "\(m.delay.p50Nanos)",
                    "cpu_ns_per_task": f1(median(cpu)),
                    "spawner_cpu_ns_per_task": f1(median(spawner)),
                    "per_rep_ns_cpu_steals_parks_runs": perRep.joined(separator: " "),
                ])
        ]
    }

    // MARK: fanout (W5)

    /// The anchors' W5 pattern: 1,000 × 1 ms and 9,000 × 10 µs, shuffled by their shared LCG (seed 42).
    static func fanoutPattern() -> [UInt64] {
        let nt = 10_000
        let nlong = 1_000
        var d = (0..<nt).map { $0 < nlong ? UInt64(1_000_000) : UInt64(10_000) }
        var st: UInt64 = 42
        var i = nt - 1
        while i > 0 {
            st = st &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let j = Int((st >> 33) % UInt64(i + 1))
            d.swapAt(i, j)
            i -= 1
        }
        return d
    }

    /// One W5 fan-out on `s`: a root fiber spawns one busy-spin fiber per `pattern` entry (ns of spin)
    /// and joins them all; wall time in ms. Shared by `fanout` and `overhead.fanout`.
    static func fanoutOnce(_ s: Scheduler, pattern: [UInt64]) -> Double {
        onFiber(s) { () -> Double in
            let t0 = qv_now_ns()
            var hs: [JoinHandle<Void>] = []
            hs.reserveCapacity(pattern.count)
            for x in pattern {
                hs.append(
                    s.spawn {
                        let end = qv_now_ns() &+ x
                        while qv_now_ns() < end {}
                    })
            }
            for h in hs { h.join() }
            return Double(qv_now_ns() &- t0) / 1e6
        }
    }

    static func fanout(_ o: BenchOptions) throws -> [BenchResult] {
        let reps = o.reps ?? 9
        let d = fanoutPattern()
        let total = d.reduce(0, +)
        let sig = d.enumerated().reduce(0) { $0 + ($1.element > 10_000 ? $1.offset : 0) }
        guard sig == 4_803_369 else { throw SchedulerBenchError.wrongResult("fanout: pattern_sig \(sig) ≠ 4803369") }
        let ideal = Double(total) / 1e6 / 2
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        _ = fanoutOnce(s, pattern: d)
        var xs: [Double] = []
        for _ in 0..<reps { xs.append(fanoutOnce(s, pattern: d)) }
        let med = median(xs)
        let ratio = med / ideal
        let m = s.metrics()
        return [
            BenchResult(
                name: "fanout", value: med, unit: "ms",
                detail: [
                    "ideal_ms": f1(ideal), "ratio": "\((ratio * 1000).rounded() / 1000)", "pattern_sig": "\(sig)",
                    "reps": "\(reps)", "spread": spread(xs, f1), "goal": "ratio ≤1.02",
                    "anchor": "Go 2 Ps 1.02×; Java ForkJoin 1.01×; C atomic queue 1.00×",
                    "runs_per_worker": m.workers.map { "\($0.runs)" }.joined(separator: "/"),
                    "busy_ms_per_worker": m.workers.map { "\($0.busyNanos / 1_000_000)" }.joined(separator: "/"),
                    "steals": "\(m.workers.reduce(0) { $0 + $1.stealOps })",
                    "parks": "\(m.workers.reduce(0) { $0 + $1.parks })",
                ]),
            BenchResult(name: "fanout-ratio", value: ratio, unit: "× ideal", detail: ["ideal_ms": f1(ideal)]),
        ]
    }

    // MARK: sleep-lag

    static func sleepLag(_ o: BenchOptions) throws -> [BenchResult] {
        let n = o.count ?? 2000
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let late = onFiber(s) { () -> [Double] in
            var xs: [Double] = []
            xs.reserveCapacity(n)
            for _ in 0..<n {
                let t0 = qv_now_ns()
                Scheduler.sleep(nanoseconds: 1_000_000)
                xs.append(Double(qv_now_ns() &- t0 &- 1_000_000) / 1000)
            }
            return xs.sorted()
        }
        func q(_ p: Double) -> Double { late[min(late.count - 1, Int(p * Double(late.count - 1)))] }
        return [
            BenchResult(
                name: "sleep-lag-p99", value: q(0.99), unit: "µs",
                detail: [
                    "p50_us": f1(q(0.5)), "p999_us": f1(q(0.999)), "max_us": f1(late.last ?? 0), "n": "\(n)",
                    "goal": "p99 ≤200 µs",
                    "anchor": "W4 idle 1 ms timer: Go p99 1.08 ms, asyncio p99 1.10 ms, uvloop p99 0.60 ms",
                ])
        ]
    }

    // MARK: channel (W1 over a channel)

    static func channel(_ o: BenchOptions) throws -> [BenchResult] {
        let n = o.count ?? 1_000_000
        let reps = o.reps ?? 7
        var results: [BenchResult] = []
        for carriers in [1, 2] {
            let s = try Scheduler(.init(carriers: carriers))
            defer { s.shutdown() }
            func once() -> Double {
                let ping = Channel<Int>()
                let pong = Channel<Int>()
                let echo = s.spawn(name: "pong") {
                    for _ in 0..<n { try? pong.send(ping.receive()!) }
                }
                let el = onFiber(s) { () -> UInt64 in
                    let t0 = qv_now_ns()
                    for i in 0..<n {
                        try? ping.send(i)
                        _ = pong.receive()
                    }
                    return qv_now_ns() &- t0
                }
                echo.join()
                return Double(el) / Double(2 * n)  // two messages per round trip, as the Go anchor counts
            }
            _ = once()
            var xs: [Double] = []
            // Per repetition (a slow rep's cause): ns and CPU ns per message, steal operations, worker parks, the
            // workers' search time (ms) and runs (k), and the process's voluntary/involuntary context switches.
            var perRep: [String] = []
            var last = s.metrics()
            for _ in 0..<reps {
                let c0 = processCPUNanos()
                let cs0 = processContextSwitches()
                xs.append(once())
                let cpu = Double(processCPUNanos() &- c0) / Double(2 * n)
                let cs1 = processContextSwitches()
                let m = s.metrics()
                let d = RepCounters(m, since: last)
                perRep.append(
                    "\(f1(xs[xs.count - 1]))/cpu\(f1(cpu))/s\(d.steals)/p\(d.parks)/q\(d.searchMs)/r\(d.runs)"
                        + "/cs\(cs1.voluntary - cs0.voluntary):\(cs1.involuntary - cs0.involuntary)"
                )
                last = m
            }
            results.append(
                BenchResult(
                    name: "channel-\(carriers)c", value: median(xs), unit: "ns/message",
                    detail: [
                        "n": "\(n)", "reps": "\(reps)", "spread": spread(xs, f1),
                        "anchor": carriers == 1 ? "Go unbuffered chan 1 P: 96 ns" : "Go 2 Ps: 104–111 ns",
                        "per_rep_ns_cpu_steals_parks_searchms_runs_csw": perRep.joined(separator: " "),
                    ]))
        }
        return results
    }
}

extension SchedulerBenchmarks {
    // MARK: yield (W1 through the scheduler: Go's `w1-gosched` on 1 P)

    /// Two fibers on one carrier each call `Scheduler.yield()` N times: every yield puts the fiber at the back of
    /// the carrier's run queue, the carrier's loop pops the other one and resumes it — a full scheduler round trip
    /// (park nothing, requeue, find, resume), as Go's `runtime.Gosched` is (there through the global run queue).
    /// The figure is wall time over the 2N yields, as the anchor counts it. A root fiber spawns the two, starts
    /// the clock and joins them (it parks once), as the anchor's main goroutine closes `start` and waits.
    static func yieldRoundTrip(_ o: BenchOptions) throws -> [BenchResult] {
        let n = o.count ?? 1_000_000
        let reps = o.reps ?? 7
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        func once() -> Double {
            onFiber(s) { () -> Double in
                let body = { for _ in 0..<n { Scheduler.yield() } }
                let t0 = qv_now_ns()
                let a = s.spawn(body)
                let b = s.spawn(body)
                a.join()
                b.join()
                return Double(qv_now_ns() &- t0) / Double(2 * n)
            }
        }
        _ = once()
        var xs: [Double] = []
        for _ in 0..<reps { xs.append(once()) }
        let m = s.metrics()
        return [
            BenchResult(
                name: "yield-1c", value: median(xs), unit: "ns/yield",
                detail: [
                    "n": "\(n)", "reps": "\(reps)", "spread": spread(xs, f1), "carriers": "1",
                    "runs": "\(m.workers.reduce(0) { $0 + $1.runs })",
                    "anchor": "Go runtime.Gosched, GOMAXPROCS=1 (goanchors w1-gosched): rerun beside it",
                ])
        ]
    }
}

enum SchedulerBenchError: Error, CustomStringConvertible {
    case wrongResult(String)
    var description: String {
        switch self {
        case .wrongResult(let s): "benchmark check failed: \(s)"
        }
    }
}

/// What the scheduler's workers did between two `metrics()` reads (one benchmark repetition), for the per-rep
/// detail of `spawn` and `channel`: steal operations and parks summed over the workers, and per worker its runs
/// (thousands) and its search time (ms), joined by ":".
struct RepCounters {
    let steals: UInt64
    let parks: UInt64
    let runs: String
    let searchMs: String

    init(_ m: SchedulerMetrics, since last: SchedulerMetrics) {
        steals = m.workers.reduce(0) { $0 + $1.stealOps } - last.workers.reduce(0) { $0 + $1.stealOps }
        parks = m.workers.reduce(0) { $0 + $1.parks } - last.workers.reduce(0) { $0 + $1.parks }
        runs = zip(m.workers, last.workers).map { "\(($0.runs &- $1.runs) / 1000)k" }.joined(separator: ":")
        searchMs = zip(m.workers, last.workers).map { "\(($0.searchNanos &- $1.searchNanos) / 1_000_000)" }
            .joined(separator: ":")
    }
}
