import CRuntime
import Glibc
import Synchronization
import Testing

@testable import Runtime

/// The one-pass sample (`Scheduler.sample(into:)`, issue 15 "Many workers"): the same figures as the separate
/// reads, from a cache of each worker's slot that never keeps a stale row, with buffers reused from sample to sample.
@Suite("Scheduler one-pass sample")
struct SchedulerSampleTests {
    /// A quiescent scheduler read both ways gives the same counters, fibers by state, delays and interval figures.
    @Test func oneSamplePassGivesWhatTheSeparateReadsGive() throws {
        let s = try Scheduler(.init(carriers: 4))
        defer { s.shutdown() }
        // Names are published once someone reads (the monitor thread's start also starts them, but it may start
        // after the fibers ran on a loaded machine).
        _ = s.metrics()
        let hs = (0..<200).map { k in
            s.spawn(name: "f-\(k % 7)", kind: k % 2 == 0 ? "io" : "cpu") { () -> Int in
                Scheduler.sleep(nanoseconds: UInt64(k % 5) * 100_000)
                return k
            }
        }
        #expect(hs.compactMap { joinBounded($0) }.count == 200)
        let m = quiescentMetrics(s)
        var sample = SchedulerSample()
        s.sample(into: &sample)
        let one = sample.metrics
        #expect(one.spawned == m.spawned && one.finished == m.finished && one.spawned >= 200)
        #expect(one.fibers == m.fibers)
        #expect(one.delay == m.delay && one.delay.samples > 0)
        #expect(one.workers.map(\.runs) == m.workers.map(\.runs))
        #expect(one.workers.map(\.stolenIn) == m.workers.map(\.stolenIn))
        #expect(one.workers.map(\.state) == m.workers.map(\.state))
        #expect(one.workers.reduce(0) { $0 + $1.runs } >= 200)
        // The interval the sample took counts every run since the scheduler started (no take before it).
        #expect(sample.interval.workers.map(\.runs) == m.workers.map(\.runs))
        #expect(sample.interval.workers.contains { $0.lastFiber?.hasPrefix("f-") == true })
        // And a take right after it starts from there: nothing ran since.
        let next = s.takeInterval()
        #expect(next.workers.allSatisfy { $0.runs == 0 && $0.lastFiber == nil })
        #expect(next.startNanos == sample.interval.endNanos)
    }

    /// `sample(into:eachWorker:)` visits every worker once, in order, inside the pass, with the rows the sample then
    /// holds (what FiberSampler maps from while they are in cache); the events it drains are those of the rings its
    /// pass found with new events, so a worker's park is among them.
    @Test func eachWorkerIsVisitedOnceInOrderWithTheRowsTheSampleHolds() throws {
        let s = try Scheduler(.init(carriers: 4))
        defer { s.shutdown() }
        _ = s.metrics()
        let hs = (0..<100).map { k in
            s.spawn(name: "v-\(k % 5)", kind: "io") { () -> Int in
                Scheduler.sleep(nanoseconds: UInt64(k % 3) * 100_000)
                return k
            }
        }
        #expect(hs.compactMap { joinBounded($0) }.count == 100)
        _ = quiescentMetrics(s)
        // A worker parked 20 ms (past the 1 ms park-event threshold) records its park in its ring when a fiber wakes it.
        usleep(20_000)
        #expect(joinBounded(s.spawn(name: "wake") { 1 }) == 1)
        var sample = SchedulerSample()
        for round in 0..<2 {
            var seen: [Int] = []
            var rows: [SchedulerMetrics.Worker] = []
            var intervalRows: [SchedulerMetrics.Interval.Worker] = []
            s.sample(into: &sample) { i, w, iv in
                seen.append(i)
                rows.append(w.pointee)
                if let iv { intervalRows.append(iv.pointee) }
            }
            #expect(s.workerCount == 4)
            #expect(seen == Array(0..<4), "round \(round)")
            #expect(rows == sample.metrics.workers, "round \(round)")
            #expect(intervalRows == sample.interval.workers, "round \(round)")
            if round == 0 {
                #expect(sample.events.contains { $0.kind == .workerPark && $0.worker >= 0 })
                #expect(rows.reduce(0) { $0 + $1.runs } >= 100)
            }
        }
    }

    /// A publish that changes nothing leaves the slot's generation (and so the sampler's cached row) as it was; a
    /// publish that changes one word moves the generation, and the word reads back.
    @Test func aSlotsGenerationMovesOnlyWhenAPublishChangedAWord() {
        let table = PublishedCounters(slots: 3)
        let p = PublishedWorkerMetrics(table: table, index: 1)
        var c = WorkerCounters()
        c.runs = 61
        c.delayHist[5] = 2
        p.publish(c)
        let slot = table.slot(1)
        #expect(slot.generation == 1)
        #expect(slot.load(PublishedCounters.Word.runs) == 61)
        // Bucket 5: the high half of histogram word 2 (two buckets a word).
        #expect(slot.load(PublishedCounters.Word.histogram + 2) == 2 << 32)
        p.publish(c)
        #expect(slot.generation == 1)
        c.fiberWakes[ParkReason.join.rawValue] = 9
        p.publish(c)
        #expect(slot.generation == 2)
        #expect(slot.load(PublishedCounters.Word.fiberWakes + ParkReason.join.rawValue) == 9)
        // The neighbours' slots are untouched, and 128-byte aligned apart.
        #expect(table.slot(0).generation == 0 && table.slot(2).generation == 0)
        let stride = UInt(bitPattern: table.slot(2).words) - UInt(bitPattern: table.slot(1).words)
        #expect(stride == UInt(PublishedCounters.slotWords * 8) && stride % 128 == 0)
        #expect(UInt(bitPattern: table.slot(0).words) % 128 == 0)
    }

    /// The histogram's two buckets a word: each bucket modulo 2^32 in its half, and a reader's change per bucket a
    /// wrapping difference, so a bucket that passed 2^32 between two reads still adds exactly what it counted.
    @Test func packedBucketsGiveEachBucketsChangeAcrossAWrap() {
        var buckets = [UInt64](repeating: 0, count: DelayHistogram.buckets)
        buckets[6] = 0xFFFF_FFFE
        buckets[7] = 5
        let before = PublishedCounters.packBuckets(buckets, 3)
        #expect(before == 5 << 32 | 0xFFFF_FFFE)
        buckets[6] += 3  // 2^32 + 1: its half wraps to 1
        buckets[7] += 1
        let after = PublishedCounters.packBuckets(buckets, 3)
        #expect(after == 6 << 32 | 1)
        var d: [Int: UInt64] = [:]
        PublishedCounters.forEachBucketDelta(ofWord: 3, from: before, to: after) { d[$0] = $1 }
        #expect(d == [6: 3, 7: 1])
        #expect(PublishedCounters.Word.histogramWords * 2 >= DelayHistogram.buckets)
    }

    /// Stress (TSan in CI): a sampler taking one-pass samples as fast as it can while 16 carriers run, park and
    /// steal; once the scheduler is quiet, one more sample with the same (warm) buffers agrees with a fresh
    /// `metrics()` — a row the cache kept although its worker had published since would show as a difference here.
    @Test func theCachedRowsAgreeWithAFreshReadAfterConcurrentSampling() throws {
        let s = try Scheduler(.init(carriers: 16))
        defer { s.shutdown() }
        final class Box: @unchecked Sendable {
            // @unchecked Sendable: `sample` is touched by the sampler thread, then (after its join) by the test.
            var sample = SchedulerSample()
            var count = 0
        }
        let box = Box()
        let stop = Atomic<Bool>(false)
        let sampler = OSThread.spawn(name: "sampler") {
            // relaxed: a stop flag; the join orders the rest.
            while !stop.load(ordering: .relaxed) {
                s.sample(into: &box.sample)
                box.count += 1
            }
        }
        var seed: UInt64 = 0x5EED
        let hs = (0..<2000).map { k -> JoinHandle<UInt64> in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let nap = (seed >> 40) % 200_000
            return s.spawn(name: "w-\(k % 13)") { () -> UInt64 in
                Scheduler.sleep(nanoseconds: nap)
                Scheduler.yield()
                return nap
            }
        }
        #expect(hs.compactMap { joinBounded($0) }.count == 2000)
        let m = quiescentMetrics(s)
        stop.store(true, ordering: .relaxed)  // relaxed: see above.
        sampler.join()
        #expect(box.count > 0)
        s.sample(into: &box.sample)
        let warm = box.sample.metrics
        #expect(warm.spawned == m.spawned && warm.finished == m.finished)
        #expect(warm.fibers == m.fibers)
        #expect(warm.delay == m.delay)
        // (Runs, not busy time: a parked carrier may still wake for the poll duty and publish its busy time.)
        #expect(warm.workers.map(\.runs) == m.workers.map(\.runs))
        #expect(warm.workers.map(\.stolenIn) == m.workers.map(\.stolenIn))
    }

    /// Once sized, a sample refills the buffers it was given: the workers' array keeps its storage.
    @Test func aSampleReusesItsBuffers() throws {
        let s = try Scheduler(.init(carriers: 8))
        defer { s.shutdown() }
        var sample = SchedulerSample()
        s.sample(into: &sample)
        let workers = sample.metrics.workers.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let interval = sample.interval.workers.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        #expect(joinBounded(s.spawn(name: "one") { 1 }) == 1)
        s.sample(into: &sample)
        #expect(sample.metrics.workers.count == 8)
        #expect(sample.metrics.workers.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == workers)
        #expect(sample.interval.workers.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == interval)
    }

    /// A sample's buffers reused on another scheduler of the same size start afresh: its rows are the new scheduler's
    /// (an unchanged slot's row is served from the cache, so a row kept from the first scheduler would show here).
    @Test func aSampleReusedOnAnotherSchedulerReadsTheNewOne() throws {
        var sample = SchedulerSample()
        do {
            let a = try Scheduler(.init(carriers: 4))
            let hs = (0..<100).map { k in a.spawn(name: "a-\(k)") { k } }
            #expect(hs.compactMap { joinBounded($0) }.count == 100)
            _ = quiescentMetrics(a)
            a.sample(into: &sample)
            #expect(sample.metrics.workers.reduce(0) { $0 + $1.runs } >= 100)
            a.shutdown()
        }
        let b = try Scheduler(.init(carriers: 4, localQueueCapacity: 64))
        defer { b.shutdown() }
        #expect(joinBounded(b.spawn(name: "b") { 1 }) == 1)
        let m = quiescentMetrics(b)
        b.sample(into: &sample)
        #expect(sample.metrics.workers.map(\.runs) == m.workers.map(\.runs))
        #expect(sample.metrics.workers.reduce(0) { $0 + $1.runs } < 100)
        #expect(sample.metrics.workers.allSatisfy { $0.queueCapacity == 64 })
        #expect(sample.metrics.spawned == m.spawned && sample.metrics.delay == m.delay)
    }

    /// The published rows show what the worker did (session 9: the sampler reads only the worker's slot): the name
    /// and kind of the fiber holding the carrier, its state, and the depth of the queue behind it, then — once it
    /// finished and the worker parked — no current fiber, that fiber as the interval's last, and the interval's peak.
    @Test func thePublishedRowsShowWhatTheWorkerDid() throws {
        let s = try Scheduler(.init(carriers: 1, hogThresholdNanos: 0))
        defer { s.shutdown() }
        var sample = SchedulerSample()
        s.sample(into: &sample)  // names are published from here on
        let release = Atomic<Bool>(false)
        let holding = Atomic<Bool>(false)
        let holder = s.spawn(name: "holder-with-a-name-past-23-bytes", kind: "cpu") { () -> Int in
            let children = (0..<12).map { k in s.spawn(name: "child-\(k)", kind: "io") { k } }
            holding.store(true, ordering: .sequentiallyConsistent)
            while !release.load(ordering: .sequentiallyConsistent) { sched_yield() }
            return children.reduce(0) { $0 + $1.join() }
        }
        while !holding.load(ordering: .sequentiallyConsistent) { sched_yield() }
        s.sample(into: &sample)
        var w = sample.metrics.workers[0]
        #expect(w.state == .running)
        #expect(w.currentFiber == "holder-with-a-name-past-23-bytes" && w.currentKind == "cpu")
        #expect(w.queueDepth == 12)
        #expect(sample.metrics.fibers.running == 1)
        release.store(true, ordering: .sequentiallyConsistent)
        #expect(joinBounded(holder) == 66)
        _ = quiescentMetrics(s)
        s.sample(into: &sample)
        w = sample.metrics.workers[0]
        #expect(w.state == .parked && w.queueDepth == 0)
        // The fiber run last: the holder (it joined its children, so it ran after them).
        #expect(w.currentFiber == "holder-with-a-name-past-23-bytes")
        let iv = sample.interval.workers[0]
        #expect(iv.lastFiber == "holder-with-a-name-past-23-bytes" && iv.lastKind == "cpu")
        #expect(iv.queueHighWater >= 12 && iv.runs >= 13)
        // Nothing ran since: the next interval has no last fiber, no runs and no peak.
        s.sample(into: &sample)
        let next = sample.interval.workers[0]
        #expect(next.lastFiber == nil && next.runs == 0 && next.queueHighWater == 0)
        // An unnamed fiber run last leaves no current name; the interval had a run but no labelled one.
        #expect(joinBounded(s.spawn { 1 }) == 1)
        _ = quiescentMetrics(s)
        s.sample(into: &sample)
        #expect(sample.metrics.workers[0].currentFiber == nil)
        #expect(sample.interval.workers[0].lastFiber == nil && sample.interval.workers[0].runs >= 1)
        // A short name, packed whole into the slot.
        #expect(joinBounded(s.spawn(name: "short", kind: "k") { 2 }) == 2)
        _ = quiescentMetrics(s)
        s.sample(into: &sample)
        #expect(sample.metrics.workers[0].currentFiber == "short" && sample.metrics.workers[0].currentKind == "k")
        #expect(sample.interval.workers[0].lastFiber == "short")
    }

    /// A label packs into the slot's words and back unchanged up to 23 bytes of name and 15 of kind (UTF-8), and is
    /// marked long past either.
    @Test func aLabelPacksWholeOrIsMarkedLong() {
        for (name, kind) in [
            ("", "io"), ("a", ""), ("load-17", "cpu"), ("exactly-23-bytes-long!!", "fifteen-bytes!!"),
            ("héllo wörld ✓", "ç"),
        ] {
            let p = PackedLabel(name: name, kind: kind)
            #expect(!p.isLong)
            #expect(p.names?.name == name && p.names?.kind == kind)
        }
        #expect(PackedLabel(name: "twenty-four-bytes-long!!", kind: "io").isLong)
        #expect(PackedLabel(name: "n", kind: "sixteen-bytes!!!").isLong)
        #expect(PackedLabel(name: "twenty-four-bytes-long!!", kind: "io").names == nil)
    }
}
