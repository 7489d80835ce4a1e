import Telemetry
import Testing

@testable import Dashboard

@Suite struct PanelHistoryTests {
    @Test func ringKeepsTheNewestInOrder() {
        var r = Ring<Int>(capacity: 3)
        for i in 1...5 { r.append(i) }
        #expect(r.elements == [3, 4, 5])
        #expect(r.last == 5 && r.count == 3)
        let two = r.suffix(2) { $0 * 10 }
        let all = r.suffix(9) { $0 }
        #expect(two == [40, 50])
        #expect(all == [3, 4, 5])
        r.removeAll()
        #expect(r.isEmpty && r.last == nil)
    }

    @Test func samplesAreBoundedAndCarryKeySeries() {
        var h = PanelHistory(capacity: 5)
        for i in 0..<12 { h.append(PanelFixtures.virtualThreads(i)) }
        #expect(h.samples.count == 5)
        let lag = h.series(10) { $0.lagMs }
        let want = (7..<12).map { PanelFixtures.virtualThreads($0).lag.recentMs }
        #expect(lag == want)
        #expect(h.samples.last?.busy.count == 4)
        #expect(h.samples.last?.steals == 9)  // 4 + 2 + 3 fibers in the steal events
    }

    @Test func presetSwitchMarksTheSampleAndResetsEvents() {
        var h = PanelHistory()
        for i in 0..<10 { h.append(PanelFixtures.greenThreads(i)) }
        #expect(!h.notable.isEmpty)
        h.append(PanelFixtures.eventLoop(0, pool: true))
        #expect(h.switchMarks(3) == [false, false, true])
        #expect(h.notable.isEmpty && h.events.isEmpty)
        #expect(h.preset == "to-thread")
    }

    @Test func intervalBetweenTheLastTwoSamples() {
        var h = PanelHistory()
        h.append(PanelFixtures.virtualThreads(10))
        #expect(h.lastInterval == nil)
        h.append(PanelFixtures.virtualThreads(12))
        #expect(abs((h.lastInterval ?? 0) - 0.2) < 1e-9)
        h.append(PanelFixtures.greenThreads(13))
        #expect(h.lastInterval == nil)  // a new preset: its counters restart
    }

    @Test func notableKeepsSlowCallbacksAndBlockingRegions() {
        var h = PanelHistory()
        for i in 0..<40 { h.append(PanelFixtures.eventLoop(i, pool: false)) }
        #expect(h.notable.count == 10)
        #expect(h.notable.elements.allSatisfy { $0.kind == .slowCallback })
        #expect(h.notable.last?.time == 3.7)
    }

    @Test func stealDeltasAreTheSamplersNotRecomputed() {
        // The sampler (Workloads/Sampling) does the interval maths; the history keeps its figure as it is.
        var h = PanelHistory()
        var a = Snapshot(
            preset: "p", workers: [WorkerSnapshot(id: 0, stolenIn: 10), WorkerSnapshot(id: 1, stolenIn: 5)])
        h.append(a)
        #expect(h.stolenInDelta == [0, 0])  // no figure: nothing drawn
        a.workers[1].stolenIn = 9
        a.workers[1].stolenInInterval = 3
        h.append(a)
        #expect(h.stolenInDelta == [0, 3])
        #expect(h.samples.last?.steals == 3)
    }

    @Test func idleChurnAndLagSpikesStayOutOfTheLists() {
        // An idle carrier parks and unparks thousands of times a second: they must not push the steal or the
        // slow callback out. Lag spikes are symptoms, not culprits: not in the slow-callback list.
        var h = PanelHistory()
        var events = [
            RuntimeEvent(time: 1, kind: .steal, worker: 1, other: 0, count: 2),
            RuntimeEvent(time: 1, kind: .slowCallback, worker: 0, durationMs: 50, name: "disk"),
            RuntimeEvent(time: 1, kind: .lagSpike, worker: 0, durationMs: 51),
        ]
        for i in 0..<1000 {
            events.append(RuntimeEvent(time: 2, kind: i % 2 == 0 ? .workerPark : .workerUnpark, worker: i % 2))
        }
        h.append(Snapshot(preset: "p", events: events))
        #expect(h.events.elements.map(\.kind) == [.steal, .slowCallback, .lagSpike])
        #expect(h.notable.elements.map(\.kind) == [.slowCallback])
    }

    @Test func stealLanesHoldASecond() {
        // A burst of steals keeps its lane for `stealHold` seconds instead of blinking out the next frame.
        var h = PanelHistory()
        h.append(
            Snapshot(
                time: 1, preset: "p", events: [RuntimeEvent(time: 1, kind: .steal, worker: 1, other: 0, count: 20)]))
        h.append(Snapshot(time: 1.5, preset: "p"))
        #expect(FiberChart.steals(h.recentSteals, carriers: 2) == [StealFlow(thief: 1, victim: 0, count: 20)])
        h.append(Snapshot(time: 2.1, preset: "p"))
        #expect(h.recentSteals.isEmpty)
    }

    @Test func eventsOfAWorkerNewestFirst() {
        var h = PanelHistory()
        h.append(
            Snapshot(
                preset: "p",
                events: [
                    RuntimeEvent(time: 1, kind: .steal, worker: 1, other: 0, count: 2),
                    RuntimeEvent(time: 2, kind: .workerPark, worker: 2),
                    RuntimeEvent(time: 3, kind: .steal, worker: 2, other: 1, count: 1),
                    RuntimeEvent(time: 4, kind: .spawnBatch, worker: 1, count: 100),
                ]))
        #expect(h.events(of: 1, limit: 5).map(\.time) == [3, 1])
        #expect(h.events(of: 2, limit: 1).map(\.time) == [3])
    }
}
