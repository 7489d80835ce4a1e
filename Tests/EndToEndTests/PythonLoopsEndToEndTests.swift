import Foundation
import Testing

/// The real uvloop and gevent through qvtop (python3 with them installed: CI's .ci/run puts both in a
/// virtual environment and names its python in QVTOP_TEST_PYTHON; skipped where neither has them).
@Suite(.serialized) struct PythonLoopsEndToEndTests {
    /// The interpreter to use: QVTOP_TEST_PYTHON, else python3.
    static let python: String? =
        ProcessInfo.processInfo.environment["QVTOP_TEST_PYTHON"] ?? E2E.findExecutable("python3")

    static func has(_ module: String) -> Bool {
        guard let python else { return false }
        return (try? E2E.run([python, "-c", "import \(module)"]).status) == 0
    }

    static func summary(preset: String) throws -> (status: Int32, json: [String: Any], err: String) {
        let r = try E2E.run(
            [
                try E2E.binary(), "run", "--preset", preset, "--python-bin", python ?? "python3", "--headless",
                "--duration", "3", "--json",
            ], timeout: 60)
        let json = try #require(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.err)")
        return (r.status, json, r.err)
    }

    /// uvloop has no ready queue, and its busy share and jobs are not measured: `null`, never 0.
    @Test(.enabled(if: has("uvloop"))) func pyUvloopHeadlessJSONHasNullForWhatUvloopLacks() throws {
        let r = try Self.summary(preset: "py-uvloop")
        #expect(r.status == 0, "\(r.err)")
        let loop = try #require((r.json["loops"] as? [[String: Any]])?.first, "\(r.json)")
        for key in ["jobsRun", "busyRatio", "maxReadyDepth"] {
            #expect(loop[key] is NSNull, "\(key): \(loop[key] ?? "missing")")
        }
    }

    /// A real monkeypatched gevent: the hub is watched and its stall is named.
    @Test(.enabled(if: has("gevent"))) func pyGeventHeadlessNamesTheStall() throws {
        let r = try Self.summary(preset: "py-gevent")
        #expect(r.status == 0, "\(r.err)")
        let lag = try #require(r.json["lag"] as? [String: Any])
        let slow = (lag["slowCallbacks"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        #expect(!slow.isEmpty && !slow.allSatisfy { $0.hasPrefix("(not caught") }, "\(slow)")
    }

    /// gevent hub figures (issue 16): greenlet switches, and gevent's own monitor thread (the py-gevent preset
    /// enables it at 20 ms) reporting the workload's 50 ms blocking call by name; greenlets are not counted.
    @Test(.enabled(if: has("gevent"))) func pyGeventHeadlessJSONHasSwitchesAndMonitorReports() throws {
        let r = try Self.summary(preset: "py-gevent")
        #expect(r.status == 0, "\(r.err)")
        let loop = try #require((r.json["loops"] as? [[String: Any]])?.first, "\(r.json)")
        let switches = try #require(loop["greenletSwitches"] as? Int, "\(loop)")
        #expect(switches > 0)
        let rate = try #require(loop["greenletSwitchesPerSecond"] as? Double, "\(loop)")
        #expect(rate > 0)
        let reports = try #require(loop["geventMonitorReports"] as? Int, "\(loop)")
        #expect(reports >= 1, "\(loop)")
        let culprit = try #require(loop["geventMonitorLastCulprit"] as? String, "\(loop)")
        // A frame of the workload, by line: the preset's 50 ms blocking call (py-gevent.py), or, when the machine is
        // slow, its CPU step from the shared workload module (`crunch`, _workload.py), which then holds the hub past
        // the monitor's 20 ms too and may be the last report (seen once in CI).
        #expect(culprit.contains("(py-gevent.py:") || culprit.contains("(_workload.py:"), "\(culprit)")
        let slow = (r.json["lag"] as? [String: Any])?["slowCallbacks"] as? [[String: Any]] ?? []
        #expect(
            slow.contains { ($0["name"] as? String)?.contains("(gevent monitor: blocked 20+ ms)") == true }, "\(slow)")
    }

    /// The hub's figures survive a recording: the replayed summary is the live one, switches and reports included.
    @Test(.enabled(if: has("gevent"))) func aRecordedGeventRunReplaysWithTheHubsFigures() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "qvtop-gevent-\(UUID().uuidString).qvrec"
        )
        .path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let binary = try E2E.binary()
        let live = try E2E.run(
            [
                binary, "run", "--preset", "py-gevent", "--python-bin", Self.python ?? "python3", "--headless",
                "--duration", "2", "--record", file, "--json",
            ], timeout: 60)
        #expect(live.status == 0, "\(live.err)")
        let replay = try E2E.run([binary, "replay", file, "--headless", "--json"])
        #expect(replay.status == 0, "\(replay.err)")
        #expect(replay.out == live.out)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(replay.out.utf8)) as? [String: Any])
        let loop = try #require((json["loops"] as? [[String: Any]])?.first, "\(json)")
        #expect((loop["greenletSwitches"] as? Int ?? 0) > 0, "\(loop)")
    }
}
