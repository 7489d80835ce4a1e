import Foundation
import Telemetry
import Testing

@testable import Workloads

/// A gevent hub's lines of the agent's stream (docs/python-agent.md, "gevent") → snapshots: greenlet
/// switches and their rate, gevent's monitor-thread reports, and task counts the hub cannot provide.
@Suite struct GeventStreamTests {
    /// One snapshot line of a watched gevent hub, as the agent writes it.
    static func hubLine(
        t: Double, switches: Int, reports: Int = 0, monitorThread: Bool = false, last: String = "null"
    ) -> String {
        """
        {"type":"snapshot","t":\(t),"seq":1,"loops":[{"id":0,"impl":"gevent hub (gevent.libev.corecext.loop)",\
        "thread":"MainThread","running":true,"ready":2,"ready_peak":null,"ready_max":5,"timers":null,\
        "tasks":null,"jobs":null,"slow":1,"busy":null,"current":null,"last_task":null,\
        "lag":{"p50_ms":0.1,"p99_ms":9,"max_ms":54,"slot_p99_ms":50,"recent_ms":3,"buckets":[1,2,3,4,5,6,7,8,9,10]},\
        "switches":\(switches),"monitor_reports":\(reports),"monitor_thread":\(monitorThread),"monitor_last":\(last)}],\
        "pool":null,"kinds":[],"events":[],"dropped_events":0,"dropped_lines":0}
        """
    }

    static func snapshots(_ lines: [String], offset: Double = 0) throws -> [Snapshot] {
        var stream = PythonStream()
        let decoded = try stream.feed(Array(([PythonStreamTests.hello] + lines).joined(separator: "\n").utf8 + [10]))
        var sampler = PythonSampler(preset: "py-gevent", title: "gevent")
        sampler.offset = offset
        var out: [Snapshot] = []
        for case .snapshot(let a) in decoded {
            out.append(sampler.snapshot(a, events: a.events ?? [], sequence: UInt64(out.count)))
        }
        return out
    }

    @Test func greenletSwitchesArePerSecondOverTheIntervalBetweenTwoSnapshots() throws {
        let s = try Self.snapshots([Self.hubLine(t: 1.0, switches: 400), Self.hubLine(t: 1.5, switches: 1400)])
        let first = try #require(s[0].loops.first?.gevent)
        #expect(first.switches == 400)
        #expect(first.switchesPerSecond == nil)  // no interval yet: n/a, not 0
        let second = try #require(s[1].loops.first?.gevent)
        #expect(second.switches == 1400)
        #expect(second.switchesPerSecond == 2000)  // 1000 switches in 0.5 s
    }

    @Test func monitorReportsAreNilWhenTheProgramDidNotEnableGeventsMonitor() throws {
        let off = try Self.snapshots([Self.hubLine(t: 1, switches: 10, reports: 0, monitorThread: false)])
        let hub = try #require(off[0].loops.first?.gevent)
        #expect(hub.monitorReports == nil)
        #expect(hub.lastReport == nil)
        let on = try Self.snapshots(
            [
                Self.hubLine(
                    t: 2, switches: 10, reports: 3, monitorThread: true,
                    last: #"{"t":1.75,"name":"load_index (app.py:12)","at_least_ms":20.0}"#)
            ], offset: 0.5)
        let g = try #require(on[0].loops.first?.gevent)
        #expect(g.monitorReports == 3)
        #expect(g.lastReport == GeventBlockingReport(time: 2.25, name: "load_index (app.py:12)", atLeastMs: 20))
    }

    /// The hub streams `tasks: null` (greenlets are not counted): the snapshot's task counts are unknown,
    /// never a census of zeros.
    @Test func aGeventHubFrameWithoutTaskCountsHasNoTaskCounts() throws {
        let s = try #require(try Self.snapshots([Self.hubLine(t: 1, switches: 10)]).first)
        #expect(s.taskCounts == nil, "\(s.fibers)")
        #expect(s.taskCensus == nil, "a hub counts no tasks: no census, not a census of zeros")
        #expect(s.tasksUncounted == true)
        #expect(s.loops.first?.tasksAlive == nil)
    }

    @Test func anAsyncioFrameKeepsItsTaskCountsAndHasNoHubFigures() throws {
        var stream = PythonStream()
        let lines = try stream.feed(
            Array((PythonStreamTests.hello + "\n" + PythonStreamTests.snapshotLine() + "\n").utf8))
        guard case .snapshot(let a) = lines[1] else {
            Issue.record("second line is not a snapshot: \(lines)")
            return
        }
        var sampler = PythonSampler(preset: "python", title: "python app.py")
        let s = sampler.snapshot(a, events: [], sequence: 1)
        #expect(s.tasksUncounted == nil)
        #expect(s.taskCounts?.total == 10)
        #expect(s.loops.first?.gevent == nil)
    }
}
