import CRuntime
import Glibc
import Runtime
import Synchronization
import Testing

/// StopSignal: one `set()` wakes every plain thread sleeping on it at once; a sleep without it lasts its time.
@Suite(.timeLimit(.minutes(1))) struct StopSignalTests {
    @Test func setWakesEverySleeperAtOnce() throws {
        let signal = try StopSignal()
        defer { signal.close() }
        let woken = Atomic<Int>(0)
        let sleepers = (0..<200).map { _ in
            OSThread.spawn {
                signal.sleep(nanoseconds: 60_000_000_000)  // a minute: only set() ends it within the test
                woken.add(1, ordering: .relaxed)
            }
        }
        usleep(100_000)
        #expect(woken.load(ordering: .relaxed) == 0, "a sleep ended before set()")
        let t0 = qv_now_ns()
        signal.set()
        for t in sleepers { t.join() }
        let ms = Double(qv_now_ns() - t0) / 1e6
        #expect(woken.load(ordering: .relaxed) == 200)
        #expect(ms < 1000, "200 sleepers took \(ms) ms to wake")
        // After set(), every later sleep returns at once.
        let t1 = qv_now_ns()
        signal.sleep(nanoseconds: 10_000_000_000)
        #expect(qv_now_ns() - t1 < 1_000_000_000)
    }

    @Test func aSleepLastsItsTimeWithoutSet() throws {
        let signal = try StopSignal()
        defer { signal.close() }
        let t0 = qv_now_ns()
        signal.sleep(nanoseconds: 20_000_000)
        #expect(qv_now_ns() - t0 >= 20_000_000)
        #expect(!signal.isSet)
    }
}
