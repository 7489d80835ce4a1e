// The primitive work every model's task bodies share: spin, a real blocking syscall, a slow pipe,
// and the arrival schedule. Colour-free (plain synchronous functions): the bodies decide whether
// to call them directly, on a carrier, or through `to_thread`.

import Foundation
import Runtime
import Synchronization

enum Work {
    /// Busy computation for `ms`: spins on the monotonic clock (as the anchors' W5 does), so the
    /// time is the same on every model whatever the CPU speed.
    static func spin(ms: Double) {
        let end = Monotonic.now() + UInt64(max(0, ms) * 1e6)
        var x: UInt64 = 0x9E37_79B9
        while Monotonic.now() < end {
            for _ in 0..<64 { x = x &* 6_364_136_223_846_793_005 &+ 1 }
        }
        blackHole(x)
    }

    /// A real blocking syscall for `ms`: `nanosleep` (restarted on EINTR) or a blocking `read` on
    /// a pipe that a helper thread writes to after `ms`.
    static func block(ms: Double, call: BlockingCall) {
        switch call {
        case .nanosleep: sleepThread(nanos: UInt64(max(0, ms) * 1e6))
        case .pipe: slowPipeRead(ms: ms)
        }
    }

    static func sleepThread(nanos: UInt64) {
        var ts = timespec(tv_sec: Int(nanos / 1_000_000_000), tv_nsec: Int(nanos % 1_000_000_000))
        var rest = timespec()
        while nanosleep(&ts, &rest) != 0 && errno == EINTR { ts = rest }
    }

    /// Blocks in `read(2)` on a fresh pipe until a helper thread writes one byte after `ms`.
    static func slowPipeRead(ms: Double) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            sleepThread(nanos: UInt64(ms * 1e6))  // out of descriptors: still block for the duration
            return
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let writer: OSThread
        do {
            writer = try OSThread.start(name: "qv-slow-pipe") {
                sleepThread(nanos: UInt64(max(0, ms) * 1e6))
                var byte: UInt8 = 1
                _ = write(writeEnd, &byte, 1)
                close(writeEnd)
            }
        } catch {
            close(readEnd)
            close(writeEnd)
            sleepThread(nanos: UInt64(ms * 1e6))  // out of threads: still block for the duration
            return
        }
        var byte: UInt8 = 0
        while read(readEnd, &byte, 1) < 0 && errno == EINTR {}
        close(readEnd)
        writer.join()  // it has written: only its close(2) is left
    }

    @inline(never) static func blackHole(_ x: UInt64) {
        if x == 42 { print("") }
    }
}

/// The arrival times of one rate-driven task spec, partitioned over `parts` generators.
///
/// Arrival k of the spec is due at `start + k / rate`; generator `part` owns arrivals
/// `part, part + parts, …`. Deterministic and drift-free (times come from k, not from "now").
struct ArrivalSchedule: Sendable {
    let start: UInt64
    let periodNanos: Double
    let parts: Int
    let part: Int
    private(set) var k: Int

    init(start: UInt64, rate: Double, parts: Int = 1, part: Int = 0) {
        self.start = start
        self.periodNanos = 1e9 / rate
        self.parts = max(1, parts)
        self.part = part
        self.k = part
    }

    /// The due time of the next arrival of this generator.
    var nextDue: UInt64 { start + UInt64(Double(k) * periodNanos) }

    mutating func advance() { k += parts }
}

/// How many of `population` tasks generator `part` of `parts` keeps in flight.
func populationShare(_ population: Int, parts: Int, part: Int) -> Int {
    population / parts + (part < population % parts ? 1 : 0)
}

/// A flag set once by `stop()` and read by generators on any thread.
final class StopFlag: Sendable {
    // relaxed: generators poll it; nothing else is published through it.
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}

/// One OS thread that fires every rate-driven arrival at its due time, from outside the runtime
/// (the clients of a server are outside it too). A stalled runtime therefore cannot delay its own
/// arrivals; the latency of each task still counts from its due time.
///
/// Owned by its model: `start` once, `stopAndJoin` once.
final class ArrivalThread: Sendable {
    struct Stream: Sendable {
        var schedule: ArrivalSchedule
        /// Called on the arrival thread with the arrival's due time (monotonic ns).
        var fire: @Sendable (UInt64) -> Void
    }

    private let streams: [Stream]
    private let stop = StopFlag()
    private let thread = Mutex<OSThread?>(nil)

    init(streams: [Stream]) { self.streams = streams }

    func start() throws(ModelError) {
        guard !streams.isEmpty else { return }
        let streams = self.streams
        let stop = self.stop
        let t: OSThread
        do {
            t = try OSThread.start(name: "qv-arrivals") {
                var s = streams
                while !stop.isSet {
                    var best = 0
                    for i in s.indices where s[i].schedule.nextDue < s[best].schedule.nextDue { best = i }
                    let due = s[best].schedule.nextDue
                    let now = Monotonic.now()
                    if due > now {
                        // Wake at least every 10 ms to notice stop().
                        Work.sleepThread(nanos: min(due - now, 10_000_000))
                        continue
                    }
                    s[best].schedule.advance()
                    s[best].fire(due)
                }
            }
        } catch {
            throw ModelError("cannot start the arrival thread: \(error)")
        }
        thread.withLock { $0 = t }
    }

    func stopAndJoin() {
        stop.set()
        if let t = thread.withLock({ t -> OSThread? in
            defer { t = nil }
            return t
        }) {
            t.join()
        }
    }
}
