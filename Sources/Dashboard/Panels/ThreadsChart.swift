import Telemetry

// ThreadsChart: the threads model as the talk's Worker Threadpool — one box per real OS thread.
//
//   ┌Worker Threadpool ─ thread per task, cap 2000─────────────────────────┐
//   │alive 104  peak 131 (131 ever)  created 412/s  on CPU 1.7 cores         │
//   │blocked 100: sleep 96 join 4   running 4                               │
//   │┌─ T1 ─────┐┌─ T2 ─────┐┌─ T3 ─────┐ …                                 │
//   ││sleep 87ms││RUN 1.2ms ││join 9ms  │                                   │
//   ││web       ││batch     ││batch     │                                   │
//   │└──────────┘└──────────┘└──────────┘                                   │
//   │+412 more threads                                                      │
//
// Each box is one slot of the model's table with the state its thread recorded (running, or what it is blocked
// in), the task kind and how long it has been in that state. Past what fits, the last row says how many more
// threads are alive ("+N more"); below the boxes' minimum size each thread is one line. A refused thread (the
// cap, or `pthread_create` failing) turns the second row into a red banner with the counts.

/// Sizes of the thread boxes.
struct ThreadsChartLayout {
    /// Header rows inside the frame (totals, states, banner).
    var header: Rect
    /// One rect per thread drawn (boxes or one-line cells), in list order.
    var cells: [Rect]
    /// True when cells are boxes (else one line each).
    var boxes: Bool
    /// The "+N more" row (empty when every listed thread fits).
    var more: Rect

    // 12 columns inside the frame: "sleep 0.14ms" fits (a longer state line ends in …).
    static let boxWidth = 14
    static let boxHeight = 4
    static let lineWidth = 24

    /// Rows the chart needs to draw `n` threads as boxes in `width` columns (frame, header, boxes, "+N more").
    static func preferredHeight(threads n: Int, width: Int) -> Int {
        let cols = max(1, (width - 2 + 1) / (boxWidth + 1))
        return 2 + 3 + boxHeight * ((max(1, n) + cols - 1) / cols) + 1
    }

    static func make(_ rect: Rect, threads n: Int, alive: Int) -> ThreadsChartLayout {
        let inner = rect.inset(dx: 1, dy: 1)
        let (header, body) = inner.splitTop(min(3, inner.height))
        let boxes = body.height >= boxHeight + 1 && body.width >= boxWidth
        let (w, h) = boxes ? (boxWidth, boxHeight) : (lineWidth, 1)
        let cols = max(1, (body.width + 1) / (w + 1))
        let rowsAll = max(0, body.height / h)
        var cells: [Rect] = []
        let fitsAll = cols * rowsAll >= n && alive <= n
        // Leave the last row for "+N more" when not everything fits.
        let rows = fitsAll ? rowsAll : max(0, (body.height - 1) / h)
        for i in 0..<min(n, cols * rows) {
            let (r, c) = (i / cols, i % cols)
            cells.append(Rect(body.x + c * (w + 1), body.y + r * h, w, h))
        }
        let more =
            cells.count < alive
            ? Rect(body.x, body.y + rows * h, body.width, body.height > rows * h ? 1 : 0) : Rect(body.x, body.y, 0, 0)
        return ThreadsChartLayout(header: header, cells: cells, boxes: boxes, more: more)
    }
}

enum ThreadsChart {
    /// Word and style for a thread state (the word alone says it without color).
    static func state(_ s: ThreadState) -> (String, Style) {
        switch s {
        case .running: ("RUN", PanelPalette.running.with(.bold))
        case .idle: ("idle", PanelPalette.dim)
        default: (s.rawValue, PanelPalette.parked)
        }
    }

    /// "thread per task, cap 2000" / "pool of 64 threads".
    static func modeLabel(_ t: ThreadsSnapshot) -> String {
        t.mode == "pool" ? "pool of \(t.capacity) threads" : "thread per task, cap \(Fmt.count(t.capacity))"
    }

    /// The banner text when threads were refused; nil when none was.
    static func banner(_ t: ThreadsSnapshot) -> String? {
        var parts: [String] = []
        if t.createFailed > 0 {
            let code = t.lastCreateError.map { $0 == 11 ? "EAGAIN" : "error \($0)" } ?? "error n/a"
            parts.append("pthread_create failed \(Fmt.count(t.createFailed))x (\(code))")
        }
        if t.refusedAtCap > 0 { parts.append("at cap: \(Fmt.count(t.refusedAtCap)) not started") }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    static func draw(into grid: inout Grid, rect: Rect, snapshot s: Snapshot) {
        let sep = Character(grid.glyphs.separator)
        guard let t = s.threads else {
            grid.line(rect, 0, "no thread table in this snapshot", style: .dim)
            return
        }
        _ = grid.box(rect, title: "Worker Threadpool \(sep) \(modeLabel(t))", titleStyle: PanelPalette.title)
        let layout = ThreadsChartLayout.make(rect, threads: t.list.count, alive: t.alive)
        let h = layout.header.inset(dx: 1, dy: 0)
        grid.spans(
            h, 0,
            [
                ("alive \(Fmt.count(t.alive))", .bold),
                ("  peak \(Fmt.count(t.peakRecent)) (\(Fmt.count(t.peak)) ever)", .plain),
                ("  created \(Fmt.na(t.createdPerSecond, Fmt.rate))/s", .plain),
                ("  on CPU \(Fmt.na(t.busyThreads) { Fmt.fixed($0, 1) }) cores", PanelPalette.running),
            ])
        var states: [(String, Style)] = [("blocked \(Fmt.count(t.blocked)):", PanelPalette.parked)]
        for st in ThreadState.allCases where st.isBlocked && t.blocked(in: st) > 0 {
            states.append((" \(st.rawValue) \(Fmt.count(t.blocked(in: st)))", PanelPalette.parked))
        }
        states.append(("   running \(Fmt.count(t.running))", PanelPalette.running))
        if t.mode == "pool" {
            states.append(("  idle \(Fmt.count(t.idle))", .dim))
            states.append(("  queue \(Fmt.na(t.queueDepth, Fmt.count))", PanelPalette.runnable))
            // The peak since the previous frame: a burst the pool drained between two frames still shows.
            states.append((" (peak \(Fmt.na(t.queuePeak, Fmt.count)))", .dim))
        }
        grid.spans(h, 1, states)
        if let b = banner(t) { grid.line(h, 2, b, style: PanelPalette.blocked) }
        for (i, cell) in layout.cells.enumerated() where i < t.list.count {
            let th = t.list[i]
            let (word, style) = state(th.state)
            if layout.boxes {
                let frame = th.state == .running ? PanelPalette.running : PanelPalette.frame
                let inner = grid.box(cell, title: "T\(th.id + 1)", style: frame, titleStyle: frame.with(.bold))
                grid.line(inner, 0, "\(word) \(Fmt.ms(th.stateMs))", style: style)
                grid.line(inner, 1, th.kind ?? "", style: .dim)
            } else {
                var x = grid.line(cell, 0, "T\(th.id + 1) ", style: .bold)
                x += grid.line(cell, 0, word + " ", style: style, x: x)
                grid.line(cell, 0, "\(th.kind ?? "") \(Fmt.ms(th.stateMs))", style: .dim, x: x)
            }
        }
        if !layout.more.isEmpty {
            let hidden = max(0, t.alive - layout.cells.count)
            grid.line(layout.more, 0, "+\(Fmt.count(hidden)) more threads", style: .dim)
        }
    }
}
