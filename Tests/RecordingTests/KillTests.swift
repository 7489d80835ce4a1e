import Foundation
import Telemetry
import Testing

@testable import Recording

/// A real SIGKILL: this test binary is started again as a child that records and never stops;
/// the parent kills it with SIGKILL once the frames are on disk and replays the file.
@Suite struct KillTests {
    static let childPathVariable = "QVTOP_RECORDER_CHILD_PATH"
    static let childFrames = 40

    /// The child's path, when this process is the child.
    static let childPath = ProcessInfo.processInfo.environment[childPathVariable]
    /// This SwiftPM test binary, which the parent starts again as the child (nil without /proc).
    static let testBinary: String? = {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
            exe.hasSuffix(".xctest")
        else { return nil }
        return exe
    }()

    /// The child's side, not a test of its own: enabled only in the child (a normal run reports it
    /// skipped, never passed). It records and waits to be killed (30 s at most, so it can never be
    /// orphaned for long).
    @Test(.enabled(if: childPath != nil, "the child process of sigkilledSessionReplaysUpToItsLastFlush"))
    func childRecordsUntilKilled() throws {
        let path = try #require(Self.childPath)
        let recorder = try Recorder(path: path, metadata: Synthetic.metadata, flushInterval: 0.25)
        for f in Synthetic.busyFrames(count: Self.childFrames, seed: 5) { recorder.append(f) }
        for _ in 0..<300 where recorder.status.isRecording { usleep(100_000) }
    }

    /// Skipped (reported as such) in the child, and when not run from the SwiftPM test binary.
    @Test(.enabled(if: childPath == nil && testBinary != nil, "needs the SwiftPM test binary and /proc"))
    func sigkilledSessionReplaysUpToItsLastFlush() throws {
        let exe = try #require(Self.testBinary)
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("qvtop-killed-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).qvrec").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: exe)
        child.arguments = ["--testing-library", "swift-testing", "--filter", "childRecordsUntilKilled"]
        var env = ProcessInfo.processInfo.environment
        env[Self.childPathVariable] = path
        child.environment = env
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }

        var onDisk = 0
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, child.isRunning {
            onDisk = (try? RecordingReader.read(path: path))?.frames.count ?? 0
            if onDisk == Self.childFrames { break }
            usleep(20_000)
        }
        #expect(onDisk == Self.childFrames, "the child's frames did not reach the file within 20 s")
        #expect(child.isRunning, "the child must still be recording when it is killed")
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)

        let r = try RecordingReader.read(path: path)
        #expect(r.frames == Synthetic.busyFrames(count: Self.childFrames, seed: 5))
        #expect(r.end == nil, "no clean stop after SIGKILL")
        #expect(r.damage == nil)
    }
}
