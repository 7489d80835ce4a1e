import CRuntime
import Testing

@testable import Runtime

/// Single-thread behaviour of fibers: resume/suspend order, state, identity, stacks, pool.
@Suite struct FiberTests {
    @Test func resumeRunsUntilSuspendAndFinishes() {
        var log: [String] = []
        let fiber = Fiber(name: "t") {
            log.append("a")
            Fiber.suspend()
            log.append("b")
            Fiber.suspend()
            log.append("c")
        }
        #expect(fiber.state == .new)
        #expect(!fiber.isFinished)
        #expect(fiber.resume() == false)
        #expect(log == ["a"])
        #expect(fiber.state == .runnable)
        #expect(fiber.resume() == false)
        #expect(log == ["a", "b"])
        #expect(fiber.resume() == true)
        #expect(log == ["a", "b", "c"])
        #expect(fiber.isFinished)
        #expect(fiber.state == .done)
    }

    @Test func fiberFinishesWithAResult() {
        let (fiber, result) = Fiber.returning { () -> String in
            var parts = ["a"]
            Fiber.suspend()
            parts.append("b")
            return parts.joined(separator: "+")
        }
        #expect(fiber.resume() == false)
        #expect(result.value == nil)
        #expect(fiber.resume() == true)
        #expect(result.value == "a+b")
        #expect(fiber.creationSite.hasPrefix("RuntimeTests/FiberTests.swift:"))
    }

    @Test func currentIsTheRunningFiberAndNilOutside() {
        #expect(Fiber.current == nil)
        #expect(!Fiber.isInFiber)
        var seen: [Fiber.ID] = []
        let fiber = Fiber {
            seen.append(Fiber.current?.id ?? 0)
            Fiber.suspend()
            seen.append(Fiber.current?.id ?? 0)
        }
        fiber.resume()
        #expect(Fiber.current == nil)
        fiber.resume()
        #expect(seen == [fiber.id, fiber.id])
        #expect(Fiber.current == nil)
    }

    @Test func nestedFibersReturnToTheirOwnResumer() {
        var log: [String] = []
        let inner = Fiber {
            log.append("inner1")
            Fiber.suspend()
            log.append("inner2")
        }
        let outer = Fiber {
            log.append("outer1")
            inner.resume()
            #expect(Fiber.current === Fiber.current)
            log.append("outer-after-inner:\(Fiber.current?.id == inner.id)")
            Fiber.suspend()
            inner.resume()
            log.append("outer2")
        }
        outer.resume()
        outer.resume()
        #expect(log == ["outer1", "inner1", "outer-after-inner:false", "inner2", "outer2"])
        #expect(inner.isFinished && outer.isFinished)
    }

    @Test func fiberRecordsStateBeforeSuspending() {
        let fiber = Fiber {
            Fiber.current?.state = .parked(.channel)
            Fiber.suspend()
            Fiber.current?.state = .blocked
            Fiber.suspend()
        }
        fiber.resume()
        #expect(fiber.state == .parked(.channel))
        fiber.state = .runnable
        fiber.resume()
        #expect(fiber.state == .blocked)
        fiber.resume()
        #expect(fiber.state == .done)
    }

    /// The weak TSan hooks are live exactly in sanitized builds (else TSan would see fibers as one
    /// thread's stack jumping around and either crash or miss races).
    @Test func tsanHooksArePresentExactlyInSanitizedBuilds() {
        #expect(qv_fiber_tsan_enabled() == qv_fiber_tsan_compiled())
    }

    @Test func stateEncodingRoundTrips() {
        var all: [FiberState] = [.new, .runnable, .running, .blocked, .done]
        all += FiberState.ParkReason.allCases.map { .parked($0) }
        for s in all { #expect(FiberState(code: s.code) == s) }
        #expect(Set(all.map(\.code)).count == all.count)
    }

    @Test func idNameAndCreationSite() {
        let a = Fiber(name: "first") {}
        let b = Fiber {}
        #expect(b.id > a.id)
        #expect(a.name == "first")
        a.name = "renamed"
        #expect(a.name == "renamed")
        #expect(a.creationSite.hasPrefix("RuntimeTests/FiberTests.swift:"))
    }

    @Test func floatingPointAndDeepCallsSurviveSwitches() {
        func fib(_ n: Int) -> Int { n < 2 ? n : fib(n - 1) + fib(n - 2) }
        var result = 0.0
        let fiber = Fiber {
            var x = 1.5
            for i in 0..<10 {
                x = x * 1.25 + Double(fib(10 + i % 3))
                Fiber.suspend()
            }
            result = x
        }
        while !fiber.resume() {
            // Use FP registers on the resumer side between switches.
            _ = (0..<10).reduce(0.5) { $0 * 1.1 + Double($1) }
        }
        var expected = 1.5
        for i in 0..<10 { expected = expected * 1.25 + Double(fib(10 + i % 3)) }
        #expect(result == expected)
    }

    @Test func bodyCapturesAreReleasedWhenFinished() {
        final class Token {}
        weak var weakToken: Token?
        var fiber: Fiber?
        do {
            let token = Token()
            weakToken = token
            fiber = Fiber { _ = token }
        }
        #expect(weakToken != nil)
        fiber?.resume()
        #expect(weakToken == nil)
        fiber = nil
    }

    @Test func droppedUnfinishedFiberReturnsItsStack() {
        let pool = StackPool(maxGuardedStacks: 8)
        do {
            let never = Fiber(pool: pool) {}
            let suspended = Fiber(pool: pool) { Fiber.suspend() }
            suspended.resume()
            #expect(pool.stats.inUse == 2)
            _ = never
        }
        #expect(pool.stats.inUse == 0)
        #expect(pool.stats.free == 2)
    }
}

/// Stacks and the pool: reuse, guard pages, the fallback past the guarded-stack budget.
@Suite struct FiberStackPoolTests {
    @Test func finishedFiberReturnsItsStackForReuse() {
        let pool = StackPool(maxGuardedStacks: 8)
        let first = Fiber(pool: pool) {}
        let base = first.stack.bottom
        #expect(pool.stats.inUse == 1)
        #expect(first.resume())
        #expect(pool.stats.inUse == 0)
        #expect(pool.stats.free == 1)
        let second = Fiber(pool: pool) {}
        #expect(second.stack.bottom == base)
        #expect(pool.stats.reused == 1)
        second.resume()
        #expect(pool.stats.guardedMapped == 1)
    }

    @Test func stackSizesAreRoundedAndPooledPerSize() {
        let pool = StackPool(maxGuardedStacks: 8)
        let page = FiberStack.pageSize
        let small = pool.acquire(size: 1)
        let odd = pool.acquire(size: 3 * page + 1)
        #expect(small.size == 2 * page)
        #expect(odd.size == 4 * page)
        #expect(small.isGuarded && odd.isGuarded)
        pool.release(small)
        pool.release(odd)
        #expect(pool.acquire(size: 4 * page).bottom == odd.bottom)
        #expect(pool.acquire(size: 2 * page).bottom == small.bottom)
    }

    @Test func pastTheGuardedBudgetStacksComeFromSlabsAndTheNoticeIsGivenOnce() {
        let pool = StackPool(maxGuardedStacks: 2, slabStacks: 4)
        let notices = NoticeBox()
        pool.noticeHandler = { notices.add($0) }
        var fibers: [Fiber] = []
        for i in 0..<7 {
            fibers.append(
                Fiber(pool: pool) {
                    var s = "fiber \(i)"
                    Fiber.suspend()
                    s += "!"
                    _ = s
                })
            fibers.last?.resume()
        }
        let stats = pool.stats
        #expect(stats.guardedMapped == 2)
        #expect(stats.slabStacks == 8)
        #expect(stats.inUse == 7)
        #expect(stats.unguardedFallbacks == 2)  // two slabs mapped
        #expect(stats.notice != nil)
        #expect(notices.count == 1)
        #expect(fibers.filter { $0.stack.isGuarded }.count == 2)
        for f in fibers { #expect(f.resume()) }
        #expect(pool.stats.inUse == 0)
    }

    @Test func poolWithoutGuardPagesUsesSlabsOnly() {
        let pool = StackPool(guardPages: false, slabStacks: 2)
        let f = Fiber(pool: pool) {}
        #expect(!f.stack.isGuarded)
        f.resume()
        #expect(pool.stats.unguardedFallbacks == 0)
        #expect(pool.stats.notice == nil)
    }

    @Test func cachedStacksAboveTheLimitAreUnmapped() {
        let pool = StackPool(maxGuardedStacks: 16, maxCachedStacks: 2)
        let stacks = (0..<5).map { _ in pool.acquire() }
        for s in stacks { pool.release(s) }
        #expect(pool.stats.free == 2)
        #expect(pool.stats.guardedMapped == 2)
    }
}

/// Collects notices from a pool's handler (which may run on any thread).
final class NoticeBox: @unchecked Sendable {
    // @unchecked Sendable: `items` is protected by `lock`.
    private let lock = TestLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var count: Int { lock.withLock { items.count } }
}
