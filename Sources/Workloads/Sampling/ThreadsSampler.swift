// ThreadsSampler: one read of the threads model (its slot table and counters) → the runtime part of a `Snapshot`.
//
// Part of the one sampling layer (with FiberSampler and LoopSampler): every threads figure is derived here.
// A thread's state is what the thread itself recorded in its slot before it entered the call (see
// Models/Blocking.swift), never /proc. Busy is BusyWindow's definition (Δ busy ns / Δ wall ns over the
// trailing second) per slot, busy ns being the CPU time its threads used (their own CPU clock: a thread in
// `running` may be waiting for a core); `busyThreads` is their sum: CPUs' worth of time the tasks used.
//
// Ownership: a value owned by the one sampling thread. Its caller (ThreadsModel.sample) reads the slots and
// counters (atomics only: no lock a task thread waits on) into a `ThreadsRead` and passes it in.

import Telemetry

/// One read of the threads model, as its caller took it.
struct ThreadsRead: Sendable {
    var mode: ThreadsMode
    /// Every slot of the table, by id.
    var slots: [ThreadSlot.Reading]
    var alive: Int
    var peakRecent: Int
    var peak: Int
    var created: UInt64
    var createFailed: UInt64
    /// 0: no failure yet.
    var lastCreateError: Int32
    var refusedAtCap: UInt64
    /// Pool mode only.
    var queueDepth: Int?
    // The pool's queue peak (issue 15, wave 3).
    /// Pool mode only: the queue's highest depth since the previous sample (taken: the sampler resets it).
    var queuePeak: Int? = nil
}

/// Builds threads-model snapshots. Owned by one sampling thread.
struct ThreadsSampler: Sendable {
    /// Spec names by spec index (a slot records the index).
    let kinds: [String]
    private var busy = BusyWindow()
    /// (time, created) at recent samples, for created/s over the trailing second.
    private var createdMarks: [(time: Double, created: UInt64)] = []

    init(kinds: [String]) { self.kinds = kinds }

    mutating func sample(_ read: ThreadsRead, into snapshot: inout Snapshot) {
        let first = createdMarks.isEmpty
        let ratios = busy.ratios(time: snapshot.time, busy: read.slots.map(\.busyNanos))
        var t = ThreadsSnapshot(
            mode: read.mode.name, capacity: read.mode.capacity, alive: read.alive, peakRecent: read.peakRecent,
            peak: read.peak, created: read.created, createdPerSecond: createdPerSecond(snapshot.time, read.created),
            createFailed: read.createFailed, lastCreateError: read.lastCreateError == 0 ? nil : read.lastCreateError,
            refusedAtCap: read.refusedAtCap, queueDepth: read.queueDepth,
            busyThreads: first ? nil : ratios.reduce(0, +))
        t.queuePeak = read.queuePeak
        let pool: Bool
        if case .pool = read.mode { pool = true } else { pool = false }
        var counts = FiberCounts()
        for (i, r) in read.slots.enumerated() {
            // Per-task mode: an idle slot holds no thread (or one that is exiting): not listed, not counted.
            if r.state == .idle && !pool { continue }
            switch r.state {
            case .running: t.running += 1
            case .idle: t.idle += 1
            default:
                t.blocked += 1
                t.blockedByState[r.state.rawValue, default: 0] += 1
            }
            if t.list.count < ThreadsSnapshot.listedLimit {
                t.list.append(
                    ThreadSnapshot(
                        id: i, state: r.state, kind: r.kind >= 0 && r.kind < kinds.count ? kinds[r.kind] : nil,
                        stateMs: Double(r.stateNanos) / 1e6, busyRatio: first ? nil : ratios[i]))
            }
        }
        // Tasks by state, as the other models report theirs (a memory panel reads `parked` from here).
        counts.total = t.running + t.blocked
        counts.running = t.running
        counts.parkedSleep = t.blocked(in: .sleep)
        counts.parkedIO = t.blocked(in: .read) + t.blocked(in: .write) + t.blocked(in: .connect)
        counts.parkedChannel = t.blocked(in: .channel)
        counts.parkedJoin = t.blocked(in: .join)
        snapshot.fibers = counts
        snapshot.busyWindowSeconds = BusyWindow.seconds
        snapshot.threads = t
    }

    /// Threads created per second over the trailing second; nil on the first sample.
    private mutating func createdPerSecond(_ time: Double, _ created: UInt64) -> Double? {
        while createdMarks.count > 1, createdMarks[1].time <= time - BusyWindow.seconds { createdMarks.removeFirst() }
        defer { createdMarks.append((time, created)) }
        guard let oldest = createdMarks.first, time > oldest.time else { return nil }
        return Double(created &- oldest.created) / (time - oldest.time)
    }
}
