import Testing

@testable import Runtime

/// Draining many rings into one buffer (a sample of 256 carriers drains 256 rings) grows the buffer geometrically.
@Suite("Event ring drain growth")
struct EventRingDrainGrowthTests {
    /// 512 rings of one event each, drained into one array: the buffer is reallocated a handful of times, not once
    /// per ring (an exact `reserveCapacity(count + n)` per drain reallocated and copied the whole buffer each time).
    @Test func drainingManyRingsIntoOneBufferReallocatesLogarithmically() {
        let rings = (0..<512).map { _ in EventRing(capacity: 4) }
        for (i, r) in rings.enumerated() { r.push(RuntimeEventRecord(timeNanos: UInt64(i), kind: .steal)) }
        var out: [RuntimeEventRecord] = []
        var reallocations = 0
        var capacity = out.capacity
        for r in rings {
            r.drain(into: &out)
            if out.capacity != capacity {
                reallocations += 1
                capacity = out.capacity
            }
        }
        #expect(out.count == 512)
        #expect(out.map(\.timeNanos) == (0..<512).map { UInt64($0) })
        #expect(reallocations <= 16, "\(reallocations) reallocations for 512 drains")
    }
}
