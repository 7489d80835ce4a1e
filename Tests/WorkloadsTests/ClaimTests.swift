import Foundation
import Telemetry
import Testing

@testable import Workloads

/// Shipped presets, loaded from the package's presets/ folder.
enum Shipped {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../presets").standardized.path

    /// Scanned once for every test.
    static let catalog = PresetCatalog.discover(
        PresetCatalog.Environment(shippedDirectory: dir, userDirectory: nil, workingDirectory: "/"))

    static func preset(_ name: String) throws -> Preset { try catalog.resolve(name) }

    /// Runs `name` headless for `seconds` and summarizes it.
    static func run(_ name: String, seconds: Double = 1.5) throws -> RunSummary {
        try #require(try HeadlessRun.summary(preset: preset(name), seconds: seconds))
    }

    /// The machine's own noise now: slot lag p99 of an idle event loop (a heartbeat and one task a
    /// second) over 1 s. On a shared 2-core machine under a compile storm an *idle* loop already
    /// shows a p99 of several ms, which no scheduler model can remove.
    static func noiseSlotP99() -> Double {
        let idle = Preset(
            name: "idle", title: "idle", explain: "baseline", scheduler: SchedulerConfig(model: .eventLoop),
            workload: Workload(tasks: [TaskSpec(name: "t", kind: .io, arrival: .rate(1), duration: .fixed(1))]))
        return (try? HeadlessRun.summary(preset: idle, seconds: 1))??.lag.slotP99Ms ?? 0
    }

    /// Runs `name` up to `attempts` times until `claim` holds; returns the last summary and whether it held.
    /// For latency claims on a shared, noisy 2-core machine: a claim about the *model* must hold in
    /// at least one of two short runs; a run disturbed by other processes is retried once.
    static func eventually(
        _ name: String, seconds: Double = 1.5, attempts: Int = 3, _ claim: (RunSummary, Double) -> Bool
    ) throws -> (RunSummary, Double, Bool) {
        var last: (RunSummary, Double)? = nil
        for _ in 0..<attempts {
            let noise = noiseSlotP99()  // measured next to each attempt: the load changes by the second
            let s = try run(name, seconds: seconds)
            last = (s, noise)
            if claim(s, noise) { return (s, noise, true) }
        }
        return (last!.0, last!.1, false)
    }
}

/// Every suite that runs a runtime, one after another (nested suites inherit `.serialized`):
/// presets measured side by side would steal each other's CPU on 2 cores.
@Suite(.serialized) struct HeadlessTests {}

extension HeadlessTests {
    /// The talk's claims, each shown by a shipped preset run headless for a couple of seconds.
    @Suite(.timeLimit(.minutes(2))) struct LoopClaimTests {
        @Test func asyncioBlockingCallStallsTheLoopAndIsNamed() throws {
            let s = try Shipped.run("asyncio")
            #expect(s.model == .eventLoop)
            // The 50 ms nanosleep runs on the loop: the heartbeat is late by about the block's duration.
            #expect(s.lag.maxMs >= 40, "\(s.lag)")
            let disk = s.lag.slowCallbacks.first { $0.name == "disk" }
            #expect(disk != nil, "slow callbacks: \(s.lag.slowCallbacks)")
            #expect((disk?.maxMs ?? 0) >= 40)
            #expect(s.taskKinds.first { $0.kind == "web" }!.completed > 100)
        }

        @Test func toThreadKeepsLoopLagUnderFiveMilliseconds() throws {
            // The claim, in the figure that sees a 50 ms stall: slot lag p99 (every heartbeat slot, a
            // skipped one counting as late). Tick p99 does not: asyncio's own is under 1 ms, since a
            // stalled heartbeat is one late tick among thousands. Under 5 ms above whatever the machine
            // adds to an idle loop; and the blocking call is no longer a slow callback (a rare one remains
            // possible when the OS deschedules the loop thread for 10 ms during the tiny job that hands
            // `disk` to the pool).
            func attributed(_ s: RunSummary) -> Bool {
                let disk = s.taskKinds.first { $0.kind == "disk" }!.completed
                return (s.lag.slowCallbacks.first { $0.name == "disk" }?.count ?? 0) * 2 <= Int(disk)
            }
            let (s, noise, held) = try Shipped.eventually("to-thread") { s, noise in
                s.lag.slotP99Ms < 5 + noise && attributed(s)
            }
            #expect(
                held, "slot lag p99 \(s.lag.slotP99Ms) ms, idle-loop slot p99 now \(noise) ms, \(s.lag.slowCallbacks)")
            #expect(s.totals.poolCompleted > 0)
            #expect(s.taskKinds.first { $0.kind == "disk" }!.completed >= 2)
            // The same figure sees the stall without to_thread.
            let stalled = try Shipped.run("asyncio")
            #expect(stalled.lag.slotP99Ms >= 20, "asyncio slot lag p99 \(stalled.lag.slotP99Ms) ms")
        }

        @Test func loopPerThreadStallsEachLoopOnItsOwn() throws {
            let s = try Shipped.run("loop-per-thread")
            #expect(s.loops.count == 2)
            // Partitioned: each loop gets its share of the blocking calls and stalls on them itself.
            for l in s.loops {
                #expect(l.slowCallbacks >= 1, "loop \(l.id)")
                #expect(l.lagMaxMs >= 40, "loop \(l.id) lag max \(l.lagMaxMs) ms")
            }
            #expect(s.lag.slowCallbacks.contains { $0.name == "disk" })
            #expect(s.workers.isEmpty && s.totals.steals == 0)
        }

        @Test func loopsWithSharedPoolKeepBothLoopsResponsive() throws {
            // The claim is about 50 ms stalls, so it is asserted with the figures that see them: each
            // loop's worst lag stays well under the 50 ms block, and the slot lag p99 of the worst loop
            // stays low (loop-per-thread without a pool fails both, checked below).
            func responsive(_ s: RunSummary, _ noise: Double) -> Bool {
                s.loops.allSatisfy { $0.lagMaxMs < 30 + noise } && s.lag.slotP99Ms < 5 + noise
            }
            let (s, noise, held) = try Shipped.eventually("loops-pool", responsive)
            #expect(
                held,
                "lag max \(s.loops.map(\.lagMaxMs)), slot p99 \(s.lag.slotP99Ms), idle-loop slot p99 now \(noise) ms")
            #expect(s.loops.count == 2)
            #expect(s.totals.poolCompleted > 0)
            let unpooled = try Shipped.run("loop-per-thread")
            #expect(
                !responsive(unpooled, 0),
                "loop-per-thread: lag max \(unpooled.loops.map(\.lagMaxMs)), slot p99 \(unpooled.lag.slotP99Ms)")
        }
    }

    @Suite(.timeLimit(.minutes(2))) struct FiberClaimTests {
        @Test func geventStallsOnCPUWork() throws {
            let s = try Shipped.run("gevent")
            #expect(s.model == .greenThreads && s.workers.count == 1)
            // One carrier: a 50 ms `crunch` holds it, and every other fiber waits that long.
            #expect(s.lag.maxMs >= 35, "\(s.lag)")
            #expect(s.taskKinds.first { $0.kind == "web" }!.p99Ms >= 35)
            // Synchronous code parks the fiber, not the thread.
            #expect(s.totals.parkedMax > 0)
            #expect(s.totals.steals == 0)
        }

        @Test func virtualThreadsStealAndPark() throws {
            let s = try Shipped.run("vt-steal")
            #expect(s.workers.count == 2)
            #expect(s.totals.steals > 0)
            #expect(s.workers.allSatisfy { $0.stealsIn > 0 }, "\(s.workers)")
            #expect(s.totals.parkedMax >= 50)
        }

        @Test func withoutStealingBusyRatiosDivergeWithStealingTheyStayClose() throws {
            // Each `batch` parent's 40 children land on its own carrier. Without stealing that carrier
            // is busy while the other idles, interval after interval; with stealing both stay level.
            // Up to two retries: a run disturbed by other processes on the 2 cores can blur a pair.
            var pair: (RunSummary, RunSummary)? = nil
            for _ in 0..<3 {
                let p = (try Shipped.run("vt-steal"), try Shipped.run("vt-no-steal"))
                pair = p
                if p.1.totals.busySpread >= 0.08 && p.1.totals.busySpread > 3 * p.0.totals.busySpread { break }
            }
            let (steal, none) = pair!
            #expect(none.totals.steals == 0 && steal.totals.steals > 0)
            // Since timer expiry wakes an idle carrier (Go's wakep), timer-woken work spreads even without
            // stealing, so the absolute no-steal spread runs 0.12–0.37 here; stealing keeps it near 0.01.
            #expect(none.totals.busySpread >= 0.08, "no-steal busy spread \(none.totals.busySpread)")
            #expect(
                none.totals.busySpread > 3 * steal.totals.busySpread,
                "busy spread: steal \(steal.totals.busySpread), no-steal \(none.totals.busySpread)")
            print("busy spread: steal \(steal.totals.busySpread), no-steal \(none.totals.busySpread)")
        }

        @Test func pinningStallsTheQueueWhileHandoffKeepsItMoving() throws {
            // Up to two retries, as above: a run disturbed by other processes can blur the pair.
            var pair: (RunSummary, RunSummary)? = nil
            for _ in 0..<3 {
                let p = (try Shipped.run("vt-pin"), try Shipped.run("vt-handoff"))
                pair = p
                if p.0.lag.p99Ms >= 8 && p.0.lag.p99Ms > 2 * p.1.lag.p99Ms { break }
            }
            let (pin, handoff) = pair!
            #expect(pin.totals.blockedMax >= 1 && handoff.totals.blockedMax >= 1)
            #expect(pin.lag.slowCallbacks.contains { $0.name == "disk" })
            // Pinned carriers hold their queues: scheduling delay and request latency grow.
            #expect(pin.lag.p99Ms >= 8, "pin delay \(pin.lag)")
            #expect(pin.lag.p99Ms > 2 * handoff.lag.p99Ms, "pin \(pin.lag.p99Ms) ms vs handoff \(handoff.lag.p99Ms) ms")
            let webPin = pin.taskKinds.first { $0.kind == "web" }!.p99Ms
            let webHandoff = handoff.taskKinds.first { $0.kind == "web" }!.p99Ms
            #expect(webPin > webHandoff, "web p99: pin \(webPin) ms, handoff \(webHandoff) ms")
        }
    }

    /// Every task kind runs to completion on every model (sockets, pipes, fan-out, channels).
    @Suite(.timeLimit(.minutes(2))) struct KindCoverageTests {
        static func everyKind(_ model: SchedulerModel) throws -> Preset {
            let extra: String
            switch model {
            case .eventLoop: extra = "pool = 2\noffload = [\"blocking\"]"
            case .loopPerThread: extra = "loops = 2"
            case .virtualThreads: extra = "carriers = 2\nsteal = \"one\""
            case .greenThreads: extra = "blocking = \"handoff\""
            case .asyncioMN: extra = ""  // not run: it takes no task tables (see `runsTaskSpecs`)
            case .threads: extra = ""
            }
            // Plain OS threads: socket io needs the loopback server, which runs on fibers (not on threads yet).
            let sock =
                model == .threads
                ? ""
                : """
                [task.sock]
                kind = "io"
                io = "socket"
                rate = 50
                duration_ms = [1, 3]
                """
            let text = """
                name = "every-kind"
                title = "every kind"
                explain = "coverage"
                [scheduler]
                model = "\(model.rawValue)"
                \(extra)
                \(sock)
                [task.nap]
                kind = "io"
                population = 10
                duration_ms = { mean = 2, max = 10 }
                [task.spin]
                kind = "cpu"
                rate = 100
                duration_ms = 0.5
                [task.disk]
                kind = "blocking"
                call = "pipe"
                rate = 10
                duration_ms = 5
                [task.fan]
                kind = "fanout"
                rate = 10
                children = 4
                child = "io"
                duration_ms = 1
                [task.chat]
                kind = "chatty"
                rate = 5
                producers = 2
                consumers = 2
                messages = 50
                capacity = 4
                """
            return try Preset.parse(text, file: "every-kind.toml")
        }

        @Test(arguments: SchedulerModel.allCases.filter(\.runsTaskSpecs)) func everyKindCompletes(model: SchedulerModel)
            throws
        {
            let s = try #require(try HeadlessRun.summary(preset: Self.everyKind(model), seconds: 1.5))
            let kinds = ["sock", "nap", "spin", "disk", "fan", "chat"].filter { model != .threads || $0 != "sock" }
            #expect(s.taskKinds.map(\.kind) == kinds)
            for k in s.taskKinds { #expect(k.completed > 0, "\(model.rawValue): \(k.kind) never completed") }
        }
    }

    /// Live sources: presets switch cleanly and quickly, and leak nothing.
    @Suite(.timeLimit(.minutes(2))) struct LiveSourceTests {
        static func openFDs() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        }
        static func threads() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
        }

        @Test func pollGivesSnapshotsWithIncreasingSequence() throws {
            let source = try LiveSource(preset: Shipped.preset("asyncio"))
            defer { source.stop() }
            Thread.sleep(forTimeInterval: 0.2)
            let a = try #require(source.poll())
            Thread.sleep(forTimeInterval: 0.1)
            let b = try #require(source.poll())
            #expect(a.preset == "asyncio" && b.sequence == a.sequence + 1 && b.time > a.time)
            #expect(b.loops.count == 1 && b.taskKinds.map(\.kind) == ["web", "hash", "disk"])
            source.stop()
            source.stop()  // idempotent
            #expect(source.poll() == nil)
        }

        /// Switches `count` times round `names`, running each preset `dwell` seconds first; returns (fds
        /// before, after, threads before, after, worst switch ns).
        static func switchRound(_ names: [String], count: Int, dwell: Double = 0) throws -> (Int, Int, Int, Int, UInt64)
        {
            let presets = try names.map { try Shipped.preset($0) }
            // Warm-up: lazily created process-wide resources are not leaks.
            var source = try LiveSource(preset: presets[0])
            source = try source.switchTo(presets[presets.count > 1 ? 1 : 0])
            source.stop()
            let fds = openFDs()
            let threads = threads()
            source = try LiveSource(preset: presets[0])
            var worst: UInt64 = 0
            for i in 1...count {
                if dwell > 0 { Thread.sleep(forTimeInterval: dwell) }
                _ = source.poll()
                let t0 = Monotonic.now()
                source = try source.switchTo(presets[i % presets.count])
                worst = max(worst, Monotonic.now() - t0)
                let s = try #require(source.poll())
                #expect(s.preset == names[i % presets.count])
                #expect(s.events.first?.kind == .presetSwitch)
            }
            source.stop()
            // A joined thread leaves /proc/self/task a moment later; give the kernel a little time.
            var fdsAfter = openFDs()
            var threadsAfter = Self.threads()
            for _ in 0..<50 where fdsAfter > fds || threadsAfter > threads {
                Thread.sleep(forTimeInterval: 0.02)
                fdsAfter = openFDs()
                threadsAfter = Self.threads()
            }
            return (fds, fdsAfter, threads, threadsAfter, worst)
        }

        @Test func switchingLoopPresetsLeaksNothing() throws {
            let (fds, fdsAfter, threads, threadsAfter, worst) = try Self.switchRound(
                ["asyncio", "to-thread", "loop-per-thread", "loops-pool"], count: 40)
            #expect(fdsAfter <= fds, "fds \(fds) → \(fdsAfter)")
            #expect(threadsAfter <= threads, "threads \(threads) → \(threadsAfter)")
            print("LiveSourceTests: worst loop-preset switch \(Double(worst) / 1e6) ms")
        }

        /// The leak the hundred-switch test used to tolerate: a fiber whose handed-off blocking call
        /// ended while the scheduler shut down was dropped with a frame that retained the scheduler, so
        /// its poller's three descriptors stayed open (3 per switch here, before the fix).
        @Test func switchingHandoffPresetsLeaksNoDescriptor() throws {
            // 60 ms per run: `disk` (30/s, 50 ms) is inside a handed-off call at most switches.
            let (fds, fdsAfter, _, _, _) = try Self.switchRound(["vt-handoff", "vt-handoff"], count: 20, dwell: 0.06)
            #expect(fdsAfter <= fds, "fds \(fds) → \(fdsAfter)")
        }

        @Test func hundredSwitchesOverEveryPresetLeakNoThreadNorDescriptor() throws {
            let (fds, fdsAfter, threads, threadsAfter, worst) = try Self.switchRound(
                [
                    "asyncio", "gevent", "to-thread", "vt-steal", "loop-per-thread", "vt-no-steal", "loops-pool",
                    "vt-pin",
                    "vt-handoff",
                ], count: 100)
            #expect(threadsAfter <= threads, "threads \(threads) → \(threadsAfter)")
            #expect(fdsAfter <= fds, "fds \(fds) → \(fdsAfter)")
            // Not a timing assertion (printed for the report; the brief asks for < 200 ms per switch).
            print("LiveSourceTests: worst switch over every preset \(Double(worst) / 1e6) ms")
        }
    }
}

/// The code pane's source strings are the real bodies.
@Suite struct TaskSourceTests {
    /// Regenerate TaskSource.swift after changing a body:
    /// the `// BEGIN sync KIND` … `// END sync KIND` sections of FiberModels.swift and the
    /// `async` ones of LoopModels.swift, de-indented by four spaces.
    /// (`http`: the sections `http` and `http-duplex` of HTTPClient.swift, sync and async.)
    static func section(_ file: String, _ color: String, _ name: String) -> String? {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/Workloads/\(file)").standardized.path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let begin = text.range(of: "    // BEGIN \(color) \(name)\n"),
            let end = text.range(of: "    // END \(color) \(name)\n")
        else { return nil }
        return text[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }.joined(separator: "\n")
            .trimmingCharacters(in: .newlines)
    }

    @Test(arguments: TaskKind.allCases) func bodiesMatchTheSource(kind: TaskKind) throws {
        let source = TaskSource.of(kind)
        // `http`'s bodies are the client itself: one sync function and its async twin, in HTTPClient.swift.
        let (syncFile, asyncFile, function) =
            kind == .http
            ? ("Models/HTTPClient.swift", "Models/HTTPClient.swift", "get")
            : ("Models/FiberModels.swift", "Models/LoopModels.swift", kind.rawValue)
        // Both sections must exist: a moved or renamed file fails here instead of passing unchecked.
        let async = try #require(Self.section(asyncFile, "async", kind.rawValue))
        let sync = try #require(Self.section(syncFile, "sync", kind.rawValue))
        #expect(source.async == async)
        #expect(source.sync == sync)
        #expect(source.sync.contains("func \(function)(") && !source.sync.contains("await"))
        #expect(source.async.contains("async") && source.async.contains("await"))
    }
}

// CPU hogs and the monitor (issue 15): presets vt-hog (pin) and vt-hog-handoff.
extension HeadlessTests.FiberClaimTests {
    /// A 50 ms `crunch` without a scheduling point, 4 times a second, on one carrier among 200 short `web` fibers a
    /// second. The monitor names it in both presets (a region the monitor found is a `blockingEnd` event named
    /// "name (kind)"). Under `pin` the queue waits, so `web` p99 and the heartbeat's slot p99 (every slot, a skipped
    /// one counting as late: a 50 ms stall is one late tick among thousands, which tick p99 cannot see) reach tens
    /// of ms; under `handoff` a spare carrier retakes the queue 5 ms into the hog, and both fall well below pin's.
    @Test func theMonitorNamesTheHogAndHandoffRelievesIt() throws {
        func web(_ s: RunSummary) -> Double { s.taskKinds.first { $0.kind == "web" }!.p99Ms }
        func relieved(_ pin: RunSummary, _ handoff: RunSummary) -> Bool {
            web(pin) >= 30 && web(pin) > 2 * web(handoff) && pin.lag.slotP99Ms > 2 * handoff.lag.slotP99Ms
        }
        // Up to two retries: a run disturbed by other processes on the 2 cores can blur a pair.
        var pair: (RunSummary, RunSummary)? = nil
        for _ in 0..<3 {
            let p = (try Shipped.run("vt-hog", seconds: 2), try Shipped.run("vt-hog-handoff", seconds: 2))
            pair = p
            if relieved(p.0, p.1) { break }
        }
        let (pin, handoff) = pair!
        for s in [pin, handoff] {
            let crunch = s.lag.slowCallbacks.first { $0.name == "crunch (cpu)" }
            #expect(crunch != nil, "blocking regions: \(s.lag.slowCallbacks)")
            #expect((crunch?.maxMs ?? 0) >= 20, "\(String(describing: crunch))")
        }
        #expect(web(pin) >= 30, "pin web p99 \(web(pin)) ms")
        #expect(web(pin) > 2 * web(handoff), "web p99: pin \(web(pin)) ms, handoff \(web(handoff)) ms")
        #expect(
            pin.lag.slotP99Ms > 2 * handoff.lag.slotP99Ms,
            "slot p99: pin \(pin.lag.slotP99Ms) ms, handoff \(handoff.lag.slotP99Ms) ms")
        print(
            "vt-hog web p99 \(web(pin)) ms, slot p99 \(pin.lag.slotP99Ms) ms; vt-hog-handoff web p99 \(web(handoff)) ms, "
                + "slot p99 \(handoff.lag.slotP99Ms) ms")
    }
}

// Memory per parked task (issue 15): presets vt-parked (fibers) and threads-parked (plain OS threads).
extension HeadlessTests.FiberClaimTests {
    /// "Threads cost more per parked task than fibers", asserted by the figures the memory panel shows and the
    /// JSON carries, measured on this machine: this process's cost per parked task, `memory.bytesPerParked` (RSS
    /// over the baseline / parked tasks) plus `memory.pageTablesPerParked` (VmPTE over its baseline / parked),
    /// and the system-wide `memory.kernelStacksPerParked`. Shrunk to 2,000 parked tasks each (the shipped presets
    /// park 10,000); each figure must be a measurement (present: a missing figure fails; RSS above one page), and
    /// the threads' above the fibers'. (RSS alone is close: ~9.5 KiB a parked thread, ~9 KiB a parked fiber in a
    /// debug build; what a thread costs more is kernel memory, its page tables and its kernel stack.)
    @Test func threadsCostMorePerParkedTaskThanFibers() throws {
        func perParked(_ name: String) throws -> (MemorySnapshot, Int) {
            var p = try Shipped.preset(name)
            p.workload.park?.count = 2000
            let summary = try #require(try HeadlessRun.summary(preset: p, seconds: 2))
            let m = try #require(summary.memory, "\(name): no memory figures")
            let parked = try #require(m.parkedTasks, "\(name): parked n/a")
            #expect(parked >= 1990, "\(name): only \(parked) parked")
            return (m, parked)
        }
        /// RSS and page tables per parked task: what this process pays.
        func own(_ m: MemorySnapshot, _ name: String) throws -> Double {
            let rss = try #require(m.bytesPerParked, "\(name): bytes per parked task n/a")
            #expect(rss >= 4096, "\(name): a parked task touched at least one stack page: \(rss) B")
            return rss + (try #require(m.pageTablesPerParked, "\(name): page tables per parked task n/a"))
        }
        let (f, fibers) = try perParked("vt-parked")
        let (t, threads) = try perParked("threads-parked")
        let (fiber, thread) = (try own(f, "vt-parked"), try own(t, "threads-parked"))
        #expect(thread > 1.2 * fiber, "RSS + page tables per parked task: threads \(thread) B, fibers \(fiber) B")
        let fiberKernel = try #require(f.kernelStacksPerParked, "vt-parked: kernel stacks per parked task n/a")
        let threadKernel = try #require(t.kernelStacksPerParked, "threads-parked: kernel stacks per parked task n/a")
        // A thread's kernel stack is 16 KiB on x86-64 and arm64; other processes' threads move the system-wide sum.
        #expect(threadKernel > fiberKernel + 8192, "kernel stacks: threads \(threadKernel) B, fibers \(fiberKernel) B")
        print(
            "per parked task: fibers RSS \(Int(f.bytesPerParked ?? 0)) B + page tables \(Int(f.pageTablesPerParked ?? 0)) B"
                + ", kernel stacks \(Int(fiberKernel)) B (\(fibers) parked); threads RSS \(Int(t.bytesPerParked ?? 0)) B"
                + " + page tables \(Int(t.pageTablesPerParked ?? 0)) B, kernel stacks \(Int(threadKernel)) B"
                + " (\(threads) parked)")
    }
}
