// Fiber stacks and their pool. See "Stacks" in Fiber.swift for the design.
//
// Layout of one stack (addresses grow to the right):
//
//   guarded:   [ guard page, PROT_NONE | usable stack ........................ | qv_fiber_ctx ]
//   slab:      [ usable stack ........................................... | qv_fiber_ctx ]
//              ^ mapping                                                    ^ top - contextSlot
//
// The fiber's switch state (qv_fiber_ctx) lives in the top `QV_FIBER_CTX_SLOT` bytes of its own stack, so a fiber
// needs no separate allocation for it and a parked fiber touches as few pages as possible.
import CRuntime

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// One fiber stack: a descriptor of memory owned either by a `StackPool` (while free) or by
/// exactly one `Fiber` (while in use). Copying the descriptor does not copy the memory.
public struct FiberStack: @unchecked Sendable {
    // @unchecked Sendable: a plain descriptor (address + sizes). The memory it names has a single
    // owner at a time (the pool under its lock, or one fiber), which is what makes handing it to
    // another thread safe.

    /// 64 KiB: a parked fiber usually touches only its top page; the rest is address space.
    public static let defaultSize = 64 * 1024
    /// Bytes at the top of each stack reserved for the fiber's `qv_fiber_ctx` (one definition, in qv_context.h,
    /// where a static assertion checks the ctx fits).
    static let contextSlot = Int(QV_FIBER_CTX_SLOT)
    /// The system page size.
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Lowest usable address. Stored, not derived from the mapping: `pageSize` is a lazily initialised static,
    /// and every access to it is a `swift_once` call — three per scheduled fiber when `top` was derived.
    public let bottom: UnsafeMutableRawPointer
    /// Usable bytes (a multiple of the page size), `contextSlot` included.
    public let size: Int
    /// True when a PROT_NONE page sits right below the usable stack, so an overflow faults.
    public let isGuarded: Bool

    /// Start of the mapping (the guard page when guarded).
    var mapping: UnsafeMutableRawPointer { isGuarded ? bottom - FiberStack.pageSize : bottom }

    init(mapping: UnsafeMutableRawPointer, size: Int, isGuarded: Bool) {
        self.bottom = isGuarded ? mapping + FiberStack.pageSize : mapping
        self.size = size
        self.isGuarded = isGuarded
    }
    /// One past the highest usable address.
    public var top: UnsafeMutableRawPointer { bottom + size }
    /// Where the fiber's switch state lives (the top `contextSlot` bytes).
    var context: UnsafeMutablePointer<qv_fiber_ctx> {
        (top - FiberStack.contextSlot).bindMemory(to: qv_fiber_ctx.self, capacity: 1)
    }
    /// Where the fiber's call stack starts (16-byte aligned, just below the context).
    var stackTop: UnsafeMutableRawPointer { top - FiberStack.contextSlot }

    /// mmap's MAP_FAILED ((void *)-1), which Swift does not import.
    static var mapFailed: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: -1) }

    /// Rounds a requested size up to whole pages, at least two pages.
    static func roundedSize(_ requested: Int) -> Int {
        let page = pageSize
        return max(2 * page, (requested + page - 1) / page * page)
    }

    /// Maps one guarded stack (two kernel mappings: the guard page and the stack). Nil when the
    /// kernel refuses (e.g. `vm.max_map_count` reached). Touches no shared state: safe anywhere.
    static func mapGuarded(size: Int) -> FiberStack? {
        let page = pageSize
        let length = size + page
        guard
            let raw = mmap(
                nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0),
            raw != FiberStack.mapFailed
        else { return nil }
        if mprotect(raw, page, PROT_NONE) != 0 {
            munmap(raw, length)
            return nil
        }
        return FiberStack(mapping: raw, size: size, isGuarded: true)
    }

    /// Maps `count` unguarded stacks in one mapping (one kernel mapping for all of them).
    static func mapSlab(size: Int, count: Int) -> [FiberStack]? {
        let length = size * count
        guard
            let raw = mmap(
                nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0),
            raw != FiberStack.mapFailed
        else { return nil }
        return (0..<count).map { FiberStack(mapping: raw + $0 * size, size: size, isGuarded: false) }
    }

    /// Unmaps a guarded stack. A slab stack is never unmapped alone: its slab goes whole (`StackPool.release(contentsOf:)`).
    func unmapGuarded() {
        precondition(isGuarded, "FiberStack: only guarded stacks own their mapping")
        munmap(mapping, size + FiberStack.pageSize)
    }
}

/// Why `StackPool.tryAcquire` could not hand out a stack: the kernel refused even an unguarded slab (out of
/// memory, RLIMIT_AS, or `vm.max_map_count`). A scheduler does not start the fiber and reports this instead.
public struct StackMapError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errno of the refused `mmap` (ENOMEM for every limit above).
    public var errno: Int32
    /// Bytes of the refused mapping (a slab of `stacks` stacks).
    public var bytes: Int
    /// Stacks the refused slab would have held.
    public var stacks: Int

    public init(errno: Int32, bytes: Int, stacks: Int) {
        self.errno = errno
        self.bytes = bytes
        self.stacks = stacks
    }

    public var description: String {
        let why = errno == ENOMEM ? "ENOMEM: out of memory, address space or mappings" : "errno \(errno)"
        return "fiber stacks: the kernel refused a mapping of \(stacks) stacks (\(bytes >> 10) KiB; \(why))"
    }
}

/// Hands out fiber stacks and takes them back. Thread-safe (one pthread mutex); used on fiber
/// creation and completion only, never on the switch path.
///
/// Policy (see "Stacks" in Fiber.swift):
/// - guarded stacks while fewer than `maxGuardedStacks` exist (two kernel mappings each);
/// - past that, or when the kernel refuses a mapping, unguarded stacks carved from slabs of
///   `slabStacks` stacks (one mapping per slab). The first fallback is recorded once in `stats.notice`
///   and passed to `noticeHandler`;
/// - a returned stack is kept for reuse (LIFO, so it is likely still in cache). Beyond
///   `maxCachedStacks` free stacks, a guarded stack is unmapped and a slab stack's pages are given
///   back with `madvise(MADV_DONTNEED)` (its address range stays in the slab): one call per slab once every
///   stack of the slab is free (until then they wait, not handed out), or per run of adjacent stacks when the
///   pool must trim early (an acquire finds no free stack, `pendingLimit`, `trimPending()`).
/// - many stacks returned at once (`release(contentsOf:)`: a scheduler's shutdown drops every parked fiber) are
///   given back in address order: guarded ones past the cache unmapped, every slab all of whose stacks are then
///   free unmapped whole (its pages, its page tables and its address range go back), one `munmap` per run of
///   adjacent stacks or slabs (the kernel merges adjacent slabs into one mapping), and the slab stacks of slabs
///   still partly in use madvised in runs. See "Bulk release" below.
/// - when the kernel refuses a slab, `tryAcquire` throws `StackMapError` (a scheduler then does not start the
///   fiber and reports the refusal); only `acquire`, for the standalone `Fiber`, stops the process then.
///
/// ## Bulk release
/// A million parked fibers dropped at shutdown gave their stacks back one `release` at a time: ~24,500 guarded
/// stacks past the cache unmapped one `munmap` each, ~15,600 slabs madvised one call each, every call a TLB
/// shoot-down on every CPU the process runs on (docs/performance.md, "Session 7"). `release(contentsOf:)` takes the
/// mutex once, sorts what it cannot cache by address and makes one `munmap` per run of adjacent guarded stacks
/// (their guard pages included). A slab all of whose stacks are free once the batch is in (counting those already
/// free or pending in the pool; a stack in use or in a carrier cache keeps its slab) is unmapped whole, one `munmap`
/// per run of adjacent such slabs, and forgotten: madvising it instead kept its page tables (~128 MiB for a
/// million 64 KiB stacks, VmPTE), its address range (~62 GiB) and a descriptor per stack in the free list
/// (~23 MiB) after the preset that needed them was gone, for the same kernel work of freeing the pages. The slab
/// stacks of slabs still partly in use are madvised in runs of adjacent stacks, as a single release does.
/// The kernel calls run after the mutex is released, and for a large batch (`ParallelRelease.minimumStacks`) on two
/// threads of their own, each given half of the bytes (`beginRelease(contentsOf:)`; `PendingRelease.wait()` joins
/// them): each thread first frees the pages of its ranges with `madvise(MADV_DONTNEED)` — which runs under the read
/// side of the process's mmap lock, so the two free pages at the same time (two `munmap`s would not: the second waits
/// for the first's write lock and the page freeing that follows under it) — and then unmaps them, which is cheap once
/// they hold no pages. The caller does its own part of a teardown meanwhile (`Scheduler.shutdown` frees the task
/// records) and waits for them before it returns, so the teardown is over when it returns.
/// Rejected: keeping the guarded stacks mapped with their pages madvised away (fewer calls still, but ~57,000
/// mappings held after the preset that needed them is gone, against the budget of every later one); freeing in a
/// background thread left running after the teardown returns (the pages are what the next preset needs back, and
/// the second is for the whole teardown: a reclaim still running when the switch returns races the next
/// preset for the memory and the CPU).
/// - a thread may attach a *carrier cache* (`attachCarrierCache`): up to `carrierCacheCapacity`
///   free stacks of one size that only that thread touches, refilled from and flushed to the shared
///   list `carrierCacheBatch` stacks at a time under the mutex (Go's per-P caches). Every scheduler
///   carrier attaches one (Scheduler+Loop.swift `carrierMain`).
///
/// ## Carrier caches
/// Attached by every scheduler carrier. (They were held back for a while: with them `spawn` crashed, which
/// turned out to be a retain sunk below a publishing store in LocalQueue.push — see docs/performance.md,
/// "Carrier stack caches".) Measured before them: both carriers took the pool's mutex on every fiber start and finish, and
/// the `spawn` benchmark spent ~15 % in futex wake-ups on it. With a cache a carrier takes the mutex
/// once per `carrierCacheBatch` starts or finishes. Ownership: a cache belongs to the thread that
/// attached it (found through a pthread key, a real call on every read, so a migrated fiber cannot
/// see a stale cache); only that thread pops or pushes it. Stacks move between caches and the
/// shared list only under the mutex. `stats` counts a carrier's local pops/pushes at its next batch
/// transfer or detach, so while caches are attached `inUse`/`reused` may lag by at most
/// `carrierCacheCapacity` per carrier; they are exact once every cache is detached.
public final class StackPool: @unchecked Sendable {
    // @unchecked Sendable: every mutable field below is protected by `mutex`.

    /// The pool fibers use unless given another.
    public static let shared = StackPool()

    /// Counters for telemetry and tests; a consistent copy taken under the lock.
    public struct Stats: Sendable, Equatable {
        /// Guarded stacks currently mapped (in use or free).
        public var guardedMapped = 0
        /// Slab stacks mapped now (in use or free): a slab is unmapped whole when a bulk release finds it wholly free.
        public var slabStacks = 0
        /// Stacks currently handed out to fibers.
        public var inUse = 0
        /// Stacks currently waiting in the pool.
        public var free = 0
        /// `acquire` calls served from the free list.
        public var reused = 0
        /// Slabs mapped because a guarded stack could not be had (budget reached or mapping refused).
        public var unguardedFallbacks = 0
        /// Set once, at the first fallback to unguarded stacks: why.
        public var notice: String?
        /// Free stacks held in carrier caches (as of their last batch transfer).
        public var carrierCached = 0
        /// `munmap` and `madvise` calls made so far to give stacks' memory back (each a TLB shoot-down).
        public var releaseCalls = 0
    }

    /// Most free stacks one carrier cache holds.
    public static let carrierCacheCapacity = 64
    /// Stacks moved per refill or flush between a carrier cache and the shared list.
    public static let carrierCacheBatch = 32

    /// One thread's private stack cache. Touched only by the thread that attached it.
    final class CarrierCache {
        /// The (rounded) stack size it caches; other sizes go to the shared list.
        let size: Int
        /// The size as asked for at attach time: an `acquire` of that size matches without rounding it (which
        /// reads the lazily initialised `pageSize`, a `swift_once` call).
        let requested: Int
        // @exclusivity(unchecked) on the three fields below: only the owning thread touches them (the
        // pool's batch transfers run on that thread too), so accesses never overlap; a dynamic check
        // costs a runtime call (and a TLS look-up) per access on the fiber start/finish path.
        @exclusivity(unchecked) var stacks: [FiberStack] = []
        /// Pops minus pushes since the last batch transfer (merged into `inUse` then).
        @exclusivity(unchecked) var inUseDelta = 0
        /// Pops since the last batch transfer (merged into `reused` then).
        @exclusivity(unchecked) var reusedDelta = 0
        init(requested: Int) {
            self.requested = requested
            self.size = FiberStack.roundedSize(requested)
            stacks.reserveCapacity(StackPool.carrierCacheCapacity)
        }
    }

    /// Runs `body` on the calling thread's cache of this pool when it `matches`; nil when there is none.
    @inline(__always) private func withCarrierCache<R>(
        matching matches: (CarrierCache) -> Bool, _ body: (CarrierCache) -> R?
    ) -> R? {
        guard let p = pthread_getspecific(cacheKey) else { return nil }
        // Unmanaged: the key holds the retain taken in attachCarrierCache until detachCarrierCache, on this
        // thread, so the cache is borrowed (no retain and release per fiber start and finish).
        return Unmanaged<CarrierCache>.fromOpaque(p)._withUnsafeGuaranteedRef { c in matches(c) ? body(c) : nil }
    }

    /// Gives the calling thread a private cache of free `stackSize` stacks from this pool, until
    /// `detachCarrierCache()`. A thread has at most one cache per pool (a second attach is ignored).
    /// The thread must detach before it exits and while the pool is alive.
    public func attachCarrierCache(stackSize: Int = FiberStack.defaultSize) {
        guard pthread_getspecific(cacheKey) == nil else { return }
        let c = CarrierCache(requested: stackSize)
        // Unmanaged: retained by the key; released by detachCarrierCache.
        pthread_setspecific(cacheKey, Unmanaged.passRetained(c).toOpaque())
    }

    /// The calling thread's cache of this pool, nil when it has none: for a carrier to keep (unretained: the key
    /// holds it until `detachCarrierCache`, on this thread) and hand to `popCached` / `pushCached`, so a fiber
    /// start and finish make no `pthread_getspecific` call and no size match.
    func carrierCache() -> Unmanaged<CarrierCache>? {
        pthread_getspecific(cacheKey).map { Unmanaged<CarrierCache>.fromOpaque($0) }
    }

    /// A stack from `cache` (the calling thread's own) when it holds one of `requested` bytes; nil when it is
    /// empty or of another size (then `tryAcquire`, which refills it). No lock.
    @inline(__always) func popCached(_ cache: CarrierCache, requested: Int) -> FiberStack? {
        guard cache.requested == requested, let s = cache.stacks.popLast() else { return nil }
        cache.inUseDelta += 1
        cache.reusedDelta += 1
        return s
    }

    /// Puts `stack` into `cache` (the calling thread's own) when it has room and the size matches; false
    /// otherwise (then `release`, which flushes a full cache). No lock.
    @inline(__always) func pushCached(_ stack: FiberStack, _ cache: CarrierCache) -> Bool {
        guard stack.size == cache.size, cache.stacks.count < StackPool.carrierCacheCapacity else { return false }
        cache.stacks.append(stack)
        cache.inUseDelta -= 1
        return true
    }

    /// Returns the calling thread's cached stacks to the shared list and drops its cache.
    public func detachCarrierCache() {
        guard let p = pthread_getspecific(cacheKey) else { return }
        // Unmanaged: takes back the retain held by the key.
        let c = Unmanaged<CarrierCache>.fromOpaque(p).takeRetainedValue()
        pthread_setspecific(cacheKey, nil)
        flush(c, keeping: 0)
    }

    /// Moves `cache`'s stacks beyond `keeping` to the shared list and merges its counters.
    private func flush(_ cache: CarrierCache, keeping: Int) {
        locked {
            mergeCounters(cache)
            while cache.stacks.count > keeping, let s = cache.stacks.popLast() {
                counters.carrierCached -= 1
                counters.inUse += 1  // releaseLocked counts it out again
                releaseLocked(s)
            }
        }
    }

    /// Moves up to `carrierCacheBatch` free stacks to `cache`; false when the shared list has none.
    private func refill(_ cache: CarrierCache) -> Bool {
        locked {
            mergeCounters(cache)
            if freeLists[cache.size]?.isEmpty ?? true { trimPendingLocked() }
            guard var list = freeLists.removeValue(forKey: cache.size), !list.isEmpty else { return false }
            let n = min(StackPool.carrierCacheBatch, list.count)
            cache.stacks.append(contentsOf: list[(list.count - n)...])
            list.removeLast(n)
            freeLists[cache.size] = list
            counters.free -= n
            counters.carrierCached += n
            return true
        }
    }

    /// Under the mutex: folds a cache's local pops/pushes into the shared counters.
    private func mergeCounters(_ cache: CarrierCache) {
        counters.inUse += cache.inUseDelta
        counters.carrierCached -= cache.inUseDelta
        counters.reused += cache.reusedDelta
        cache.inUseDelta = 0
        cache.reusedDelta = 0
    }

    /// At most this many guarded stacks exist at once (default: from `vm.max_map_count`).
    public let maxGuardedStacks: Int
    /// Free stacks kept hot per size; more are unmapped (guarded) or madvised away (slab).
    public let maxCachedStacks: Int
    /// Stacks per slab when falling back to unguarded stacks.
    public let slabStacks: Int
    /// False: never map guard pages (all stacks from slabs).
    public let guardPages: Bool

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Per thread: this pool's carrier cache of that thread, if attached (a pthread key per pool: a
    /// real call on every read, so a migrated fiber cannot see a stale cache; no lazy global).
    private let cacheKey: pthread_key_t
    // protected by mutex:
    private var freeLists: [Int: [FiberStack]] = [:]
    private var counters = Stats()
    private var handler: (@Sendable (String) -> Void)?
    /// Every guarded stack mapped now (in use or free), for `sampleResidency` (slab stacks are found through
    /// `slabs`: no descriptor per slab stack); a guarded stack's position in it by address, so an unmap removes it
    /// in O(1) (swap with the last).
    private var mapped: [FiberStack] = []
    /// Free slab stacks past `maxCachedStacks` whose pages are not given back yet (`trimPendingLocked`).
    private var pendingTrim: [UInt: [FiberStack]] = [:]
    /// Stacks in `pendingTrim`.
    private var pendingCount = 0
    /// Every slab mapped: start address and length, sorted by address (to find a stack's slab).
    private var slabs: [(base: UInt, length: Int)] = []
    private var mappedIndex: [UInt: Int] = [:]

    /// - Parameters:
    ///   - maxGuardedStacks: nil = (vm.max_map_count − 8,192 spare mappings) / 2.
    public init(
        guardPages: Bool = true, maxGuardedStacks: Int? = nil, maxCachedStacks: Int = 4096, slabStacks: Int = 64
    ) {
        self.guardPages = guardPages
        self.maxGuardedStacks = maxGuardedStacks ?? max(0, (StackPool.readMaxMapCount() - 8192) / 2)
        self.maxCachedStacks = maxCachedStacks
        self.slabStacks = max(1, slabStacks)
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        var key = pthread_key_t()
        let rc = pthread_key_create(&key, nil)
        precondition(rc == 0, "StackPool: pthread_key_create failed (\(rc))")
        cacheKey = key
    }

    deinit {
        // A pool is normally process-lifetime (`shared`); a private one (tests) gives back its
        // guarded stacks. Slabs of a private pool are leaked address space (no pages once madvised).
        for (_, list) in freeLists { for s in list where s.isGuarded { s.unmapGuarded() } }
        pthread_key_delete(cacheKey)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Called once, from the thread that hit the first fallback, with the notice text.
    public var noticeHandler: (@Sendable (String) -> Void)? {
        get { locked { handler } }
        set { locked { handler = newValue } }
    }

    public var stats: Stats { locked { counters } }

    /// A stack of at least `size` usable bytes (rounded up to whole pages), for a standalone `Fiber` (whose
    /// initialiser cannot fail): stops the process when the kernel refuses even an unguarded slab. A scheduler
    /// uses `tryAcquire`.
    public func acquire(size requested: Int = FiberStack.defaultSize) -> FiberStack {
        do {
            return try tryAcquire(size: requested)
        } catch {
            fatalError("StackPool.acquire: \(error) (a standalone Fiber cannot report it; schedulers use tryAcquire)")
        }
    }

    /// A stack of at least `size` usable bytes (rounded up to whole pages). Throws when the kernel refuses even an
    /// unguarded slab (out of memory, address space or mappings); the pool is unchanged then. Any thread.
    public func tryAcquire(size requested: Int = FiberStack.defaultSize) throws(StackMapError) -> FiberStack {
        // Fast path: the calling carrier's own cache, no lock (ownership: see "Carrier caches").
        let cached = withCarrierCache(
            matching: { $0.requested == requested || $0.size == FiberStack.roundedSize(requested) },
            { cache -> FiberStack? in
                guard !cache.stacks.isEmpty || refill(cache) else { return nil }
                return popCached(cache, requested: cache.requested)
            })
        if let cached { return cached }
        let size = FiberStack.roundedSize(requested)
        var notice: String?
        var refused: StackMapError?
        let stack: FiberStack? = locked {
            // In place through the dictionary's modify accessor: no copy of the free list per acquire.
            if freeLists[size]?.isEmpty ?? true { trimPendingLocked() }
            if let s = freeLists[size]?.popLast() {
                counters.free -= 1
                counters.reused += 1
                counters.inUse += 1
                return s
            }
            if guardPages {
                if counters.guardedMapped < maxGuardedStacks {
                    if let s = FiberStack.mapGuarded(size: size) {
                        counters.guardedMapped += 1
                        counters.inUse += 1
                        noteMapped(s)
                        return s
                    }
                    notice =
                        "fiber stacks: guarded mapping refused (errno \(qv_errno())) after "
                        + "\(counters.guardedMapped) guarded stacks; using unguarded slab stacks"
                } else {
                    notice =
                        "fiber stacks: \(maxGuardedStacks) guarded stacks reached (vm.max_map_count); "
                        + "further stacks are unguarded, from slabs"
                }
                counters.unguardedFallbacks += 1
                if counters.notice == nil { counters.notice = notice } else { notice = nil }
            }
            guard let slab = FiberStack.mapSlab(size: size, count: slabStacks) else {
                refused = StackMapError(errno: qv_errno(), bytes: size * slabStacks, stacks: slabStacks)
                return nil
            }
            counters.slabStacks += slab.count
            let base = UInt(bitPattern: slab[0].mapping)
            let at = slabs.firstIndex { $0.base > base } ?? slabs.count
            slabs.insert((base, size * slab.count), at: at)
            counters.free += slab.count - 1
            counters.inUse += 1
            freeLists[size, default: []].append(contentsOf: slab.dropFirst().reversed())
            return slab[0]
        }
        if let notice, let h = noticeHandler { h(notice) }
        guard let stack else { throw refused ?? StackMapError(errno: 0, bytes: 0, stacks: 0) }
        return stack
    }

    /// Takes back a stack no fiber runs on any more.
    public func release(_ stack: FiberStack) {
        // Fast path: into the calling carrier's own cache, flushing half of it when full.
        let cached = withCarrierCache(
            matching: { $0.size == stack.size },
            { cache -> Bool? in
                if cache.stacks.count >= StackPool.carrierCacheCapacity {
                    flush(cache, keeping: StackPool.carrierCacheCapacity - StackPool.carrierCacheBatch)
                }
                return pushCached(stack, cache)
            })
        if cached == true { return }
        locked { releaseLocked(stack) }
    }

    /// Takes back many stacks no fiber runs on any more, under one lock: up to `maxCachedStacks` per size stay
    /// free with their pages (guarded ones first, then stacks of slabs still partly in use, then whole free slabs),
    /// the rest go back to the kernel in address order, one call per run of adjacent stacks or wholly free slabs
    /// (see "Bulk release"). Returns once they are back. Any thread.
    public func release(contentsOf stacks: [FiberStack]) {
        beginRelease(contentsOf: stacks).wait()
    }

    /// `release(contentsOf:)` that returns before the kernel has the memory back: the pool's records are updated
    /// (under the mutex) before it returns, the kernel calls run on two threads of their own for a large batch
    /// (inline, before it returns, for a small one), and the caller must `wait()` on the result, which joins them.
    /// Any thread; `Scheduler.shutdown` calls it with every dropped fiber's stack and frees the task records meanwhile.
    public func beginRelease(contentsOf stacks: [FiberStack]) -> PendingRelease {
        guard !stacks.isEmpty else { return PendingRelease(threads: []) }
        // The ranges to unmap are taken out of the pool's records under the mutex and unmapped after it: the kernel's
        // freeing of their pages (~0.4 s for a million touched stacks) must not hold up another scheduler's carrier
        // refilling its cache — the next preset starts before the old one stops.
        var ranges: [(UnsafeMutableRawPointer, Int)] = []
        locked {
            counters.inUse -= stacks.count
            var unmap: [FiberStack] = []  // guarded, past the cache
            // Guarded stacks fill the cache first; the slab stacks are read from `stacks` again after them (a
            // million of them copied into an array of their own cost its growth and its page faults). The free list
            // of one size is taken out while its stacks come (one dictionary look-up per size change, not two per
            // stack).
            var size = -1
            var list: [FiberStack] = []
            for s in stacks where s.isGuarded {
                if s.size != size {
                    if size >= 0 { freeLists[size] = list }
                    size = s.size
                    list = freeLists.removeValue(forKey: size) ?? []
                }
                if list.count < maxCachedStacks { list.append(s) } else { unmap.append(s) }
            }
            if size >= 0 { freeLists[size] = list }
            unmap.sort { UInt(bitPattern: $0.mapping) < UInt(bitPattern: $1.mapping) }
            for s in unmap { noteUnmapped(s) }
            unmapRuns(unmap.lazy.map { ($0.mapping, $0.size + FiberStack.pageSize) }, into: &ranges)
            counters.guardedMapped -= unmap.count
            releaseSlabStacksLocked(stacks, unmapping: &ranges)
            trimPendingLocked()
            counters.free = freeLists.values.reduce(0) { $0 + $1.count } + pendingCount
        }
        return ParallelRelease.start(ranges, parallel: stacks.count >= ParallelRelease.minimumStacks)
    }

    /// The kernel calls of a `beginRelease(contentsOf:)` still running. `wait()` once.
    public struct PendingRelease: Sendable {
        let threads: [OSThread]
        /// Returns once every range is unmapped (joins the threads that unmap them).
        public func wait() { for t in threads { t.join() } }
    }

    /// Under the mutex: merges `ranges` (in address order) into runs of adjacent ones, appended to `runs` for one
    /// `munmap` each once the mutex is released; counted.
    private func unmapRuns(
        _ ranges: some Sequence<(UnsafeMutableRawPointer, Int)>, into runs: inout [(UnsafeMutableRawPointer, Int)]
    ) {
        let before = counters.releaseCalls
        let countBefore = runs.count
        var run: (start: UnsafeMutableRawPointer, end: UnsafeMutableRawPointer)? = nil
        for (start, length) in ranges {
            if let r = run, r.end == start {
                run = (r.start, start + length)
                continue
            }
            if let r = run { runs.append((r.start, r.end - r.start)) }
            run = (start, start + length)
        }
        if let r = run { runs.append((r.start, r.end - r.start)) }
        counters.releaseCalls = before + runs.count - countBefore
    }

    /// Under the mutex, for `release(contentsOf:)`: the slab stacks of `taken` (its guarded ones are skipped). A
    /// slab all of whose stacks are free
    /// with them (in this batch, pending or in a free list) is *whole*. Stacks of the other slabs fill the cache
    /// (`maxCachedStacks` per size) and wait in `pendingTrim` past it, for the caller's `trimPendingLocked`; whole
    /// slabs then fill what room is left in the cache, slab by slab (kept mapped, every stack free), and the rest
    /// are forgotten, their runs of adjacent slabs appended to `ranges` (unmapped by the caller after the mutex).
    /// The caller recounts `counters.free`.
    private func releaseSlabStacksLocked(
        _ taken: [FiberStack], unmapping ranges: inout [(UnsafeMutableRawPointer, Int)]
    ) {
        guard !slabs.isEmpty else { return }
        var freeIn = [Int](repeating: 0, count: slabs.count)
        var hint = 0
        /// The index of the recorded slab holding `address`: every slab stack lies in one.
        func slab(_ address: UInt) -> Int {
            guard let i = slabIndex(address, hint: &hint) else {
                preconditionFailure("StackPool.releaseSlabStacksLocked: a slab stack outside every recorded slab")
            }
            return i
        }
        for s in taken where !s.isGuarded { freeIn[slab(UInt(bitPattern: s.mapping))] += 1 }
        for (base, waiting) in pendingTrim { freeIn[slab(base)] += waiting.count }
        for list in freeLists.values {
            for s in list where !s.isGuarded { freeIn[slab(UInt(bitPattern: s.mapping))] += 1 }
        }
        var whole = freeIn.map { $0 == slabStacks }
        // The stacks of whole slabs leave the free lists and `pendingTrim`: they come back below as whole slabs.
        for base in Array(pendingTrim.keys) where whole[slab(base)] {
            pendingCount -= pendingTrim.removeValue(forKey: base)?.count ?? 0
        }
        for size in Array(freeLists.keys) {
            guard let list = freeLists[size], list.contains(where: { !$0.isGuarded }) else { continue }
            freeLists[size] = list.filter { $0.isGuarded || !whole[slab(UInt(bitPattern: $0.mapping))] }
        }
        for s in taken where !s.isGuarded {
            let i = slab(UInt(bitPattern: s.mapping))
            guard !whole[i] else { continue }
            if freeLists[s.size]?.count ?? 0 < maxCachedStacks {
                freeLists[s.size, default: []].append(s)
            } else {
                pendingTrim[slabs[i].base, default: []].append(s)
                pendingCount += 1
            }
        }
        var gone = 0
        for i in slabs.indices where whole[i] {
            let size = slabs[i].length / slabStacks
            if freeLists[size]?.count ?? 0 < maxCachedStacks {
                // A recorded slab's base is a mapping mmap returned: never null.
                let base = UnsafeMutableRawPointer(bitPattern: slabs[i].base)!
                freeLists[size, default: []].append(
                    contentsOf: (0..<slabStacks).map {
                        FiberStack(mapping: base + $0 * size, size: size, isGuarded: false)
                    })
                whole[i] = false
            } else {
                gone += 1
            }
        }
        guard gone > 0 else { return }
        unmapRuns(
            slabs.indices.lazy.filter { whole[$0] }.map { i -> (UnsafeMutableRawPointer, Int) in
                // A recorded slab's base is a mapping mmap returned: never null.
                (UnsafeMutableRawPointer(bitPattern: self.slabs[i].base)!, self.slabs[i].length)
            }, into: &ranges)
        var kept: [(base: UInt, length: Int)] = []
        kept.reserveCapacity(slabs.count - gone)
        for (i, s) in slabs.enumerated() where !whole[i] { kept.append(s) }
        slabs = kept
        counters.slabStacks -= gone * slabStacks
    }

    /// Under the mutex: takes back one stack into the shared list (or unmaps/madvises it).
    private func releaseLocked(_ stack: FiberStack) {
        counters.inUse -= 1
        let cached = freeLists[stack.size]?.count ?? 0
        if cached >= maxCachedStacks {
            if stack.isGuarded {
                noteUnmapped(stack)
                stack.unmapGuarded()
                counters.releaseCalls += 1
                counters.guardedMapped -= 1
                return
            }
            // Slab stack: keep the address range, give the pages back — in batches (`trimPendingLocked`).
            counters.free += 1
            guard let slab = slabOf(stack) else {
                giveBack(stack.mapping, stack.size)  // unreachable: every slab is recorded
                freeLists[stack.size, default: []].append(stack)
                return
            }
            pendingTrim[slab.base, default: []].append(stack)
            pendingCount += 1
            if let waiting = pendingTrim[slab.base], waiting.count * stack.size == slab.length {
                // The whole slab is free: its pages go back in one call.
                if let start = UnsafeMutableRawPointer(bitPattern: slab.base) { giveBack(start, slab.length) }
                freeLists[stack.size, default: []].append(contentsOf: waiting)
                pendingTrim[slab.base] = nil
                pendingCount -= waiting.count
            } else if pendingCount >= StackPool.pendingLimit {
                trimPendingLocked()
            }
            return
        }
        freeLists[stack.size, default: []].append(stack)
        counters.free += 1
    }

    /// Gives back the pages of slab stacks released past `maxCachedStacks` and not trimmed yet (fewer than
    /// slabs not wholly free). Any thread; `Scheduler.shutdown` calls it last.
    public func trimPending() { locked { trimPendingLocked() } }

    /// Pending slab stacks past which the pool trims them all at once.
    static let pendingLimit = 65_536

    /// Under the mutex: the slab `stack` was carved from.
    private func slabOf(_ stack: FiberStack) -> (base: UInt, length: Int)? {
        var hint = 0
        return slabIndex(UInt(bitPattern: stack.mapping), hint: &hint).map { slabs[$0] }
    }

    /// Under the mutex: the index in `slabs` of the slab holding `address`, nil when none does. `hint` is the
    /// previous answer (neighbouring stacks are usually in one slab), checked first and updated.
    private func slabIndex(_ address: UInt, hint: inout Int) -> Int? {
        if hint < slabs.count, slabs[hint].base <= address, address < slabs[hint].base + UInt(slabs[hint].length) {
            return hint
        }
        var lo = 0
        var hi = slabs.count
        while lo < hi {  // the first slab starting above `address`
            let mid = (lo + hi) / 2
            if slabs[mid].base <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0, address < slabs[lo - 1].base + UInt(slabs[lo - 1].length) else { return nil }
        hint = lo - 1
        return lo - 1
    }

    /// Under the mutex: gives back the pages of every pending slab stack, one `madvise(MADV_DONTNEED)` per run of
    /// adjacent stacks — across slabs too: slabs are visited in address order and a wholly pending slab next to the
    /// run extends it — then makes them free stacks. Measured: one call per stack cost a million-fiber shutdown
    /// ~10 s, one per slab 2.4 s, mostly the TLB flush each call makes on every thread of the process
    /// (docs/performance.md, "Parked fibers" and "Session 7"). A pending stack is not in a free list, so none is
    /// handed out before its pages are gone: an acquire that finds its free list empty trims first.
    private func trimPendingLocked() {
        guard pendingCount > 0 else { return }
        var runStart: UnsafeMutableRawPointer? = nil
        var runEnd: UnsafeMutableRawPointer? = nil
        /// Adds `[start, end)` to the current run, or gives the run back and starts a new one.
        func extend(_ start: UnsafeMutableRawPointer, _ end: UnsafeMutableRawPointer) {
            if let s = runStart, let e = runEnd, e == start {
                runStart = s
                runEnd = end
                return
            }
            if let s = runStart, let e = runEnd { giveBack(s, e - s) }
            runStart = start
            runEnd = end
        }
        for base in pendingTrim.keys.sorted() {
            guard let waiting = pendingTrim[base], !waiting.isEmpty else { continue }
            let length = slabOf(waiting[0])?.length ?? 0
            if waiting.count * waiting[0].size == length, let start = UnsafeMutableRawPointer(bitPattern: base) {
                extend(start, start + length)  // the whole slab
            } else {
                let sorted = waiting.sorted { UInt(bitPattern: $0.mapping) < UInt(bitPattern: $1.mapping) }
                for st in sorted { extend(st.mapping, st.mapping + st.size) }
            }
            for st in waiting { freeLists[st.size, default: []].append(st) }
        }
        if let s = runStart, let e = runEnd { giveBack(s, e - s) }
        pendingTrim.removeAll()
        pendingCount = 0
    }

    /// Under the mutex: `madvise(MADV_DONTNEED)` of `[start, start + length)`, counted.
    private func giveBack(_ start: UnsafeMutableRawPointer, _ length: Int) {
        madvise(start, length, MADV_DONTNEED)
        counters.releaseCalls += 1
    }

    /// Under the mutex: records a newly mapped guarded stack.
    private func noteMapped(_ stack: FiberStack) {
        mappedIndex[UInt(bitPattern: stack.bottom)] = mapped.count
        mapped.append(stack)
    }

    /// Under the mutex: forgets a guarded stack about to be unmapped (swap-remove).
    private func noteUnmapped(_ stack: FiberStack) {
        guard let i = mappedIndex.removeValue(forKey: UInt(bitPattern: stack.bottom)) else { return }
        let last = mapped.removeLast()
        if i < mapped.count {
            mapped[i] = last
            mappedIndex[UInt(bitPattern: last.bottom)] = i
        }
    }

    /// Resident pages of the pool's stacks, measured with `mincore(2)` over a random sample of them.
    public struct Residency: Sendable, Equatable {
        /// Stacks mapped now (in use and free).
        public var stacksMapped: Int
        /// Stacks `mincore` measured (a stack unmapped between the pick and the call is skipped).
        public var stacksMeasured: Int
        /// Resident bytes over the measured stacks (usable stack and context slot; guard pages have none).
        public var residentBytes: Int
        /// Mean resident bytes per measured stack; nil when none was measured.
        public var bytesPerStack: Double? {
            stacksMeasured > 0 ? Double(residentBytes) / Double(stacksMeasured) : nil
        }
    }

    /// Picks up to `limit` mapped stacks at random (under the mutex, only if it is free: a sampler never waits
    /// on it, and holds it for copying `limit` descriptors) and measures them with `mincore(2)` after unlocking.
    /// Nil when the mutex was busy. Callable from any thread; cost: `limit` syscalls.
    public func sampleResidency(limit: Int, using rng: inout some RandomNumberGenerator) -> Residency? {
        var picked: [FiberStack] = []
        var total = 0
        let got = tryLocked {
            total = mapped.count + slabs.count * slabStacks
            guard total > 0 else { return }
            /// The `k`th mapped stack: the guarded ones first, then every slab's in address order.
            func stack(_ k: Int) -> FiberStack {
                if k < mapped.count { return mapped[k] }
                let slab = slabs[(k - mapped.count) / slabStacks]
                let size = slab.length / slabStacks
                // A recorded slab's base is a mapping mmap returned: never null.
                let base = UnsafeMutableRawPointer(bitPattern: slab.base)!
                return FiberStack(mapping: base + (k - mapped.count) % slabStacks * size, size: size, isGuarded: false)
            }
            if total <= limit {
                picked = (0..<total).map(stack)
            } else {
                picked.reserveCapacity(limit)
                for _ in 0..<limit { picked.append(stack(Int.random(in: 0..<total, using: &rng))) }
            }
        }
        guard got else { return nil }
        let page = FiberStack.pageSize
        var vec = [UInt8](repeating: 0, count: FiberStack.defaultSize / page)
        var measured = 0
        var resident = 0
        for s in picked {
            let pages = s.size / page
            if vec.count < pages { vec = [UInt8](repeating: 0, count: pages) }
            // mincore on a range unmapped meanwhile fails with ENOMEM: that stack is skipped, never misread.
            let rc = vec.withUnsafeMutableBufferPointer { mincore(s.bottom, s.size, $0.baseAddress) }
            guard rc == 0 else { continue }
            measured += 1
            for i in 0..<pages where vec[i] & 1 != 0 { resident += page }
        }
        return Residency(stacksMapped: total, stacksMeasured: measured, residentBytes: resident)
    }

    /// Runs `body` under the mutex if it is free now; false (body not run) when another thread holds it.
    private func tryLocked(_ body: () -> Void) -> Bool {
        guard pthread_mutex_trylock(mutex) == 0 else { return false }
        defer { pthread_mutex_unlock(mutex) }
        body()
        return true
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    private static func readMaxMapCount() -> Int {
        guard let f = fopen("/proc/sys/vm/max_map_count", "r") else { return 65_530 }
        defer { fclose(f) }
        var value = 0
        var buffer = [CChar](repeating: 0, count: 32)
        let text = buffer.withUnsafeMutableBufferPointer { b -> String in
            fgets(b.baseAddress, Int32(b.count), f) != nil ? String(cString: b.baseAddress!) : ""
        }
        value = Int(text.filter(\.isNumber)) ?? 0
        return value > 0 ? value : 65_530
    }
}

/// The kernel side of a bulk release (`StackPool.beginRelease(contentsOf:)`, "Bulk release"): ranges no longer in
/// the pool's records, each unmapped once. Touches no pool state.
enum ParallelRelease {
    /// Stacks in a batch from which its ranges are unmapped on two threads of their own (below it, inline: starting
    /// the threads costs more than a small batch's pages).
    static let minimumStacks = 16_384
    /// Threads a large batch is split across.
    static let threads = 2

    /// Unmaps `ranges` inline (not `parallel`, or when no thread can be had) or on `threads` new threads, each given
    /// a share of about equal bytes; returns the threads to join.
    static func start(_ ranges: [(UnsafeMutableRawPointer, Int)], parallel: Bool) -> StackPool.PendingRelease {
        guard parallel, ranges.count > 0 else {
            for (start, length) in ranges { munmap(start, length) }
            return StackPool.PendingRelease(threads: [])
        }
        var started: [OSThread] = []
        var left: [(UnsafeMutableRawPointer, Int)] = []
        for share in split(ranges, into: threads) {
            let owned = Share(ranges: share)
            // A refused thread's share is done inline below: the memory goes back either way.
            guard let t = try? OSThread.start(name: "qv-stack-free", { giveBack(owned.ranges) }) else {
                left += share
                continue
            }
            started.append(t)
        }
        giveBack(left)
        return StackPool.PendingRelease(threads: started)
    }

    /// One thread's share of the ranges.
    struct Share: @unchecked Sendable {
        // @unchecked Sendable: address ranges that no pool record names any more; the one thread given the share is
        // the only one that touches them.
        let ranges: [(UnsafeMutableRawPointer, Int)]
    }

    /// Frees the pages of `ranges`, then unmaps them: `madvise(MADV_DONTNEED)` frees pages under the read side of
    /// the mmap lock, so two threads free theirs at once; the `munmap` after it (write side) then finds no pages.
    static func giveBack(_ ranges: [(UnsafeMutableRawPointer, Int)]) {
        for (start, length) in ranges { madvise(start, length, MADV_DONTNEED) }
        for (start, length) in ranges { munmap(start, length) }
    }

    /// `ranges` (page-aligned, in address order) cut into `n` shares of about equal bytes, a range cut at a page
    /// boundary where a share ends inside it.
    static func split(_ ranges: [(UnsafeMutableRawPointer, Int)], into n: Int) -> [[(UnsafeMutableRawPointer, Int)]] {
        let total = ranges.reduce(0) { $0 + $1.1 }
        let page = FiberStack.pageSize
        let target = max(page, (total / max(1, n) + page - 1) / page * page)
        var shares: [[(UnsafeMutableRawPointer, Int)]] = [[]]
        var room = target
        for (start, length) in ranges {
            var at = start
            var rest = length
            while rest > 0 {
                if room == 0 && shares.count < n {
                    shares.append([])
                    room = target
                }
                let take = shares.count < n ? min(rest, room) : rest
                shares[shares.count - 1].append((at, take))
                at += take
                rest -= take
                room -= min(room, take)
            }
        }
        return shares.filter { !$0.isEmpty }
    }
}
