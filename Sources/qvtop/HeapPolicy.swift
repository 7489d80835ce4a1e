// HeapPolicy: how the qvtop process keeps the memory its runtime frees.
//
// glibc returns the top of the heap to the kernel as soon as more than 128 KiB of it is free (a threshold it
// raises a little after large frees) and grows it 128 KiB at a time. A burst of fibers — `bench spawn` keeps a
// million task records alive through their join handles, ~110 MB — is then freed back to the kernel at the end
// of the burst and faulted in again page by page (a zeroed page per fault) by the next one, and each small
// growth of the heap first consolidates glibc's fastbins. Go's runtime instead keeps its heap mapped and returns
// it lazily (its scavenger). qvtop owns its process, so it sets the same kind of policy at start-up:
//
// - `M_TRIM_THRESHOLD` 256 MiB: the free top of the heap is returned only beyond that;
// - `M_TOP_PAD` 16 MiB: the heap grows (and keeps) 16 MiB more than a request needs — address space; pages
//   count only once touched;
// - `M_ARENA_MAX` 1: one malloc arena for every thread, instead of glibc's one per thread that contends (up to 8
//   per core). With an arena per carrier, a fiber's task record and closure context are allocated in the
//   spawner's arena and freed by the carrier that ran them, and `bench spawn` ran at one of two speeds from one
//   process to the next (~170 or ~450 ns/task, the spawner's own CPU per task 3× higher in the slow one); with
//   one arena the slow processes mostly go. Threads still allocate from their own tcache first; what they share
//   is the arena behind it;
// - `release()` hands every free page back (`malloc_trim`) where the UI switches presets: the old runtime's
//   memory is garbage then, and the runtime being shown is not disturbed by it (malloc_trim takes the arenas'
//   locks).
//
// Measured in docs/performance.md: the trim threshold and top pad in "Scheduler" (the spawn table), the arena in
// "Session 11 (lead, …): one malloc arena".
// The Runtime library sets nothing process-wide: an embedding program chooses its own allocator policy.
import CRuntime

enum HeapPolicy {
    static let trimThreshold: Int32 = 256 << 20
    static let topPad: Int32 = 16 << 20
    static let arenas: Int32 = 1

    /// Sets the policy. Once, at start-up, before any thread starts. A failure leaves glibc's defaults (the
    /// figures only change).
    static func apply() {
        _ = qv_malloc_keep_heap(trimThreshold, topPad)
        _ = qv_malloc_arena_max(arenas)
    }

    /// Returns every free page of the heap to the kernel (after a preset switch). Any thread.
    static func release() {
        _ = qv_malloc_trim()
    }
}
