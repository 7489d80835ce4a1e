import Telemetry
import Testing

@testable import Dashboard

extension PanelFixtures {
    /// Plain OS threads, thread per task: `alive` threads, most asleep, a few running or joining children.
    static func threads(_ i: Int = 40, alive: Int = 140, failed: UInt64 = 0, refused: UInt64 = 0) -> Snapshot {
        let states: [ThreadState] = [.sleep, .sleep, .sleep, .running, .join, .sleep, .read, .sleep]
        let list = (0..<min(alive, ThreadsSnapshot.listedLimit)).map { k in
            let st = states[(k + i) % states.count]
            return ThreadSnapshot(
                id: k, state: st, kind: st == .running || st == .join ? "batch" : "web",
                stateMs: Double((k * 37 + i) % 400) + 0.5, busyRatio: st == .running ? 0.9 : Double(k % 5) / 100)
        }
        var byState: [String: Int] = [:]
        for t in list where t.state.isBlocked { byState[t.state.rawValue, default: 0] += 1 }
        let running = list.filter { $0.state == .running }.count
        let blocked = list.count - running
        return Snapshot(
            time: Double(i) / 10, sequence: UInt64(i), preset: "threads", presetTitle: "Plain threads",
            model: .threads,
            fibers: FiberCounts(
                total: list.count, running: running, parkedSleep: byState["sleep"] ?? 0,
                parkedIO: byState["read"] ?? 0, parkedJoin: byState["join"] ?? 0),
            lag: LagSummary(p50Ms: 0.09, p99Ms: 4.1, maxMs: 38, slotP99Ms: 12, recentMs: 2 + wave(i) * 10),
            busyWindowSeconds: 1,
            taskKinds: [
                TaskKindStats(
                    kind: "batch", started: 120, completed: 118, inFlight: 2, p50Ms: 110, p99Ms: 380, throughput: 4,
                    dropped: 0, errors: TaskErrorCounts()),
                TaskKindStats(
                    kind: "web", started: 4200, completed: 4100, inFlight: 100, p50Ms: 262, p99Ms: 540,
                    throughput: 390, dropped: refused + failed, errors: TaskErrorCounts()),
            ],
            threads: ThreadsSnapshot(
                mode: "per-task", capacity: 2000, alive: alive, peakRecent: alive + 3, peak: alive + 12,
                created: 4300 + UInt64(i), createdPerSecond: 412, createFailed: failed,
                lastCreateError: failed > 0 ? 11 : nil, refusedAtCap: refused, running: running, idle: 0,
                blocked: blocked, blockedByState: byState, busyThreads: 1.72, list: list))
    }
}

/// The threads model's Worker Threadpool at 80×24 and 200×60, folded past what fits, and its limit banner.
@Suite struct ThreadsPanelTests {
    static let sizes = [Size(80, 24), Size(200, 60)]

    @Test(arguments: sizes) func workerThreadpool(size: Size) {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.threads($0) }
        let g = PanelSnapshotTests.render(size, s, h)
        expectSnapshot(g, named: "panel-threads-\(size.width)x\(size.height)")
        #expect(g.text.contains("Worker Threadpool"))
        #expect(g.text.contains("more threads"), "140 threads do not fit: the rest fold into +N more")
    }

    @Test(arguments: sizes) func aSystemLimitIsABanner(size: Size) {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.threads($0, failed: 37, refused: 5) }
        let g = PanelSnapshotTests.render(size, s, h)
        expectSnapshot(g, named: "panel-threads-limit-\(size.width)x\(size.height)")
        #expect(g.text.contains("pthread_create failed 37x (EAGAIN)"))
    }

    /// A few threads fit one by one: no "+N more".
    @Test func fewThreadsAreAllDrawn() {
        let (s, h) = PanelFixtures.run(5) { PanelFixtures.threads($0, alive: 3) }
        let g = PanelSnapshotTests.render(Size(200, 60), s, h)
        #expect(g.text.contains("T3 ") && !g.text.contains("T4 ") && !g.text.contains("more threads"))
    }

    /// Where the other models list slow callbacks or blocking regions, the threads screen says why it has none
    /// ("n/a on threads: the kernel preempts"), never an empty list or "none over the threshold" (threads have no
    /// threshold to cross). At 80×24 the panel is drawn (text snapshot `panel-threads-80x24`); at 200×60 the thread
    /// boxes take its rows, and neither the loops' title nor their empty line appears.
    @Test(arguments: sizes) func noSlowCallbacksOnThreadsIsSaidNotLeftEmpty(size: Size) throws {
        let (s, h) = PanelFixtures.run(40) { PanelFixtures.threads($0) }
        let text = PanelSnapshotTests.render(size, s, h).text
        #expect(!text.contains("none over the threshold"), "\(text)")
        #expect(!text.contains("Slow callbacks"), "\(text)")
        guard size == Size(80, 24) else { return }
        // One line where it fits, "n/a on threads:" over "the kernel preempts" where narrow (here).
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let top = try #require(lines.firstIndex { $0.contains("Blocking regions") }, "\(text)")
        #expect(lines[top + 1].contains("n/a on threads:"), "\(lines[top + 1])")
        #expect(lines[top + 2].contains("the kernel preempts"), "\(lines[top + 2])")
        #expect(FiguresGlossaryTests.glossary.contains("n/a on threads: the kernel preempts"))
    }

    /// Pool mode: the queue's length and its peak since the previous frame are on the screen; in a recording made
    /// before the peak existed it is "n/a", never 0.
    @Test func aPoolShowsItsQueueAndItsPeak() {
        var s = PanelFixtures.threads(40, alive: 4)
        s.threads?.mode = "pool"
        s.threads?.capacity = 4
        s.threads?.queueDepth = 17
        s.threads?.queuePeak = 48
        var h = PanelHistory()
        h.append(s)
        let text = PanelSnapshotTests.render(Size(200, 60), s, h).text
        #expect(text.contains("queue 17 (peak 48)"), "\(text)")
        s.threads?.queuePeak = nil
        #expect(PanelSnapshotTests.render(Size(200, 60), s, h).text.contains("queue 17 (peak n/a)"))
    }
}
