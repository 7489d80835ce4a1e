import Telemetry
import Testing

@testable import Dashboard

/// Gaps 6, 7, 8 on the screen, from synthetic snapshots: peaks since the previous sample, what ran in the
/// interval, one box per real pool thread, and busy ratios that say what they measure.
@Suite struct PeakAndThreadTests {
    static func render(_ s: Snapshot, _ size: Size = Size(160, 50)) -> Grid { FigureLabelTests.render(s, size) }
    static func peaks(_ g: Grid) -> Int { g.cells.filter { $0.scalar == g.glyphs.peak }.count }

    @Test func everyDepthShowsItsPeakSinceThePreviousSample() {
        var fibers = PanelFixtures.virtualThreads(5)
        for w in fibers.workers.indices { fibers.workers[w].queuePeak = nil }
        fibers.injectorPeak = nil
        #expect(Self.peaks(Self.render(fibers)) == 0)  // no peak figure: no marker (not a guess)
        for w in fibers.workers.indices { fibers.workers[w].queuePeak = 200 }
        fibers.injectorPeak = 30
        // One marker per carrier queue bar, one on the injector.
        #expect(Self.peaks(Self.render(fibers)) == fibers.workers.count + 1)
        var loop = PanelFixtures.eventLoop(5, pool: true)
        loop.loops[0].readyPeak = nil
        loop.pool?.queuePeak = nil
        #expect(Self.peaks(Self.render(loop)) == 0)
        loop.loops[0].readyPeak = 39
        loop.pool?.queuePeak = 9
        #expect(Self.peaks(Self.render(loop)) == 2)
    }

    @Test func aCarrierShowsTheFiberThatRanInTheIntervalNotOnlyTheOneRunningNow() {
        var s = PanelFixtures.virtualThreads(5, carriers: 2)
        s.workers[1].state = .parked
        s.workers[1].currentFiber = nil
        s.workers[1].currentKind = nil
        s.workers[1].runsInInterval = 40
        s.workers[1].lastFiber = "burst-17"
        s.workers[1].lastKind = "cpu"
        let text = Self.render(s).text
        #expect(text.contains("ran burst-17"))
        s.workers[1].runsInInterval = 0
        s.workers[1].lastFiber = nil
        #expect(Self.render(s).text.contains("none ran"))
    }

    @Test func eachPoolBoxIsOneRealThread() {
        var s = PanelFixtures.eventLoop(5, pool: true)
        s.pool?.threadStates = [
            PoolThreadSnapshot(id: 0), PoolThreadSnapshot(id: 1, kind: "blocking", runningMs: 12.5),
            PoolThreadSnapshot(id: 2), PoolThreadSnapshot(id: 3, kind: "cpu", runningMs: 3),
        ]
        s.pool?.busy = 2
        let lines = Self.render(s).text.split(separator: "\n").map(String.init)
        let boxes = try? #require(lines.first { $0.contains("Thread 1") && $0.contains("Thread 4") })
        let row = lines.firstIndex { $0 == boxes } ?? 0
        let inside = row + 1 < lines.count ? lines[row + 1] : ""
        // Thread 1 is idle and thread 2 runs "blocking" for 12.5 ms, whatever the busy count would suggest.
        let idle = inside.range(of: "idle")
        let blocking = inside.range(of: "blocking")
        #expect(idle != nil && blocking != nil && idle!.lowerBound < blocking!.lowerBound, "\(inside)")
        #expect(inside.contains("13ms") || inside.contains("12ms"), "\(inside)")
        // Without per-thread states the screen does not invent which threads are busy: one pool box.
        s.pool?.threadStates = nil
        let text = Self.render(s).text
        #expect(!text.contains("Thread 1") && text.contains("Worker Threadpool"))
    }

    @Test func busyLabelsStateWhatAndOverWhichWindow() {
        let fibers = Self.render(PanelFixtures.virtualThreads(5)).text
        #expect(fibers.contains("Busy per carrier · last 1s") && fibers.contains("busy = not parked · spin n/a"))
        var spin = PanelFixtures.virtualThreads(5)
        for w in spin.workers.indices { spin.workers[w].spinRatio = 0.25 }
        let withSpin = Self.render(spin).text
        #expect(withSpin.contains("busy = running fibers · spin apart") && withSpin.contains("spin 25%"))
        let loops = Self.render(PanelFixtures.loopPerThread(5, sharedPool: false)).text
        #expect(loops.contains("Busy per loop · last 1s") && loops.contains("busy = running jobs"))
        var old = PanelFixtures.loopPerThread(5, sharedPool: false)
        old.busyWindowSeconds = nil
        #expect(Self.render(old).text.contains("Busy per loop · window n/a"))
    }
}
