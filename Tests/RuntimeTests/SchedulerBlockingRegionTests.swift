import CRuntime
import Glibc
import Runtime
import Synchronization
import Testing

/// Waiting inside `Scheduler.blocking {}`: the region holds its carrier thread, so the fiber waits there as a
/// plain thread would (it blocks the thread, it does not park and migrate). Before, a park inside the region
/// switched the carrier away: the fiber came back on another carrier and finished the region there, writing the
/// first carrier's `postSwitch` and its worker's single-producer event ring from the wrong thread.
@Suite("Scheduler blocking regions")
struct SchedulerBlockingRegionTests {
    struct Seen: Equatable {
        var sameThread = true
        var received = 0
        var joined = 0
    }

    /// Sleep, channel receive, join, yield and a nested region inside one region: each returns on the thread that
    /// entered the region, with the right values; the region then ends normally (no blocked carrier left). Not
    /// `pin` with one carrier: the child joined inside the region would wait in the pinned worker's queue forever
    /// (that is what pinning means).
    @Test(arguments: [(BlockingPolicy.handoff, 1), (.handoff, 2), (.pin, 2)])
    func waitsInsideARegionBlockTheCarrierThread(policy: BlockingPolicy, carriers: Int) throws {
        let s = try Scheduler(.init(carriers: carriers, blocking: policy))
        defer { s.shutdown() }
        let ch = Channel<Int>(capacity: 0)
        let feeder = OSThread.spawn {
            for v in 1...3 { try? ch.send(v) }
        }
        let h = s.spawn(name: "blocker", kind: "io") { () -> Seen in
            Scheduler.blocking { () -> Seen in
                var seen = Seen()
                let tid = qv_gettid()
                func check() { if qv_gettid() != tid { seen.sameThread = false } }
                Scheduler.sleep(nanoseconds: 2_000_000)
                check()
                for _ in 1...3 { seen.received += ch.receive() ?? -100 }
                check()
                let child = s.spawn(name: "child") { () -> Int in
                    Scheduler.sleep(nanoseconds: 1_000_000)
                    return 7
                }
                seen.joined = child.join()
                check()
                Scheduler.yield()
                check()
                Scheduler.blocking { Scheduler.sleep(nanoseconds: 500_000) }
                check()
                #expect(Scheduler.isInFiber)
                #expect(Scheduler.currentFiberName == "blocker")
                return seen
            }
        }
        #expect(joinBounded(h, seconds: 20) == Seen(sameThread: true, received: 6, joined: 7))
        feeder.join()
        let m = s.metrics()
        #expect(m.blocked.isEmpty)
        #expect(m.fibers.blockedPinned == 0 && m.fibers.blockedHandoff == 0)
    }
}
