import Foundation
import Telemetry
import Testing

@testable import Dashboard

/// docs/figures.md defines every figure on screen and every key of the headless JSON; these tests keep it
/// from rotting: a new panel, label or JSON key that is not in the glossary fails here.
@Suite struct FiguresGlossaryTests {
    static let glossary: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/figures.md")
        return (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }()

    /// Every screen the fixtures draw: each model at both sizes, the details of a carrier and of a loop.
    static let screens: [String] = {
        var out: [String] = []
        for size in PanelSnapshotTests.sizes {
            for (_, make) in PanelSnapshotTests.models {
                let (s, h) = PanelFixtures.run(40, make)
                out.append(PanelSnapshotTests.render(size, s, h).text)
                out.append(PanelSnapshotTests.render(size, s, h, view: PanelView(selected: 0, showDetails: true)).text)
            }
        }
        return out
    }()

    /// Figure labels drawn inside the panels (box titles are collected from the screens themselves).
    static let labels = [
        "injector", "fibers", "run", "ready", "parked", "blocked", "RUN", "spin", "idle", "HANDOFF", "q", "busy",
        "runs", "stole", "lost", "ran", "stolen in 1s", "heartbeat lag", "hb lag", "heartbeat p99", "now",
        "p50", "p99", "max", "slot p99", "ready → running", "1 in 64 sampled", "every job", "slow", "timers", "tasks",
        "jobs", "to_thread queue", "pool", "done", "peak", "busy = not parked · spin n/a", "busy = running jobs",
        "kind", "/s", "all", "dropped", "state", "running", "ran last", "run queue", "steal ops", "stolen in",
        "stolen out", "parks", "unparks", "ready queue", "timers pending", "tasks alive", "jobs run",
        "slow callbacks", "hb lag now", "hb lag p50/p99", "hb lag max", "ready→run p99", "1us", "n/a",
    ]

    @Test func everyPanelTitleIsInTheGlossary() {
        #expect(!Self.glossary.isEmpty, "docs/figures.md not found")
        var titles: Set<String> = []
        for screen in Self.screens {
            for line in screen.split(separator: "\n") {
                var rest = Substring(line)
                while let open = rest.range(of: "┌─ ") {
                    rest = rest[open.upperBound...]
                    guard let close = rest.range(of: " ─") else { break }
                    let title = String(rest[..<close.lowerBound])
                    rest = rest[close.upperBound...]
                    // The panel's name: before the first " · ", without a trailing number ("Carrier 3", "Fibers 1240").
                    var name = title.components(separatedBy: " · ")[0]
                    if let last = name.split(separator: " ").last, last.allSatisfy(\.isNumber), name.contains(" ") {
                        name = String(name.dropLast(last.count + 1))
                    }
                    // Carrier boxes (C0 …) and the threads model's thread boxes (T1 …: the glossary's **T**N row).
                    if name.contains("…")
                        || (name.first == "C" || name.first == "T") && name.count > 1
                            && name.dropFirst().allSatisfy(\.isNumber)
                    {
                        continue
                    }
                    titles.insert(name)
                }
            }
        }
        #expect(titles.count >= 12, "\(titles.sorted())")
        for t in titles.sorted() { #expect(Self.glossary.contains("**\(t)"), "docs/figures.md lacks panel \(t)") }
    }

    @Test func everyFigureLabelIsOnScreenAndInTheGlossary() {
        let all = Self.screens.joined(separator: "\n")
        for l in Self.labels {
            #expect(all.contains(l), "label \(l) is not drawn any more: drop it from the list and the glossary")
            #expect(Self.glossary.contains(l), "docs/figures.md lacks \(l)")
        }
    }

    /// Every key of the JSON summary, with every optional figure present (and nested objects filled).
    @Test func everyJSONKeyIsInTheGlossary() throws {
        var keys: Set<String> = []
        func collect(_ v: Any) {
            if let d = v as? [String: Any] {
                for (k, x) in d {
                    keys.insert(k)
                    collect(x)
                }
            } else if let a = v as? [Any] {
                for x in a { collect(x) }
            }
        }
        let fibers = (0..<40).map { PanelFixtures.virtualThreads($0) }
        let loops = (0..<40).map { PanelFixtures.loopPerThread($0, sharedPool: true) }
        let threads = (0..<40).map { PanelFixtures.threads($0) }
        for run in [fibers, loops, threads] {
            let summary = try #require(RunSummary(run))
            let object = try JSONSerialization.jsonObject(with: Data(summary.jsonText.utf8))
            collect(object)
        }
        #expect(keys.contains("readyDelay") && keys.contains("readyDelayP99Ms") && keys.contains("slowCallbacks"))
        #expect(keys.contains("aliveMax"), "the threads summary's keys are collected")
        for k in keys.sorted() { #expect(Self.glossary.contains("`\(k)`"), "docs/figures.md lacks JSON key \(k)") }
    }
}

extension FiguresGlossaryTests {
    /// The help overlay tells where every figure is defined.
    @Test func helpSaysWhereTheFiguresAreDefined() {
        var grid = Grid(size: Size(120, 40))
        Shell.drawHelp(into: &grid, in: Rect(0, 1, 120, 38), state: UIState())
        #expect(grid.text.contains("figures: docs/figures.md"))
    }
}

extension FiguresGlossaryTests {
    /// The compare screen's boxes, strip labels and the comparison's JSON keys are in the glossary.
    @Test func compareScreenAndJSONAreInTheGlossary() throws {
        let text = CompareScreenTests.render(Size(160, 50), heldB: true).text
        for label in [
            "A · ", "B · ", "held at its end", "Headline figures · whole run · B − A", "figure", "B − A",
            "heartbeat lag p99", "heartbeat lag max", "slot p99", "ready → running p99", "ready → running max",
            "throughput", "errors", "dropped", "steals", "busy spread", "workloads differ", "n/a",
        ] {
            #expect(text.contains(label), "\(label) is not drawn any more: drop it from the list and the glossary")
            #expect(
                Self.glossary.contains("**\(label.hasSuffix(" · ") ? String(label.dropLast(3)) : label)"),
                "docs/figures.md lacks \(label)")
        }
        let a = try #require(RunSummary((0..<40).map { PanelFixtures.virtualThreads($0) }))
        let b = try #require(RunSummary((0..<40).map { PanelFixtures.eventLoop($0, pool: true) }))
        let object = try JSONSerialization.jsonObject(with: Data(RunComparison(a: a, b: b).jsonText.utf8))
        var keys: Set<String> = []
        func collect(_ v: Any, depth: Int) {
            guard let d = v as? [String: Any] else {
                if let list = v as? [Any] { for x in list { collect(x, depth: depth) } }
                return
            }
            for (k, x) in d {
                keys.insert(k)
                if k != "a" && k != "b" || depth > 0 { collect(x, depth: depth + 1) }
            }
        }
        collect(object, depth: 0)
        #expect(
            keys.isSuperset(of: [
                "a", "b", "figures", "name", "unit", "difference", "byKind", "reset", "sameWorkload", "workloadNote",
            ]))
        for k in keys.sorted() { #expect(Self.glossary.contains("`\(k)`"), "docs/figures.md lacks JSON key \(k)") }
    }
}
