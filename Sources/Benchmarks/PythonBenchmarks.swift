// `qvtop bench python-overhead`: what qvtop's Python agent costs a real asyncio program.
//
// Runs python/bench/overhead.py (python3, the agent's folder found as `run --python` finds it): two
// programs — 300 000 call_soon callbacks plus task steps, and 5 000 loopback echo round trips — each
// with and without the agent (everything on: 1 ms heartbeat, the windowed per-iteration hook, the
// watchdog's alarms, 10 Hz snapshots with the task census), in interleaved rounds after one warm-up
// pair, glibc's malloc thresholds pinned for both arms (overhead.py says why). Each run is the
// program's own CPU time over its work (time.process_time: every thread of the process, the agent's
// too; start-up not counted), steadier than wall time on a loaded machine. The figure is the slowdown
// of the medians, in percent; the budget is 3 %. The detail adds its 90 % confidence interval (`ci90`,
// the rounds resampled as pairs: what this sitting can resolve), the median of the rounds' own ratios
// (`paired`, which cancels a load that drifts during the bench), the median ratio of as many pairs run
// in one process with the agent installed and uninstalled around each run (`inprocess`: no start-up,
// one heap, the steadiest of the three on a loaded machine), with how quiet those runs were for the
// agent (`inprocess_stalls`: median stalls it saw per run, a loop thread descheduled for 10 ms is one;
// `inprocess_thread_snapshots`: the share of snapshots its thread took, each a wake-up that takes the
// GIL; both ≈ 0 on a quiet machine) and the load average before and after.

import Foundation
import Workloads

enum PythonBenchmarks {
    static let all: [Benchmark] = [
        Benchmark(
            name: "python-overhead",
            summary: "slowdown of two asyncio programs under qvtop's Python agent (interleaved rounds; --reps rounds)"
        ) { options in
            guard let dir = PythonAgent.findDirectory() else {
                throw BenchFailure(
                    "python-overhead: qvtop's Python agent (python/) was not found; set QVTOP_PYTHON_DIR")
            }
            let rounds = options.reps ?? 31
            let result = try ChildProcess.runToEnd(
                ["python3", dir + "/bench/overhead.py", "--rounds", "\(rounds)", "--json"], timeout: 1800)
            guard result.status == 0 else {
                throw BenchFailure("python-overhead: overhead.py exited with status \(result.status): \(result.output)")
            }
            return result.output.split(separator: "\n").compactMap { line -> BenchResult? in
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let program = obj["program"] as? String, let ratio = obj["ratio"] as? Double,
                    let plain = obj["plain_s"] as? Double, let agent = obj["agent_s"] as? Double
                else { return nil }
                let paired = (obj["paired_ratio"] as? Double).map { String(format: "%+.1f%%", ($0 - 1) * 100) }
                let interval = (obj["ratio_ci90"] as? [Double]).flatMap { ci in
                    ci.count == 2 ? String(format: "%+.1f%%…%+.1f%%", (ci[0] - 1) * 100, (ci[1] - 1) * 100) : nil
                }
                let inprocess = (obj["inproc_paired"] as? Double).map { String(format: "%+.1f%%", ($0 - 1) * 100) }
                let stalls = (obj["inproc_stalls"] as? Double).map { String(format: "%g", $0) }
                let threadShare = (obj["inproc_thread_snapshots"] as? Double).map {
                    String(format: "%.0f%%", $0 * 100)
                }
                let load = (obj["load"] as? [Double]).map {
                    $0.map { String(format: "%.1f", $0) }.joined(separator: "-")
                }
                return BenchResult(
                    name: "python-overhead-\(program)", value: (ratio - 1) * 100, unit: "%",
                    detail: [
                        "plain_s": String(format: "%.3f", plain), "agent_s": String(format: "%.3f", agent),
                        "rounds": "\(rounds)", "budget": "3%", "measure": "cpu",
                        "paired": paired ?? "n/a", "ci90": interval ?? "n/a", "load": load ?? "n/a",
                        "inprocess": inprocess ?? "n/a",
                        "inprocess_stalls": stalls ?? "n/a", "inprocess_thread_snapshots": threadShare ?? "n/a",
                        "malloc": (obj["malloc_pinned"] as? Bool).map { $0 ? "pinned" : "dynamic" } ?? "n/a",
                    ])
            }
        }
    ]
}

/// A benchmark that could not run, with its reason.
struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
