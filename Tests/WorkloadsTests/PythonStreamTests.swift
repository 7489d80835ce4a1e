import Foundation
import Telemetry
import Testing

@testable import Workloads

/// The Python agent's stream (docs/python-agent.md) → snapshots, without a Python: every fault of a
/// stream is one typed error, and every figure lands where the snapshot contract puts it.
@Suite struct PythonStreamTests {
    static let hello = #"{"type":"hello","format":1,"agent":"1.0","python":"3.11.7","pid":42,"t":0.25}"#

    static func snapshotLine(t: Double = 1.0, ready: String = "3", jobs: String = "100", events: String = "[]")
        -> String
    {
        """
        {"type":"snapshot","t":\(t),"seq":1,"loops":[{"id":0,"impl":"asyncio.unix_events._UnixSelectorEventLoop",\
        "running":true,"ready":\(ready),"ready_peak":7,"ready_max":9,"timers":4,\
        "tasks":{"total":10,"running":1,"ready":2,"sleep":3,"socket":1,"future":1,"lock":1,"queue":0,"to_thread":1},\
        "jobs":\(jobs),"slow":2,"busy":0.25,"current":"disk","last_task":"web",\
        "lag":{"p50_ms":0.5,"p99_ms":4,"max_ms":51,"slot_p99_ms":46,"recent_ms":50,"buckets":[1,2,3,4,5,6,7,8,9,10]}}],\
        "pool":{"threads":2,"busy":1,"queue":3,"completed":17,"thread_states":[{"id":0,"kind":"crunch","running_ms":12.5},\
        {"id":1,"kind":null,"running_ms":0}]},"kinds":[{"kind":"web","started":5,"completed":4,"in_flight":1,\
        "p50_ms":2,"p99_ms":9,"throughput":40}],"events":\(events),"dropped_events":1,"dropped_lines":2}
        """
    }

    static func decode(_ lines: [String]) throws -> [AgentLine] {
        var stream = PythonStream()
        return try stream.feed(Array((lines.joined(separator: "\n") + "\n").utf8))
    }

    @Test func linesSplitAcrossReadsDecodeOnceWhole() throws {
        var stream = PythonStream()
        let bytes = Array((Self.hello + "\n" + Self.snapshotLine() + "\n").utf8)
        var lines: [AgentLine] = []
        for chunk in stride(from: 0, to: bytes.count, by: 7) {
            lines += try stream.feed(bytes[chunk..<min(bytes.count, chunk + 7)])
        }
        try stream.finish()
        #expect(lines.count == 2)
        guard case .hello(let h) = lines.first else {
            Issue.record("first line is not a hello: \(lines)")
            return
        }
        #expect(h.format == 1)
        #expect(h.t == 0.25)
    }

    @Test func garbageIsOneErrorNamingTheLine() {
        #expect(throws: PythonStreamError.notJSON(line: 2, excerpt: "Traceback (most recent call last):")) {
            try Self.decode([Self.hello, "Traceback (most recent call last):"])
        }
    }

    @Test func aStreamThatDoesNotStartWithHelloIsRefused() {
        #expect(throws: PythonStreamError.noHello(line: 1)) { try Self.decode([Self.snapshotLine()]) }
    }

    @Test func aNewerFormatIsRefusedWithBothVersions() throws {
        #expect(throws: PythonStreamError.newerFormat(2)) { try Self.decode([#"{"type":"hello","format":2}"#]) }
        #expect(PythonStreamError.newerFormat(2).description.contains("format 2"))
        #expect(PythonStreamError.newerFormat(2).description.contains("format 1"))
    }

    @Test func aPartialLastLineIsATruncatedStream() throws {
        var stream = PythonStream()
        _ = try stream.feed(Array((Self.hello + "\n{\"type\":\"snap").utf8))
        #expect(throws: PythonStreamError.truncated(bytes: 13)) { try stream.finish() }
    }

    @Test func aSnapshotLineFillsTheSnapshotContract() throws {
        let event =
            #"[{"t":0.9,"kind":"slowCallback","loop":0,"duration_ms":50.5,"name":"disk_read (app.py:5) in task disk"}]"#
        let lines = try Self.decode([Self.hello, Self.snapshotLine(events: event)])
        guard case .snapshot(let a) = lines[1] else {
            Issue.record("second line is not a snapshot: \(lines)")
            return
        }
        var sampler = PythonSampler(preset: "python", title: "python app.py")
        sampler.offset = 0.5
        let s = sampler.snapshot(a, events: a.events ?? [], sequence: 3)
        #expect(s.time == 1.5)
        #expect(s.sequence == 3)
        #expect(s.model == .eventLoop)
        let loop = try #require(s.loops.first)
        #expect(loop.readyDepth == 3)
        #expect(loop.readyPeak == 7)
        #expect(loop.maxReadyDepth == 9)
        #expect(loop.timersPending == 4)
        #expect(loop.tasksAlive == 10)
        #expect(loop.jobsRun == 100)
        #expect(loop.jobsInInterval == nil)  // first sample: no interval yet
        #expect(loop.busyRatio == 0.25)
        #expect(loop.current == "disk")
        #expect(loop.lastTask == "web")
        #expect(loop.readyDelay == nil)  // the agent does not time each job
        #expect(loop.lag.maxMs == 51)
        #expect(loop.lag.slotP99Ms == 46)
        #expect(s.lag == loop.lag)
        #expect(s.readyDelay == nil)
        #expect(
            s.fibers
                == FiberCounts(
                    total: 10, running: 1, runnable: 2, parkedSleep: 3, parkedIO: 1, parkedChannel: 0, parkedMutex: 1,
                    parkedJoin: 2))
        // The same census in the agent's own eight states, unmerged (the Tasks panel).
        #expect(
            s.taskCensus
                == TaskCensus(running: 1, ready: 2, sleep: 3, socket: 1, future: 1, lock: 1, queue: 0, toThread: 1))
        #expect(s.taskCensus?.total == 10)
        let pool = try #require(s.pool)
        #expect(pool.threads == 2 && pool.busy == 1 && pool.queueDepth == 3 && pool.completed == 17)
        #expect(
            pool.threadStates == [
                PoolThreadSnapshot(id: 0, kind: "crunch", runningMs: 12.5), PoolThreadSnapshot(id: 1),
            ])
        #expect(s.taskKinds.first?.kind == "web")
        #expect(s.taskKinds.first?.p99Ms == 9)
        #expect(s.droppedEvents == 3)
        let e = try #require(s.events.first)
        #expect(e.kind == .slowCallback)
        #expect(e.time == 1.4)
        #expect(e.durationMs == 50.5)
        #expect(e.name == "disk_read (app.py:5) in task disk")
        let next = sampler.snapshot(a, events: [], sequence: 4)
        #expect(next.loops.first?.jobsInInterval == 0)
    }

    @Test func aLoopWithoutAReadyQueueIsSaidToBeNA() throws {
        let lines = try Self.decode([Self.hello, Self.snapshotLine(ready: "null", jobs: "null")])
        guard case .snapshot(let a) = lines[1] else {
            Issue.record("not a snapshot")
            return
        }
        var sampler = PythonSampler(preset: "py-uvloop", title: "uvloop")
        let s = sampler.snapshot(a, events: [], sequence: 0)
        let loop = try #require(s.loops.first)
        #expect(loop.readyDepth == nil, "n/a, not 0: \(loop)")
        #expect(loop.jobsRun == nil && loop.jobsInInterval == nil)
        #expect(loop.timersPending == 4 && loop.busyRatio == 0.25)  // the figures the stream has stay
        #expect(!s.presetTitle.contains("n/a"))
    }

    @Test func jobsThatGoBackwardsGiveNoInterval() throws {
        let lines = try Self.decode([Self.hello, Self.snapshotLine(jobs: "100"), Self.snapshotLine(jobs: "40")])
        guard case .snapshot(let a) = lines[1], case .snapshot(let b) = lines[2] else {
            Issue.record("not snapshots: \(lines)")
            return
        }
        var sampler = PythonSampler(preset: "python", title: "t")
        _ = sampler.snapshot(a, events: [], sequence: 0)
        #expect(sampler.snapshot(b, events: [], sequence: 1).loops.first?.jobsInInterval == nil)
    }
}
