// UI benchmarks: `render` — building and drawing one full 200×60 frame of panels from a busy
// snapshot (issue 7 goal: ≤ 1 ms per frame, so qvtop at 10 Hz spends well under 3 % of a core
// on its UI thread). `overhead` (telemetry and sampling against telemetry off) comes with the
// runtime's sampler and is not here yet.
import Dashboard
import Telemetry

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Benchmarks of this area, joined by `BenchRegistry`.
public enum UIBenchmarks {
    public static let all: [Benchmark] = [
        Benchmark(
            name: "render",
            summary: "build and draw a full 200×60 panel frame from a busy snapshot, per model (ms/frame; goal ≤ 1)",
            run: { render($0) })
    ]

    /// Monotonic nanoseconds.
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func render(_ o: BenchOptions) -> [BenchResult] {
        let frames = o.count ?? 200
        let reps = o.reps ?? 5
        let size = Size(200, 60)
        var results: [BenchResult] = []
        for (name, make) in busySnapshots() {
            var history = PanelHistory()
            var last = make(0)
            for i in 0..<PanelHistory.defaultCapacity {
                last = make(i)
                history.append(last)
            }
            let snapshot = last
            var perFrame: [Double] = []
            var checksum = 0
            for _ in 0..<reps {
                let t0 = now()
                for _ in 0..<frames {
                    // A whole frame: a fresh grid (as the app loop builds one per frame) and every panel.
                    var grid = Grid(size: size)
                    DashboardPanels.draw(
                        into: &grid, rect: Rect(0, 1, size.width, size.height - 2), snapshot: snapshot,
                        history: history)
                    checksum &+= Int(grid[size.width / 2, size.height / 2].scalar.value)
                }
                perFrame.append(Double(now() - t0) / Double(frames) / 1e6)
            }
            let sorted = perFrame.sorted()
            let median = sorted[sorted.count / 2]
            results.append(
                BenchResult(
                    name: "render.\(name)", value: median, unit: "ms/frame",
                    detail: [
                        "size": "200x60", "frames": "\(frames)", "reps": "\(reps)",
                        "spread": "\(fmt(sorted.first ?? 0))–\(fmt(sorted.last ?? 0))", "goal": "≤ 1 ms",
                        "checksum": "\(checksum)",
                    ]))
        }
        return results
    }

    static func fmt(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return "\(r)"
    }

    /// Busy snapshots of each model: many carriers/loops, full queues, a burst of events per interval.
    static func busySnapshots() -> [(String, (Int) -> Snapshot)] {
        let kinds = ["web", "hash", "disk", "batch", "scatter", "chan"].enumerated().map { i, k in
            TaskKindStats(
                kind: k, started: 100_000, completed: 99_000, inFlight: 40 + i, p50Ms: 2.5 + Double(i),
                p99Ms: 12 + Double(i), throughput: 1500 - 100 * Double(i))
        }
        func lag(_ i: Int) -> LagSummary {
            LagSummary(
                p50Ms: 0.4, p99Ms: 8, maxMs: 60, slotP99Ms: 9, recentMs: Double((i * 7) % 13),
                buckets: [1000, 3000, 2000, 900, 400, 120, 40, 9, 2, 1])
        }
        func events(_ i: Int, workers: Int) -> [RuntimeEvent] {
            (0..<64).map { k in
                let t = Double(i) / 10
                switch k % 4 {
                case 0:
                    return RuntimeEvent(time: t, kind: .steal, worker: k % workers, other: (k + 1) % workers, count: 3)
                case 1: return RuntimeEvent(time: t, kind: .workerPark, worker: k % workers)
                case 2: return RuntimeEvent(time: t, kind: .workerUnpark, worker: k % workers)
                default:
                    return RuntimeEvent(
                        time: t, kind: .blockingEnd, worker: k % workers, durationMs: 20 + Double(k), name: "disk-\(k)")
                }
            }
        }
        let fibers: (Int) -> Snapshot = { i in
            let workers = (0..<8).map { (k: Int) -> WorkerSnapshot in
                let busy = Double((i + k) % 10) / 10
                let state: WorkerState = k == 3 ? .pinned : .running
                return WorkerSnapshot(
                    id: k, state: state, runs: UInt64(1000 * i + k), stealOps: UInt64(i),
                    stolenIn: UInt64(3 * i + k), stolenOut: UInt64(2 * i), queueDepth: (i * (k + 3)) % 256,
                    queueCapacity: 256, maxQueueDepth: 255, busyRatio: busy,
                    currentFiber: "fiber-\(i * 8 + k)", currentKind: "web")
            }
            return Snapshot(
                time: Double(i) / 10, sequence: UInt64(i), preset: "bench", presetTitle: "busy", model: .virtualThreads,
                workers: workers, injectorDepth: 100,
                fibers: FiberCounts(
                    total: 100_000, running: 8, runnable: 3000, parkedSleep: 50_000, parkedIO: 30_000,
                    parkedChannel: 10_000, parkedMutex: 3000, parkedJoin: 3992),
                lag: lag(i), taskKinds: kinds, events: events(i, workers: 8))
        }
        let loops: (Int) -> Snapshot = { i in
            let ls = (0..<6).map { (k: Int) -> LoopSnapshot in
                let busy = Double((i + k) % 10) / 10
                return LoopSnapshot(
                    id: k, readyDepth: (i + k) % 50, maxReadyDepth: 60, timersPending: 100, tasksAlive: 5000,
                    jobsRun: UInt64(i * 1000), slowCallbacks: UInt64(i), busyRatio: busy,
                    current: "web-\(i)", lag: lag(i + k))
            }
            return Snapshot(
                time: Double(i) / 10, sequence: UInt64(i), preset: "bench", presetTitle: "busy", model: .loopPerThread,
                loops: ls, pool: PoolSnapshot(threads: 8, busy: 5, queueDepth: 20, completed: 1000, shared: true),
                lag: lag(i), taskKinds: kinds, events: events(i, workers: 6))
        }
        let loop: (Int) -> Snapshot = { i in
            var s = loops(i)
            s.model = .eventLoop
            s.loops = [s.loops[0]]
            return s
        }
        return [("virtual-threads", fibers), ("loop-per-thread", loops), ("event-loop", loop)]
    }
}
