import Telemetry

// gevent hub figures (issue 16): what a gevent hub shows beyond a loop's figures, drawn under the hub's
// loop box on the event-loop flowchart (LoopChart.drawEventLoop) and listed in its details (DetailsPanel):
//
//   greenlet switches 1.2k/s  34.5k total
//   gevent monitor 7 reports  last: load_index (app.py:12) held the hub 20ms+ at 12.3s
//
// A figure the source lacks says so: "monitor off" when the program did not enable gevent's monitor
// thread (no reports to count is not 0 reports), "n/a" for the rate before the second sample, and both
// lines "n/a" for the py-gevent preset's hub in a recording made before qvtop kept these figures.

enum GeventHubLines {
    /// The preset whose loop is a gevent hub, so its figures are "n/a" (not left out) when a frame lacks them.
    static let geventPreset = "py-gevent"

    /// True when the snapshot's (first) loop is a gevent hub: it has the hub's figures, or it is the py-gevent
    /// preset's (a recording made before them).
    static func isHub(_ s: Snapshot) -> Bool { s.loops.first?.gevent != nil || s.preset == geventPreset }

    /// The lines for a hub whose figures the frame does not have (a recording made before them).
    static let unavailable: [[(String, Style)]] = [
        [("greenlet switches ", .dim), ("n/a", .plain)],
        [("gevent monitor ", .dim), ("n/a", .plain), (" (recorded before qvtop kept the hub's figures)", .dim)],
    ]

    /// The two lines, as styled spans; pure.
    static func lines(_ g: GeventHubSnapshot) -> [[(String, Style)]] {
        let switches: [(String, Style)] = [
            ("greenlet switches ", .dim), ("\(Fmt.na(g.switchesPerSecond, Fmt.rate))/s", PanelPalette.running),
            ("  \(Fmt.count(g.switches)) total", .dim),
        ]
        var monitor: [(String, Style)] = [("gevent monitor ", .dim)]
        if let n = g.monitorReports {
            monitor.append(("\(Fmt.count(n)) report\(n == 1 ? "" : "s")", n > 0 ? PanelPalette.blocked : .plain))
            if let r = g.lastReport {
                monitor.append(("  last: ", .dim))
                monitor.append((r.name, PanelPalette.blocked.with(.bold)))
                monitor.append((" held the hub \(Fmt.ms(r.atLeastMs))+ at \(Fmt.seconds(r.time))", .dim))
            }
        } else {
            monitor.append(("off (the program did not enable it: GEVENT_MONITOR_THREAD_ENABLE)", .dim))
        }
        return [switches, monitor]
    }

    /// Draws the hub's lines (`unavailable` when `g` is nil) into the rows of `rect` from `row` on; returns
    /// the rows used.
    @discardableResult
    static func draw(into grid: inout Grid, rect: Rect, row: Int, hub g: GeventHubSnapshot?) -> Int {
        var used = 0
        for line in g.map(lines) ?? unavailable where row + used < rect.height {
            grid.spans(rect, row + used, line, x: 1)
            used += 1
        }
        return used
    }

    /// Rows for the details panel's counter list.
    static func counters(_ g: GeventHubSnapshot) -> [(String, String, Style)] {
        [
            ("switches/s", Fmt.na(g.switchesPerSecond, Fmt.rate), PanelPalette.running),
            ("switches", Fmt.count(g.switches), .plain),
            ("monitor reports", g.monitorReports.map { Fmt.count($0) } ?? "off", .plain),
            (
                "monitor last", g.lastReport.map { "\($0.name) \(Fmt.ms($0.atLeastMs))+" } ?? "none",
                PanelPalette.blocked
            ),
        ]
    }
}
