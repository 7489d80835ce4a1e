import ArgumentParser
import Foundation
import Runtime
import Telemetry
import Terminal

/// `qvtop debug-fiber-overflow`: hidden from `--help`; for the end-to-end test of crash reporting
/// (docs/ARCHITECTURE.md, "Crashes on fibers"). Opens the dashboard with no runtime attached, then a fiber
/// named "overflow-demo" on a one-carrier scheduler recurses until it faults in its stack's guard page.
/// Expected: the terminal is restored, stderr names the fiber, and the process dies of SIGSEGV.
struct DebugFiberOverflow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug-fiber-overflow", abstract: "Overflow a fiber's stack (crash-report test).",
        shouldDisplay: false)

    @Option(help: "Milliseconds before the fiber overflows.") var afterMs = 500

    func run() throws {
        Signals.blockInThisThread()  // before the scheduler starts its threads (see App.run)
        do {
            try Terminal.checkInteractive(environment: ProcessInfo.processInfo.environment)
        } catch {
            throw fail("\(error)")
        }
        let source = try OverflowSource(afterNanos: UInt64(max(0, afterMs)) * 1_000_000)
        throw ExitCode(App.run(source: source, options: AppOptions()))
    }
}

/// A source with no snapshots whose scheduler runs one fiber that overflows its stack.
private final class OverflowSource: SnapshotSource {
    let scheduler: Scheduler

    init(afterNanos: UInt64) throws {
        scheduler = try Scheduler(.init(carriers: 1))
        scheduler.spawn(name: "overflow-demo", kind: "debug") {
            Scheduler.sleep(nanoseconds: afterNanos)
            _ = recurse(0)
        }
    }

    func poll() -> Snapshot? { nil }
    func stop() { scheduler.shutdown() }
}

/// 256 bytes of frame per call, and a result that needs every frame: no tail call, no loop.
@inline(never)
private func recurse(_ depth: Int) -> Int {
    var frame: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    return withUnsafeMutableBytes(of: &frame) { bytes in
        bytes[depth % bytes.count] = UInt8(truncatingIfNeeded: depth)
        return recurse(depth + 1) &+ Int(bytes[0])
    }
}
