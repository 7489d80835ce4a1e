import Foundation
import Runtime
import Synchronization
import Telemetry
import Testing

@testable import Workloads

/// `park` on the threads model (issue 15, memory per parked task): every parked task is an OS thread of its own,
/// blocked in the kernel, asleep or reading a loopback socket; measured by the memory sampler, torn down within
/// 1 s, and stopped at a system limit with a banner (shrunk counts: a few hundred threads).
@Suite(.serialized, .timeLimit(.minutes(2))) struct ThreadParkingTests {
    static func preset(count: Int, on: String, cap: Int = 100) throws -> Preset {
        try Preset.parse(
            """
            name = "tp"
            title = "tp"
            explain = "tp"
            park = { count = \(count), on = "\(on)" }
            [scheduler]
            model = "threads"
            threads = { cap = \(cap) }
            [task.web]
            kind = "io"
            rate = 20
            duration_ms = 2
            """, file: "tp.toml")
    }

    /// Samples `model` every 20 ms until `parked` tasks read as parked (or 20 s pass); returns the last snapshot.
    static func sampleUntilParked(_ model: ThreadsModel, _ parked: Int) -> Snapshot {
        let start = Monotonic.now()
        var seq: UInt64 = 0
        var last = model.sample(time: 0, sequence: 0)
        while Monotonic.now() - start < 20_000_000_000 {
            Work.sleepThread(nanos: 20_000_000)
            seq += 1
            last = model.sample(time: Double(Monotonic.now() - start) / 1e9, sequence: seq)
            if (last.memory?.parkedTasks ?? 0) >= parked { break }
        }
        return last
    }

    @Test func parkIsAFieldOfTheThreadsModelButNotOfItsPool() throws {
        let p = try Self.preset(count: 300, on: "socket")
        #expect(p.workload.park == ParkSpec(count: 300, on: .socket))
        // A fixed pool cannot hold a thread per parked task: rejected with the reason.
        #expect(throws: PresetError.self) {
            try Preset.parse(
                """
                name = "tp"
                title = "tp"
                explain = "tp"
                park = { count = 10 }
                [scheduler]
                model = "threads"
                threads = { mode = "pool", size = 4 }
                [task.web]
                kind = "io"
                rate = 20
                """, file: "tp.toml")
        }
    }

    /// Each parked task is a thread of its own blocked in `sleep`: counted by the threads figures and the memory
    /// sampler, whose bytes per parked task is RSS over the baseline per parked thread; teardown joins them all
    /// within 1 s and the process's thread count returns to where it was.
    @Test func parkedThreadsAsleepAreMeasuredAndTornDownWithinASecond() throws {
        let before = ThreadsModelTests.processThreads()
        let model = ThreadsModel(preset: try Self.preset(count: 400, on: "sleep"), sessionStart: Monotonic.now())
        try model.start()
        let s = Self.sampleUntilParked(model, 400)
        let m = try #require(s.memory)
        let t = try #require(s.threads)
        #expect((m.parkedTasks ?? 0) >= 400, "parked \(String(describing: m.parkedTasks))")
        #expect(m.parkTarget == 400 && m.limit == nil)
        #expect(t.blocked(in: .sleep) >= 400, "\(t.blockedByState)")
        #expect(t.alive >= 400 && t.created >= 400)
        #expect(ThreadsModelTests.processThreads() >= before + 400)
        let per = try #require(m.bytesPerParked)
        #expect(per > 4096, "bytes per parked thread: \(per)")
        let t0 = Monotonic.now()
        model.stop()
        let ms = Double(Monotonic.now() - t0) / 1e6
        #expect(ms < 1000, "stop took \(ms) ms")
        #expect(model.table.alive.load(ordering: .relaxed) == 0)
        #expect(
            ThreadsModelTests.processThreads() <= before, "threads \(before) → \(ThreadsModelTests.processThreads())")
    }

    /// Each parked task is a thread blocked in `read` on its own loopback connection; teardown wakes and joins
    /// every one within 1 s and closes both ends of every connection.
    @Test func parkedThreadsOnSocketsAreMeasuredAndTornDownWithinASecond() throws {
        let fds = ProcessMemory.descriptorCount()
        let before = ThreadsModelTests.processThreads()
        let model = ThreadsModel(preset: try Self.preset(count: 300, on: "socket"), sessionStart: Monotonic.now())
        try model.start()
        let s = Self.sampleUntilParked(model, 300)
        let t = try #require(s.threads)
        #expect(t.blocked(in: .read) >= 300, "\(t.blockedByState)")
        #expect((s.memory?.parkedTasks ?? 0) >= 300)
        #expect(ProcessMemory.descriptorCount() >= fds + 600, "two descriptors per parked connection")
        let t0 = Monotonic.now()
        model.stop()
        let ms = Double(Monotonic.now() - t0) / 1e6
        #expect(ms < 1000, "stop took \(ms) ms")
        #expect(
            ThreadsModelTests.processThreads() <= before, "threads \(before) → \(ThreadsModelTests.processThreads())")
        #expect(ProcessMemory.descriptorCount() <= fds, "descriptors \(fds) → \(ProcessMemory.descriptorCount())")
    }

    /// The system refusing a thread (injected EAGAIN from the 151st `pthread_create` on) stops parking with the
    /// limit named for the banner; the refusal is counted as the threads model counts every refusal; no crash.
    @Test func aRefusedThreadStopsParkingWithABanner() throws {
        let calls = Atomic<Int>(0)
        let starter: ThreadStarter = { name, body in
            guard calls.add(1, ordering: .relaxed).newValue <= 150 else { return .failure(ThreadRefusal(code: EAGAIN)) }
            return Models.osThreadStarter(name, body)
        }
        let model = ThreadsModel(
            preset: try Self.preset(count: 1000, on: "sleep"), sessionStart: Monotonic.now(), starter: starter)
        try model.start()
        var s = model.sample(time: 0, sequence: 0)
        let start = Monotonic.now()
        while s.memory?.limit == nil && Monotonic.now() - start < 10_000_000_000 {
            Work.sleepThread(nanos: 20_000_000)
            s = model.sample(time: 1, sequence: 1)
        }
        model.stop()
        let limit = try #require(s.memory?.limit)
        #expect(limit.hasPrefix("threads: pthread_create refused a thread (EAGAIN"), "\(limit)")
        #expect(limit.contains("parked tasks"), "\(limit)")
        #expect((s.threads?.createFailed ?? 0) >= 1)
        #expect((s.memory?.parkedTasks ?? 0) < 1000)
    }
}
