import Foundation
import Telemetry
import Testing

@testable import Workloads

/// Preset parsing: every rule gives one exact line naming file, line, field and rule.
@Suite struct PresetParsingTests {
    static let valid = """
        name = "vt"
        title = "Virtual threads"
        explain = "Watch the steals."

        [scheduler]
        model = "virtual-threads"
        carriers = 2
        steal = "half"
        blocking = "pin"

        [task.web]
        kind = "io"
        rate = 100
        duration_ms = [1, 5]

        [task.crunch]
        kind = "cpu"
        population = 3
        duration_ms = { mean = 2, max = 20 }
        """

    func error(_ text: String, file: String = "presets/vt.toml") -> String? {
        do {
            _ = try Preset.parse(text, file: file)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func parsesAValidPreset() throws {
        let p = try Preset.parse(Self.valid, file: "presets/vt.toml")
        #expect(p.name == "vt")
        #expect(p.scheduler.model == .virtualThreads)
        #expect(p.scheduler.carriers == 2)
        #expect(p.scheduler.blocking == .pin)
        // File order, not alphabetical.
        #expect(p.workload.tasks.map(\.name) == ["web", "crunch"])
        #expect(p.workload.tasks[0].arrival == .rate(100))
        #expect(p.workload.tasks[0].duration == .uniform(1, 5))
        #expect(p.workload.tasks[1].arrival == .population(3))
        #expect(p.workload.tasks[1].duration == .exponential(mean: 2, max: 20))
    }

    @Test func carriersOutOfRangeNamesFileLineFieldAndRule() {
        let text = Self.valid.replacingOccurrences(of: "carriers = 2", with: "carriers = 300")
        #expect(error(text) == "presets/vt.toml:7: scheduler.carriers must be between 1 and 256")
    }

    @Test func unknownFieldsAreErrors() {
        let top = Self.valid.replacingOccurrences(of: "title =", with: "colour = 1\ntitle =")
        #expect(error(top)?.hasPrefix("presets/vt.toml:2: colour is not a known field") == true)
        let sched = Self.valid.replacingOccurrences(of: "steal = \"half\"", with: "stael = \"half\"")
        #expect(
            error(sched)?.hasPrefix("presets/vt.toml:8: scheduler.stael is not a field of model virtual-threads")
                == true)
        let task = Self.valid.replacingOccurrences(of: "rate = 100", with: "rate = 100\nchildren = 3")
        #expect(error(task)?.hasPrefix("presets/vt.toml:14: task.web.children is not a field of kind io") == true)
        let dist = Self.valid.replacingOccurrences(of: "max = 20", with: "maks = 20")
        #expect(
            error(dist) == "presets/vt.toml:19: task.crunch.duration_ms.maks is not a known field (fields: mean, max)")
    }

    @Test func fieldsOfAnotherModelAreErrors() {
        let text = Self.valid.replacingOccurrences(of: "model = \"virtual-threads\"", with: "model = \"event-loop\"")
        #expect(
            error(text)?.hasPrefix("presets/vt.toml:7: scheduler.carriers is not a field of model event-loop") == true)
    }

    @Test func typeAndEnumErrors() {
        #expect(
            error(Self.valid.replacingOccurrences(of: "carriers = 2", with: "carriers = \"two\""))
                == "presets/vt.toml:7: scheduler.carriers must be an integer")
        #expect(
            error(Self.valid.replacingOccurrences(of: "\"pin\"", with: "\"park\""))
                == "presets/vt.toml:9: scheduler.blocking must be one of pin, handoff")
        #expect(
            error(Self.valid.replacingOccurrences(of: "\"virtual-threads\"", with: "\"os-threads\""))
                == "presets/vt.toml:6: scheduler.model must be one of event-loop, loop-per-thread, virtual-threads, green-threads, asyncio-mn, threads"
        )
        #expect(
            error(Self.valid.replacingOccurrences(of: "[1, 5]", with: "[5, 1]"))
                == "presets/vt.toml:14: task.web.duration_ms must be [low, high] with low <= high")
        #expect(
            error(Self.valid.replacingOccurrences(of: "kind = \"io\"", with: "kind = \"disk\""))
                == "presets/vt.toml:12: task.web.kind must be one of io, cpu, blocking, fanout, chatty, http")
    }

    @Test func arrivalNeedsExactlyOneOfRateOrPopulation() {
        let both = Self.valid.replacingOccurrences(of: "rate = 100", with: "rate = 100\npopulation = 4")
        #expect(error(both) == "presets/vt.toml:11: task.web needs exactly one of rate or population")
    }

    @Test func missingRequiredFields() {
        #expect(
            error(Self.valid.replacingOccurrences(of: "name = \"vt\"\n", with: ""))
                == "presets/vt.toml: name is required")
        let noTasks = String(Self.valid[..<Self.valid.range(of: "[task.web]")!.lowerBound])
        #expect(error(noTasks) == "presets/vt.toml: task is required")
    }

    @Test func greenThreadsNeedsOneCarrier() {
        let text = Self.valid.replacingOccurrences(of: "\"virtual-threads\"", with: "\"green-threads\"")
            .replacingOccurrences(of: "steal = \"half\"\n", with: "")
        #expect(error(text) == "presets/vt.toml:7: scheduler.carriers must be 1 for model green-threads")
    }

    @Test func offloadNeedsAPool() {
        let text = """
            name = "a"
            title = "A"
            explain = "x"
            [scheduler]
            model = "event-loop"
            offload = ["blocking"]
            [task.t]
            kind = "blocking"
            rate = 1
            """
        #expect(error(text) == "presets/vt.toml:6: scheduler.offload needs scheduler.pool of at least 1")
    }

    /// Gap 9: a field that would have no effect is an error, never silently accepted.
    @Test func fieldsWithoutEffectAreErrors() {
        func loop(_ scheduler: String, _ tasks: String = "[task.t]\nkind = \"cpu\"\nrate = 1") -> String {
            "name = \"a\"\ntitle = \"A\"\nexplain = \"x\"\n[scheduler]\n\(scheduler)\n\(tasks)"
        }
        // An io wait already leaves the loop free: there is nothing to offload.
        #expect(
            error(loop("model = \"event-loop\"\npool = 2\noffload = [\"io\"]"))
                == "presets/vt.toml:7: scheduler.offload entries must be cpu or blocking (got \"io\")")
        // A pool nothing is offloaded to would sit idle.
        #expect(
            error(loop("model = \"event-loop\"\npool = 2"))
                == "presets/vt.toml:6: scheduler.pool needs scheduler.offload (nothing runs in to_thread otherwise)")
        #expect(
            error(loop("model = \"loop-per-thread\"\nshared_pool = true"))
                == "presets/vt.toml:6: scheduler.shared_pool needs scheduler.pool of at least 1")
        // Offloading a kind no task has.
        #expect(
            error(loop("model = \"event-loop\"\npool = 2\noffload = [\"blocking\"]"))
                == "presets/vt.toml:7: scheduler.offload lists blocking, but no task does blocking work")
        #expect(
            error(loop("model = \"event-loop\"\npool = 2\noffload = [\"cpu\"]", "[task.t]\nkind = \"io\"\nrate = 1"))
                == "presets/vt.toml:7: scheduler.offload lists cpu, but no task does cpu work")
        // cpu work also hides in fan-out children and chatty consumers.
        #expect(
            error(
                loop(
                    "model = \"event-loop\"\npool = 2\noffload = [\"cpu\"]",
                    "[task.t]\nkind = \"chatty\"\nrate = 1\nduration_ms = 1")) == nil)
        #expect(
            error(
                loop(
                    "model = \"event-loop\"\npool = 2\noffload = [\"cpu\"]",
                    "[task.t]\nkind = \"fanout\"\nrate = 1\nchild = \"io\""))
                == "presets/vt.toml:7: scheduler.offload lists cpu, but no task does cpu work")
    }

    /// Gap 9, the sweep over every field: each of these would run exactly as if it were not there.
    @Test func policiesWithoutEffectAreErrors() {
        let one = Self.valid.replacingOccurrences(of: "carriers = 2", with: "carriers = 1")
        #expect(
            error(one)
                == "presets/vt.toml:8: scheduler.steal needs carriers of at least 2 (one carrier has nobody to steal from)"
        )
        #expect(error(one.replacingOccurrences(of: "steal = \"half\"\n", with: "")) == nil)
        let loop = """
            name = "a"
            title = "A"
            explain = "x"
            [scheduler]
            model = "event-loop"
            [task.t]
            kind = "io"
            rate = 1
            placement = "first"
            """
        #expect(
            error(loop)
                == "presets/vt.toml:9: task.t.placement = \"first\" needs more than one loop (every task is on loop 0 already)"
        )
        let seeded =
            "seed = 7\n"
            + Self.valid.replacingOccurrences(of: "duration_ms = [1, 5]", with: "duration_ms = 2")
            .replacingOccurrences(of: "duration_ms = { mean = 2, max = 20 }", with: "duration_ms = 1")
        #expect(error(seeded) == "presets/vt.toml:1: seed has no effect: every duration_ms is fixed (nothing is drawn)")
        #expect(error("seed = 7\n" + Self.valid) == nil)
    }

    @Test func tomlSyntaxErrorsHaveALine() {
        let text = Self.valid.replacingOccurrences(of: "carriers = 2", with: "carriers = = 2")
        let e = error(text)
        #expect(e?.hasPrefix("presets/vt.toml:7: invalid TOML") == true)
    }

    @Test func multilineStringsDoNotConfuseTheLineIndex() {
        let text = Self.valid.replacingOccurrences(
            of: "explain = \"Watch the steals.\"", with: "explain = \"\"\"\ncarriers = 9\nmore\n\"\"\""
        ).replacingOccurrences(of: "carriers = 2", with: "carriers = 0")
        #expect(error(text) == "presets/vt.toml:10: scheduler.carriers must be between 1 and 256")
    }

    @Test func missingFileIsOneLine() {
        do {
            _ = try Preset.load(path: "/nonexistent/x.toml")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "/nonexistent/x.toml: no such file")
        }
    }
}

/// The shipped presets: all parse, in talk order, with unique names.
@Suite struct ShippedPresetTests {
    static var dir: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../presets").standardized
            .path
    }

    @Test func everyShippedPresetParsesInTalkOrder() throws {
        let env = PresetCatalog.Environment(shippedDirectory: Self.dir, userDirectory: nil, workingDirectory: "/")
        let catalog = PresetCatalog.discover(env)
        #expect(catalog.errors.isEmpty, "\(catalog.errors)")
        let names = catalog.presets.map(\.name)
        #expect(
            names == [
                "asyncio", "to-thread", "loop-per-thread", "loops-pool", "gevent", "vt-steal", "vt-no-steal", "vt-pin",
                "vt-handoff",
                // Issue 15, in talk order: plain threads, function colouring, memory per parked task, the asyncio
                // invariant, CPU hogs and the monitor, many workers.
                "threads", "threads-http", "vt-http", "asyncio-http", "vt-parked", "vt-parked-sockets", "vt-million",
                "asyncio-mn", "vt-hog", "vt-hog-handoff", "vt-256", "loops-16",
                // Memory per parked task on plain threads: the parking presets' twins.
                "threads-parked", "threads-parked-sockets",
            ])
        #expect(Set(names).count == names.count)
        let models = catalog.presets.map(\.scheduler.model)
        #expect(models.contains(.eventLoop) && models.contains(.loopPerThread))
        #expect(models.contains(.virtualThreads) && models.contains(.greenThreads))
        #expect(models.contains(.threads))
    }

    @Test func userPresetsShadowAndBrokenOnesReportOneLine() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent(
            "qvtop-presets-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let mine = try String(contentsOfFile: Self.dir + "/01-asyncio.toml", encoding: .utf8)
            .replacingOccurrences(of: "title = \"asyncio: one event loop", with: "title = \"Mine")
        try mine.write(to: tmp.appendingPathComponent("mine.toml"), atomically: true, encoding: .utf8)
        try "name = \"x\"\n[scheduler]\ncarriers = 0\n".write(
            to: tmp.appendingPathComponent("broken.toml"), atomically: true, encoding: .utf8)
        let env = PresetCatalog.Environment(
            shippedDirectory: Self.dir, userDirectory: tmp.path, workingDirectory: tmp.path)
        let catalog = PresetCatalog.discover(env)
        #expect(catalog.errors.map(\.description) == ["broken.toml: title is required"])
        #expect(catalog.entries.first { $0.preset.name == "asyncio" && $0.origin == .shipped }?.shadowed == true)
        let resolved = try catalog.resolve("asyncio")
        #expect(resolved.title.hasPrefix("Mine"))
        #expect(throws: PresetError.self) { try catalog.resolve("nope") }
        let byPath = try catalog.resolve(tmp.appendingPathComponent("mine.toml").path)
        #expect(byPath.title.hasPrefix("Mine"))
    }

    /// The catalog is scanned once: each preset keeps the text it was parsed from (recordings store
    /// it), and choosing a preset by name reads no file again.
    @Test func theCatalogKeepsEachPresetsTextAndReadsNoFileAgain() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent(
            "qvtop-presets-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let file = tmp.appendingPathComponent("mine.toml")
        let text = try String(contentsOfFile: Self.dir + "/06-vt-steal.toml", encoding: .utf8)
            .replacingOccurrences(of: "name = \"vt-steal\"", with: "name = \"mine\"")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let env = PresetCatalog.Environment(shippedDirectory: Self.dir, userDirectory: tmp.path, workingDirectory: "/")
        let catalog = PresetCatalog.discover(env)
        try "not toml at all [".write(to: file, atomically: true, encoding: .utf8)  // changed on disk afterwards
        let mine = try catalog.resolve("mine")
        #expect(mine.text == text)
        #expect(try catalog.choose(nil).name == PresetCatalog.defaultName)
        let shipped = try String(contentsOfFile: Self.dir + "/06-vt-steal.toml", encoding: .utf8)
        #expect(try catalog.choose(nil).text == shipped)
        #expect(try Preset.parse(shipped, file: "x.toml").text == shipped)
    }
}
