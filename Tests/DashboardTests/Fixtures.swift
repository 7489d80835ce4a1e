import Telemetry

@testable import Dashboard

/// Fixed snapshots for deterministic screens.
enum Fixtures {
    static func snapshot(sequence: UInt64 = 42) -> Snapshot {
        let states: [WorkerState] = [.running, .running, .spinning, .parked]
        let workers = (0..<4).map { i in
            WorkerSnapshot(
                id: i, state: states[i], runs: UInt64(1000 * (i + 1)), stealOps: UInt64(3 * i), stolenIn: UInt64(5 * i),
                queueDepth: [12, 3, 0, 0][i], queueCapacity: 256, busyNanos: 0, busyRatio: [0.92, 0.55, 0.1, 0][i],
                currentFiber: i < 2 ? "handler-\(i)" : nil, currentKind: i < 2 ? "request" : nil)
        }
        return Snapshot(
            time: 12.5, sequence: sequence, preset: "virtual-threads", presetTitle: "Virtual threads, work stealing",
            model: .virtualThreads, workers: workers, injectorDepth: 7,
            fibers: FiberCounts(
                total: 1000, running: 2, runnable: 15, parkedSleep: 400, parkedIO: 500, parkedChannel: 80,
                parkedMutex: 3),
            lag: LagSummary(p50Ms: 0.21, p99Ms: 3.4, maxMs: 17, recentMs: Double(sequence % 8)),
            droppedEvents: 0)
    }

    /// A snapshot stream whose lag history makes a visible sparkline.
    static func data(count: Int = 40) -> ViewData {
        var d = ViewData(sourceAttached: true)
        for i in 0..<count { d.ingest(snapshot(sequence: UInt64(i))) }
        return d
    }
}
