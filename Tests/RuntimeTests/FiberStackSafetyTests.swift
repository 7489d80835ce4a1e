import CRuntime
import Testing

@testable import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// Guard pages and leaks: an overflow faults in the guard page; a million fibers leak nothing.
@Suite struct FiberStackSafetyTests {
    /// Exit status of the child when its SIGSEGV handler saw a fault inside the guard page.
    static let faultInGuardPage: Int32 = 42
    /// Exit status of the child when the fault was somewhere else.
    static let faultElsewhere: Int32 = 43

    /// A fiber recurses without bound in a forked child. The child's SIGSEGV handler (on an
    /// alternate signal stack) checks that the faulting address is the guard page below the stack,
    /// i.e. the overflow was stopped before it touched any other memory.
    @Test func stackOverflowFaultsInTheGuardPage() throws {
        _ = FiberStack.pageSize  // initialize lazily-initialized globals before fork()
        let pid = fork()
        if pid == 0 { Self.overflowInChild() }
        #expect(pid > 0)
        guard pid > 0 else { return }
        let status = Self.waitForExit(pid, seconds: 30)
        let termSignal = status & 0x7f
        let exitCode = (status >> 8) & 0xff
        if qv_fiber_tsan_enabled() != 0 {
            // TSan may take over SIGSEGV and die its own way; still never a clean exit.
            #expect(status != 0 && exitCode != Self.faultElsewhere)
        } else {
            #expect(termSignal == 0 && exitCode == Self.faultInGuardPage, "child status \(status)")
        }
    }

    /// Runs in the forked child only; never returns.
    static func overflowInChild() -> Never {
        guard let stack = FiberStack.mapGuarded(size: 64 * 1024) else { _exit(3) }
        guardLow = UInt(bitPattern: stack.mapping)
        guardHigh = guardLow + UInt(FiberStack.pageSize)
        // Alternate signal stack: the faulting stack has no room left for the handler.
        let altSize = 64 * 1024
        var alt = stack_t()
        alt.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: altSize, alignment: 16)
        alt.ss_size = altSize
        alt.ss_flags = 0
        sigaltstack(&alt, nil)
        var action = sigaction()
        action.sa_flags = SA_SIGINFO | SA_ONSTACK
        action.__sigaction_handler.sa_sigaction = { _, info, _ in
            let address = UInt(bitPattern: info?.pointee._sifields._sigfault.si_addr)
            let low = FiberStackSafetyTests.guardLow
            let high = FiberStackSafetyTests.guardHigh
            _exit(
                address >= low && address < high
                    ? FiberStackSafetyTests.faultInGuardPage : FiberStackSafetyTests.faultElsewhere)
        }
        sigaction(SIGSEGV, &action, nil)
        sigaction(SIGBUS, &action, nil)
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> Void = { _ in
            _ = FiberStackSafetyTests.recurse(1)
        }
        qv_fiber_prepare(stack.context, stack.bottom, stack.stackTop, nil, entry)
        _ = qv_fiber_resume(stack.context)
        _exit(4)  // the body returned: the overflow did not happen
    }

    /// Guard page bounds for the child's signal handler. nonisolated(unsafe): written once in the
    /// single-threaded forked child before the handler is installed, then only read.
    nonisolated(unsafe) static var guardLow: UInt = 0
    nonisolated(unsafe) static var guardHigh: UInt = 0

    /// Recursion with a 256-byte frame that only stops on a fault (the limit is never reached). No
    /// generic code: in the forked child, type metadata locks held by other threads at fork time
    /// would never be released.
    @inline(never)
    static func recurse(_ depth: Int) -> Int {
        var frame = (depth, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        frame.31 = depth &* 3
        frame.16 = depth &+ 1
        if depth < Int.max - 1 {
            return recurse(depth + 1) &+ frame.0 &+ frame.16 &+ frame.31
        }
        return frame.1
    }

    /// waitpid with a bound: SIGKILL after `seconds`. Returns the raw wait status.
    static func waitForExit(_ pid: pid_t, seconds: Int) -> Int32 {
        var status: Int32 = 0
        let deadline = qv_now_ns() + UInt64(seconds) * 1_000_000_000
        while qv_now_ns() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return status }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        return status
    }

    /// A million create/run/finish cycles (100,000 under TSan, whose per-fiber bookkeeping is far
    /// slower) reuse one stack and do not grow the process.
    @Test func millionCreateFinishCyclesReuseOneStackAndDoNotGrow() {
        let cycles = qv_fiber_tsan_enabled() != 0 ? 100_000 : 1_000_000
        let pool = StackPool(maxGuardedStacks: 4)
        var total = 0
        func cycle(_ i: Int) {
            let f = Fiber(pool: pool) { total &+= i }
            f.resume()
        }
        for i in 0..<10_000 { cycle(i) }  // warm-up: allocator caches reach steady state
        let before = Self.residentBytes()
        for i in 10_000..<cycles { cycle(i) }
        let after = Self.residentBytes()
        #expect(total == (0..<cycles).reduce(0, &+))
        let stats = pool.stats
        #expect(stats.guardedMapped == 1)
        #expect(stats.slabStacks == 0)
        #expect(stats.inUse == 0)
        #expect(stats.free == 1)
        #expect(stats.reused == cycles - 1)
        // Other suites run in parallel in this process, so allow slack; a leak of even 64 B per
        // cycle would be 60 MB. Under TSan, RSS also holds the shadow memory of every suite running
        // beside this one (74 MB seen in CI), so there only the pool's own accounting above is checked.
        if qv_fiber_tsan_enabled() == 0 {
            #expect(after - before < 48 * 1_048_576, "RSS grew by \(after - before) bytes")
        }
    }

    static func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 128)
        let text = buffer.withUnsafeMutableBufferPointer { b -> String in
            fgets(b.baseAddress, Int32(b.count), f) != nil ? String(cString: b.baseAddress!) : ""
        }
        let fields = text.split(separator: " ")
        return fields.count > 1 ? (Int(fields[1]) ?? 0) * FiberStack.pageSize : 0
    }
}
