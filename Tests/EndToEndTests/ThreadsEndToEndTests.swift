import Foundation
import Testing

/// The threads preset through the real binary: headless JSON with the threads figures, and a recording that
/// replays to the same summary (the codec's threads section end to end).
@Suite(.timeLimit(.minutes(2))) struct ThreadsEndToEndTests {
    @Test func headlessJSONAndARecordingThatReplaysToTheSameSummary() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qvtop-threads-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("threads.qvrec").path
        let qvtop = try E2E.binary()
        let live = try E2E.run([
            qvtop, "run", "--preset", "threads", "--headless", "--duration", "2", "--json", "--record", file,
        ])
        #expect(live.status == 0, "\(live.err)")
        let object = try JSONSerialization.jsonObject(with: Data(live.out.utf8)) as? [String: Any]
        let threads = try #require(object?["threads"] as? [String: Any], "\(live.out)")
        #expect(threads["mode"] as? String == "per-task")
        #expect((threads["aliveMax"] as? Int ?? 0) >= 100, "\(threads)")
        #expect((threads["created"] as? Int ?? 0) > 100, "\(threads)")
        let replayed = try E2E.run([qvtop, "replay", file, "--headless", "--json"])
        #expect(replayed.status == 0, "\(replayed.err)")
        #expect(replayed.out == live.out)
    }
}
