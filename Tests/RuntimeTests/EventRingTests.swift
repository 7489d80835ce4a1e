import Foundation
import Testing

@testable import Runtime

@Suite struct EventRingTests {
    @Test func keepsOrderAndCountsDropsWhenFull() {
        let ring = EventRing(capacity: 4)
        #expect(ring.capacity == 4)
        for i in 0..<6 {
            ring.push(RuntimeEventRecord(timeNanos: UInt64(i), kind: .steal, count: Int32(i)))
        }
        #expect(ring.dropped == 2)
        var out: [RuntimeEventRecord] = []
        #expect(ring.drain(into: &out) == 4)
        #expect(out.map(\.count) == [0, 1, 2, 3])
        #expect(ring.push(RuntimeEventRecord(timeNanos: 9, kind: .lagSpike, name: "culprit")))
        out.removeAll()
        ring.drain(into: &out, max: 10)
        #expect(out == [RuntimeEventRecord(timeNanos: 9, kind: .lagSpike, name: "culprit")])
    }

    /// A drain whose events run past the ring's last slot takes them in order from both ends of the storage, names
    /// and all (the drain appends the two pieces before and after the wrap).
    @Test func aDrainAcrossTheWrapKeepsOrderAndNames() {
        let ring = EventRing(capacity: 4)
        for i in 0..<3 { ring.push(RuntimeEventRecord(timeNanos: UInt64(i), kind: .steal)) }
        var out: [RuntimeEventRecord] = []
        #expect(ring.drain(into: &out) == 3)
        let long = String(repeating: "n", count: 40)
        for i in 3..<7 {
            ring.push(RuntimeEventRecord(timeNanos: UInt64(i), kind: .blockingEnd, name: "\(long)-\(i)"))
        }
        out.removeAll()
        #expect(ring.drain(into: &out, upTo: ring.produced) == 4)
        #expect(out.map(\.timeNanos) == [3, 4, 5, 6])
        #expect(out.map(\.name) == (3..<7).map { "\(long)-\($0)" })
        #expect(ring.pending == 0)
    }

    /// Records change hands by moves: many laps of a small ring, each record with a heap name, pushed into slots
    /// drained (moved out) before, arrive whole and once; a ring freed with records not drained destroys those
    /// (and only those: under AddressSanitizer, in CI, a second destroy or a destroy of a drained slot is a use
    /// after free).
    @Test func recordsMovedOutLapAfterLapArriveWholeAndOnce() {
        let long = String(repeating: "m", count: 40)
        var out: [RuntimeEventRecord] = []
        do {
            let ring = EventRing(capacity: 4)
            var next = 0
            for lap in 0..<50 {
                // 1 to 4 records a lap, so the drains start and end all round the ring.
                for _ in 0...(lap % 4) {
                    ring.push(RuntimeEventRecord(timeNanos: UInt64(next), kind: .steal, name: "\(long)-\(next)"))
                    next += 1
                }
                if lap % 3 == 0 { ring.drain(into: &out, upTo: ring.produced) } else { ring.drain(into: &out, max: 3) }
            }
            ring.drain(into: &out)
            #expect(out.map(\.timeNanos) == (0..<next).map(UInt64.init))
            #expect(out.allSatisfy { $0.name == "\(long)-\($0.timeNanos)" })
            // Three left in the ring when it is freed.
            for i in 0..<3 {
                ring.push(RuntimeEventRecord(timeNanos: UInt64(i), kind: .lagSpike, name: "\(long)-left-\(i)"))
            }
            #expect(ring.pending == 3)
        }
        #expect(out.last?.name == "\(long)-\(out.count - 1)")
    }

    @Test func drainRespectsMax() {
        let ring = EventRing(capacity: 8)
        for i in 0..<5 { ring.push(RuntimeEventRecord(timeNanos: UInt64(i), kind: .spawnBatch)) }
        var out: [RuntimeEventRecord] = []
        #expect(ring.drain(into: &out, max: 2) == 2)
        #expect(ring.pending == 3)
        #expect(ring.drain(into: &out) == 3)
        #expect(out.map(\.timeNanos) == [0, 1, 2, 3, 4])
    }

    /// One producer thread, one consumer thread, a shrunk ring: every event is either delivered in
    /// order exactly once or counted as dropped.
    @Test func stressOneProducerOneConsumer() async {
        let ring = EventRing(capacity: 8)
        let total = 200_000
        let producer = Thread {
            for i in 0..<total {
                ring.push(RuntimeEventRecord(timeNanos: UInt64(i), kind: .steal, name: i % 7 == 0 ? "f\(i)" : nil))
            }
        }
        producer.start()
        var received: [RuntimeEventRecord] = []
        let deadline = Date().addingTimeInterval(60)
        while UInt64(received.count) + ring.dropped < UInt64(total) && Date() < deadline {
            ring.drain(into: &received)
        }
        #expect(UInt64(received.count) + ring.dropped == UInt64(total))
        var last: Int64 = -1
        var ordered = true
        for e in received {
            if Int64(e.timeNanos) <= last { ordered = false }
            if e.timeNanos % 7 == 0 && e.name != "f\(e.timeNanos)" { ordered = false }
            last = Int64(e.timeNanos)
        }
        #expect(ordered)
    }

    @Test func ringSetMergesByTime() {
        let a = EventRing(capacity: 4)
        let b = EventRing(capacity: 4)
        a.push(RuntimeEventRecord(timeNanos: 3, kind: .steal))
        b.push(RuntimeEventRecord(timeNanos: 1, kind: .workerPark))
        a.push(RuntimeEventRecord(timeNanos: 5, kind: .steal))
        let set = EventRingSet([a, b])
        #expect(set.drainAll().map(\.timeNanos) == [1, 3, 5])
        #expect(set.dropped == 0)
    }
}
