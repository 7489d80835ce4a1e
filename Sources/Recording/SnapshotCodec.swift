// SnapshotCodec: record payloads, and the compact encoding of `Snapshot`.
//
// Both sides keep the same state, updated record by record in file order: the previous
// snapshot (integers are zigzag deltas against the same field of it; doubles are "same as
// before", "small whole number" or 8 raw bytes) and the string table (a string is written
// inline the first time and as a small id afterwards). Array elements are matched by
// index with the previous frame; a new element is encoded against a default value.
// Enum codes below are on disk: never renumber, only add.
//
// Versions: format 2 appends the figures added after format 1 (optional values: a presence byte,
// then the value) at the end of each structure's fields; a format-1 file decodes with them nil,
// which the dashboard shows as "n/a". The encoder can still write format 1 (the golden-file test
// keeps a file of each version and checks both byte for byte).
import Telemetry

// MARK: - Enum codes

extension SchedulerModel {
    var code: UInt8 {
        switch self {
        case .eventLoop: 0
        case .loopPerThread: 1
        case .virtualThreads: 2
        case .greenThreads: 3
        case .threads: 4
        case .asyncioMN: 5
        }
    }

    init(code: UInt8) throws(DecodeError) {
        switch code {
        case 0: self = .eventLoop
        case 1: self = .loopPerThread
        case 2: self = .virtualThreads
        case 3: self = .greenThreads
        case 4: self = .threads
        case 5: self = .asyncioMN
        default: throw DecodeError(reason: "unknown scheduler model \(code)")
        }
    }
}

extension WorkerState {
    var code: UInt8 {
        switch self {
        case .running: 0
        case .spinning: 1
        case .parked: 2
        case .pinned: 3
        case .handedOff: 4
        case .stopped: 5
        }
    }

    init(code: UInt8) throws(DecodeError) {
        switch code {
        case 0: self = .running
        case 1: self = .spinning
        case 2: self = .parked
        case 3: self = .pinned
        case 4: self = .handedOff
        case 5: self = .stopped
        default: throw DecodeError(reason: "unknown worker state \(code)")
        }
    }
}

extension EventKind {
    var code: UInt8 {
        switch self {
        case .spawnBatch: 0
        case .steal: 1
        case .workerPark: 2
        case .workerUnpark: 3
        case .pin: 4
        case .handoff: 5
        case .blockingBegin: 6
        case .blockingEnd: 7
        case .slowCallback: 8
        case .lagSpike: 9
        case .presetSwitch: 10
        case .bookmark: 11
        }
    }

    init(code: UInt8) throws(DecodeError) {
        switch code {
        case 0: self = .spawnBatch
        case 1: self = .steal
        case 2: self = .workerPark
        case 3: self = .workerUnpark
        case 4: self = .pin
        case 5: self = .handoff
        case 6: self = .blockingBegin
        case 7: self = .blockingEnd
        case 8: self = .slowCallback
        case 9: self = .lagSpike
        case 10: self = .presetSwitch
        case 11: self = .bookmark
        default: throw DecodeError(reason: "unknown event kind \(code)")
        }
    }
}

// Plain OS threads (the threads model).
/// Tags of the sections after a frame's task-kind extension (on disk: never renumber, only add).
enum SnapshotSection {
    /// Plain OS threads (the threads model).
    static let threads: UInt64 = 1
    /// The asyncio invariant: the M:N loop's section.
    static let mnLoop: UInt64 = 2
    /// Figures a real Python loop does not expose (issue 16).
    static let absentLoopFigures: UInt64 = 5
    // The M:N loop's own heartbeat lag (issue 15, wave 3).
    /// The M:N loop's heartbeat lag; written after the M:N loop's section (it fills in `mnLoop.lag`).
    static let mnLoopLag: UInt64 = 23
    // The threads model's pool queue peak (issue 15, wave 3).
    /// The pool's queue peak; written after the threads section (it fills in `threads.queuePeak`).
    static let threadsQueuePeak: UInt64 = 24
    /// Memory per parked task on plain threads: the kernel-side figures (after the memory section).
    static let memoryKernel: UInt64 = 6
    // 0x4D (77): memory per parked task, `RecordingFormat.memorySectionTag` (one byte, the same as its varint).
    /// gevent hub figures (issue 16): 0x47 ("G"), one byte as a varint.
    static let geventHub: UInt64 = 0x47
    // A CPython program's task census (issue 16).
    /// Tasks by state and by what they await (`Snapshot.taskCensus`).
    static let taskCensus: UInt64 = 7
}

extension ThreadState {
    var code: UInt8 {
        switch self {
        case .running: 0
        case .sleep: 1
        case .read: 2
        case .write: 3
        case .connect: 4
        case .join: 5
        case .channel: 6
        case .idle: 7
        }
    }

    init(code: UInt8) throws(DecodeError) {
        switch code {
        case 0: self = .running
        case 1: self = .sleep
        case 2: self = .read
        case 3: self = .write
        case 4: self = .connect
        case 5: self = .join
        case 6: self = .channel
        case 7: self = .idle
        default: throw DecodeError(reason: "unknown thread state \(code)")
        }
    }
}

// The asyncio invariant: an M:N loop thread's state.
extension MNThreadState {
    var code: UInt8 {
        switch self {
        case .running: 0
        case .searching: 1
        case .parked: 2
        case .stopped: 3
        }
    }

    init(code: UInt8) throws(DecodeError) {
        switch code {
        case 0: self = .running
        case 1: self = .searching
        case 2: self = .parked
        case 3: self = .stopped
        default: throw DecodeError(reason: "unknown M:N thread state \(code)")
        }
    }
}

// Figures a real Python loop does not expose (issue 16).
/// Bits of the absent-loop-figures section (on disk: never renumber, only add).
enum LoopFigure {
    static let readyDepth: UInt8 = 1
    static let maxReadyDepth: UInt8 = 2
    static let timersPending: UInt8 = 4
    static let tasksAlive: UInt8 = 8
    static let jobsRun: UInt8 = 16
    static let busyRatio: UInt8 = 32
}

extension LoopSnapshot {
    /// The `LoopFigure` bits of the figures this loop lacks.
    var absentFigures: UInt8 {
        (readyDepth == nil ? LoopFigure.readyDepth : 0) | (maxReadyDepth == nil ? LoopFigure.maxReadyDepth : 0)
            | (timersPending == nil ? LoopFigure.timersPending : 0) | (tasksAlive == nil ? LoopFigure.tasksAlive : 0)
            | (jobsRun == nil ? LoopFigure.jobsRun : 0) | (busyRatio == nil ? LoopFigure.busyRatio : 0)
    }

    /// Sets the figures of `bits` to nil (the decoder, after their zero placeholders were read).
    mutating func clearFigures(_ bits: UInt8) {
        if bits & LoopFigure.readyDepth != 0 { readyDepth = nil }
        if bits & LoopFigure.maxReadyDepth != 0 { maxReadyDepth = nil }
        if bits & LoopFigure.timersPending != 0 { timersPending = nil }
        if bits & LoopFigure.tasksAlive != 0 { tasksAlive = nil }
        if bits & LoopFigure.jobsRun != 0 { jobsRun = nil }
        if bits & LoopFigure.busyRatio != 0 { busyRatio = nil }
    }
}

// MARK: - Encoder

/// Turns recorder items into framed records. Stateful (previous frame, string table):
/// owned by one thread — the recorder's writer thread, or a test.
struct RecordEncoder {
    /// The format version written (the current one, or 1 for the golden-file test).
    let version: UInt16
    private var previous = Snapshot()
    private var strings: [String: UInt64] = [:]
    private var w = ByteWriter()

    init(version: UInt16 = RecordingFormat.version) { self.version = version }

    /// The file header plus the metadata record.
    mutating func start(_ m: RecordingMetadata) -> [UInt8] {
        var out = Framing.fileHeader(version: version)
        w = ByteWriter()
        w.string(m.qvtopVersion)
        w.varint(UInt64(version))
        w.varint(UInt64(clamping: m.columns))
        w.varint(UInt64(clamping: m.rows))
        w.varint(UInt64(clamping: m.cores))
        w.f64(m.startTime)
        w.f64(m.sampleHz)
        let extra = m.extra.sorted { $0.key < $1.key }
        w.varint(UInt64(extra.count))
        for (k, v) in extra {
            w.string(k)
            w.string(v)
        }
        Framing.appendRecord(kind: .metadata, payload: w.bytes, to: &out)
        return out
    }

    /// A snapshot record, followed by an events record when the snapshot has events.
    mutating func snapshot(_ s: Snapshot, into out: inout [UInt8]) {
        w = ByteWriter()
        encodeSnapshot(s)
        Framing.appendRecord(kind: .snapshot, payload: w.bytes, to: &out)
        if !s.events.isEmpty {
            w = ByteWriter()
            encodeEvents(s.events, frameTime: s.time)
            Framing.appendRecord(kind: .events, payload: w.bytes, to: &out)
        }
        previous = s
        previous.events = []
    }

    mutating func presetSwitch(_ p: PresetSwitch, into out: inout [UInt8]) {
        w = ByteWriter()
        w.f64(p.time)
        w.string(p.name)
        w.string(p.title)
        w.string(p.text)
        Framing.appendRecord(kind: .presetSwitch, payload: w.bytes, to: &out)
    }

    mutating func bookmark(_ b: Bookmark, into out: inout [UInt8]) {
        w = ByteWriter()
        w.f64(b.time)
        w.string(b.label)
        Framing.appendRecord(kind: .bookmark, payload: w.bytes, to: &out)
    }

    mutating func end(_ e: RecordingEnd, into out: inout [UInt8]) {
        w = ByteWriter()
        w.varint(e.framesWritten)
        w.varint(e.framesDropped)
        Framing.appendRecord(kind: .end, payload: w.bytes, to: &out)
    }

    // MARK: fields

    private mutating func int(_ v: Int, _ prev: Int) { w.svarint(Int64(v) &- Int64(prev)) }
    private mutating func u64(_ v: UInt64, _ prev: UInt64) { w.svarint(Int64(bitPattern: v &- prev)) }

    /// 0 = same bits as `prev`; 2 + varint = a whole number in 0..<2^53; 1 + 8 bytes otherwise.
    private mutating func dbl(_ v: Double, _ prev: Double) {
        if v.bitPattern == prev.bitPattern {
            w.u8(0)
        } else if v >= 0, v < 9_007_199_254_740_992, v == v.rounded(.towardZero),
            Double(UInt64(v)).bitPattern == v.bitPattern
        {
            w.u8(2)
            w.varint(UInt64(v))
        } else {
            w.u8(1)
            w.f64(v)
        }
    }

    /// Format 2 optionals: u8 0 = nil; u8 1 + the value, against the previous value (0 when it was nil).
    private mutating func optInt(_ v: Int?, _ prev: Int?) {
        guard let v else { return w.u8(0) }
        w.u8(1)
        int(v, prev ?? 0)
    }

    private mutating func optU64(_ v: UInt64?, _ prev: UInt64?) {
        guard let v else { return w.u8(0) }
        w.u8(1)
        u64(v, prev ?? 0)
    }

    private mutating func optDbl(_ v: Double?, _ prev: Double?) {
        guard let v else { return w.u8(0) }
        w.u8(1)
        dbl(v, prev ?? 0)
    }

    private mutating func delay(_ d: DelaySummary?, _ prev: DelaySummary?) {
        guard let d else { return w.u8(0) }
        w.u8(1)
        let p = prev ?? DelaySummary()
        u64(d.samples, p.samples)
        int(d.sampling, p.sampling)
        dbl(d.p50Ms, p.p50Ms)
        dbl(d.p99Ms, p.p99Ms)
        dbl(d.maxMs, p.maxMs)
        if let b = d.log2Buckets {
            w.varint(UInt64(b.count) + 1)
            let pb = p.log2Buckets ?? []
            for (i, x) in b.enumerated() { u64(x, i < pb.count ? pb[i] : 0) }
        } else {
            w.varint(0)
        }
    }

    /// 0 = nil; 1 = new string inline (joins the table); 2 + id = table entry.
    private mutating func str(_ s: String?) {
        guard let s else { return w.varint(0) }
        if let id = strings[s] {
            w.varint(id + 2)
            return
        }
        w.varint(1)
        w.string(s)
        if strings.count < RecordingFormat.maxStringTable { strings[s] = UInt64(strings.count) }
    }

    private mutating func encodeSnapshot(_ s: Snapshot) {
        let p = previous
        dbl(s.time, p.time)
        u64(s.sequence, p.sequence)
        str(s.preset)
        str(s.presetTitle)
        w.u8(s.model.code)
        w.varint(UInt64(s.workers.count))
        for (i, x) in s.workers.enumerated() {
            encodeWorker(x, i < p.workers.count ? p.workers[i] : WorkerSnapshot(id: i))
        }
        w.varint(UInt64(s.loops.count))
        for (i, x) in s.loops.enumerated() {
            encodeLoop(x, i < p.loops.count ? p.loops[i] : LoopSnapshot(id: i))
        }
        if let pool = s.pool {
            w.u8(1)
            let pp = p.pool ?? PoolSnapshot(threads: 0)
            int(pool.threads, pp.threads)
            int(pool.busy, pp.busy)
            int(pool.queueDepth, pp.queueDepth)
            u64(pool.completed, pp.completed)
            w.u8(pool.shared ? 1 : 0)
            if version >= 2 {
                optInt(pool.queuePeak, pp.queuePeak)
                if let ts = pool.threadStates {
                    w.varint(UInt64(ts.count) + 1)
                    let pts = pp.threadStates ?? []
                    for (i, t) in ts.enumerated() {
                        let pt = i < pts.count ? pts[i] : PoolThreadSnapshot(id: i)
                        int(t.id, pt.id)
                        str(t.kind)
                        dbl(t.runningMs, pt.runningMs)
                        optDbl(t.busyRatio, pt.busyRatio)
                    }
                } else {
                    w.varint(0)
                }
            }
        } else {
            w.u8(0)
        }
        int(s.injectorDepth, p.injectorDepth)
        let f = s.fibers
        let pf = p.fibers
        int(f.total, pf.total)
        int(f.running, pf.running)
        int(f.runnable, pf.runnable)
        int(f.parkedSleep, pf.parkedSleep)
        int(f.parkedIO, pf.parkedIO)
        int(f.parkedChannel, pf.parkedChannel)
        int(f.parkedMutex, pf.parkedMutex)
        int(f.parkedJoin, pf.parkedJoin)
        int(f.blockedPinned, pf.blockedPinned)
        int(f.blockedHandoff, pf.blockedHandoff)
        encodeLag(s.lag, p.lag)
        w.varint(UInt64(s.taskKinds.count))
        for (i, k) in s.taskKinds.enumerated() {
            let pk = i < p.taskKinds.count ? p.taskKinds[i] : TaskKindStats(kind: "")
            str(k.kind)
            u64(k.started, pk.started)
            u64(k.completed, pk.completed)
            int(k.inFlight, pk.inFlight)
            dbl(k.p50Ms, pk.p50Ms)
            dbl(k.p99Ms, pk.p99Ms)
            dbl(k.throughput, pk.throughput)
        }
        u64(s.droppedEvents, p.droppedEvents)
        if version >= 2 {
            delay(s.readyDelay, p.readyDelay)
            optInt(s.injectorPeak, p.injectorPeak)
            optDbl(s.busyWindowSeconds, p.busyWindowSeconds)
            let absent = s.loops.map(\.absentFigures)
            let loopsLackFigures = absent.contains { $0 != 0 }
            let geventHub = s.tasksUncounted != nil || s.loops.contains { $0.gevent != nil }
            encodeTaskKindExtension(
                s.taskKinds, p.taskKinds,
                sectionsFollow: s.threads != nil || s.mnLoop != nil || s.memory != nil || loopsLackFigures
                    || geventHub || s.taskCensus != nil)
            // Plain OS threads (the threads model): tagged sections after the task-kind extension.
            if let t = s.threads { encodeThreads(t, p.threads) }
            // The pool's queue peak: a tagged section of its own, after the threads section.
            if let peak = s.threads?.queuePeak {
                w.varint(SnapshotSection.threadsQueuePeak)
                optInt(peak, p.threads?.queuePeak)
            }
            // The asyncio invariant (issue 15): a tagged section after the task-kind extension.
            if let m = s.mnLoop { encodeMNLoop(m, p.mnLoop) }
            // The M:N loop's own heartbeat lag: a tagged section of its own, after the M:N loop's.
            if let l = s.mnLoop?.lag { encodeMNLoopLag(l, p.mnLoop?.lag) }
            // Memory per parked task: a tagged section (its tag is one byte, the same as its varint).
            encodeMemorySection(s.memory, p.memory)
            // Memory per parked task on plain threads: only when a kernel-side figure was measured.
            if let m = s.memory, m.pageTablesPerParked != nil || m.kernelStacksPerParked != nil {
                encodeMemoryKernel(m, p.memory)
            }
            // Figures a real Python loop does not expose (issue 16).
            if loopsLackFigures { encodeAbsentLoopFigures(absent) }
            // gevent hub figures (issue 16).
            if geventHub { encodeGeventHub(s, p) }
            // A CPython program's task census (issue 16).
            if let c = s.taskCensus { encodeTaskCensus(c, p.taskCensus ?? TaskCensus()) }
        }
    }

    /// The task-census section: its tag, then the eight counts as deltas against the previous frame's census (a
    /// zero census when that had none). Only frames with a census have it; every other frame, and every file
    /// written before it, decodes `taskCensus` as nil.
    private mutating func encodeTaskCensus(_ c: TaskCensus, _ p: TaskCensus) {
        w.varint(SnapshotSection.taskCensus)
        for (v, pv) in zip(c.states, p.states) { int(v.count, pv.count) }
    }

    // MARK: gevent hub figures (issue 16)

    /// The gevent-hub section: its tag; `tasksUncounted` (0 nil, 1 false, 2 true); the loop count; per loop
    /// a presence byte, then its `GeventHubSnapshot` against the previous frame's same loop (a default one when
    /// that had none): switches, switches per second, monitor reports, the last report (a presence byte, time,
    /// name, threshold). Written only when a frame has a hub or uncounted tasks: frames of every other source,
    /// and every file written before it, have none and decode with `gevent` and `tasksUncounted` nil.
    private mutating func encodeGeventHub(_ s: Snapshot, _ p: Snapshot) {
        w.varint(SnapshotSection.geventHub)
        w.u8(s.tasksUncounted.map { $0 ? 2 : 1 } ?? 0)
        w.varint(UInt64(s.loops.count))
        for (i, l) in s.loops.enumerated() {
            guard let g = l.gevent else {
                w.u8(0)
                continue
            }
            w.u8(1)
            let pg = (i < p.loops.count ? p.loops[i].gevent : nil) ?? GeventHubSnapshot()
            u64(g.switches, pg.switches)
            optDbl(g.switchesPerSecond, pg.switchesPerSecond)
            optU64(g.monitorReports, pg.monitorReports)
            guard let r = g.lastReport else {
                w.u8(0)
                continue
            }
            w.u8(1)
            dbl(r.time, pg.lastReport?.time ?? 0)
            str(r.name)
            dbl(r.atLeastMs, pg.lastReport?.atLeastMs ?? 0)
        }
    }

    // MARK: plain OS threads (the threads model)

    /// The threads model's section: tag 1, then its figures as deltas against the previous frame's section
    /// (a default one when that had none). Decoders before it find no bytes here (the section is only written
    /// for threads-model frames, which they could not decode anyway: model code 4).
    private mutating func encodeThreads(_ t: ThreadsSnapshot, _ prev: ThreadsSnapshot?) {
        let p = prev ?? ThreadsSnapshot()
        w.varint(SnapshotSection.threads)
        str(t.mode)
        int(t.capacity, p.capacity)
        int(t.alive, p.alive)
        int(t.peakRecent, p.peakRecent)
        int(t.peak, p.peak)
        u64(t.created, p.created)
        optDbl(t.createdPerSecond, p.createdPerSecond)
        u64(t.createFailed, p.createFailed)
        optInt(t.lastCreateError.map(Int.init), p.lastCreateError.map(Int.init))
        u64(t.refusedAtCap, p.refusedAtCap)
        int(t.running, p.running)
        int(t.idle, p.idle)
        int(t.blocked, p.blocked)
        for state in ThreadState.allCases where state.isBlocked { int(t.blocked(in: state), p.blocked(in: state)) }
        optInt(t.queueDepth, p.queueDepth)
        optDbl(t.busyThreads, p.busyThreads)
        w.varint(UInt64(t.list.count))
        for (i, x) in t.list.enumerated() {
            let px = i < p.list.count ? p.list[i] : ThreadSnapshot(id: i)
            int(x.id, px.id)
            w.u8(x.state.code)
            str(x.kind)
            dbl(x.stateMs, px.stateMs)
            optDbl(x.busyRatio, px.busyRatio)
        }
    }

    // MARK: the M:N loop (the asyncio invariant)

    /// The M:N loop's section: its tag, then its figures as deltas against the previous frame's section (a
    /// default one when that had none). Written only for asyncio-mn frames (model code 5), which older
    /// decoders reject by the model code before they reach it.
    private mutating func encodeMNLoop(_ m: MNLoopSnapshot, _ prev: MNLoopSnapshot?) {
        let p = prev ?? MNLoopSnapshot()
        w.varint(SnapshotSection.mnLoop)
        int(m.injectorDepth, p.injectorDepth)
        int(m.tasksAlive, p.tasksAlive)
        w.varint(UInt64(m.threads.count))
        for (i, x) in m.threads.enumerated() {
            let px = i < p.threads.count ? p.threads[i] : MNThreadSnapshot(id: i)
            int(x.id, px.id)
            w.u8(x.state.code)
            u64(x.runs, px.runs)
            optU64(x.runsInInterval, px.runsInInterval)
            u64(x.stealOps, px.stealOps)
            u64(x.stolenIn, px.stolenIn)
            u64(x.stolenOut, px.stolenOut)
            u64(x.parks, px.parks)
            int(x.queueDepth, px.queueDepth)
            int(x.queuePeak, px.queuePeak)
            int(x.maxQueueDepth, px.maxQueueDepth)
            dbl(x.busyRatio, px.busyRatio)
            optInt(x.topVictim, px.topVictim)
            u64(x.topVictimJobs, px.topVictimJobs)
        }
        w.varint(UInt64(m.invariant.count))
        for (i, x) in m.invariant.enumerated() {
            let px = i < p.invariant.count ? p.invariant[i] : InvariantSnapshot(runtime: "", threads: 0)
            str(x.runtime)
            int(x.threads, px.threads)
            u64(x.rounds, px.rounds)
            u64(x.increments, px.increments)
            u64(x.lostUpdates, px.lostUpdates)
            u64(x.cacheFills, px.cacheFills)
            u64(x.duplicateFills, px.duplicateFills)
        }
    }

    // The M:N loop's own heartbeat lag (issue 15, wave 3).

    /// The M:N loop's heartbeat lag: its tag, then the summary as deltas against the previous frame's (a default
    /// one when that had none). Written only when the M:N loop's section precedes it with a lag; a file without
    /// it decodes `mnLoop.lag` as nil.
    private mutating func encodeMNLoopLag(_ l: LagSummary, _ prev: LagSummary?) {
        w.varint(SnapshotSection.mnLoopLag)
        encodeLag(l, prev ?? LagSummary())
    }

    // Memory per parked task (issue 15): a tagged section after the task-kind extension, present only when the
    // snapshot has memory figures. Tag `memorySectionTag`, then each figure as a format-2 optional against the
    // previous frame's (0 when it had none), then the limit text. A file without it decodes `memory` as nil.
    private mutating func encodeMemorySection(_ m: MemorySnapshot?, _ prev: MemorySnapshot?) {
        guard let m else { return }
        let p = prev ?? MemorySnapshot()
        w.u8(RecordingFormat.memorySectionTag)
        optU64(m.rssBytes, p.rssBytes)
        optU64(m.baselineRSSBytes, p.baselineRSSBytes)
        optInt(m.parkedTasks, p.parkedTasks)
        optDbl(m.bytesPerParked, p.bytesPerParked)
        optDbl(m.stackResidentBytesPerStack, p.stackResidentBytesPerStack)
        optInt(m.stacksMeasured, p.stacksMeasured)
        optInt(m.stacksMapped, p.stacksMapped)
        optInt(m.parkTarget, p.parkTarget)
        str(m.limit)
    }

    /// The kernel-side memory figures (issue 15, threads-parked): the tag, then each as a format-2 optional
    /// against the previous frame's. Written after the memory section; a file without it decodes them as nil.
    private mutating func encodeMemoryKernel(_ m: MemorySnapshot, _ prev: MemorySnapshot?) {
        w.varint(SnapshotSection.memoryKernel)
        optDbl(m.pageTablesPerParked, prev?.pageTablesPerParked)
        optDbl(m.kernelStacksPerParked, prev?.kernelStacksPerParked)
    }

    // MARK: figures a loop does not expose (a real Python loop)

    /// The absent-loop-figures section: its tag, the loop count, then per loop the `LoopFigure` bits of the
    /// figures it lacks (written as 0 in the loop's fields). Only written when a loop lacks one, so frames
    /// of the Swift models, and every file written before it, have none: their figures all decode present.
    private mutating func encodeAbsentLoopFigures(_ absent: [UInt8]) {
        w.varint(SnapshotSection.absentLoopFigures)
        w.varint(UInt64(absent.count))
        for bits in absent { w.u8(bits) }
    }

    /// Task-kind figures of format 2 (dropped arrivals, errors by kind), as the frame's last section,
    /// written only when a kind has one (a reader that finds the section absent decodes those figures
    /// as nil: n/a; format 1 frames never have it). Per kind: a presence byte (bit 0:
    /// dropped, bit 1: errors), then each present figure as deltas against the previous frame's.
    /// `sectionsFollow`: a tagged section comes next, so the extension is written even when empty (every
    /// presence byte 0), which keeps "the bytes after the frame's fields" meaning the extension.
    private mutating func encodeTaskKindExtension(
        _ kinds: [TaskKindStats], _ prev: [TaskKindStats], sectionsFollow: Bool = false
    ) {
        guard sectionsFollow || kinds.contains(where: { $0.dropped != nil || $0.errors != nil }) else { return }
        w.varint(UInt64(kinds.count))
        for (i, k) in kinds.enumerated() {
            let pk = i < prev.count ? prev[i] : TaskKindStats(kind: "")
            w.u8((k.dropped == nil ? 0 : 1) | (k.errors == nil ? 0 : 2))
            if let d = k.dropped { u64(d, pk.dropped ?? 0) }
            if let e = k.errors {
                let pe = pk.errors ?? TaskErrorCounts()
                for kind in TaskErrorKind.allCases { u64(e[kind], pe[kind]) }
            }
        }
    }

    private mutating func encodeWorker(_ x: WorkerSnapshot, _ p: WorkerSnapshot) {
        int(x.id, p.id)
        w.u8(x.state.code)
        u64(x.runs, p.runs)
        u64(x.stealOps, p.stealOps)
        u64(x.stolenIn, p.stolenIn)
        u64(x.stolenOut, p.stolenOut)
        u64(x.parks, p.parks)
        u64(x.unparks, p.unparks)
        int(x.queueDepth, p.queueDepth)
        int(x.queueCapacity, p.queueCapacity)
        int(x.maxQueueDepth, p.maxQueueDepth)
        u64(x.busyNanos, p.busyNanos)
        dbl(x.busyRatio, p.busyRatio)
        str(x.currentFiber)
        str(x.currentKind)
        if version >= 2 {
            optInt(x.queuePeak, p.queuePeak)
            optDbl(x.spinRatio, p.spinRatio)
            optU64(x.runsInInterval, p.runsInInterval)
            optU64(x.stolenInInterval, p.stolenInInterval)
            str(x.lastFiber)
            str(x.lastKind)
        }
    }

    private mutating func encodeLoop(_ x: LoopSnapshot, _ p: LoopSnapshot) {
        int(x.id, p.id)
        // The figures a loop may lack are written as 0 here; the absent-loop-figures section says which.
        int(x.readyDepth ?? 0, p.readyDepth ?? 0)
        int(x.maxReadyDepth ?? 0, p.maxReadyDepth ?? 0)
        int(x.timersPending ?? 0, p.timersPending ?? 0)
        int(x.tasksAlive ?? 0, p.tasksAlive ?? 0)
        u64(x.jobsRun ?? 0, p.jobsRun ?? 0)
        u64(x.slowCallbacks, p.slowCallbacks)
        dbl(x.busyRatio ?? 0, p.busyRatio ?? 0)
        str(x.current)
        encodeLag(x.lag, p.lag)
        if version >= 2 {
            optInt(x.readyPeak, p.readyPeak)
            optU64(x.jobsInInterval, p.jobsInInterval)
            str(x.lastTask)
            delay(x.readyDelay, p.readyDelay)
        }
    }

    private mutating func encodeLag(_ l: LagSummary, _ p: LagSummary) {
        dbl(l.p50Ms, p.p50Ms)
        dbl(l.p99Ms, p.p99Ms)
        dbl(l.maxMs, p.maxMs)
        dbl(l.slotP99Ms, p.slotP99Ms)
        dbl(l.recentMs, p.recentMs)
        w.varint(UInt64(l.buckets.count))
        for (i, b) in l.buckets.enumerated() { u64(b, i < p.buckets.count ? p.buckets[i] : 0) }
    }

    private mutating func encodeEvents(_ events: [RuntimeEvent], frameTime: Double) {
        w.varint(UInt64(events.count))
        var prevTime = frameTime
        for e in events {
            dbl(e.time, prevTime)
            prevTime = e.time
            w.u8(e.kind.code)
            w.svarint(Int64(e.worker))
            w.svarint(Int64(e.other))
            w.svarint(Int64(e.count))
            dbl(e.durationMs, 0)
            str(e.name)
        }
    }
}

// MARK: - Decoder

/// The mirror of `RecordEncoder`: decodes payloads in file order. Owned by one reader.
struct RecordDecoder {
    /// The file's format version (from its header): format-1 snapshots lack the later figures.
    let version: UInt16
    private var previous = Snapshot()
    private var strings: [String] = []
    private var r = ByteReader([][...])

    init(version: UInt16 = RecordingFormat.version) { self.version = version }

    static func metadata(_ payload: ArraySlice<UInt8>) throws(DecodeError) -> RecordingMetadata {
        var r = ByteReader(payload)
        let version = try r.string()
        let format = try r.varint()
        let cols = try r.varint()
        let rows = try r.varint()
        let cores = try r.varint()
        let start = try r.f64()
        let hz = try r.f64()
        let n = try r.count("metadata extra")
        var extra: [String: String] = [:]
        for _ in 0..<n {
            let k = try r.string()
            extra[k] = try r.string()
        }
        return RecordingMetadata(
            qvtopVersion: version, formatVersion: Int(clamping: format), columns: Int(clamping: cols),
            rows: Int(clamping: rows), cores: Int(clamping: cores), startTime: start, sampleHz: hz, extra: extra)
    }

    static func presetSwitch(_ payload: ArraySlice<UInt8>) throws(DecodeError) -> PresetSwitch {
        var r = ByteReader(payload)
        let t = try r.f64()
        let name = try r.string()
        let title = try r.string()
        let text = try r.string()
        return PresetSwitch(time: t, name: name, title: title, text: text)
    }

    static func bookmark(_ payload: ArraySlice<UInt8>) throws(DecodeError) -> Bookmark {
        var r = ByteReader(payload)
        let t = try r.f64()
        return Bookmark(time: t, label: try r.string())
    }

    static func end(_ payload: ArraySlice<UInt8>) throws(DecodeError) -> RecordingEnd {
        var r = ByteReader(payload)
        let written = try r.varint()
        return RecordingEnd(framesWritten: written, framesDropped: try r.varint())
    }

    mutating func snapshot(_ payload: ArraySlice<UInt8>) throws(DecodeError) -> Snapshot {
        r = ByteReader(payload)
        let s = try decodeSnapshot()
        guard r.atEnd else { throw DecodeError(reason: "snapshot payload has \(r.remaining) extra bytes") }
        previous = s
        return s
    }

    mutating func events(_ payload: ArraySlice<UInt8>, frameTime: Double) throws(DecodeError) -> [RuntimeEvent] {
        r = ByteReader(payload)
        let n = try r.count("event")
        var out: [RuntimeEvent] = []
        out.reserveCapacity(n)
        var prevTime = frameTime
        for _ in 0..<n {
            let t = try dbl(prevTime)
            prevTime = t
            let kind = try EventKind(code: try r.u8())
            let worker = Int(truncatingIfNeeded: try r.svarint())
            let other = Int(truncatingIfNeeded: try r.svarint())
            let count = Int(truncatingIfNeeded: try r.svarint())
            let duration = try dbl(0)
            let name = try str()
            out.append(
                RuntimeEvent(
                    time: t, kind: kind, worker: worker, other: other, count: count, durationMs: duration,
                    name: name))
        }
        guard r.atEnd else { throw DecodeError(reason: "events payload has \(r.remaining) extra bytes") }
        return out
    }

    // MARK: fields

    private mutating func int(_ prev: Int) throws(DecodeError) -> Int {
        Int(truncatingIfNeeded: Int64(prev) &+ (try r.svarint()))
    }

    private mutating func u64(_ prev: UInt64) throws(DecodeError) -> UInt64 {
        prev &+ UInt64(bitPattern: try r.svarint())
    }

    private mutating func dbl(_ prev: Double) throws(DecodeError) -> Double {
        switch try r.u8() {
        case 0: return prev
        case 1: return try r.f64()
        case 2:
            let v = try r.varint()
            guard v < 9_007_199_254_740_992 else { throw DecodeError(reason: "whole-number double out of range") }
            return Double(v)
        case let tag: throw DecodeError(reason: "unknown double tag \(tag)")
        }
    }

    private mutating func present(_ what: String) throws(DecodeError) -> Bool {
        switch try r.u8() {
        case 0: return false
        case 1: return true
        case let tag: throw DecodeError(reason: "bad \(what) presence tag \(tag)")
        }
    }

    private mutating func optInt(_ prev: Int?, _ what: String) throws(DecodeError) -> Int? {
        try present(what) ? try int(prev ?? 0) : nil
    }

    private mutating func optU64(_ prev: UInt64?, _ what: String) throws(DecodeError) -> UInt64? {
        try present(what) ? try u64(prev ?? 0) : nil
    }

    private mutating func optDbl(_ prev: Double?, _ what: String) throws(DecodeError) -> Double? {
        try present(what) ? try dbl(prev ?? 0) : nil
    }

    private mutating func delay(_ prev: DelaySummary?) throws(DecodeError) -> DelaySummary? {
        guard try present("delay") else { return nil }
        let p = prev ?? DelaySummary()
        var d = DelaySummary()
        d.samples = try u64(p.samples)
        d.sampling = try int(p.sampling)
        d.p50Ms = try dbl(p.p50Ms)
        d.p99Ms = try dbl(p.p99Ms)
        d.maxMs = try dbl(p.maxMs)
        let n = try r.optionalCount("delay bucket")
        if let n {
            let pb = p.log2Buckets ?? []
            var b: [UInt64] = []
            b.reserveCapacity(n)
            for i in 0..<n { b.append(try u64(i < pb.count ? pb[i] : 0)) }
            d.log2Buckets = b
        }
        return d
    }

    private mutating func str() throws(DecodeError) -> String? {
        let v = try r.varint()
        switch v {
        case 0: return nil
        case 1:
            let s = try r.string()
            if strings.count < RecordingFormat.maxStringTable { strings.append(s) }
            return s
        default:
            let id = v - 2
            guard id < UInt64(strings.count) else { throw DecodeError(reason: "string id \(id) not in the table") }
            return strings[Int(id)]
        }
    }

    private mutating func decodeSnapshot() throws(DecodeError) -> Snapshot {
        let p = previous
        var s = Snapshot()
        s.time = try dbl(p.time)
        s.sequence = try u64(p.sequence)
        s.preset = try str() ?? ""
        s.presetTitle = try str() ?? ""
        s.model = try SchedulerModel(code: try r.u8())
        let nw = try r.count("worker")
        s.workers.reserveCapacity(nw)
        for i in 0..<nw {
            s.workers.append(try decodeWorker(i < p.workers.count ? p.workers[i] : WorkerSnapshot(id: i)))
        }
        let nl = try r.count("loop")
        s.loops.reserveCapacity(nl)
        for i in 0..<nl { s.loops.append(try decodeLoop(i < p.loops.count ? p.loops[i] : LoopSnapshot(id: i))) }
        switch try r.u8() {
        case 0: s.pool = nil
        case 1:
            let pp = p.pool ?? PoolSnapshot(threads: 0)
            let threads = try int(pp.threads)
            let busy = try int(pp.busy)
            let depth = try int(pp.queueDepth)
            let completed = try u64(pp.completed)
            let shared = try r.u8()
            guard shared <= 1 else { throw DecodeError(reason: "bad pool flag") }
            var pool = PoolSnapshot(
                threads: threads, busy: busy, queueDepth: depth, completed: completed, shared: shared == 1)
            if version >= 2 {
                pool.queuePeak = try optInt(pp.queuePeak, "pool peak")
                if let n = try r.optionalCount("pool thread") {
                    let pts = pp.threadStates ?? []
                    var ts: [PoolThreadSnapshot] = []
                    ts.reserveCapacity(n)
                    for i in 0..<n {
                        let pt = i < pts.count ? pts[i] : PoolThreadSnapshot(id: i)
                        var t = PoolThreadSnapshot(id: try int(pt.id))
                        t.kind = try str()
                        t.runningMs = try dbl(pt.runningMs)
                        t.busyRatio = try optDbl(pt.busyRatio, "pool thread busy")
                        ts.append(t)
                    }
                    pool.threadStates = ts
                }
            }
            s.pool = pool
        default: throw DecodeError(reason: "bad pool tag")
        }
        s.injectorDepth = try int(p.injectorDepth)
        let pf = p.fibers
        s.fibers.total = try int(pf.total)
        s.fibers.running = try int(pf.running)
        s.fibers.runnable = try int(pf.runnable)
        s.fibers.parkedSleep = try int(pf.parkedSleep)
        s.fibers.parkedIO = try int(pf.parkedIO)
        s.fibers.parkedChannel = try int(pf.parkedChannel)
        s.fibers.parkedMutex = try int(pf.parkedMutex)
        s.fibers.parkedJoin = try int(pf.parkedJoin)
        s.fibers.blockedPinned = try int(pf.blockedPinned)
        s.fibers.blockedHandoff = try int(pf.blockedHandoff)
        s.lag = try decodeLag(p.lag)
        let nk = try r.count("task kind")
        s.taskKinds.reserveCapacity(nk)
        for i in 0..<nk {
            let pk = i < p.taskKinds.count ? p.taskKinds[i] : TaskKindStats(kind: "")
            var k = TaskKindStats(kind: try str() ?? "")
            k.started = try u64(pk.started)
            k.completed = try u64(pk.completed)
            k.inFlight = try int(pk.inFlight)
            k.p50Ms = try dbl(pk.p50Ms)
            k.p99Ms = try dbl(pk.p99Ms)
            k.throughput = try dbl(pk.throughput)
            s.taskKinds.append(k)
        }
        s.droppedEvents = try u64(p.droppedEvents)
        if version >= 2 {
            s.readyDelay = try delay(p.readyDelay)
            s.injectorPeak = try optInt(p.injectorPeak, "injector peak")
            s.busyWindowSeconds = try optDbl(p.busyWindowSeconds, "busy window")
            if !r.atEnd { try decodeTaskKindExtension(&s.taskKinds, p.taskKinds) }
            // Tagged sections: the threads model, the M:N loop, memory per parked task.
            while !r.atEnd {
                let tag = try r.varint()
                switch tag {
                case SnapshotSection.threads: s.threads = try decodeThreads(p.threads)
                case SnapshotSection.threadsQueuePeak:
                    // The mirror of the encoder's threads-queue-peak section: it follows the threads section.
                    guard s.threads != nil else { throw DecodeError(reason: "thread queue peak without threads") }
                    s.threads?.queuePeak = try optInt(p.threads?.queuePeak, "thread queue peak")
                case SnapshotSection.mnLoop: s.mnLoop = try decodeMNLoop(p.mnLoop)
                case SnapshotSection.mnLoopLag:
                    // The mirror of `RecordEncoder.encodeMNLoopLag`: it follows the M:N loop's section.
                    guard s.mnLoop != nil else { throw DecodeError(reason: "M:N loop lag without the M:N loop") }
                    s.mnLoop?.lag = try decodeLag(p.mnLoop?.lag ?? LagSummary())
                case UInt64(RecordingFormat.memorySectionTag): s.memory = try decodeMemorySection(p.memory)
                case SnapshotSection.absentLoopFigures: try decodeAbsentLoopFigures(&s.loops)
                case SnapshotSection.geventHub: try decodeGeventHub(&s, p)
                case SnapshotSection.taskCensus: s.taskCensus = try decodeTaskCensus(p.taskCensus ?? TaskCensus())
                case SnapshotSection.memoryKernel:
                    guard s.memory != nil else { throw DecodeError(reason: "kernel memory figures before memory") }
                    s.memory?.pageTablesPerParked = try optDbl(p.memory?.pageTablesPerParked, "page tables")
                    s.memory?.kernelStacksPerParked = try optDbl(p.memory?.kernelStacksPerParked, "kernel stacks")
                default: throw DecodeError(reason: "unknown snapshot section \(tag)")
                }
            }
        }
        return s
    }

    /// The mirror of `RecordEncoder.encodeThreads` (after its tag).
    private mutating func decodeThreads(_ prev: ThreadsSnapshot?) throws(DecodeError) -> ThreadsSnapshot {
        let p = prev ?? ThreadsSnapshot()
        var t = ThreadsSnapshot(mode: try str() ?? "")
        t.capacity = try int(p.capacity)
        t.alive = try int(p.alive)
        t.peakRecent = try int(p.peakRecent)
        t.peak = try int(p.peak)
        t.created = try u64(p.created)
        t.createdPerSecond = try optDbl(p.createdPerSecond, "threads created per second")
        t.createFailed = try u64(p.createFailed)
        t.lastCreateError = try optInt(p.lastCreateError.map(Int.init), "thread create error").map {
            Int32(truncatingIfNeeded: $0)
        }
        t.refusedAtCap = try u64(p.refusedAtCap)
        t.running = try int(p.running)
        t.idle = try int(p.idle)
        t.blocked = try int(p.blocked)
        for state in ThreadState.allCases where state.isBlocked {
            let n = try int(p.blocked(in: state))
            if n != 0 { t.blockedByState[state.rawValue] = n }
        }
        t.queueDepth = try optInt(p.queueDepth, "thread queue depth")
        t.busyThreads = try optDbl(p.busyThreads, "threads busy")
        let n = try r.count("thread")
        t.list.reserveCapacity(n)
        for i in 0..<n {
            let px = i < p.list.count ? p.list[i] : ThreadSnapshot(id: i)
            var x = ThreadSnapshot(id: try int(px.id))
            x.state = try ThreadState(code: try r.u8())
            x.kind = try str()
            x.stateMs = try dbl(px.stateMs)
            x.busyRatio = try optDbl(px.busyRatio, "thread busy")
            t.list.append(x)
        }
        return t
    }

    /// The mirror of `RecordEncoder.encodeMNLoop` (after its tag).
    private mutating func decodeMNLoop(_ prev: MNLoopSnapshot?) throws(DecodeError) -> MNLoopSnapshot {
        let p = prev ?? MNLoopSnapshot()
        var m = MNLoopSnapshot()
        m.injectorDepth = try int(p.injectorDepth)
        m.tasksAlive = try int(p.tasksAlive)
        let n = try r.count("M:N thread")
        m.threads.reserveCapacity(n)
        for i in 0..<n {
            let px = i < p.threads.count ? p.threads[i] : MNThreadSnapshot(id: i)
            var x = MNThreadSnapshot(id: try int(px.id))
            x.state = try MNThreadState(code: try r.u8())
            x.runs = try u64(px.runs)
            x.runsInInterval = try optU64(px.runsInInterval, "M:N runs in interval")
            x.stealOps = try u64(px.stealOps)
            x.stolenIn = try u64(px.stolenIn)
            x.stolenOut = try u64(px.stolenOut)
            x.parks = try u64(px.parks)
            x.queueDepth = try int(px.queueDepth)
            x.queuePeak = try int(px.queuePeak)
            x.maxQueueDepth = try int(px.maxQueueDepth)
            x.busyRatio = try dbl(px.busyRatio)
            x.topVictim = try optInt(px.topVictim, "M:N top victim")
            x.topVictimJobs = try u64(px.topVictimJobs)
            m.threads.append(x)
        }
        let k = try r.count("invariant runtime")
        m.invariant.reserveCapacity(k)
        for i in 0..<k {
            let px = i < p.invariant.count ? p.invariant[i] : InvariantSnapshot(runtime: "", threads: 0)
            var x = InvariantSnapshot(runtime: try str() ?? "", threads: try int(px.threads))
            x.rounds = try u64(px.rounds)
            x.increments = try u64(px.increments)
            x.lostUpdates = try u64(px.lostUpdates)
            x.cacheFills = try u64(px.cacheFills)
            x.duplicateFills = try u64(px.duplicateFills)
            m.invariant.append(x)
        }
        return m
    }

    /// The mirror of `RecordEncoder.encodeMemorySection` (its tag already read).
    private mutating func decodeMemorySection(_ prev: MemorySnapshot?) throws(DecodeError) -> MemorySnapshot {
        let p = prev ?? MemorySnapshot()
        var m = MemorySnapshot()
        m.rssBytes = try optU64(p.rssBytes, "rss")
        m.baselineRSSBytes = try optU64(p.baselineRSSBytes, "baseline rss")
        m.parkedTasks = try optInt(p.parkedTasks, "parked tasks")
        m.bytesPerParked = try optDbl(p.bytesPerParked, "bytes per parked")
        m.stackResidentBytesPerStack = try optDbl(p.stackResidentBytesPerStack, "stack resident")
        m.stacksMeasured = try optInt(p.stacksMeasured, "stacks measured")
        m.stacksMapped = try optInt(p.stacksMapped, "stacks mapped")
        m.parkTarget = try optInt(p.parkTarget, "park target")
        m.limit = try str()
        return m
    }

    /// The mirror of `RecordEncoder.encodeTaskCensus` (after its tag).
    private mutating func decodeTaskCensus(_ p: TaskCensus) throws(DecodeError) -> TaskCensus {
        var c = TaskCensus()
        for f in TaskCensus.fields {  // the encoder's order
            let n = try int(p[keyPath: f.key])
            guard n >= 0 else { throw DecodeError(reason: "negative task count (\(f.label))") }
            c[keyPath: f.key] = n
        }
        return c
    }

    /// The mirror of `RecordEncoder.encodeGeventHub` (after its tag).
    private mutating func decodeGeventHub(_ s: inout Snapshot, _ p: Snapshot) throws(DecodeError) {
        switch try r.u8() {
        case 0: s.tasksUncounted = nil
        case 1: s.tasksUncounted = false
        case 2: s.tasksUncounted = true
        case let v: throw DecodeError(reason: "bad gevent tasks-uncounted byte \(v)")
        }
        let n = try r.count("gevent hub loop")
        guard n == s.loops.count else {
            throw DecodeError(reason: "gevent hub figures for \(n) loops, not \(s.loops.count)")
        }
        for i in 0..<n {
            guard try present("gevent hub") else { continue }
            let pg = (i < p.loops.count ? p.loops[i].gevent : nil) ?? GeventHubSnapshot()
            var g = GeventHubSnapshot(switches: try u64(pg.switches))
            g.switchesPerSecond = try optDbl(pg.switchesPerSecond, "greenlet switches per second")
            g.monitorReports = try optU64(pg.monitorReports, "gevent monitor reports")
            if try present("gevent blocking report") {
                let time = try dbl(pg.lastReport?.time ?? 0)
                let name = try str() ?? ""
                g.lastReport = GeventBlockingReport(
                    time: time, name: name, atLeastMs: try dbl(pg.lastReport?.atLeastMs ?? 0))
            }
            s.loops[i].gevent = g
        }
    }

    /// The mirror of `RecordEncoder.encodeAbsentLoopFigures` (after its tag).
    private mutating func decodeAbsentLoopFigures(_ loops: inout [LoopSnapshot]) throws(DecodeError) {
        let n = try r.count("absent loop figures")
        guard n == loops.count else {
            throw DecodeError(reason: "absent loop figures for \(n) loops, not \(loops.count)")
        }
        for i in 0..<n { loops[i].clearFigures(try r.u8()) }
    }

    /// The mirror of `RecordEncoder.encodeTaskKindExtension`; absent in files of format 1.
    private mutating func decodeTaskKindExtension(
        _ kinds: inout [TaskKindStats], _ prev: [TaskKindStats]
    ) throws(DecodeError) {
        let n = try r.count("task kind extension")
        guard n == kinds.count else {
            throw DecodeError(reason: "task kind extension has \(n) kinds, not \(kinds.count)")
        }
        for i in 0..<n {
            let pk = i < prev.count ? prev[i] : TaskKindStats(kind: "")
            let present = try r.u8()
            if present & 1 != 0 { kinds[i].dropped = try u64(pk.dropped ?? 0) }
            if present & 2 != 0 {
                let pe = pk.errors ?? TaskErrorCounts()
                var e = TaskErrorCounts()
                for kind in TaskErrorKind.allCases { e[kind] = try u64(pe[kind]) }
                kinds[i].errors = e
            }
        }
    }

    private mutating func decodeWorker(_ p: WorkerSnapshot) throws(DecodeError) -> WorkerSnapshot {
        var x = WorkerSnapshot(id: try int(p.id))
        x.state = try WorkerState(code: try r.u8())
        x.runs = try u64(p.runs)
        x.stealOps = try u64(p.stealOps)
        x.stolenIn = try u64(p.stolenIn)
        x.stolenOut = try u64(p.stolenOut)
        x.parks = try u64(p.parks)
        x.unparks = try u64(p.unparks)
        x.queueDepth = try int(p.queueDepth)
        x.queueCapacity = try int(p.queueCapacity)
        x.maxQueueDepth = try int(p.maxQueueDepth)
        x.busyNanos = try u64(p.busyNanos)
        x.busyRatio = try dbl(p.busyRatio)
        x.currentFiber = try str()
        x.currentKind = try str()
        if version >= 2 {
            x.queuePeak = try optInt(p.queuePeak, "queue peak")
            x.spinRatio = try optDbl(p.spinRatio, "spin ratio")
            x.runsInInterval = try optU64(p.runsInInterval, "runs in interval")
            x.stolenInInterval = try optU64(p.stolenInInterval, "stolen in interval")
            x.lastFiber = try str()
            x.lastKind = try str()
        }
        return x
    }

    private mutating func decodeLoop(_ p: LoopSnapshot) throws(DecodeError) -> LoopSnapshot {
        var x = LoopSnapshot(id: try int(p.id))
        x.readyDepth = try int(p.readyDepth ?? 0)
        x.maxReadyDepth = try int(p.maxReadyDepth ?? 0)
        x.timersPending = try int(p.timersPending ?? 0)
        x.tasksAlive = try int(p.tasksAlive ?? 0)
        x.jobsRun = try u64(p.jobsRun ?? 0)
        x.slowCallbacks = try u64(p.slowCallbacks)
        x.busyRatio = try dbl(p.busyRatio ?? 0)
        x.current = try str()
        x.lag = try decodeLag(p.lag)
        if version >= 2 {
            x.readyPeak = try optInt(p.readyPeak, "ready peak")
            x.jobsInInterval = try optU64(p.jobsInInterval, "jobs in interval")
            x.lastTask = try str()
            x.readyDelay = try delay(p.readyDelay)
        }
        return x
    }

    private mutating func decodeLag(_ p: LagSummary) throws(DecodeError) -> LagSummary {
        var l = LagSummary()
        l.p50Ms = try dbl(p.p50Ms)
        l.p99Ms = try dbl(p.p99Ms)
        l.maxMs = try dbl(p.maxMs)
        l.slotP99Ms = try dbl(p.slotP99Ms)
        l.recentMs = try dbl(p.recentMs)
        let n = try r.count("lag bucket")
        l.buckets.reserveCapacity(n)
        for i in 0..<n { l.buckets.append(try u64(i < p.buckets.count ? p.buckets[i] : 0)) }
        return l
    }
}
