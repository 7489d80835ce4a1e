import Foundation
import Telemetry
import Testing

@testable import Dashboard

/// gevent hub figures (issue 16) on screen: greenlet switches per second, gevent's monitor-thread reports and
/// the last one's culprit under the hub's box; "n/a" / "off" where the source has no figure, never 0.
@Suite struct GeventHubPanelTests {
    /// A py-gevent frame as PythonSampler makes it: no task census, no timers, jobs or busy share.
    static func hubFrame(_ hub: GeventHubSnapshot?) -> Snapshot {
        var s = PanelFixtures.eventLoop(5, pool: false)
        s.preset = "py-gevent"
        s.presetTitle = "gevent: greenlets on one hub, a blocking call stalls it"
        s.pool = nil
        s.loops[0].timersPending = nil
        s.loops[0].tasksAlive = nil
        s.loops[0].jobsRun = nil
        s.loops[0].busyRatio = nil
        s.loops[0].gevent = hub
        s.tasksUncounted = true
        return s
    }

    static let reporting = GeventHubSnapshot(
        switches: 34_512, switchesPerSecond: 3859.5, monitorReports: 7,
        lastReport: GeventBlockingReport(time: 12.3, name: "disk (py-gevent.py:69)", atLeastMs: 20))

    @Test(arguments: [Size(80, 24), Size(160, 50)])
    func theHubShowsSwitchesPerSecondAndTheMonitorsLastCulprit(size: Size) throws {
        let text = FigureLabelTests.render(Self.hubFrame(Self.reporting), size).text
        let switches = try #require(FigureLabelTests.line(text, containing: "greenlet switches"), "\(text)")
        #expect(switches.contains("3860/s") && switches.contains("34.5k total"), "\(switches)")
        let monitor = try #require(FigureLabelTests.line(text, containing: "gevent monitor"), "\(text)")
        #expect(monitor.contains("7 reports"), "\(monitor)")
        if size.width >= 160 { #expect(monitor.contains("last: disk (py-gevent.py:69)"), "\(monitor)") }
        #expect(text.contains("gevent hub"), "\(text)")
    }

    @Test func aMonitorTheProgramDidNotEnableIsOffNotZero() throws {
        var hub = Self.reporting
        hub.monitorReports = nil
        hub.lastReport = nil
        hub.switchesPerSecond = nil
        let text = FigureLabelTests.render(Self.hubFrame(hub), Size(160, 50)).text
        let monitor = try #require(FigureLabelTests.line(text, containing: "gevent monitor"), "\(text)")
        #expect(monitor.contains("off") && !monitor.contains("0 reports"), "\(monitor)")
        let switches = try #require(FigureLabelTests.line(text, containing: "greenlet switches"), "\(text)")
        #expect(switches.contains("n/a/s"), "\(switches)")
    }

    /// A py-gevent frame of a recording made before the hub's figures: both lines say "n/a".
    @Test(arguments: [Size(80, 24), Size(160, 50)])
    func aHubFrameWithoutTheFiguresSaysNA(size: Size) throws {
        let text = FigureLabelTests.render(Self.hubFrame(nil), size).text
        let switches = try #require(FigureLabelTests.line(text, containing: "greenlet switches"), "\(text)")
        #expect(switches.contains("greenlet switches n/a"), "\(switches)")
        let monitor = try #require(FigureLabelTests.line(text, containing: "gevent monitor"), "\(text)")
        #expect(monitor.contains("gevent monitor n/a"), "\(monitor)")
    }

    /// The hub has no task census: the screen says "tasks n/a", never "tasks 0" (issue 16, item 2).
    @Test(arguments: [Size(80, 24), Size(160, 50)])
    func aHubFrameWithoutTaskCountsShowsNA(size: Size) throws {
        let text = FigureLabelTests.render(Self.hubFrame(Self.reporting), size).text
        if size.width >= 160 { #expect(text.contains("tasks n/a"), "\(text)") }  // 80 columns cut the row short
        #expect(!text.contains("tasks 0"), "\(text)")
    }

    @Test func theDetailsPanelListsTheHubsFigures() {
        let rows = Dictionary(
            GeventHubLines.counters(Self.reporting).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        #expect(rows["switches/s"] == "3860")
        #expect(rows["monitor reports"] == "7")
        #expect(rows["monitor last"] == "disk (py-gevent.py:69) 20ms+")
    }

    @Test func anAsyncioLoopHasNoHubLines() {
        let text = FigureLabelTests.render(PanelFixtures.eventLoop(5, pool: false), Size(160, 50)).text
        #expect(!text.contains("greenlet switches") && !text.contains("gevent"), "\(text)")
    }
}

extension GeventHubPanelTests {
    /// The hub's title, labels and JSON keys are defined in docs/figures.md (the fixtures FiguresGlossaryTests
    /// draws have no gevent hub, so its screens are checked here).
    @Test func theHubsFiguresAreInTheGlossary() throws {
        let glossary = FiguresGlossaryTests.glossary
        #expect(!glossary.isEmpty, "docs/figures.md not found")
        let text = FigureLabelTests.render(Self.hubFrame(Self.reporting), Size(160, 50)).text
        for label in [
            "gevent hub", "greenlet switches", "/s", "total", "gevent monitor", "reports", "last:", "held the hub",
        ] {
            #expect(text.contains(label), "\(label) is not drawn any more: drop it here and from the glossary")
            #expect(glossary.contains(label), "docs/figures.md lacks \(label)")
        }
        for label in ["switches/s", "switches", "monitor reports", "monitor last", "off"] {
            #expect(glossary.contains(label), "docs/figures.md lacks \(label)")
        }
        var run: [Snapshot] = []
        for i in 0..<5 {
            var s = Self.hubFrame(Self.reporting)
            s.time = Double(i) / 10
            s.sequence = UInt64(i)
            run.append(s)
        }
        let summary = try #require(RunSummary(run))
        let parsed = try JSONSerialization.jsonObject(with: Data(summary.jsonText.utf8))
        let object = try #require(parsed as? [String: Any])
        let loop = try #require((object["loops"] as? [[String: Any]])?.first)
        for key in [
            "greenletSwitches", "greenletSwitchesPerSecond", "geventMonitorReports", "geventMonitorLastCulprit",
        ] {
            #expect(loop[key] != nil, "\(key) missing from the JSON")
            #expect(glossary.contains("`\(key)`"), "docs/figures.md lacks JSON key \(key)")
        }
    }
}
