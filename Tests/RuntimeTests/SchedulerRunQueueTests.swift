import Runtime
import Synchronization
import Testing

private final class Item: Sendable {
    let id: Int
    init(_ id: Int) { self.id = id }
}

private final class Sink: OverflowSink, @unchecked Sendable {
    // @unchecked Sendable: used from one thread per test, or guarded by `lock`.
    let lock = Locked<[Int]>([])
    func pushBatch(count: Int, _ element: (Int) -> Item) {
        lock.withLock { ids in for i in 0..<count { ids.append(element(i).id) } }
    }
    var ids: [Int] { lock.withLock { $0 } }
}

/// A deterministic generator (SplitMix64) so every stress run is reproducible from its seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Scheduler run queue")
struct SchedulerRunQueueTests {
    @Test func fifoAndOverflowMovesHalf() {
        let (local, _) = makeRunQueue(capacity: 4) as (LocalQueue<Item>, StealQueue<Item>)
        let sink = Sink()
        for i in 0..<4 { #expect(local.push(Item(i), overflow: sink) == 0) }
        #expect(local.count == 4)
        // Full: half (2 oldest) + the new one go to the sink in one batch.
        #expect(local.push(Item(4), overflow: sink) == 3)
        #expect(sink.ids == [0, 1, 4])
        #expect(local.pop()?.id == 2)
        #expect(local.pop()?.id == 3)
        #expect(local.pop() == nil)
        #expect(local.isEmpty)
    }

    @Test func injectorBatchMovesStraightIntoTheRingWithinItsFreeSlots() {
        let injector = Injector<Item>()
        for i in 0..<10 { injector.push(Item(i)) }
        let (local, _) = makeRunQueue(capacity: 4) as (LocalQueue<Item>, StealQueue<Item>)
        // max 3: the first is returned, two go to the ring, FIFO.
        #expect(injector.popBatch(max: 3, share: 1, into: local)?.id == 0)
        #expect(local.count == 2 && injector.depth == 7)
        // The ring has 2 free slots: at most 1 + 2 leave the injector whatever `max` says.
        #expect(injector.popBatch(max: 100, share: 1, into: local)?.id == 3)
        #expect(local.count == 4 && injector.depth == 4)
        #expect(local.freeSlots == 0)
        // `share` 2: at most half the injector (rounded up), here 4 / 2 + 1 = 3, but the ring is full: 1.
        #expect(injector.popBatch(max: 100, share: 2, into: local)?.id == 6)
        #expect(injector.depth == 3)
        #expect((0..<4).map { _ in local.pop()?.id } == [1, 2, 4, 5])
        #expect(local.isEmpty)
        #expect(Injector<Item>().popBatch(max: 4, share: 1, into: local) == nil)
    }

    @Test func pushManyStopsAtMaxOrWhenTheSourceRunsDry() {
        let (local, steal) = makeRunQueue(capacity: 8) as (LocalQueue<Item>, StealQueue<Item>)
        var source = [Item(0), Item(1), Item(2)]
        #expect(local.pushMany(max: 5) { source.isEmpty ? nil : source.removeFirst() } == 3)
        #expect(local.pushMany(max: 2) { Item(100) } == 2)
        #expect(steal.count == 5 && local.freeSlots == 3)
        #expect((0..<5).map { _ in local.pop()?.id } == [0, 1, 2, 100, 100])
    }

    @Test func stealTakesHalfOrOne() {
        let (src, steal) = makeRunQueue(capacity: 8) as (LocalQueue<Item>, StealQueue<Item>)
        let (dst, _) = makeRunQueue(capacity: 8) as (LocalQueue<Item>, StealQueue<Item>)
        let sink = Sink()
        for i in 0..<6 { src.push(Item(i), overflow: sink) }
        let one = steal.steal(into: dst, limit: 1)
        #expect(one?.0.id == 0 && one?.1 == 1)
        #expect(dst.isEmpty)
        let half = steal.steal(into: dst, limit: .max)  // 5 left → takes 3: returns the last, queues 2
        #expect(half?.1 == 3)
        #expect(half?.0.id == 3)
        #expect(dst.pop()?.id == 1)
        #expect(dst.pop()?.id == 2)
        #expect(src.pop()?.id == 4)
        #expect(src.pop()?.id == 5)
        #expect(steal.steal(into: dst, limit: .max) == nil)
    }

    /// One owner pushes and pops, thieves steal concurrently, capacity 4: every item is seen exactly once.
    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func stressEveryItemOnce(seed: UInt64) {
        let limit: UInt32 = seed % 2 == 0 ? 1 : .max
        let total = 20_000
        let thieves = 3
        let (local, steal) = makeRunQueue(capacity: 4) as (LocalQueue<Item>, StealQueue<Item>)
        let sink = Sink()
        let seen = Locked<[Int]>([])
        let ownerDone = Atomic<Bool>(false)
        let counters = Atomic<Int>(0)
        let deadline = ContinuousClock.now + .seconds(30)
        nonisolated(unsafe) let localBox = local  // owner handle moves to the owner thread only
        let owner = OSThread.spawn {
            var rng = SeededRandom(state: seed)
            var mine: [Int] = []
            for i in 0..<total {
                localBox.push(Item(i), overflow: sink)
                if rng.next() % 3 == 0, let x = localBox.pop() { mine.append(x.id) }
            }
            while let x = localBox.pop() { mine.append(x.id) }
            ownerDone.store(true, ordering: .sequentiallyConsistent)
            seen.withLock { $0.append(contentsOf: mine) }
            counters.add(1, ordering: .sequentiallyConsistent)
        }
        var threads: [OSThread] = []
        for t in 0..<thieves {
            threads.append(
                OSThread.spawn {
                    let (dst, _) = makeRunQueue(capacity: 4) as (LocalQueue<Item>, StealQueue<Item>)
                    var mine: [Int] = []
                    var rng = SeededRandom(state: seed &* 31 &+ UInt64(t))
                    while !ownerDone.load(ordering: .sequentiallyConsistent) && ContinuousClock.now < deadline {
                        if let (x, _) = steal.steal(into: dst, limit: limit) { mine.append(x.id) }
                        if rng.next() % 2 == 0 { while let y = dst.pop() { mine.append(y.id) } }
                    }
                    while let y = dst.pop() { mine.append(y.id) }
                    seen.withLock { $0.append(contentsOf: mine) }
                })
        }
        owner.join()
        for t in threads { t.join() }
        let all = (seen.withLock { $0 } + sink.ids).sorted()
        #expect(all.count == total)
        #expect(all == Array(0..<total))
        #expect(counters.load(ordering: .sequentiallyConsistent) == 1)
    }
}
