import CRuntime
import Testing

@testable import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// Fibers that move between OS threads while running real Swift code.
@Suite struct FiberMigrationTests {
    /// Per-fiber record of what it saw; written by the fiber, read after the threads are joined.
    final class Record: @unchecked Sendable {
        // @unchecked Sendable: written only by its fiber (one thread at a time, handed over through
        // TestSemaphore/TestLock) and read after join().
        var migrations = 0
        var wrongCurrent = 0
        var checksum = 0
        var caught = 0
        var dictionary: [String: Int] = [:]
    }

    struct StepError: Error, Equatable { var step: Int }

    final class Node {
        let value: Int
        let next: Node?
        init(_ value: Int, next: Node?) {
            self.value = value
            self.next = next
        }
    }

    /// Some ordinary Swift: a class chain, a closure, string interpolation, a Dictionary, a throw.
    static func work(fiber: Int, step: Int, into dict: inout [String: Int]) throws -> Int {
        let key = "f\(fiber)/s\(step % 16)"
        dict[key, default: 0] += step
        let current = dict[key] ?? 0
        let scale = { (x: Int) in x &* 3 &+ current }
        var list: Node?
        for i in 0..<4 { list = Node(scale(i), next: list) }
        if step % 5 == 0 { throw StepError(step: step) }
        var sum = 0
        while let n = list {
            sum &+= n.value
            list = n.next
        }
        return sum
    }

    /// Suspends, then throws on whichever thread it is resumed on.
    static func suspendThenThrow(_ step: Int) throws {
        Fiber.suspend()
        if step % 3 == 0 { throw StepError(step: step) }
    }

    /// The body every migrating fiber runs: `rounds` suspensions with Swift work around each.
    static func body(index: Int, rounds: Int, record: Record) -> () -> Void {
        {
            var lastThread = qv_gettid()
            let me = Fiber.current
            for step in 0..<rounds {
                do {
                    record.checksum &+= try work(fiber: index, step: step, into: &record.dictionary)
                } catch let e as StepError {
                    record.caught += 1
                    record.checksum &+= e.step
                } catch {
                    record.checksum = -1
                }
                do {
                    try suspendThenThrow(step)  // the suspension point
                } catch {
                    record.caught += 1
                }
                let thread = qv_gettid()
                if thread != lastThread { record.migrations += 1 }
                lastThread = thread
                if Fiber.current !== me { record.wrongCurrent += 1 }
            }
        }
    }

    /// What `body` computes, run without fibers.
    static func expected(index: Int, rounds: Int) -> (checksum: Int, caught: Int, dictionary: [String: Int]) {
        var checksum = 0
        var caught = 0
        var dict: [String: Int] = [:]
        for step in 0..<rounds {
            do { checksum &+= try work(fiber: index, step: step, into: &dict) } catch {
                caught += 1
                checksum &+= step
            }
            if step % 3 == 0 { caught += 1 }
        }
        return (checksum, caught, dict)
    }

    /// Two threads take strict turns resuming every fiber, so each resume after the first is a
    /// migration: 4 fibers × 2,500 rounds = 10,000 migrations, all counted.
    @Test func strictAlternationMigratesEveryResume() {
        let fiberCount = 4
        let rounds = 2500
        let records = (0..<fiberCount).map { _ in Record() }
        let fibers = (0..<fiberCount).map { i in
            Fiber(name: "m\(i)", Self.body(index: i, rounds: rounds, record: records[i]))
        }
        let turnA = TestSemaphore()
        let turnB = TestSemaphore()
        let timedOut = TestFlag()
        // rounds suspensions + the final run = rounds + 1 resumes per fiber, alternating A, B, A, ...
        let turns = rounds + 1
        let a = TestThread {
            for turn in stride(from: 0, to: turns, by: 2) {
                if turn > 0, !turnA.wait(seconds: 30) {
                    timedOut.set()
                    return
                }
                for f in fibers { f.resume() }
                turnB.signal()
            }
        }
        let b = TestThread {
            for _ in stride(from: 1, to: turns, by: 2) {
                if !turnB.wait(seconds: 30) {
                    timedOut.set()
                    return
                }
                for f in fibers { f.resume() }
                turnA.signal()
            }
        }
        a.join()
        b.join()
        #expect(!timedOut.isSet)
        for i in 0..<fiberCount {
            let want = Self.expected(index: i, rounds: rounds)
            #expect(fibers[i].isFinished)
            #expect(records[i].migrations == rounds)
            #expect(records[i].wrongCurrent == 0)
            #expect(records[i].checksum == want.checksum)
            #expect(records[i].caught == want.caught)
            #expect(records[i].dictionary == want.dictionary)
        }
    }

    /// Two threads pop fibers from one shared queue and run them concurrently (a scheduler in
    /// miniature): different fibers run in parallel, each fiber moves wherever it is popped.
    @Test func sharedQueueOnTwoThreadsRunsEveryFiberToCompletion() {
        let fiberCount = 16
        let rounds = 500
        let records = (0..<fiberCount).map { _ in Record() }
        let queue = TestQueue<Fiber>()
        for i in 0..<fiberCount {
            queue.push(Fiber(Self.body(index: i, rounds: rounds, record: records[i])))
        }
        let finished = TestCounter()
        let deadline = qv_now_ns() + 60_000_000_000
        let worker: @Sendable () -> Void = {
            while finished.value < fiberCount, qv_now_ns() < deadline {
                guard let f = queue.pop() else {
                    sched_yield()
                    continue
                }
                if f.resume() { finished.increment() } else { queue.push(f) }
            }
        }
        let threads = [TestThread(worker), TestThread(worker)]
        for t in threads { t.join() }
        #expect(finished.value == fiberCount)
        var migrations = 0
        for i in 0..<fiberCount {
            let want = Self.expected(index: i, rounds: rounds)
            #expect(records[i].wrongCurrent == 0)
            #expect(records[i].checksum == want.checksum)
            #expect(records[i].caught == want.caught)
            #expect(records[i].dictionary == want.dictionary)
            migrations += records[i].migrations
        }
        // Not asserted (depends on the OS scheduler); printed for the curious.
        print("sharedQueue: \(migrations) migrations over \(fiberCount * rounds) resumes")
    }

    /// The commit runs on the resumer's side, after the switch, exactly once per suspension.
    @Test func commitRunsOnTheResumerAfterTheSwitch() {
        var log: [String] = []
        let fiber = Fiber {
            log.append("fiber")
            Fiber.current?.state = .parked(.mutex)
            Fiber.suspend { f in
                log.append("commit in fiber: \(Fiber.isInFiber), state: \(f.state)")
            }
            log.append("fiber again")
        }
        #expect(fiber.resume() == false)
        #expect(log == ["fiber", "commit in fiber: false, state: parked(mutex)"])
        #expect(fiber.resume() == true)
        #expect(log.count == 3)
    }

    /// Fibers park with a commit that publishes them to a shared queue; two threads pop and resume
    /// whatever is published, so a fiber is routinely resumed on one thread while the thread that
    /// ran it before is still returning from resume().
    @Test func fibersPublishedByCommitAreResumedSafelyByTheOtherThread() {
        let fiberCount = 4
        let parks = 5000
        let queue = TestQueue<Fiber>()
        let finished = TestCounter()
        let counts = (0..<fiberCount).map { _ in Record() }
        for i in 0..<fiberCount {
            let record = counts[i]
            queue.push(
                Fiber {
                    for step in 0..<parks {
                        record.checksum &+= step
                        Fiber.current?.state = .parked(.channel)
                        Fiber.suspend { f in queue.push(f) }
                    }
                })
        }
        let deadline = qv_now_ns() + 60_000_000_000
        let worker: @Sendable () -> Void = {
            while finished.value < fiberCount, qv_now_ns() < deadline {
                guard let f = queue.pop() else {
                    sched_yield()
                    continue
                }
                f.state = .runnable
                if f.resume() { finished.increment() }
            }
        }
        let threads = [TestThread(worker), TestThread(worker)]
        for t in threads { t.join() }
        #expect(finished.value == fiberCount)
        for r in counts { #expect(r.checksum == (0..<parks).reduce(0, +)) }
    }

    // MARK: - exclusivity

    /// A class whose stored property is reached both directly and through a `_modify` accessor:
    /// both begin a dynamic exclusivity access that Swift tracks per thread.
    final class Holder: @unchecked Sendable {
        // @unchecked Sendable: touched by one fiber or thread at a time (turns are handed over).
        var values: [Int] = []
        var viaModify: [Int] {
            get { values }
            _modify { yield &values }
        }
    }

    /// Appends `v`, suspends while the `inout` access is still open, appends `v + 1` after resuming.
    static func appendAcrossSuspend(_ array: inout [Int], _ v: Int) {
        array.append(v)
        Fiber.suspend()
        array.append(v + 1)
    }

    /// A fiber suspends inside `inout`/`modify` accesses to a class property and is resumed on the
    /// other thread, where the access ends. Without the exclusivity save/restore around each switch
    /// this traps in swift_endAccess ("access not found in set"). The resuming threads also hold
    /// accesses of their own while resuming, so every push/pop case of the runtime is exercised.
    @Test func inoutAndModifyAccessesFollowTheFiberAcrossThreads() {
        let rounds = 1000
        let holder = Holder()
        let fiber = Fiber {
            for i in 0..<rounds {
                if i % 2 == 0 {
                    Self.appendAcrossSuspend(&holder.values, i)
                } else {
                    Self.appendAcrossSuspend(&holder.viaModify, i)
                }
            }
        }
        let threadSide = [Holder(), Holder()]
        let turnA = TestSemaphore()
        let turnB = TestSemaphore()
        let timedOut = TestFlag()
        let turns = rounds + 1
        @Sendable func take(_ side: Int, _ turn: Int) {
            // The resumer has its own live access while resuming on half of the turns.
            if turn % 4 < 2 {
                Self.withAccess(&threadSide[side].values) { fiber.resume() }
            } else {
                fiber.resume()
            }
        }
        let a = TestThread {
            for turn in stride(from: 0, to: turns, by: 2) {
                if turn > 0, !turnA.wait(seconds: 30) {
                    timedOut.set()
                    return
                }
                take(0, turn)
                turnB.signal()
            }
        }
        let b = TestThread {
            for turn in stride(from: 1, to: turns, by: 2) {
                if !turnB.wait(seconds: 30) {
                    timedOut.set()
                    return
                }
                take(1, turn)
                turnA.signal()
            }
        }
        a.join()
        b.join()
        #expect(!timedOut.isSet)
        #expect(fiber.isFinished)
        #expect(holder.values == (0..<rounds).flatMap { [$0, $0 + 1] })
    }

    static func withAccess(_ array: inout [Int], _ body: () -> Void) {
        array.append(0)
        body()
        array.removeLast()
    }
}

/// A flag any thread may set.
final class TestFlag: @unchecked Sendable {
    // @unchecked Sendable: `flag` is protected by `lock`.
    private let lock = TestLock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var isSet: Bool { lock.withLock { flag } }
}

/// A counter any thread may bump.
final class TestCounter: @unchecked Sendable {
    // @unchecked Sendable: `count` is protected by `lock`.
    private let lock = TestLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// A FIFO any thread may use.
final class TestQueue<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `items` is protected by `lock`.
    private let lock = TestLock()
    private var items: [T] = []
    private var head = 0
    func push(_ item: T) { lock.withLock { items.append(item) } }
    func pop() -> T? {
        lock.withLock {
            guard head < items.count else { return nil }
            let item = items[head]
            head += 1
            if head > 1024, head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }
    }
}
