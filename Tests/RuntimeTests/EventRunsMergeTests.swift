import Testing

@testable import Runtime

/// `EventRuns`: the merge of several rings' drains (each in time order) into one time-ordered list, which replaced
/// `Array.sort` of the records in the scheduler's and the loops' drains.
@Suite struct EventRunsMergeTests {
    /// A deterministic generator (xorshift), so a failure names its seed.
    struct Rng {
        var s: UInt64
        mutating func next(_ n: Int) -> Int {
            s ^= s << 13
            s ^= s >> 7
            s ^= s << 17
            return Int(s % UInt64(n))
        }
    }

    /// Runs of random lengths (some empty) whose times repeat within and across runs: the merge must equal a stable
    /// sort by time of the concatenation (ties keep run order, then order within the run), record for record, names
    /// included (long names: heap strings moved, not copied or lost).
    @Test(arguments: [1, 2, 3, 7, 42, 1_000])
    func theMergeIsAStableSortByTime(seed: UInt64) {
        var rng = Rng(s: seed &* 0x9E37_79B9_7F4A_7C15 | 1)
        var events: [RuntimeEventRecord] = []
        var runs = EventRuns()
        let runCount = 1 + rng.next(40)
        for r in 0..<runCount {
            let length = rng.next(4) == 0 ? 0 : rng.next(30)
            var t = UInt64(rng.next(50))
            for k in 0..<length {
                t += UInt64(rng.next(3))  // steps of 0 make ties inside a run
                events.append(
                    RuntimeEventRecord(
                        timeNanos: t, kind: .steal, worker: Int32(r), count: Int32(k),
                        name: k % 3 == 0 ? "a name long enough to live on the heap \(r).\(k)" : nil))
            }
            runs.add(length)
        }
        let expected = events.enumerated().sorted {
            ($0.element.timeNanos, $0.offset) < ($1.element.timeNanos, $1.offset)
        }.map(\.element)
        runs.merge(&events)
        #expect(events == expected)
        #expect(runs.count == 0)
    }

    /// The runs' buffers are kept and reset: a second drain's merge starts from no runs.
    @Test func aSecondMergeStartsFromNoRuns() {
        var runs = EventRuns()
        var first = [5, 1].map { RuntimeEventRecord(timeNanos: UInt64($0), kind: .steal) }
        runs.add(1)
        runs.add(1)
        runs.merge(&first)
        #expect(first.map(\.timeNanos) == [1, 5])
        var second = [9, 2, 4].map { RuntimeEventRecord(timeNanos: UInt64($0), kind: .steal) }
        runs.add(1)
        runs.add(2)
        runs.merge(&second)
        #expect(second.map(\.timeNanos) == [2, 4, 9])
    }

    /// The scheduler's drain goes through the merge: a live scheduler's events from several workers' rings come out
    /// in time order.
    @Test func theSchedulersDrainIsInTimeOrder() throws {
        let s = try Scheduler(.init(carriers: 4))
        defer { s.shutdown() }
        var sample = SchedulerSample()
        var seen: [RuntimeEventRecord] = []
        for _ in 0..<50 where Set(seen.map(\.worker)).count < 2 {
            let hs = (0..<64).map { _ in s.spawn { Scheduler.sleep(nanoseconds: 200_000) } }
            for h in hs { h.join() }
            s.sample(into: &sample)
            seen = sample.events
        }
        #expect(Set(seen.map(\.worker)).count >= 2, "no sample had events of two workers")
        #expect(seen.map(\.timeNanos) == seen.map(\.timeNanos).sorted())
    }
}
