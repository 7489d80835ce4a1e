import Telemetry

/// `qvtop run --synthetic` (hidden): a made-up stream of snapshots, so the dashboard, its pause and
/// its panels can be tried and tested end to end without a runtime. Every value is invented; the
/// header says so ("synthetic"). Deterministic per poll, except `time`, which is real elapsed time.
///
/// Only the UI thread calls `poll` and `stop` (the `SnapshotSource` contract).
final class SyntheticSource: SnapshotSource {
    private var sequence: UInt64 = 0
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private let workers: Int

    init(workers: Int = 4) {
        self.workers = workers
        start = clock.now
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
        let ws = (0..<workers).map { i in
            WorkerSnapshot(
                id: i, state: wave(i, 40) > 0.1 ? .running : .parked, runs: sequence * UInt64(10 + i),
                queueDepth: Int(wave(i, 25) * 40), queueCapacity: 256, busyRatio: wave(i, 40),
                currentFiber: "fiber-\((Int(n) / 7 + 31 * i) % 97)", currentKind: "synthetic")
        }
        let lag = 0.2 + 5 * wave(0, 13)
        return Snapshot(
            time: t, sequence: sequence, preset: "synthetic", presetTitle: "synthetic data (no runtime)",
            model: .virtualThreads, workers: ws, injectorDepth: Int(wave(1, 17) * 10),
            fibers: FiberCounts(total: 1000, running: workers, runnable: 20, parkedSleep: 500, parkedIO: 476),
            lag: LagSummary(p50Ms: 0.3, p99Ms: 4.2, maxMs: 5.2, recentMs: lag))
    }

    func stop() {}
}
