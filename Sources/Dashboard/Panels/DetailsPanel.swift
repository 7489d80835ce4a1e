import Telemetry

// The details view of one worker (fiber models) or loop (loop models): every counter the
// snapshot has for it, its busy and queue history, and its recent events from the history.

enum DetailsPanel {
    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot, history: PanelHistory, view: PanelView) {
        let fibers = s.model.usesFibers
        let count = fibers ? s.workers.count : s.loops.count
        let sep = Character(grid.glyphs.separator)
        guard let index = view.selection(count: count) else {
            let inner = grid.box(rect, title: "Details").inset(dx: 1, dy: 0)
            grid.line(inner, 0, "nothing to select in this snapshot (Esc back)", style: .dim)
            return
        }
        let name = fibers ? "Carrier \(s.workers[index].id)" : "Event Loop \(index + 1)"
        let inner = grid.box(rect, title: "\(name) \(sep) details \(sep) Esc back").inset(dx: 1, dy: 0)
        guard inner.width > 0, inner.height > 0 else { return }
        var counters =
            fibers ? workerCounters(s.workers[index]) : loopCounters(s.loops[index], arrow: grid.glyphs.arrowRight)
        // gevent hub figures (issue 16).
        if !fibers, let g = s.loops[index].gevent { counters += GeventHubLines.counters(g) }
        let wide = inner.width >= 70
        let counterWidth = wide ? 34 : inner.width
        let counterRect = Rect(inner.x, inner.y, counterWidth, min(inner.height, counters.count))
        for (i, c) in counters.enumerated() where i < counterRect.height {
            grid.line(counterRect, i, c.0, style: .dim)
            grid.text(at: Point(counterRect.x + 16, counterRect.y + i), c.1, style: c.2, maxWidth: counterWidth - 16)
        }
        // History charts: to the right when wide, else below the counters.
        let chartArea =
            wide
            ? Rect(inner.x + counterWidth + 2, inner.y, inner.width - counterWidth - 2, min(inner.height, 8))
            : Rect(inner.x, counterRect.maxY + 1, inner.width, min(4, max(0, inner.maxY - counterRect.maxY - 1)))
        if chartArea.height >= 2 {
            let h = chartArea.height >= 8 ? 3 : 1
            grid.line(chartArea, 0, "busy %, recent snapshots", style: .dim)
            let busy = history.series(chartArea.width) { index < $0.busy.count ? $0.busy[index] : .nan }
            grid.chart(
                Rect(chartArea.x, chartArea.y + 1, chartArea.width, h), values: busy,
                marks: history.switchMarks(chartArea.width), max: 1, style: PanelPalette.running)
            if chartArea.height >= 2 * h + 2 {
                grid.line(chartArea, h + 1, fibers ? "run queue depth" : "ready queue depth", style: .dim)
                let depth = history.series(chartArea.width) {
                    index < $0.depth.count ? $0.depth[index].map(Double.init) ?? .nan : .nan
                }
                grid.chart(
                    Rect(chartArea.x, chartArea.y + h + 2, chartArea.width, h), values: depth,
                    style: PanelPalette.runnable)
            }
        }
        let eventsTop = max(counterRect.maxY, chartArea.maxY) + 1
        let eventsRect = Rect(inner.x, eventsTop, inner.width, max(0, inner.maxY - eventsTop))
        guard eventsRect.height > 0 else { return }
        let id = fibers ? s.workers[index].id : s.loops[index].id
        grid.line(eventsRect, 0, "recent events", style: .bold)
        let events = history.events(of: id, limit: eventsRect.height - 1)
        if events.isEmpty { grid.line(eventsRect, 1, "none kept for this \(fibers ? "carrier" : "loop")", style: .dim) }
        for (i, e) in events.enumerated() {
            let (text, st) = describe(e, self: id, fibers: fibers, glyphs: grid.glyphs)
            grid.line(eventsRect, i + 1, SlowPanel.pad(Fmt.seconds(e.time), 7), style: .dim)
            grid.line(eventsRect, i + 1, text, style: st, x: 8)
        }
    }

    static func workerCounters(_ w: WorkerSnapshot) -> [(String, String, Style)] {
        let (word, st) = PanelPalette.state(w.state)
        return [
            ("state", word, st.with(.bold)),
            ("running", w.currentFiber.map { "\($0) (\(w.currentKind ?? "?"))" } ?? "no fiber", PanelPalette.running),
            (
                "ran last",
                w.lastFiber.map { "\($0) (\(w.lastKind ?? "?"))" } ?? Fmt.na(w.runsInInterval) { _ in "none" }, .plain
            ),
            ("busy", "\(Fmt.pct(w.busyRatio)) (\(Fmt.fixed(Double(w.busyNanos) / 1e9, 2))s total)", .plain),
            ("spin", Fmt.na(w.spinRatio, Fmt.pct), .plain),
            ("runs", "\(Fmt.count(w.runs)) (\(Fmt.na(w.runsInInterval) { Fmt.count($0) }) this interval)", .plain),
            (
                "run queue",
                "\(w.queueDepth) / \(w.queueCapacity) (peak \(Fmt.na(w.queuePeak) { "\($0)" }), max \(w.maxQueueDepth))",
                PanelPalette.runnable
            ),
            ("steal ops", Fmt.count(w.stealOps), .plain),
            ("stolen in", Fmt.count(w.stolenIn), PanelPalette.steal),
            ("stolen out", Fmt.count(w.stolenOut), .plain),
            ("parks", Fmt.count(w.parks), PanelPalette.parked),
            ("unparks", Fmt.count(w.unparks), .plain),
        ]
    }

    static func loopCounters(_ l: LoopSnapshot, arrow: Unicode.Scalar) -> [(String, String, Style)] {
        [
            ("running", l.current ?? "idle", l.current == nil ? PanelPalette.parked : PanelPalette.running),
            ("busy", Fmt.na(l.busyRatio, Fmt.pct), .plain),
            (
                "ready queue",
                Fmt.na(l.readyDepth) {
                    "\($0) (peak \(Fmt.na(l.readyPeak) { "\($0)" }), max \(Fmt.na(l.maxReadyDepth) { "\($0)" }))"
                },
                PanelPalette.runnable
            ),
            ("ran last", l.lastTask ?? Fmt.na(l.jobsInInterval) { $0 == 0 ? "none" : "unnamed" }, .plain),
            ("timers pending", Fmt.na(l.timersPending) { "\($0)" }, .plain),
            ("tasks alive", Fmt.na(l.tasksAlive, Fmt.count), .plain),
            ("jobs run", Fmt.na(l.jobsRun, Fmt.count), .plain),
            ("slow callbacks", "\(l.slowCallbacks)", l.slowCallbacks > 0 ? PanelPalette.blocked : .plain),
            ("hb lag now", Fmt.ms(l.lag.recentMs), PanelPalette.lag(l.lag.recentMs)),
            ("hb lag p50/p99", "\(Fmt.ms(l.lag.p50Ms)) / \(Fmt.ms(l.lag.p99Ms))", PanelPalette.lag(l.lag.p99Ms)),
            ("hb lag max", Fmt.ms(l.lag.maxMs), PanelPalette.lag(l.lag.maxMs)),
            (
                "ready\(Character(arrow))run p99",
                Fmt.na(l.readyDelay) { "\(Fmt.delayMs($0.p99Ms)) (max \(Fmt.delayMs($0.maxMs)))" },
                PanelPalette.lag(l.readyDelay?.p99Ms ?? 0)
            ),
        ]
    }

    /// One event as a line, from the point of view of worker/loop `me`.
    static func describe(_ e: RuntimeEvent, self me: Int, fibers: Bool, glyphs: Glyphs) -> (String, Style) {
        let w = fibers ? "C" : "L"
        let name = e.name.map { " \($0)" } ?? ""
        switch e.kind {
        case .steal:
            if e.worker == me {
                return ("stole \(e.count) from \(w)\(e.other)", PanelPalette.steal)
            }
            return ("lost \(e.count) to \(w)\(e.worker)", PanelPalette.runnable)
        case .workerPark: return ("parked (idle)", PanelPalette.parked)
        case .workerUnpark: return ("unparked", PanelPalette.running)
        case .pin: return ("PINNED by\(name)", PanelPalette.blocked)
        case .handoff:
            // The carrier hands its queue to a spare carrier while the call blocks (its box reads HANDOFF).
            return ("HANDOFF by\(name.isEmpty ? " a blocking call" : name)", PanelPalette.blocked)
        case .blockingBegin: return ("blocking begins\(name)", PanelPalette.blocked)
        case .blockingEnd: return ("blocking ends after \(Fmt.ms(e.durationMs))\(name)", PanelPalette.lag(e.durationMs))
        case .slowCallback: return ("slow callback \(Fmt.ms(e.durationMs))\(name)", PanelPalette.blocked)
        case .lagSpike: return ("lag spike \(Fmt.ms(e.durationMs))", PanelPalette.blocked)
        case .spawnBatch: return ("spawned \(e.count)\(name)", .plain)
        case .presetSwitch: return ("preset switch\(name)", .bold)
        case .bookmark: return ("bookmark\(name)", .bold)
        }
    }
}
