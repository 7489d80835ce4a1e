import Foundation
import Runtime
import Synchronization
import Testing

@testable import Workloads

/// The per-task thread table under contention: many launchers, a shrunk cap, short bodies that launch children,
/// injected refusals. Every thread is joined exactly once, every slot comes back, the counts add up.
@Suite(.timeLimit(.minutes(2))) struct ThreadTableStressTests {
    @Test(arguments: [1, 2, 3]) func launchesFromManyThreadsAddUp(seed: Int) throws {
        let calls = Atomic<Int>(0)
        // Every 7th pthread_create "fails" with EAGAIN (a shrunk system limit).
        let starter: ThreadStarter = { name, body in
            if calls.add(1, ordering: .relaxed).newValue % 7 == seed { return .failure(ThreadRefusal(code: EAGAIN)) }
            return Models.osThreadStarter(name, body)
        }
        let table = ThreadTable(mode: .perTask(cap: 8), starter: starter)
        let signal = try StopSignal()
        let ran = Atomic<Int>(0)
        let started = Atomic<Int>(0)
        let launchers = (0..<6).map { l in
            OSThread.spawn {
                for i in 0..<150 {
                    let ok = table.launch(name: "stress", kind: l, stop: signal) {
                        ran.add(1, ordering: .relaxed)
                        if i % 10 == 0 {
                            // A child from inside a task thread (a fan-out), taking another slot.
                            if table.launch(name: "child", kind: l, stop: signal, { ran.add(1, ordering: .relaxed) }) {
                                started.add(1, ordering: .relaxed)
                            }
                        }
                        if i % 3 == 0 { signal.sleep(nanoseconds: 200_000) }
                    }
                    if ok { started.add(1, ordering: .relaxed) }
                }
            }
        }
        for t in launchers { t.join() }
        // Children may still be launching from task threads: wait until every started thread's body has run.
        let deadline = Monotonic.now() + 20_000_000_000
        while ran.load(ordering: .relaxed) < started.load(ordering: .relaxed) && Monotonic.now() < deadline {
            usleep(1000)
        }
        // Every task thread's own launch (of a child) has returned once its body ran; only exits are left.
        while table.alive.load(ordering: .relaxed) > 0 && Monotonic.now() < deadline { usleep(1000) }
        table.joinAll()
        signal.close()
        let created = table.created.load(ordering: .relaxed)
        let failed = table.createFailed.load(ordering: .relaxed)
        let refused = table.refusedAtCap.load(ordering: .relaxed)
        #expect(ran.load(ordering: .relaxed) == started.load(ordering: .relaxed))
        #expect(Int(created) == started.load(ordering: .relaxed))
        #expect(table.alive.load(ordering: .relaxed) == 0)
        #expect(failed > 0 && table.lastCreateError.load(ordering: .relaxed) == EAGAIN)
        #expect(created + failed + refused >= 900, "every top-level launch was started, refused or failed")
        #expect(table.peak.sinceStart(current: 0) <= 8, "the cap held")
        // Every slot came back: eight launches now succeed at once (bodies wait on a gate).
        let gate = Atomic<Bool>(false)
        var ok = 0
        for _ in 0..<8
        where table.launch(
            name: "again", kind: 0, stop: signal, { while !gate.load(ordering: .relaxed) { usleep(100) } })
        {
            ok += 1
        }
        gate.store(true, ordering: .relaxed)
        table.joinAll()
        #expect(ok >= 8 - Int(table.createFailed.load(ordering: .relaxed) - failed))
    }
}
