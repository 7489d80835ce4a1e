// Memory-per-parked-task benchmarks (issue 15).
// - `ui-million`: the shipped `vt-million` preset (a million fibers parked on timers) runs live while this
//   thread does what the dashboard's UI thread does at 10 Hz: poll the source (the samplers: scheduler metrics,
//   task kinds, memory with its mincore sample), ingest into the panel history and render a full 200×60 frame
//   (no terminal: the blit depends on the terminal, not on the fibers). Figure: this thread's own CPU time
//   (`CLOCK_THREAD_CPUTIME_ID`) over the wall time of the measured window, in % of one core (goal ≤ 3), taken
//   once every fiber is parked (parking itself runs on the carriers). Detail: fibers parked, the time they took
//   to park, RSS and bytes per parked fiber at the end, and the teardown time of `stop()`.
// - `teardown`: the same preset parks its million (`--count N`: a copy of it parking N), then `stop()` — what
//   switching away from it or quitting does (the preset switch starts the next runtime, stops the old one with
//   this same call, then gives the heap's free pages back: `BenchOptions.releaseHeap`) — is timed. Figure: the
//   wall time of `stop()` and the heap release, s (goal ≤ 1, issue 15). `stop()` returns once everything is torn
//   down: carriers and the arrival thread joined, every dropped fiber's stack unmapped or madvised, descriptors
//   closed; nothing is left running in the background. Detail: each part's wall time, the process's CPU time over
//   both and for each (user and kernel, every thread: the shutdown gives the stacks back on two threads of its own
//   while it frees the task records; on a loaded machine the wall time also holds the waits for a core), ns per
//   parked fiber, the load average, and RSS, page tables (VmPTE), open descriptors, threads and the stack
//   pool's mapped stacks before parking, while parked and after the teardown, so the figure also shows that
//   memory, threads and descriptors come back; `torn_down` says whether threads, descriptors and the pool's
//   stacks in use are back to where they were before the preset started.
import Dashboard
import Foundation
import Runtime
import Telemetry
import Workloads

#if canImport(Glibc)
    import Glibc
#endif

/// Benchmarks of this area, joined by `BenchRegistry`.
public enum MemoryBenchmarks {
    public static let all: [Benchmark] = [
        Benchmark(
            name: "ui-million",
            summary: "UI thread CPU at 10 Hz while vt-million's 1,000,000 fibers are parked (% of a core; goal ≤ 3)",
            run: { try uiMillion($0) }),
        Benchmark(
            name: "teardown",
            summary: "stop() of vt-million once its 1,000,000 fibers are parked (s; goal ≤ 1), RSS and threads after",
            run: { try teardown($0) }),
    ]

    /// The 1-, 5- and 15-minute load averages (`/proc/loadavg`), "n/a" when unreadable: the figures' context.
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "n/a" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    struct BenchError: Error, CustomStringConvertible {
        var description: String
    }

    /// `--count N`: seconds measured (default 10). `--reps` is not used (one long window).
    static func uiMillion(_ o: BenchOptions) throws -> [BenchResult] {
        let seconds = Double(o.count ?? 10)
        let preset = try PresetCatalog.discover().choose("vt-million")
        let target = preset.workload.park?.count ?? 0
        let period: UInt64 = 100_000_000  // 10 Hz
        let source = try LiveSource(preset: preset)
        var data = ViewData(sourceAttached: true)
        let state = UIState(size: Size(200, 60), rateHz: 10, presetName: preset.name)
        var checksum = 0
        /// One UI frame: poll, ingest, render. Returns the snapshot polled.
        func frame() -> Snapshot? {
            let s = source.poll()
            if let s { data.ingest(s) }
            checksum &+= Shell.render(data: data, state: state, glyphs: .unicode).size.width
            return s
        }
        // Warm-up: frames at 10 Hz until every fiber is parked (or a limit stopped parking), at most 120 s.
        let parkStart = Monotonic.now()
        var last: Snapshot? = nil
        var next = parkStart
        while Monotonic.now() - parkStart < 120_000_000_000 {
            last = frame()
            let m = last?.memory
            if m?.limit != nil || (m?.parkedTasks ?? 0) >= target { break }
            next += period
            let now = Monotonic.now()
            if next > now { usleep(UInt32((next - now) / 1000)) }
        }
        let parkSeconds = Double(Monotonic.now() - parkStart) / 1e9
        guard let parked = last?.memory?.parkedTasks, parked >= target || last?.memory?.limit != nil else {
            source.stop()
            throw BenchError(description: "ui-million: only \(last?.memory?.parkedTasks ?? 0) parked after 120 s")
        }
        // The measured window: frames every 100 ms for `seconds`.
        let cpu0 = threadCPUNanos()
        let wall0 = Monotonic.now()
        next = wall0
        var frames = 0
        while Monotonic.now() - wall0 < UInt64(seconds * 1e9) {
            last = frame()
            frames += 1
            next += period
            let now = Monotonic.now()
            if next > now { usleep(UInt32((next - now) / 1000)) }
        }
        let cpu = Double(threadCPUNanos() - cpu0)
        let wall = Double(Monotonic.now() - wall0)
        let stop0 = Monotonic.now()
        source.stop()
        let teardown = Double(Monotonic.now() - stop0) / 1e9
        let m = last?.memory
        var detail: [String: String] = [
            "goal": "<= 3", "frames": "\(frames)", "parked": "\(m?.parkedTasks ?? 0)",
            "park_seconds": String(format: "%.1f", parkSeconds), "teardown_seconds": String(format: "%.2f", teardown),
            "frame_cpu_ms": String(format: "%.3f", cpu / Double(max(1, frames)) / 1e6),
            "rss": m?.rssBytes.map { ByteCount.text($0) } ?? "n/a",
            "bytes_per_parked": m?.bytesPerParked.map { String(format: "%.0f", $0) } ?? "n/a",
            "checksum": "\(checksum % 1000)", "load_average": loadAverage(),
        ]
        if let limit = m?.limit { detail["limit"] = limit }
        return [BenchResult(name: "ui-million", value: cpu / wall * 100, unit: "% of a core", detail: detail)]
    }

    /// `--count N`: fibers parked (default: the preset's 1,000,000). `--reps` is not used (one teardown).
    static func teardown(_ o: BenchOptions) throws -> [BenchResult] {
        var preset = try PresetCatalog.discover().choose("vt-million")
        if let n = o.count { preset.workload.park?.count = n }
        let target = preset.workload.park?.count ?? 0
        let pool = StackPool.shared  // the preset's scheduler takes its stacks from the shared pool
        /// RSS, page tables, descriptors, threads and the pool's stacks now.
        func state() -> (rss: UInt64?, pte: UInt64?, fds: Int, threads: Int, pool: StackPool.Stats) {
            (
                ProcessMemory.statm()?.resident, ProcessMemory.pageTables(), ProcessMemory.descriptorCount(),
                ProcessMemory.threadCount(), pool.stats
            )
        }
        let before = state()
        let source = try LiveSource(preset: preset)
        let parkStart = Monotonic.now()
        var memory: MemorySnapshot? = nil
        while Monotonic.now() - parkStart < 120_000_000_000 {
            usleep(50_000)
            memory = source.poll()?.memory ?? memory
            if memory?.limit != nil || (memory?.parkedTasks ?? 0) >= target { break }
        }
        let parkSeconds = Double(Monotonic.now() - parkStart) / 1e9
        let parked = memory?.parkedTasks ?? 0
        guard parked >= target || memory?.limit != nil else {
            source.stop()
            throw BenchError(description: "teardown: only \(parked) parked after 120 s")
        }
        let during = state()
        let load = loadAverage()
        let cpu0 = processCPUNanos()
        let stop0 = Monotonic.now()
        source.stop()
        let stopped = Monotonic.now()
        let cpuStopped = processCPUNanos()
        o.releaseHeap()
        let released = Monotonic.now()
        let seconds = Double(released - stop0) / 1e9
        let cpuEnd = processCPUNanos()
        let cpu = Double(cpuEnd - cpu0) / 1e9
        let after = state()
        func text(_ b: UInt64?) -> String { b.map { ByteCount.text($0) } ?? "n/a" }
        func mapped(_ s: StackPool.Stats) -> String { "\(s.guardedMapped + s.slabStacks)" }
        let tornDown =
            after.threads <= before.threads && after.fds <= before.fds && after.pool.inUse <= before.pool.inUse
        var detail: [String: String] = [
            "goal": "<= 1", "parked": "\(parked)", "park_seconds": String(format: "%.1f", parkSeconds),
            "stop_seconds": String(format: "%.3f", Double(stopped - stop0) / 1e9),
            "heap_release_seconds": String(format: "%.3f", Double(released - stopped) / 1e9),
            "cpu_seconds": String(format: "%.3f", cpu), "load_average": load,
            "stop_cpu_seconds": String(format: "%.3f", Double(cpuStopped - cpu0) / 1e9),
            "heap_release_cpu_seconds": String(format: "%.3f", Double(cpuEnd - cpuStopped) / 1e9),
            "ns_per_fiber": String(format: "%.0f", seconds * 1e9 / Double(max(1, parked))),
            "rss_before": text(before.rss), "rss_parked": text(during.rss), "rss_after": text(after.rss),
            "page_tables_before": text(before.pte), "page_tables_parked": text(during.pte),
            "page_tables_after": text(after.pte),
            "fds_before": "\(before.fds)", "fds_parked": "\(during.fds)", "fds_after": "\(after.fds)",
            "threads_before": "\(before.threads)", "threads_parked": "\(during.threads)",
            "threads_after": "\(after.threads)",
            "stacks_mapped_before": mapped(before.pool), "stacks_mapped_parked": mapped(during.pool),
            "stacks_mapped_after": mapped(after.pool), "torn_down": tornDown ? "yes" : "no",
        ]
        if let limit = memory?.limit { detail["limit"] = limit }
        return [BenchResult(name: "teardown", value: seconds, unit: "s", detail: detail)]
    }
}
