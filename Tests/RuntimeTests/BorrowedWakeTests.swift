import Synchronization
import Testing

@testable import Runtime

/// The wake path borrows what it touches instead of retaining it: `Waiter.finish` borrows the waiter's task and
/// the task's scheduler, `Waiter.wait` the task across its parks, a wake from a running fiber tests the carrier's
/// `currentRef` without making a reference. Each borrow leans on someone else's +1 (the completer's reference to
/// the waiter it took off the list, the waiter's `task`). These stress the moments that +1 could be the last: a
/// woken fiber that finishes — dropping its waiter — while its completer is still inside `finish`. Run under TSan
/// in CI, where a use of a freed waiter or task is reported as a race with its free.
@Suite("Borrowed references on the wake path")
struct BorrowedWakeTests {
    /// 3 carriers; 20 rounds of 200 fibers that each receive one value and return at once, from senders that are
    /// fibers on other carriers and a plain thread: every value arrives exactly once and every receiver finishes.
    /// Rounds, not 4,000 fibers at once: under TSan every live fiber has its own shadow stack.
    @Test func receiversThatFinishRightAfterTheirWakeGetEveryValue() throws {
        let s = try Scheduler(.init(carriers: 3))
        defer { s.shutdown() }
        let perRound = 200
        for round in 0..<20 {
            let ch = Channel<Int>()
            let receivers = (0..<perRound).map { _ in s.spawn { ch.receive() ?? -1 } }
            // Half from fibers (their wake takes the LIFO-slot path), half from a plain thread (the injector path).
            let fromFibers = (0..<4).map { k in
                s.spawn { () -> Int in
                    var sent = 0
                    for i in stride(from: k, to: perRound / 2, by: 4) where (try? ch.send(i)) != nil { sent += 1 }
                    return sent
                }
            }
            let thread = OSThread.spawn {
                for i in perRound / 2..<perRound { try? ch.send(i) }
            }
            let got = receivers.map { joinBounded($0, seconds: 60) ?? -2 }
            thread.join()
            for f in fromFibers { #expect(joinBounded(f, seconds: 60) == perRound / 8) }
            #expect(
                got.sorted() == Array(0..<perRound),
                "round \(round): a value lost or duplicated, or a receiver never woken")
        }
    }

    /// A `FiberMutex` handed from fiber to fiber, each taking it once and finishing right after its unlock (16
    /// rounds of 250), while channel round trips run beside it on the same 3 carriers: the protected counter ends
    /// at the number of fibers and every fiber finishes.
    @Test func mutexHandOversToFibersThatFinishAtOnceLoseNone() throws {
        let s = try Scheduler(.init(carriers: 3))
        defer { s.shutdown() }
        let m = FiberMutex()
        let counter = Atomic<Int>(0)
        let rounds = 16
        let perRound = 250
        let n = rounds * perRound
        let ping = Channel<Int>()
        let pong = Channel<Int>()
        let echo = s.spawn { () -> Int in
            var k = 0
            while let v = ping.receive() {
                try? pong.send(v)
                k += 1
            }
            return k
        }
        let client = s.spawn { () -> Int in
            var ok = 0
            for i in 0..<n {
                try? ping.send(i)
                if pong.receive() == i { ok += 1 }
            }
            ping.close()
            return ok
        }
        for _ in 0..<rounds {
            let lockers = (0..<perRound).map { _ in
                s.spawn { () -> Void in
                    m.withLock { () -> Void in
                        // relaxed: the mutex orders the increments; the atomic only lets the test read it.
                        _ = counter.add(1, ordering: .relaxed)
                    }
                }
            }
            for l in lockers { #expect(joinBounded(l, seconds: 60) != nil) }
        }
        #expect(joinBounded(client, seconds: 60) == n)
        #expect(joinBounded(echo, seconds: 60) == n)
        #expect(counter.load(ordering: .relaxed) == n)  // relaxed: every writer has been joined.
    }
}
