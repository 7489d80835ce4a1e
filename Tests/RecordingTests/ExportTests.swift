import Foundation
import Telemetry
import Testing

@testable import Recording

@Suite struct ExportTests {
    private func busyRecording() -> Recording {
        var r = Synthetic.small().recording
        r.frames = Synthetic.busyFrames(count: 30, seed: 11) + Synthetic.loopFrames(count: 5, startTime: 3.1)
        r.frames[3].events.append(RuntimeEvent(time: 0.31, kind: .blockingBegin, worker: 2, name: "open"))
        r.frames[4].events.append(RuntimeEvent(time: 0.41, kind: .steal, worker: 1, other: -1, count: 3))
        r.frames[5].events.append(RuntimeEvent(time: 0.5, kind: .bookmark, name: "unmatched \"quote\"\n"))
        return r
    }

    @Test func chromeTraceParsesAndFlowsPairUp() throws {
        let r = busyRecording()
        let text = ChromeTraceExport.export(r)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let events = try #require(root["traceEvents"] as? [[String: Any]])
        #expect(root["displayTimeUnit"] as? String == "ms")
        var phases: [String: Int] = [:]
        var starts: [Int: [String: Any]] = [:]
        var finishes: [Int: [String: Any]] = [:]
        for e in events {
            let ph = try #require(e["ph"] as? String)
            phases[ph, default: 0] += 1
            #expect(e["pid"] as? Int == 1)
            #expect(e["tid"] is Int)
            #expect(e["name"] is String)
            if ph != "M" { #expect(e["ts"] is NSNumber, "\(e)") }
            switch ph {
            case "X": #expect((e["dur"] as? NSNumber).map { $0.doubleValue >= 0 } == true)
            case "C": #expect((e["args"] as? [String: Any])?.isEmpty == false)
            case "i": #expect(["t", "g", "p"].contains(e["s"] as? String))
            case "s":
                let id = try #require(e["id"] as? Int)
                #expect(starts[id] == nil)
                starts[id] = e
            case "f":
                let id = try #require(e["id"] as? Int)
                #expect(e["bp"] as? String == "e")
                #expect(finishes[id] == nil)
                finishes[id] = e
            default: #expect(ph == "M")
            }
        }
        #expect(Set(starts.keys) == Set(finishes.keys))
        #expect(!starts.isEmpty)
        let steals = r.frames.flatMap(\.events).filter { $0.kind == .steal && $0.other >= 0 }.count
        #expect(starts.count == steals)
        for (id, s) in starts {
            // The arrow goes from the victim's thread to the thief's, at the same time.
            #expect(s["tid"] as? Int != finishes[id]?["tid"] as? Int)
            #expect((s["ts"] as? NSNumber) == (finishes[id]?["ts"] as? NSNumber))
        }
        for k in ["M", "C", "X", "i", "s", "f"] { #expect(phases[k, default: 0] > 0, "no \(k) events") }
        let names = events.filter { $0["ph"] as? String == "M" && $0["name"] as? String == "thread_name" }
            .compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(names.contains("carrier 0") && names.contains("carrier 7"))
        #expect(names.contains("loop 0") && names.contains("to_thread pool 3"))
        let globals = events.filter { $0["s"] as? String == "g" }.compactMap { $0["name"] as? String }
        #expect(globals.contains("preset: asyncio"))
        #expect(globals.contains("bookmark: steal storm"))
        #expect(globals.contains("bookmark: unmatched \"quote\"\n"))
        let slices = events.filter { $0["ph"] as? String == "X" }.compactMap { $0["name"] as? String }
        #expect(slices.contains("slow callback: parse_json"))
        #expect(slices.contains { $0.hasPrefix("blocking: ") })
    }

    @Test func asciicastHeaderAndEveryLineAreWellFormed() throws {
        var r = busyRecording()
        r.frames.append(r.frames.last!)  // an unchanged last frame still ends the cast
        r.frames[r.frames.count - 1].time += 0.1
        var rendered: [String] = []
        let text = AsciicastExport.export(r, width: 100, height: 30) { s, w, h in
            #expect(w == 100 && h == 30)
            rendered.append(PlainTextRenderer.render(s, width: w, height: h))
            return rendered.last!
        }
        #expect(rendered.count == r.frames.count)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.last == "")
        let header = try #require(
            try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(header["version"] as? Int == 2)
        #expect(header["width"] as? Int == 100)
        #expect(header["height"] as? Int == 30)
        #expect(header["timestamp"] as? Int == 1_790_000_000)
        // Play the cast into a tiny terminal; after each event the screen must show the frame
        // rendered for that time.
        var term = MiniTerminal(width: 100, height: 30)
        let frameAt = Dictionary(
            r.frames.enumerated().map { (AsciicastExport.formatTime($1.time - r.startTime), $0) },
            uniquingKeysWith: { _, b in b })
        var last = -1.0
        for line in lines.dropFirst().dropLast() {
            let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])
            #expect(event.count == 3)
            let t = try #require((event[0] as? NSNumber)?.doubleValue)
            #expect(t >= last)
            last = t
            #expect(event[1] as? String == "o")
            term.feed(try #require(event[2] as? String))
            let index = try #require(frameAt[AsciicastExport.formatTime(t)])
            let expected = rendered[index].components(separatedBy: "\r\n")
            #expect(term.rows(expected.count) == expected, "screen differs at t=\(t)")
        }
        #expect(abs(last - (r.frames.last!.time - r.frames.first!.time)) < 1e-6)
    }

    @Test func asciicastRepaintsOnlyChangedRows() throws {
        var r = busyRecording()
        r.frames = Array(r.frames.prefix(4))
        let text = AsciicastExport.export(r, width: 40, height: 5) { s, _, _ in
            "title\r\nframe \(min(s.sequence, 2))\nfooter"
        }
        let screens = try text.split(separator: "\n").dropFirst().map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])[2] as? String
        }
        #expect(
            screens == [
                "\u{1B}[H\u{1B}[2Jtitle\r\nframe 0\r\nfooter", "\u{1B}[2;1Hframe 1\u{1B}[K",
                "\u{1B}[2;1Hframe 2\u{1B}[K",
                "",  // the last frame is unchanged but still ends the cast
            ])
    }

    @Test func plainRendererFitsAnySize() {
        let s = Synthetic.busyFrames(count: 1)[0]
        for (w, h) in [(0, 0), (1, 1), (10, 3), (200, 100)] {
            let text = PlainTextRenderer.render(s, width: w, height: h)
            let rows = text.isEmpty ? [] : text.components(separatedBy: "\r\n")
            #expect(rows.count <= h)
            #expect(rows.allSatisfy { $0.count <= w })
        }
        var evil = s
        evil.events = [RuntimeEvent(time: 0, kind: .slowCallback, name: "\u{1B}[2J\nboom\r")]
        let text = PlainTextRenderer.render(evil, width: 200, height: 100)
        #expect(!text.contains("\u{1B}"))
        #expect(text.hasSuffix("?[2J?boom?"))
        #expect(PlainTextRenderer.fixed(-0.004, 2) == "0.00")
        #expect(PlainTextRenderer.fixed(12.345, 1) == "12.3")
        #expect(PlainTextRenderer.fixed(.infinity, 1) == "inf")
    }

    @Test func summaryCountsTheRecording() {
        let (bytes, _) = Synthetic.small()
        let r = try! RecordingReader.decode(bytes, name: "s")
        let s = RecordingSummary(r, file: "s")
        #expect(s.frames == 10)
        #expect(s.presets == ["vt-busy", "asyncio"])
        #expect(s.bookmarks == 2)
        #expect(s.complete)
        #expect(s.events == r.eventCount)
        #expect(s.lastFrame?.preset == "asyncio")
    }
}

/// Just enough of a terminal to check a cast: printable text, CR LF, `ESC[H`, `ESC[row;colH`,
/// `ESC[2J`, `ESC[K`, and SGR (ignored).
struct MiniTerminal {
    var grid: [[Character]]
    var row = 0
    var col = 0
    let width: Int

    init(width: Int, height: Int) {
        self.width = width
        grid = Array(repeating: Array(repeating: " ", count: width), count: height)
    }

    mutating func feed(_ text: String) {
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            switch c {
            case "\r\n", "\n":
                row += 1
                col = 0
            case "\r": col = 0
            case "\u{1B}":
                guard chars.popFirst() == "[" else { continue }
                var params = ""
                while let p = chars.popFirst() {
                    if p.isLetter {
                        apply(p, params)
                        break
                    }
                    params.append(p)
                }
            default:
                if row < grid.count, col < width { grid[row][col] = c }
                col += 1
            }
        }
    }

    private mutating func apply(_ command: Character, _ params: String) {
        let numbers = params.split(separator: ";").compactMap { Int($0) }
        switch command {
        case "H":
            row = (numbers.first ?? 1) - 1
            col = (numbers.count > 1 ? numbers[1] : 1) - 1
        case "J":
            for r in grid.indices { grid[r] = Array(repeating: " ", count: width) }
        case "K":
            if row < grid.count { for c in col..<width { grid[row][c] = " " } }
        default: break
        }
    }

    /// The first `n` rows, trailing blanks trimmed; rows below must be blank.
    func rows(_ n: Int) -> [String] {
        let trimmed = grid.map { String($0).replacingOccurrences(of: " +$", with: "", options: .regularExpression) }
        guard trimmed.dropFirst(n).allSatisfy(\.isEmpty) else { return trimmed }
        return Array(trimmed.prefix(n))
    }
}
