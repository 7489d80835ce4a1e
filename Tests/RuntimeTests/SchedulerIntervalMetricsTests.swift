import CRuntime
import Glibc
import Runtime
import Synchronization
import Testing

/// The figures the sampler takes per interval (issue 13, gaps 6 and 8): each shows what its doc says.
@Suite("Scheduler interval metrics")
struct SchedulerIntervalMetricsTests {
    /// A burst of 40 fibers spawned and run between two takes shows in the local queue's high-water mark,
    /// although the queue is empty again at the second take; the take after that (nothing ran) is back to 0.
    @Test func aBurstBetweenTwoSamplesShowsInTheQueueHighWaterMark() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        _ = quiescentMetrics(s)
        _ = s.takeInterval()
        let parent = s.spawn(name: "burst") { () -> Int in
            let children = (0..<40).map { _ in s.spawn { 1 } }
            return children.reduce(0) { $0 + $1.join() }
        }
        #expect(joinBounded(parent) == 40)
        let m = quiescentMetrics(s)
        let burst = s.takeInterval()
        #expect(m.workers[0].queueDepth == 0)
        #expect(burst.workers[0].queueHighWater >= 40)
        let calm = s.takeInterval()
        #expect(calm.workers[0].queueHighWater == 0)
        #expect(calm.startNanos == burst.endNanos)
    }

    /// External spawns that pile up behind a busy carrier show in the injector's high-water mark after they drained.
    @Test func injectorBacklogShowsInItsHighWaterMark() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        let release = Atomic<Bool>(false)
        let holding = Atomic<Bool>(false)
        let holder = s.spawn {
            holding.store(true, ordering: .sequentiallyConsistent)
            while !release.load(ordering: .sequentiallyConsistent) {}
        }
        while !holding.load(ordering: .sequentiallyConsistent) { sched_yield() }
        _ = s.takeInterval()
        let queued = (0..<30).map { _ in s.spawn { 1 } }
        release.store(true, ordering: .sequentiallyConsistent)
        _ = joinBounded(holder)
        #expect(queued.compactMap { joinBounded($0) }.count == 30)
        let m = quiescentMetrics(s)
        #expect(m.injectorDepth == 0)
        #expect(s.takeInterval().injectorHighWater >= 30)
        #expect(s.takeInterval().injectorHighWater == 0)
    }

    /// "What ran": the last labelled fiber of the interval and how many runs it had, even though nothing runs at
    /// the moment of the take; an interval with no run reports none.
    @Test func lastFiberRunInTheIntervalIsReported() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        _ = s.takeInterval()
        #expect(joinBounded(s.spawn(name: "first", kind: "a") { 1 }) == 1)
        #expect(joinBounded(s.spawn(name: "second", kind: "b") { 2 }) == 2)
        _ = quiescentMetrics(s)
        let i = s.takeInterval()
        #expect(i.workers[0].lastFiber == "second")
        #expect(i.workers[0].lastKind == "b")
        #expect(i.workers[0].runs >= 2)
        let quiet = s.takeInterval()
        #expect(quiet.workers[0].lastFiber == nil)
        #expect(quiet.workers[0].runs == 0)
    }

    /// Busy (user work) excludes searching: the carrier that ran a 60 ms CPU fiber shows ≥ 50 ms of user time,
    /// and the carrier woken to search meanwhile (Go's "the last spinner wakes another"; a long spin budget here)
    /// shows its time as searching, not as user work — under the old single busy figure it counted as busy.
    @Test func busyExcludesSearching() throws {
        let s = try Scheduler(.init(carriers: 2, steal: .half, spinCount: 50_000))
        defer { s.shutdown() }
        let m0 = quiescentMetrics(s)
        let hog = s.spawn(name: "cpu") {
            let end = qv_now_ns() &+ 60_000_000
            while qv_now_ns() < end {}
        }
        _ = joinBounded(hog)
        let m1 = quiescentMetrics(s)
        let deltas = zip(m0.workers, m1.workers).map { a, b in
            (
                runs: b.runs - a.runs, user: b.userNanos - a.userNanos, search: b.searchNanos - a.searchNanos,
                busy: b.busyNanos - a.busyNanos
            )
        }
        let ranIndex = try #require(deltas.indices.max { deltas[$0].user < deltas[$1].user })
        #expect(deltas[ranIndex].user >= 50_000_000)
        // The other carrier: the one that ran the hog may have searched too (before and after it) and, on a
        // loaded machine, for longer than the other one; its user time is the hog's, not a search miscounted.
        let searcher = deltas[1 - ranIndex]
        #expect(searcher.search >= 1_000_000)
        #expect(searcher.user < searcher.search / 4)
        for d in deltas { #expect(d.busy == d.user + d.search) }
    }
}
