import CRuntime
import Glibc
import Runtime
import Synchronization
import Testing

/// Joins on a plain thread with a bound, so a broken scheduler fails the test instead of hanging CI.
func joinBounded<T>(_ h: JoinHandle<T>, seconds: UInt64 = 30) -> T? {
    h.join(timeoutNanos: seconds * 1_000_000_000)
}

@Suite("Scheduler basics")
struct SchedulerBasicTests {
    @Test func spawnFromOutsideAndJoin() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let h = s.spawn(name: "answer") { 6 * 7 }
        #expect(joinBounded(h) == 42)
    }

    /// A scheduler task runs on its own stack without a `Fiber` object: it is "in a fiber", but `Fiber.current`
    /// (which names `Fiber` objects) is nil there, and a plain `Fiber` resumed inside a task still works.
    @Test func tasksAreFibersWithoutAFiberObject() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        let h = s.spawn { () -> [Bool] in
            let inner = Fiber { Fiber.suspend() }
            var seen = [Fiber.isInFiber, Fiber.current == nil]
            inner.resume()
            seen.append(!inner.isFinished)
            inner.resume()
            seen.append(inner.isFinished)
            Scheduler.yield()
            seen.append(Fiber.isInFiber && Fiber.current == nil)
            return seen
        }
        #expect(joinBounded(h) == [true, true, true, true, true])
    }

    @Test func spawnManyFromAFiberAndJoinInside() throws {
        let s = try Scheduler(.init(carriers: 2, localQueueCapacity: 4))
        defer { s.shutdown() }
        let root = s.spawn { () -> Int in
            var hs: [JoinHandle<Int>] = []
            for i in 0..<2000 { hs.append(s.spawn { i * 2 }) }
            return hs.reduce(0) { $0 + $1.join() }
        }
        #expect(joinBounded(root) == 2000 * 1999)
    }

    /// The join state is one atomic word holding a stack of waiters: many fibers and plain threads joining one
    /// fiber, racing with its completion (seeded), all get its result; joins after completion return at once.
    @Test func manyJoinersOfOneFiberRacingItsCompletion() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        var rng = SeededRandom(state: 7)
        for round in 0..<200 {
            let delay = UInt64.random(in: 0...2, using: &rng) * 100_000
            let target = s.spawn { () -> Int in
                if delay > 0 { Scheduler.sleep(nanoseconds: delay) }
                return round
            }
            let fiberJoiners = (0..<4).map { _ in s.spawn { target.join() } }
            let threadJoiner = OSThread.spawn { #expect(joinBounded(target) == round) }
            for j in fiberJoiners { #expect(joinBounded(j) == round) }
            threadJoiner.join()
            #expect(target.join() == round)
            #expect(s.spawn { target.join() }.join() == round)
        }
    }

    @Test func sleepParksTheFiberNotTheCarrier() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        let counter = Atomic<Int>(0)
        let sleeper = s.spawn { () -> Int in
            Scheduler.sleep(nanoseconds: 20_000_000)
            return counter.load(ordering: .sequentiallyConsistent)
        }
        // On one carrier these only run if the sleeper parked its fiber, not the carrier.
        let others = (0..<10).map { _ in s.spawn { counter.add(1, ordering: .sequentiallyConsistent) } }
        for h in others { _ = joinBounded(h) }
        #expect(joinBounded(sleeper) == 10)
    }

    @Test func channelPingPong() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let ping = Channel<Int>()
        let pong = Channel<Int>(capacity: 1)
        let n = 5000
        let a = s.spawn { () -> Int in
            var sum = 0
            for i in 0..<n {
                try? ping.send(i)
                sum += pong.receive()!
            }
            ping.close()
            return sum
        }
        let b = s.spawn {
            while let v = ping.receive() { try? pong.send(v) }
        }
        #expect(joinBounded(a) == n * (n - 1) / 2)
        #expect(joinBounded(b) != nil)
    }

    @Test func mutexAndSemaphore() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let m = FiberMutex()
        let sem = FiberSemaphore(value: 2)
        let inside = Atomic<Int>(0)
        let maxInside = Atomic<Int>(0)
        nonisolated(unsafe) var total = 0
        let hs = (0..<50).map { _ in
            s.spawn {
                for _ in 0..<20 {
                    m.withLock { total += 1 }
                    sem.wait()
                    let now = inside.add(1, ordering: .sequentiallyConsistent).newValue
                    var seen = maxInside.load(ordering: .sequentiallyConsistent)
                    while now > seen {
                        let r = maxInside.compareExchange(
                            expected: seen, desired: now, ordering: .sequentiallyConsistent)
                        if r.exchanged { break }
                        seen = r.original
                    }
                    Scheduler.yield()
                    inside.subtract(1, ordering: .sequentiallyConsistent)
                    sem.signal()
                }
            }
        }
        for h in hs { #expect(joinBounded(h) != nil) }
        #expect(m.withLock { total } == 1000)
        #expect(maxInside.load(ordering: .sequentiallyConsistent) <= 2)
    }
}

@Suite("Scheduler channels")
struct SchedulerChannelTests {
    @Test func closeWakesParkedReceiversAndSenders() throws {
        let s = try Scheduler(.init(carriers: 2))
        defer { s.shutdown() }
        let empty = Channel<Int>()
        let full = Channel<Int>(capacity: 1)
        try full.send(1)  // from a plain thread: the buffer has room, no park
        let receiver = s.spawn { empty.receive() }
        let sender = s.spawn { () -> Bool in
            do {
                try full.send(2)
                return false
            } catch {
                return (error as? ChannelError) == .closed
            }
        }
        // Let both park, then close.
        let deadline = qv_now_ns() + 20_000_000_000
        while s.metrics().fibers.parkedChannel < 2 && qv_now_ns() < deadline { usleep(500) }
        empty.close()
        full.close()
        #expect(joinBounded(receiver) == .some(nil))
        #expect(joinBounded(sender) == true)
        #expect(full.receive() == 1)  // buffered values survive close
        #expect(full.receive() == nil)
        #expect(throws: ChannelError.closed) { try full.send(3) }
    }

    @Test func bufferedChannelKeepsOrderAcrossParkedSenders() throws {
        let s = try Scheduler(.init(carriers: 2, localQueueCapacity: 4))
        defer { s.shutdown() }
        let ch = Channel<String>(capacity: 3)
        let n = 500
        let producer = s.spawn {
            for i in 0..<n { try? ch.send("v\(i)") }
            ch.close()
        }
        let consumer = s.spawn { () -> [String] in
            var got: [String] = []
            while let v = ch.receive() {
                got.append(v)
                if got.count % 7 == 0 { Scheduler.yield() }
            }
            return got
        }
        #expect(joinBounded(producer) != nil)
        #expect(joinBounded(consumer) == (0..<n).map { "v\($0)" })
        #expect(ch.tryReceive() == nil)
    }

    @Test func plainThreadAndFiberShareAChannel() throws {
        let s = try Scheduler(.init(carriers: 1))
        defer { s.shutdown() }
        let ch = Channel<Int>()
        let h = s.spawn { () -> Int in
            var sum = 0
            while let v = ch.receive() { sum += v }
            return sum
        }
        for i in 1...100 { try ch.send(i) }  // this thread parks on its own Parker until the fiber takes it
        ch.close()
        #expect(joinBounded(h) == 5050)
    }
}
