// Fiber benchmarks: `qvtop bench switch`, `qvtop bench parked [--count N]`.
// Workload definitions follow ../shared/anchors (W1 switch, W3 parked) so the figures sit beside them.
import CRuntime
import Runtime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Benchmarks of this area, joined by `BenchRegistry`.
public enum FiberBenchmarks {
    public static let all: [Benchmark] = [
        Benchmark(
            name: "switch",
            summary: "two fibers ping-pong N (1M) round trips on one thread; ns per switch",
            run: switchBenchmark),
        Benchmark(
            name: "parked",
            summary: "N (100k) fibers run a little Swift code and stay parked; RSS bytes per fiber",
            run: parkedBenchmark),
        Benchmark(
            name: "migrate",
            summary: "one fiber handed between two threads N (100k) times; ns per hand-off, migrations noticed",
            run: migrateBenchmark),
    ]

    // MARK: - switch

    /// W1: one round trip = resume + suspend = 2 switches; the figure is wall time / (2 × round trips).
    /// Two fibers take turns (A, B, A, B…) so each switch lands on a stack that is not the last one.
    static func switchBenchmark(_ options: BenchOptions) -> [BenchResult] {
        let roundTrips = max(2, options.count ?? 1_000_000)
        let reps = max(1, options.reps ?? 7)
        _ = measureSwitch(roundTrips: roundTrips / 10)  // warm-up: pool, caches, page faults
        let samples = (0..<reps).map { _ in measureSwitch(roundTrips: roundTrips) }
        _ = qv_context_pingpong_ns(roundTrips / 10)
        let floor = (0..<reps).map { _ in qv_context_pingpong_ns(roundTrips) }
        return [
            BenchResult(
                name: "switch", value: median(samples), unit: "ns/switch",
                detail: [
                    "min": format(samples.min() ?? 0), "max": format(samples.max() ?? 0),
                    "n": "\(roundTrips)", "reps": "\(reps)", "goal": "<=20",
                    "anchor": "c-asm 7.3-8.1 go-gosched 35 go-chan 96 greenlet 176-186 uvloop-sleep0 857-891",
                ]),
            BenchResult(
                name: "switch.raw-asm", value: median(floor), unit: "ns/switch",
                detail: [
                    "min": format(floor.min() ?? 0), "max": format(floor.max() ?? 0),
                    "n": "\(roundTrips)", "reps": "\(reps)",
                    "what": "qv_context_switch alone in this process (same-moment floor; anchor c-asm 7.3-8.1)",
                ]),
        ]
    }

    /// ns per switch for one run of `roundTrips` resume/suspend pairs over two fibers.
    static func measureSwitch(roundTrips: Int) -> Double {
        let half = roundTrips / 2
        let a = Fiber(name: "ping") { for _ in 0..<half { Fiber.suspend() } }
        let b = Fiber(name: "pong") { for _ in 0..<half { Fiber.suspend() } }
        let t0 = qv_now_ns()
        for _ in 0..<half {
            a.resume()
            b.resume()
        }
        let t1 = qv_now_ns()
        a.resume()  // let both bodies return (not timed)
        b.resume()
        return Double(t1 - t0) / Double(4 * half)
    }

    // MARK: - parked

    /// What each parked fiber keeps alive across its park: a heap object, a heap string, a closure.
    final class Payload {
        let index: Int
        var hits = 0
        init(_ index: Int) { self.index = index }
    }

    /// W3: resident bytes per parked fiber = (RSS with N parked − RSS before) / N. Runs once per
    /// process (pooled stacks stay resident, so a second run in the same process would read low).
    static func parkedBenchmark(_ options: BenchOptions) -> [BenchResult] {
        let count = max(1, options.count ?? 100_000)
        // Warm-up outside the measurement: type metadata, the shared pool, the first stack mappings.
        let warm = Fiber { Fiber.suspend() }
        warm.resume()
        warm.resume()
        var fibers: [Fiber] = []
        fibers.reserveCapacity(count)  // the benchmark's own array (8 B/fiber) is not counted
        var sink = 0
        let before = residentBytes()
        let statsBefore = StackPool.shared.stats
        let t0 = qv_now_ns()
        for i in 0..<count {
            let fiber = Fiber {
                let payload = Payload(i)
                let label = "fiber #\(i) waits for its timer"
                let describe = { "\(label) (\(payload.hits))" }
                Fiber.current?.state = .parked(.sleep)
                Fiber.suspend()
                payload.hits += 1
                sink &+= describe().utf8.count
            }
            fiber.resume()
            fibers.append(fiber)
        }
        let t1 = qv_now_ns()
        let after = residentBytes()
        let stats = StackPool.shared.stats
        var parked = 0
        for f in fibers where f.state == .parked(.sleep) { parked += 1 }
        for f in fibers { f.resume() }  // finish them all: stacks go back to the pool
        let perFiber = Double(after - before) / Double(count)
        var detail = [
            "n": "\(count)", "parked": "\(parked)", "rss_before_mb": format(Double(before) / 1_048_576),
            "rss_after_mb": format(Double(after) / 1_048_576),
            "create_ns_per_fiber": format(Double(t1 - t0) / Double(count)),
            "guarded_stacks": "\(stats.guardedMapped - statsBefore.guardedMapped)",
            "slab_stacks": "\(stats.slabStacks - statsBefore.slabStacks)",
            "stack_kib": "\(FiberStack.defaultSize / 1024)", "goal": "<=4608",
            "anchor": "go 2700 asyncio-sleep 1468 gevent 3110 pthread 8480",
            "sink": "\(sink % 10)",
        ]
        if let notice = stats.notice { detail["notice"] = notice }
        return [BenchResult(name: "parked", value: perFiber, unit: "B/fiber", detail: detail)]
    }

    // MARK: - migrate

    /// Two OS threads take strict turns resuming one fiber (a POSIX semaphore hands the turn over),
    /// so every resume after the first is a migration. In this optimized build the fiber counts the
    /// migrations it notices through `qv_gettid()`, through `Fiber.current`, and through
    /// `pthread_self()` (declared const by glibc, so the compiler may reuse the value read before the
    /// switch). The first two must notice all of them.
    static func migrateBenchmark(_ options: BenchOptions) -> [BenchResult] {
        let handoffs = max(2, options.count ?? 100_000)
        let counts = MigrationCounts()
        let fiber = Fiber(name: "migrant") {
            let me = Fiber.current
            for _ in 0..<handoffs {
                let tidBefore = qv_gettid()
                let selfBefore = pthread_self()
                Fiber.suspend()
                if qv_gettid() != tidBefore { counts.byTid += 1 }
                if pthread_self() != selfBefore { counts.byPthreadSelf += 1 }
                if Fiber.current === me { counts.currentRight += 1 }
            }
        }
        let turns = [TurnSemaphore(), TurnSemaphore()]
        let t0 = qv_now_ns()
        let threads = (0..<2).map { side in
            OSThread.spawn {
                // Side 0 takes turns 0, 2, 4…; side 1 takes 1, 3, 5…; handoffs + 1 resumes in all.
                for turn in stride(from: side, to: handoffs + 1, by: 2) {
                    if turn > 0 { turns[side].wait() }
                    fiber.resume()
                    turns[1 - side].post()
                }
            }
        }
        for t in threads { t.join() }
        let t1 = qv_now_ns()
        return [
            BenchResult(
                name: "migrate", value: Double(t1 - t0) / Double(handoffs), unit: "ns/handoff",
                detail: [
                    "n": "\(handoffs)", "finished": "\(fiber.isFinished)",
                    "noticed_gettid": "\(counts.byTid)", "current_right": "\(counts.currentRight)",
                    "noticed_pthread_self": "\(counts.byPthreadSelf)",
                    "anchor": "c-pthread futex ping-pong 1974-2036 ns/switch",
                ])
        ]
    }

    /// Written only by the migrating fiber (one thread at a time, handed over through semaphores).
    final class MigrationCounts: @unchecked Sendable {
        // @unchecked Sendable: see above; read after both threads are joined.
        var byTid = 0
        var byPthreadSelf = 0
        var currentRight = 0
    }

    /// A POSIX semaphore (a futex): the turn hand-off between the two migrate threads.
    final class TurnSemaphore: @unchecked Sendable {
        // @unchecked Sendable: sem_t is made to be shared between threads.
        private let sem: UnsafeMutablePointer<sem_t>
        init() {
            sem = .allocate(capacity: 1)
            sem_init(sem, 0, 0)
        }
        deinit {
            sem_destroy(sem)
            sem.deallocate()
        }
        func post() { sem_post(sem) }
        func wait() { while sem_wait(sem) != 0 {} }
    }

    // MARK: - helpers

    /// Current resident set size from /proc/self/statm (second field, in pages).
    static func residentBytes() -> Int {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var buffer = [CChar](repeating: 0, count: 128)
        let text = buffer.withUnsafeMutableBufferPointer { b -> String in
            fgets(b.baseAddress, Int32(b.count), f) != nil ? String(cString: b.baseAddress!) : ""
        }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * FiberStack.pageSize
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func format(_ v: Double) -> String {
        let scaled = (v * 100).rounded() / 100
        return "\(scaled)"
    }
}
