import Foundation
import Runtime
import Synchronization
import Telemetry
import Testing

@testable import Workloads

/// The threads model's pool mode (`threads = { mode = "pool", size = N }`): a pool queues what it cannot run yet,
/// as a ThreadPoolExecutor's unbounded queue does; it drops nothing while the model runs, and the sampler sees the
/// queue's depth and its peak since the previous sample (the peak-hold the threads screen and the JSON show).
@Suite(.timeLimit(.minutes(1))) struct ThreadPoolQueueTests {
    /// Two pool threads (run as the model's pool threads run: `next()` until it returns nil) given 50 jobs at once
    /// complete all 50; the queue held at least 40 of them at its peak, and is empty at the end.
    @Test func aPoolOfTwoGivenFiftyJobsCompletesAllFifty() throws {
        let queue = ThreadJobQueue(threads: 2)
        let done = Atomic<Int>(0)
        let release = FiberSemaphore(value: 0)
        var pool: [OSThread] = []
        for i in 0..<2 {
            pool.append(
                try OSThread.start(name: "qv-pool-test-\(i)") {
                    while let job = queue.next() { job.body() }
                })
        }
        var accepted = 0
        for k in 0..<50 {
            let ok = queue.submit(
                .init(kind: 0) {
                    // The first two jobs hold both threads until every job is queued: the queue must hold 48.
                    if k < 2 { release.wait() }
                    done.add(1, ordering: .relaxed)
                })
            if ok { accepted += 1 }
        }
        #expect(accepted == 50, "the queue refused \(50 - accepted) jobs")
        let queued = queue.depthNow.load(ordering: .relaxed)
        #expect(queued >= 48, "queued \(queued) of 50 with both threads held")
        release.signal()
        release.signal()
        let start = Monotonic.now()
        while done.load(ordering: .relaxed) < 50 && Monotonic.now() - start < 10_000_000_000 {
            Work.sleepThread(nanos: 1_000_000)
        }
        queue.close()
        for t in pool { t.join() }
        #expect(done.load(ordering: .relaxed) == 50, "completed \(done.load(ordering: .relaxed)) of 50")
        #expect(queue.depthNow.load(ordering: .relaxed) == 0)
        // The peak-hold the sampler takes: at least the 48 queued at once.
        #expect(queue.peak.take(current: 0) >= 48)
    }

    /// The model's sample carries the pool's queue depth and its peak since the previous sample (per-task mode:
    /// both nil, n/a), so a burst drained between two frames still shows.
    @Test func theSampleCarriesTheQueuePeak() throws {
        let p = try ThreadsModelTests.preset(
            "[task.web]\nkind = \"io\"\nrate = 400\nduration_ms = 20",
            threads: "threads = { mode = \"pool\", size = 2 }")
        let model = ThreadsModel(preset: p, sessionStart: Monotonic.now())
        try model.start()
        let snaps = ThreadsModelTests.samples(model, seconds: 0.5)
        model.stop()
        let t = try #require(snaps.last?.threads)
        let peak = try #require(t.queuePeak, "pool mode: the queue's peak is measured")
        #expect(peak >= (t.queueDepth ?? 0) && peak > 10, "peak \(peak), depth \(String(describing: t.queueDepth))")
        let perTask = ThreadsModel(
            preset: try ThreadsModelTests.preset("[task.web]\nkind = \"io\"\nrate = 10"), sessionStart: Monotonic.now())
        #expect(perTask.sample(time: 0, sequence: 0).threads?.queuePeak == nil)
    }
}
