// Chrome Trace Event JSON export, for Perfetto (ui.perfetto.dev) and chrome://tracing.
//
// Mapping (one process, pid 1; timestamps are session microseconds):
// - `M`: process name, and a named thread per carrier (tid 1000+id), loop (tid 2000+id) and
//   `to_thread` pool thread (tid 3000+k), with sort indexes so they list in that order; tid 0
//   ("session") holds process-wide counters and events without a thread.
// - `C`: per frame, counters for run-queue depths (one series per carrier), the injector,
//   fibers by state and parked fibers by reason, loop ready depths and recent lag, the pool.
// - steals: a 1 µs slice on the victim and one on the thief, bound by a flow arrow
//   (`s` on the victim, `f` with `bp: "e"` on the thief, same id). A steal without a known
//   victim (from the injector) is an instant on the thief.
// - `X`: slow callbacks and blocking regions, ending at the event time, on their thread.
// - `i`: parks, unparks, pins, hand-offs, spawn batches, lag spikes (thread scope); preset
//   switches and bookmarks (global scope).
// Output is written by hand (not JSONSerialization) so it is deterministic and streams fast.
import Telemetry

public enum ChromeTraceExport {
    public static let pid = 1
    static let carrierTid = 1000
    static let loopTid = 2000
    static let poolTid = 3000

    /// The whole trace as one JSON document.
    public static func export(_ recording: Recording) -> String {
        var out = TraceWriter()
        let title = recording.frames.first.map { $0.presetTitle.isEmpty ? $0.preset : $0.presetTitle } ?? ""
        out.open(recording.metadata)
        out.event(
            #""ph":"M","pid":1,"tid":0,"name":"process_name","args":{"name":\#(json("qvtop " + title))}"#)

        // Threads seen anywhere in the recording.
        var carriers = Set<Int>()
        var loops = Set<Int>()
        var poolThreads = 0
        for f in recording.frames {
            for w in f.workers { carriers.insert(w.id) }
            for l in f.loops { loops.insert(l.id) }
            poolThreads = max(poolThreads, min(f.pool?.threads ?? 0, 256))
        }
        for f in recording.frames {
            for e in f.events where e.worker >= 0 {
                if f.model.usesFibers { carriers.insert(e.worker) } else { loops.insert(e.worker) }
            }
        }
        func thread(_ tid: Int, _ name: String) {
            out.event(#""ph":"M","pid":1,"tid":\#(tid),"name":"thread_name","args":{"name":\#(json(name))}"#)
            out.event(#""ph":"M","pid":1,"tid":\#(tid),"name":"thread_sort_index","args":{"sort_index":\#(tid)}"#)
        }
        thread(0, "session")
        for id in carriers.sorted() { thread(carrierTid &+ id, "carrier \(id)") }
        for id in loops.sorted() { thread(loopTid &+ id, "loop \(id)") }
        for k in 0..<poolThreads { thread(poolTid + k, "to_thread pool \(k)") }

        var flowID = 0
        var openBlocking: [Int: RuntimeEvent] = [:]
        for f in recording.frames {
            let ts = us(f.time)
            counters(f, ts: ts, into: &out)
            let base = f.model.usesFibers ? carrierTid : loopTid
            for e in f.events {
                let tUs = e.time * 1_000_000
                let t = num(tUs)
                let tid = e.worker >= 0 ? base &+ e.worker : 0
                let name = e.name.map(json) ?? "null"
                switch e.kind {
                case .steal:
                    if e.other >= 0 {
                        flowID += 1
                        let victim = base &+ e.other
                        let args = #"{"count":\#(e.count),"victim":\#(e.other),"thief":\#(e.worker)}"#
                        out.event(
                            #""ph":"X","pid":1,"tid":\#(victim),"ts":\#(t),"dur":1,"name":"stolen from","cat":"steal","args":\#(args)"#
                        )
                        out.event(
                            #""ph":"s","pid":1,"tid":\#(victim),"ts":\#(t),"id":\#(flowID),"name":"steal","cat":"steal""#
                        )
                        out.event(
                            #""ph":"X","pid":1,"tid":\#(tid),"ts":\#(t),"dur":1,"name":"steal","cat":"steal","args":\#(args)"#
                        )
                        out.event(
                            #""ph":"f","bp":"e","pid":1,"tid":\#(tid),"ts":\#(t),"id":\#(flowID),"name":"steal","cat":"steal""#
                        )
                    } else {
                        instant(&out, tid: tid, ts: t, name: "steal (injector)", args: #"{"count":\#(e.count)}"#)
                    }
                case .slowCallback, .blockingEnd:
                    let durUs = max(0, e.durationMs.isFinite ? e.durationMs * 1000 : 0)
                    let label = e.kind == .slowCallback ? "slow callback" : "blocking"
                    let args = #"{"culprit":\#(name),"durationMs":\#(num(e.durationMs))}"#
                    out.event(
                        #""ph":"X","pid":1,"tid":\#(tid),"ts":\#(num(max(0, tUs - durUs))),"dur":\#(num(durUs)),"name":\#(json(label + (e.name.map { ": " + $0 } ?? ""))),"cat":\#(json(e.kind.rawValue)),"args":\#(args)"#
                    )
                    if e.kind == .blockingEnd { openBlocking[tid] = nil }
                case .blockingBegin:
                    openBlocking[tid] = e
                case .presetSwitch, .bookmark:
                    // The preset-switch and bookmark records (below) are the authority; an event
                    // of the same kind is only exported when no record matches it.
                    let matched =
                        e.kind == .presetSwitch
                        ? recording.presetSwitches.contains { abs($0.time - e.time) < 1 && $0.name == e.name }
                        : recording.bookmarks.contains { abs($0.time - e.time) < 1 && $0.label == (e.name ?? "") }
                    if !matched { global(&out, ts: t, name: "\(e.kind.rawValue): \(e.name ?? "")", args: "{}") }
                case .spawnBatch, .workerPark, .workerUnpark, .pin, .handoff, .lagSpike:
                    let args =
                        #"{"count":\#(e.count),"durationMs":\#(num(e.durationMs)),"other":\#(e.other),"name":\#(name)}"#
                    instant(&out, tid: tid, ts: t, name: e.kind.rawValue, args: args)
                }
            }
        }
        for (tid, e) in openBlocking.sorted(by: { $0.key < $1.key }) {
            instant(&out, tid: tid, ts: us(e.time), name: "blocking begins (no end recorded)", args: "{}")
        }
        for p in recording.presetSwitches {
            global(
                &out, ts: us(p.time), name: "preset: \(p.name)",
                args: #"{"title":\#(json(p.title)),"preset":\#(json(p.text))}"#)
        }
        for b in recording.bookmarks {
            global(&out, ts: us(b.time), name: "bookmark: \(b.label)", args: #"{"label":\#(json(b.label))}"#)
        }
        return out.close()
    }

    private static func counters(_ f: Snapshot, ts: String, into out: inout TraceWriter) {
        func counter(_ name: String, _ series: [(String, String)]) {
            guard !series.isEmpty else { return }
            let args = series.map { "\(json($0.0)):\($0.1)" }.joined(separator: ",")
            out.event(#""ph":"C","pid":1,"tid":0,"ts":\#(ts),"name":\#(json(name)),"args":{\#(args)}"#)
        }
        if !f.workers.isEmpty {
            counter("run queue depth", f.workers.map { ("carrier \($0.id)", "\($0.queueDepth)") })
            counter("carrier busy %", f.workers.map { ("carrier \($0.id)", num($0.busyRatio * 100)) })
        }
        if f.model.usesFibers {
            counter("injector depth", [("depth", "\(f.injectorDepth)")])
            let c = f.fibers
            counter(
                "fibers",
                [
                    ("running", "\(c.running)"), ("runnable", "\(c.runnable)"), ("parked", "\(c.parked)"),
                    ("blocked", "\(c.blocked)"),
                ])
            counter(
                "parked fibers",
                [
                    ("sleep", "\(c.parkedSleep)"), ("io", "\(c.parkedIO)"), ("channel", "\(c.parkedChannel)"),
                    ("mutex", "\(c.parkedMutex)"), ("join", "\(c.parkedJoin)"),
                ])
        }
        if !f.loops.isEmpty {
            // A loop without a ready queue (uvloop) has no counter value: left out, not 0.
            counter("ready queue depth", f.loops.compactMap { l in l.readyDepth.map { ("loop \(l.id)", "\($0)") } })
            counter("heartbeat lag ms", f.loops.map { ("loop \($0.id)", num($0.lag.recentMs)) })
        }
        if let p = f.pool {
            counter("to_thread pool", [("busy", "\(p.busy)"), ("queued", "\(p.queueDepth)")])
        }
    }

    private static func instant(_ out: inout TraceWriter, tid: Int, ts: String, name: String, args: String) {
        out.event(#""ph":"i","s":"t","pid":1,"tid":\#(tid),"ts":\#(ts),"name":\#(json(name)),"args":\#(args)"#)
    }

    private static func global(_ out: inout TraceWriter, ts: String, name: String, args: String) {
        out.event(#""ph":"i","s":"g","pid":1,"tid":0,"ts":\#(ts),"name":\#(json(name)),"args":\#(args)"#)
    }

    private static func us(_ seconds: Double) -> String { num(seconds * 1_000_000) }
}

/// Accumulates `{"traceEvents":[…],…}` one event at a time.
private struct TraceWriter {
    var text = ""
    var first = true

    mutating func open(_ m: RecordingMetadata) {
        text.reserveCapacity(1 << 20)
        text += #"{"displayTimeUnit":"ms","otherData":{"qvtopVersion":\#(json(m.qvtopVersion)),"#
        text += #""formatVersion":\#(m.formatVersion),"startTime":\#(num(m.startTime)),"cores":\#(m.cores)},"#
        text += #""traceEvents":["#
    }

    /// `body` is the inside of one event object, without braces.
    mutating func event(_ body: String) {
        text += first ? "\n{" : ",\n{"
        first = false
        text += body
        text += "}"
    }

    mutating func close() -> String {
        text += "\n]}\n"
        return text
    }
}

// MARK: - JSON text

/// A JSON string literal for `s`.
func json(_ s: String) -> String {
    var out = "\""
    out.reserveCapacity(s.utf8.count + 2)
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case let c where c.value < 0x20 || c.value == 0x7F:
            let hex = String(c.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(u)
        }
    }
    out += "\""
    return out
}

/// A JSON number for `x` (null when not finite, which JSON cannot express).
func num(_ x: Double) -> String {
    guard x.isFinite else { return "null" }
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return String(x)
}
