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
