// MemorySampler: the process's memory and the bytes per parked task → `Snapshot.memory` (docs/figures.md,
// "Memory").
//
// Model-independent: a model passes in what only it knows (how many tasks are parked now, its park target
// and the limit that stopped it, the stack pool if it has fibers); the sampler measures the rest.
// - RSS: `/proc/self/statm`, resident pages × page size, read every sample (one small read).
// - Baseline: RSS taken once by `takeBaseline()`, which the model calls when its runtime is up and before it
//   parks anything. Bytes per parked task = (RSS − baseline) / parked, so it includes everything parking
//   added: stacks' touched pages, task records, timers, fd waiters, the heap's own overhead. It is nil
//   below `MemorySnapshot.minimumParked` parked tasks.
// - Fiber stacks: `StackPool.sampleResidency` — `mincore(2)` over a random sample of `stackSample` of the
//   pool's mapped stacks per sample (not all of them: a million stacks would be a million syscalls), the
//   mean resident bytes per stack. Free stacks in the pool are among those sampled (a parked preset has few).
// - Kernel side, what no RSS shows (a parked OS thread's larger share): page tables per parked task, VmPTE of
//   `/proc/self/status` over its baseline (this process's own); kernel stacks per parked task, KernelStack of
//   `/proc/meminfo` over its baseline — system-wide (every process's threads), labelled so on screen. Both
//   baselines are taken with the RSS one; both figures nil where the RSS one is.
//
// Ownership: a value owned by the one sampling thread, as FiberSampler.
//
// Rejected: `/proc/self/smaps` for the stacks' resident pages. Exact, but one text record per mapping: with
// a million fiber stacks (tens of thousands of guarded mappings plus slabs) a read takes far longer than a
// frame.

import Foundation
import Runtime
import Telemetry

/// Reads of the process's own memory (`/proc/self/statm`, `/proc/meminfo`).
public enum ProcessMemory {
    /// Address space and resident set, bytes; nil when `/proc` cannot be read.
    public static func statm() -> (size: UInt64, resident: UInt64)? {
        guard let text = readSmall("/proc/self/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let size = UInt64(fields[0]), let resident = UInt64(fields[1]) else { return nil }
        let page = UInt64(FiberStack.pageSize)
        return (size * page, resident * page)
    }

    /// MemAvailable from `/proc/meminfo`, bytes; nil when unknown.
    public static func memAvailable() -> UInt64? { kibField("/proc/meminfo", "MemAvailable:") }

    /// This process's page tables (VmPTE of `/proc/self/status`), bytes; nil when unknown.
    public static func pageTables() -> UInt64? { kibField("/proc/self/status", "VmPTE:") }

    /// Every process's kernel stacks (KernelStack of `/proc/meminfo`: system-wide), bytes; nil when unknown.
    public static func kernelStacks() -> UInt64? { kibField("/proc/meminfo", "KernelStack:") }

    /// The "NAME:   N kB" line of a small /proc file, bytes; nil when absent.
    static func kibField(_ path: String, _ name: String) -> UInt64? {
        guard let text = readSmall(path, limit: 8192) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            let kb = line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            return kb.flatMap { UInt64($0) }.map { $0 * 1024 }
        }
        return nil
    }

    /// Threads of this process now (`/proc/self/task` entries).
    public static func threadCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? -1
    }

    /// Open descriptors of this process now (`/proc/self/fd` entries, the directory's own one excluded).
    public static func descriptorCount() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0) - 1
    }

    /// Reads a small /proc file with plain read(2) (no Foundation file handle per sample).
    static func readSmall(_ path: String, limit: Int = 256) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, limit) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

/// Builds `MemorySnapshot`s. Owned by one sampling thread.
public struct MemorySampler: Sendable {
    /// Stacks `mincore` measures per sample.
    public let stackSample: Int
    /// RSS when the model started, before parking (`takeBaseline`); nil before it is taken.
    public private(set) var baselineRSS: UInt64?
    /// VmPTE and KernelStack (system-wide) when the baseline RSS was taken; nil before.
    private var baselinePageTables: UInt64?
    private var baselineKernelStacks: UInt64?
    private var rng: SplitMix64
    /// The last stack measurement: kept when the pool's mutex was busy this sample (the sampler never waits).
    private var lastStacks: StackPool.Residency?

    public init(stackSample: Int = 256, seed: UInt64 = 0x3E3) {
        self.stackSample = stackSample
        rng = SplitMix64(seed: seed)
    }

    /// Takes the baseline RSS now. The model, once its runtime is up and before it parks anything.
    public mutating func takeBaseline() {
        baselineRSS = ProcessMemory.statm()?.resident
        baselinePageTables = ProcessMemory.pageTables()
        baselineKernelStacks = ProcessMemory.kernelStacks()
    }

    /// One sample. `parked`: tasks parked now as the model counts them (nil: the model cannot say);
    /// `target` and `limit`: the preset's park target and the limit that stopped it; `stacks`: the fiber
    /// stack pool, for models with fibers.
    public mutating func sample(
        parked: Int?, target: Int? = nil, limit: String? = nil, stacks: StackPool? = nil
    ) -> MemorySnapshot {
        let rss = ProcessMemory.statm()?.resident
        var m = MemorySnapshot(
            rssBytes: rss, baselineRSSBytes: baselineRSS, parkedTasks: parked, parkTarget: target, limit: limit)
        if let rss, let base = baselineRSS, let parked, parked >= MemorySnapshot.minimumParked {
            m.bytesPerParked = (Double(rss) - Double(base)) / Double(parked)
            if let now = ProcessMemory.pageTables(), let base = baselinePageTables {
                m.pageTablesPerParked = (Double(now) - Double(base)) / Double(parked)
            }
            if let now = ProcessMemory.kernelStacks(), let base = baselineKernelStacks {
                m.kernelStacksPerParked = (Double(now) - Double(base)) / Double(parked)
            }
        }
        if let stacks, let r = stacks.sampleResidency(limit: stackSample, using: &rng) ?? lastStacks {
            lastStacks = r
            m.stacksMapped = r.stacksMapped
            m.stacksMeasured = r.stacksMeasured
            m.stackResidentBytesPerStack = r.bytesPerStack
        }
        return m
    }
}
