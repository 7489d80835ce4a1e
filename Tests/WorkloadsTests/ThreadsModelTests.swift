import Foundation
import Runtime
import Synchronization
import Telemetry
import Testing

@testable import Workloads

/// The threads model: presets, the seam, teardown, system limits, the snapshot section.
@Suite(.timeLimit(.minutes(2))) struct ThreadsModelTests {
    static func preset(_ tasks: String, threads: String = "") throws -> Preset {
        try Preset.parse(
            """
            name = "t"
            title = "t"
            explain = "t"
            [scheduler]
            model = "threads"
            \(threads)
            \(tasks)
            """, file: "t.toml")
    }

    static func parseError(_ tasks: String, threads: String = "") -> String {
        do {
            _ = try preset(tasks, threads: threads)
            return "parsed"
        } catch let error as PresetError {
            return error.description
        } catch {
            return "\(error)"
        }
    }

    /// Samples `model` every 20 ms for `seconds` (time is seconds since `start`).
    static func samples(_ model: ThreadsModel, seconds: Double) -> [Snapshot] {
        var out: [Snapshot] = []
        let start = Monotonic.now()
        var seq: UInt64 = 0
        while Monotonic.now() - start < UInt64(seconds * 1e9) {
            Work.sleepThread(nanos: 20_000_000)
            out.append(model.sample(time: Double(Monotonic.now() - start) / 1e9, sequence: seq))
            seq += 1
        }
        return out
    }

    /// This process's thread count (the kernel's; the test reads it, the model never does).
    static func processThreads() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("Threads:") } ?? ""
        return Int(line.split(separator: "\t").last.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "") ?? -1
    }

    // MARK: presets

    @Test func modesParseAndFieldsWithoutEffectAreRejected() throws {
        let io = "[task.web]\nkind = \"io\"\nrate = 10"
        #expect(try Self.preset(io).scheduler.threads == .perTask(cap: ThreadsMode.defaultCap))
        #expect(
            try Self.preset(io, threads: "threads = { mode = \"per-task\", cap = 50 }").scheduler.threads
                == .perTask(cap: 50))
        #expect(
            try Self.preset(io, threads: "threads = { mode = \"pool\", size = 8 }").scheduler.threads == .pool(size: 8))
        #expect(
            Self.parseError(io, threads: "threads = { mode = \"pool\", cap = 8 }").contains(
                "scheduler.threads.cap is not a field of mode pool"))
        #expect(
            Self.parseError(io, threads: "threads = { mode = \"per-task\", size = 8 }").contains(
                "scheduler.threads.size is not a field of mode per-task"))
        #expect(
            Self.parseError(io, threads: "threads = { mode = \"fibers\" }").contains("must be one of per-task, pool"))
        #expect(
            Self.parseError(io, threads: "carriers = 2").contains("scheduler.carriers is not a field of model threads"))
        #expect(Self.parseError(io + "\nplacement = \"first\"").contains("placement has no effect on model threads"))
        #expect(
            Self.parseError("[task.web]\nkind = \"io\"\nio = \"socket\"\nrate = 10").contains(
                "not available on model threads"))
        #expect(
            Self.parseError("[task.f]\nkind = \"fanout\"\nrate = 1", threads: "threads = { mode = \"pool\", size = 4 }")
                .contains("needs threads.mode = \"per-task\""))
    }

    @Test func theShippedPresetRunsVtStealsWorkloadOnThreads() throws {
        let threads = try Shipped.preset("threads")
        let vt = try Shipped.preset("vt-steal")
        #expect(threads.scheduler.model == .threads)
        #expect(threads.workload == vt.workload, "threads and vt-steal must run the same workload side by side")
    }

    // MARK: the seam

    /// The same body (`SyncBodies.io`, sleep mode) on a threads-model thread records `sleep` in its slot while it
    /// blocks in the kernel; on a fiber it parks the fiber (the carrier stays free: a second fiber runs meanwhile).
    @Test func theSameSleepBodyBlocksAThreadAndParksAFiber() throws {
        let signal = try StopSignal()
        defer { signal.close() }
        let slot = ThreadSlot(id: 0)
        let bodies = SyncBodies(host: ThreadHost(start: { _, _, _ in false }), server: nil, faults: [:])
        let t = OSThread.spawn {
            ThreadContext.run(bound: ThreadBinding(slot: slot, stop: signal)) {
                slot.begin(kind: 0)
                try? bodies.io(ms: 300, mode: .sleep)
                slot.end()
            }
        }
        var seen: ThreadState? = nil
        for _ in 0..<100 where seen != .sleep {
            Work.sleepThread(nanos: 2_000_000)
            seen = slot.read(now: Monotonic.now()).state
        }
        #expect(seen == .sleep)
        signal.set()  // cuts the sleep short
        t.join()
        #expect(slot.read(now: Monotonic.now()).state == .idle)

        // On a fiber of a one-carrier scheduler: while the body sleeps, another fiber runs on the same carrier.
        let scheduler = try Scheduler(Scheduler.Configuration(carriers: 1))
        defer { scheduler.shutdown() }
        let fiberBodies = SyncBodies(
            host: FiberHost(scheduler: scheduler, gate: SpawnGate()), server: nil, faults: [:])
        let sleeperDone = Atomic<Bool>(false)
        let sleeper = scheduler.spawn {
            try? fiberBodies.io(ms: 300, mode: .sleep)
            sleeperDone.store(true, ordering: .relaxed)
        }
        // This fiber runs on the one carrier while the body sleeps: the sleep parked the fiber, not the carrier.
        let other = scheduler.spawn { sleeperDone.load(ordering: .relaxed) }
        let sleeperWasStillAsleep = !other.join()
        #expect(sleeperWasStillAsleep, "the sleeping body held the carrier")
        sleeper.join()
    }

    // MARK: the figures

    /// Claim: with a thread per task, threads alive ≈ tasks in flight, and the sleepers are blocked threads.
    @Test func threadsAliveTrackTasksInFlight() throws {
        let p = try Self.preset(
            "[task.web]\nkind = \"io\"\npopulation = 60\nduration_ms = 50", threads: "threads = { cap = 200 }")
        let model = ThreadsModel(preset: p, sessionStart: Monotonic.now())
        try model.start()
        let snaps = Self.samples(model, seconds: 1)
        model.stop()
        let last = try #require(snaps.last?.threads)
        let inFlight = snaps.last!.taskKinds[0].inFlight
        #expect(inFlight == 60)
        // A chain's next thread starts before the previous one exits: alive may exceed in flight by a few.
        #expect(abs(last.alive - inFlight) <= 6, "alive \(last.alive), in flight \(inFlight)")
        #expect(last.blocked(in: .sleep) >= 40, "\(last.blockedByState)")
        #expect(snaps.last!.fibers.parkedSleep == last.blocked(in: .sleep))
        #expect(last.created > 600, "a thread per task: ~20 tasks/s per member × 60 members")
        #expect((last.createdPerSecond ?? 0) > 300)
        #expect(last.list.count == last.running + last.blocked)
    }

    /// Busy is CPU time: 40 runnable CPU threads on this machine's cores use at most the cores, however long each
    /// waits for one in `running`.
    @Test func busyThreadsNeverExceedTheCores() throws {
        let p = try Self.preset(
            "[task.batch]\nkind = \"fanout\"\nrate = 10\nchildren = 40\nchild = \"cpu\"\nduration_ms = 5")
        let model = ThreadsModel(preset: p, sessionStart: Monotonic.now())
        try model.start()
        let snaps = Self.samples(model, seconds: 2.5)
        model.stop()
        let busy = snaps.suffix(from: snaps.count / 2).compactMap { $0.threads?.busyThreads }
        let cores = Double(Scheduler.coreCount)
        #expect(!busy.isEmpty)
        #expect(busy.allSatisfy { $0 <= cores + 0.5 }, "busy \(busy) on \(cores) cores")
        #expect(busy.contains { $0 > 0.2 }, "the CPU children's time is counted: \(busy)")
    }

    @Test func aFixedPoolQueuesWhatItCannotRun() throws {
        let p = try Self.preset(
            "[task.web]\nkind = \"io\"\nrate = 400\nduration_ms = 20",
            threads: "threads = { mode = \"pool\", size = 4 }")
        let model = ThreadsModel(preset: p, sessionStart: Monotonic.now())
        try model.start()
        let snaps = Self.samples(model, seconds: 0.6)
        model.stop()
        let t = try #require(snaps.last?.threads)
        #expect(t.alive == 4 && t.created == 4 && t.list.count == 4)
        #expect(t.idle + t.running + t.blocked == 4)
        // 4 threads × 50 tasks/s each < 400/s: the queue grows.
        #expect((t.queueDepth ?? 0) > 20, "queue \(String(describing: t.queueDepth))")
    }

    // MARK: teardown and limits

    /// A preset switch joins every thread within 1 s, even with 300 threads asleep for a minute each.
    @Test func teardownJoinsEveryThreadWithinOneSecond() throws {
        let before = Self.processThreads()
        let p = try Self.preset("[task.web]\nkind = \"io\"\npopulation = 300\nduration_ms = 60000")
        let model = ThreadsModel(preset: p, sessionStart: Monotonic.now())
        try model.start()
        let snaps = Self.samples(model, seconds: 0.5)
        #expect(snaps.last?.threads?.alive == 300)
        let t0 = Monotonic.now()
        model.stop()
        let ms = Double(Monotonic.now() - t0) / 1e6
        #expect(ms < 1000, "stop took \(ms) ms")
        #expect(model.table.alive.load(ordering: .relaxed) == 0)
        #expect(Self.processThreads() <= before, "threads \(before) → \(Self.processThreads())")
    }

    /// The system refusing threads (injected EAGAIN on every second `pthread_create`) is counted, the tasks are
    /// dropped, and nothing crashes.
    @Test func refusedThreadsAreCountedNotFatal() throws {
        let calls = Atomic<Int>(0)
        let starter: ThreadStarter = { name, body in
            if calls.add(1, ordering: .relaxed).newValue % 2 == 0 { return .failure(ThreadRefusal(code: EAGAIN)) }
            return Models.osThreadStarter(name, body)
        }
        let p = try Self.preset("[task.web]\nkind = \"io\"\nrate = 200\nduration_ms = 5")
        let model = ThreadsModel(preset: p, sessionStart: Monotonic.now(), starter: starter)
        try model.start()
        _ = Self.samples(model, seconds: 0.5)
        model.stop()
        // After stop: every count is final (a sample mid-run may fall between a refusal and its dropped count).
        let s = model.sample(time: 1, sequence: 99)
        let t = try #require(s.threads)
        #expect(t.createFailed > 10)
        #expect(t.lastCreateError == EAGAIN)
        #expect(t.created > 10)
        let kind = s.taskKinds[0]
        // A refused thread's task is a dropped arrival; so is one the arrival thread fired while the model stopped.
        let dropped = try #require(kind.dropped)
        #expect(
            dropped >= t.createFailed && dropped <= t.createFailed + 1, "dropped \(dropped), refused \(t.createFailed)")
        #expect(kind.inFlight >= 0 && kind.started == kind.completed + UInt64(kind.inFlight))
    }

    /// A shrunk cap: a population larger than the cap runs at most `cap` threads; the rest are counted.
    @Test func theCapHoldsAndCountsWhatItRefuses() throws {
        let p = try Self.preset(
            "[task.web]\nkind = \"io\"\npopulation = 10\nduration_ms = 20", threads: "threads = { cap = 4 }")
        let model = ThreadsModel(preset: p, sessionStart: Monotonic.now())
        try model.start()
        let snaps = Self.samples(model, seconds: 0.4)
        model.stop()
        let t = try #require(snaps.last?.threads)
        #expect(snaps.allSatisfy { ($0.threads?.peakRecent ?? 0) <= 4 })
        #expect(t.peak <= 4)
        #expect(t.refusedAtCap >= 6)
        #expect(t.createFailed == 0)
    }

    /// The headless summary carries the threads figures (and `null` for the other models).
    @Test func theSummaryHasTheThreadsFigures() throws {
        let summary = try Shipped.run("threads", seconds: 1)
        let t = try #require(summary.threads)
        #expect(t.mode == "per-task" && t.capacity == 2000)
        #expect(t.aliveMax >= 100 && t.blockedMax >= 50)
        #expect(summary.jsonText.contains("\"threads\":{"))
        let vt = try Shipped.run("vt-steal", seconds: 0.3)
        #expect(vt.threads == nil && vt.jsonText.contains("\"threads\":null"))
    }
}
