import Dashboard
import Telemetry

/// `qvtop run --synthetic` (hidden): made-up streams of snapshots, so the dashboard, its pause, its
/// panels and live preset switching can be tried and tested end to end without a runtime. Every
/// value is invented; the header says so ("synthetic"). Deterministic per poll, except `time`,
/// which is real elapsed time.
///
/// Only the UI thread calls `poll` and `stop` (the `SnapshotSource` contract).
final class SyntheticSource: SnapshotSource {
    /// The synthetic presets: one per model, for `PresetMenu`.
    static let presets: [(info: PresetInfo, model: SchedulerModel)] = [
        (
            PresetInfo(
                name: "synthetic-vt", title: "synthetic: virtual threads (no runtime)",
                explanation: "Made-up numbers on the virtual-threads screen: carriers, run queues, steals."),
            .virtualThreads
        ),
        (
            PresetInfo(
                name: "synthetic-loop", title: "synthetic: event loop + to_thread (no runtime)",
                explanation: "Made-up numbers on the event-loop screen: ready queue, timers, a to_thread pool."),
            .eventLoop
        ),
        (
            PresetInfo(
                name: "synthetic-lpt", title: "synthetic: loop per thread (no runtime)",
                explanation: "Made-up numbers on the loop-per-thread screen: one loop per thread."),
            .loopPerThread
        ),
    ]

    private var sequence: UInt64 = 0
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private let workers: Int
    private let index: Int

    /// Synthetic preset `index` of `presets`.
    init(index: Int = 0, workers: Int = 4) {
        self.index = max(0, min(index, Self.presets.count - 1))
        self.workers = workers
        start = clock.now
    }

    /// Live switching between the synthetic presets.
    static func menu(startingAt index: Int) -> PresetMenu {
        PresetMenu(presets: presets.map(\.info), current: index) { i, running in
            running?.stop()
            return (SyntheticSource(index: i), [])
        }
    }

    func poll() -> Snapshot? {
        sequence += 1
        let n = Double(sequence)
        let elapsed = clock.now - start
        let t = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        // A slow wave per worker, phase-shifted, so bars move.
        func wave(_ i: Int, _ period: Double) -> Double {
            let x = (n / period + Double(i) / Double(max(1, workers))).truncatingRemainder(dividingBy: 1)
            return x < 0.5 ? 2 * x : 2 - 2 * x
        }
        let (info, model) = Self.presets[index]
        var s = Snapshot(
            time: t, sequence: sequence, preset: info.name, presetTitle: info.title, model: model,
            lag: LagSummary(p50Ms: 0.3, p99Ms: 4.2, maxMs: 5.2, recentMs: 0.2 + 5 * wave(0, 13)))
        switch model {
        case .virtualThreads, .greenThreads:
            s.workers = (0..<workers).map { i in
                WorkerSnapshot(
                    id: i, state: wave(i, 40) > 0.1 ? .running : .parked, runs: sequence * UInt64(10 + i),
                    queueDepth: Int(wave(i, 25) * 40), queueCapacity: 256, busyRatio: wave(i, 40),
                    currentFiber: "fiber-\((Int(n) / 7 + 31 * i) % 97)", currentKind: "synthetic")
            }
            s.injectorDepth = Int(wave(1, 17) * 10)
            s.fibers = FiberCounts(total: 1000, running: workers, runnable: 20, parkedSleep: 500, parkedIO: 476)
        case .eventLoop, .loopPerThread:
            let loops = model == .eventLoop ? 1 : workers
            s.loops = (0..<loops).map { i in
                LoopSnapshot(
                    id: i, readyDepth: Int(wave(i, 20) * 30), timersPending: 12 + i, tasksAlive: 200,
                    jobsRun: sequence * 50, busyRatio: wave(i, 30), current: "task-\((Int(n) / 5 + 13 * i) % 50)")
            }
            s.pool = PoolSnapshot(threads: 4, busy: Int(wave(2, 15) * 4), queueDepth: Int(wave(3, 11) * 8))
        case .asyncioMN:
            // Not in `presets` (the real asyncio-mn preset runs its own runtime); drawn like a single loop.
            s.loops = [LoopSnapshot(id: 0, jobsRun: sequence * 50, busyRatio: wave(0, 30))]
        case .threads:
            let list = (0..<workers * 8).map { i in
                ThreadSnapshot(
                    id: i, state: wave(i, 40) > 0.5 ? .running : .sleep, kind: "synthetic", stateMs: 40 * wave(i, 9),
                    busyRatio: wave(i, 40))
            }
            let running = list.filter { $0.state == .running }.count
            s.threads = ThreadsSnapshot(
                capacity: 2000, alive: list.count, peakRecent: list.count, peak: list.count, created: sequence * 10,
                createdPerSecond: 100, running: running, blocked: list.count - running,
                blockedByState: ["sleep": list.count - running], busyThreads: Double(running), list: list)
        }
        return s
    }

    func stop() {}
}
