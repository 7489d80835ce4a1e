import Foundation
import Testing

@testable import Runtime

@Suite struct LagRecorderTests {
    /// 98 ticks 10 µs late on a 1 ms grid, then one 50 ms stall: one late tick, and the 50 slots it
    /// skipped each count as late until the tick ran.
    @Test func countsSkippedSlotsAsLate() {
        var lag = LagRecorder(period: .milliseconds(1))
        for k in 1...98 { lag.tick(now: UInt64(k) * 1_000_000 + 10_000) }
        #expect(lag.nextDeadline == 99_000_000)
        #expect(lag.tick(now: 149_000_000) == 50_000_000)
        let s = lag.summary()
        #expect(abs(s.maxMs - 50) < 0.5)
        #expect(s.p50Ms < 0.1)
        #expect(s.slotP99Ms > 20)
        #expect(s.ticks == 99)
        #expect(s.missedSlots == 50)
        #expect(s.buckets.reduce(0, +) == 99)
        #expect(s.buckets[0] == 98 && s.buckets[7] == 1, "\(s.buckets)")  // ≤ 0.1 ms and ≤ 50 ms
        #expect(lag.nextDeadline == 150_000_000)
    }

    /// A tick two hours late (a recorder whose grid was never started, on a machine up for hours) is still
    /// counted, as an hour; its skipped slots are bounded per tick and all counted as missed.
    @Test func aTickLaterThanTheHistogramsRangeIsCountedAndItsSlotsBounded() {
        var lag = LagRecorder(period: .milliseconds(1))
        lag.tick(now: 7_200_000_000_000)
        let s = lag.summary()
        #expect(s.ticks == 1)
        #expect(s.maxMs >= 3_599_000)
        #expect(s.missedSlots == 7_199_999)
        #expect(lag.nextDeadline == 7_200_001_000_000)
    }

    @Test func sharedRecorderResetsTheRecentWindowOnlyWhenAsked() {
        let lag = SharedLagRecorder(period: .milliseconds(1))
        lag.start(at: 0)
        lag.tick(now: 3_000_000)  // due at 1 ms: 2 ms late
        #expect(lag.summary(resetRecent: false).recentMs == 2)
        #expect(lag.summary(resetRecent: true).recentMs == 2)
        #expect(lag.summary(resetRecent: true).recentMs == 0)
        #expect(lag.summary(resetRecent: false).ticks == 1)
    }
}
