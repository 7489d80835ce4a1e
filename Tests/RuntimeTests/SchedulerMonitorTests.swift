import CRuntime
import Glibc
import Runtime
import Synchronization
import Testing

/// The monitor (Monitor.swift): a fiber that holds its carrier past the threshold without a scheduling point.
@Suite("Scheduler monitor")
struct SchedulerMonitorTests {
    /// Drains events until `found` accepts the drained ones or `seconds` pass.
    static func events(
        _ s: Scheduler, seconds: UInt64 = 5, until found: ([RuntimeEventRecord]) -> Bool
    ) -> [RuntimeEventRecord] {
        let deadline = qv_now_ns() &+ seconds * 1_000_000_000
        var all: [RuntimeEventRecord] = []
        repeat {
            all += s.drainEvents()
            if found(all) { break }
            usleep(2_000)
        } while qv_now_ns() < deadline
        return all
    }

    static func spin(nanoseconds: UInt64) {
        let end = qv_now_ns() &+ nanoseconds
        while qv_now_ns() < end {}
    }

    /// A fiber spinning 150 ms is reported as a blocking region named after it ("name (kind)"), begin and end,
    /// with its duration; a fiber that works as long but yields every 0.5 ms is not reported. A 30 ms threshold,
    /// not the default 10: the monitor sees a carrier that the OS has descheduled as stuck too, and parallel
    /// tests on two cores can deschedule one for 10 ms.
    @Test func aCPUHoggingFiberIsReportedWithItsName() throws {
        let s = try Scheduler(.init(carriers: 2, hogThresholdNanos: 30_000_000))
        defer { s.shutdown() }
        let polite = s.spawn(name: "polite", kind: "cpu") {
            for _ in 0..<300 {
                Self.spin(nanoseconds: 500_000)
                Scheduler.yield()
            }
        }
        _ = joinBounded(polite)
        #expect(s.metrics().hogsDetected == 0)
        _ = s.drainEvents()
        let hog = s.spawn(name: "hog", kind: "cpu") { Self.spin(nanoseconds: 150_000_000) }
        _ = joinBounded(hog)
        let found = Self.events(s) { e in e.contains { $0.kind == .blockingEnd && $0.name == "hog (cpu)" } }
        let monitored = found.filter { $0.other == Int32(RuntimeEventRecord.foundByMonitor) }
        #expect(monitored.contains { $0.kind == .blockingBegin && $0.name == "hog (cpu)" })
        let end = try #require(monitored.first { $0.kind == .blockingEnd && $0.name == "hog (cpu)" })
        #expect(end.durationNanos >= 100_000_000)
        #expect(!found.contains { $0.name?.hasPrefix("polite") == true })
        #expect(s.metrics().hogsDetected == 1)
    }

    /// Under `handoff` a fiber queued behind a hog runs (on the other worker) before the hog finishes; without
    /// stealing nothing else would move it, so with the monitor off (the control) it waits for the hog's end.
    /// The hog spins until the queued fiber ran, at most 2 s.
    @Test(arguments: [UInt64(10_000_000), 0])
    func underHandoffTheQueueBehindAHogRunsElsewhere(threshold: UInt64) throws {
        let s = try Scheduler(.init(carriers: 2, steal: .none, blocking: .handoff, hogThresholdNanos: threshold))
        defer { s.shutdown() }
        let ran = Atomic<Bool>(false)
        let hog = s.spawn(name: "hog", kind: "cpu") { () -> Bool in
            // Spawned from the hog's carrier: onto its local queue, behind it.
            s.spawn(name: "queued") { ran.store(true, ordering: .sequentiallyConsistent) }
            let end = qv_now_ns() &+ 2_000_000_000
            while !ran.load(ordering: .sequentiallyConsistent) && qv_now_ns() < end {}
            return ran.load(ordering: .sequentiallyConsistent)
        }
        let ranFirst = joinBounded(hog)
        if threshold > 0 {
            #expect(ranFirst == true)
            #expect(s.metrics().hogQueueMoves >= 1)
        } else {
            #expect(ranFirst == false)
        }
    }
}
