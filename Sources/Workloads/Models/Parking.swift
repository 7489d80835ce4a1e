// Parking: a workload shape that parks many tasks and keeps them parked, so the memory panel can show what
// one parked task costs (issue 15, "Memory per parked task, live").
//
// # The shape
//
// `park = { count = 10000, on = "sleep" }` in a preset: the model parks `count` tasks, each with its own sync
// or async body, and leaves them parked until the preset stops. `on = "sleep"` parks on a timer (one hour at a
// time); `on = "socket"` parks in a `read` on the client end of a loopback TCP connection the server end of
// which never writes (two descriptors per task). What differs between models is only the body: a fiber parks
// (`Scheduler.sleep`, `Scheduler.read`), an OS thread blocks in the kernel. What is shared is here: the limits
// (`ParkBudget`), the loopback pairs (`ParkedSockets`) and the progress the sampler shows (`ParkProgress`).
//
// # Limits: a banner, never a crash
//
// Past a system limit a preset stops parking and says which limit, in one line (`ParkProgress.limit`, drawn
// as a banner). Each limit is found where it is cheapest to find before it bites:
// - descriptors: `socket(2)` / `accept(2)` fail with EMFILE or ENFILE (the soft RLIMIT_NOFILE is raised to the
//   hard one first, `ParkedSockets.raiseDescriptorLimit`);
// - address space and memory: `ParkBudget.check` before every batch of `ParkBudget.batch` tasks: the address
//   space a task reserves (its stack mapping) against the soft RLIMIT_AS, and the memory it touches against
//   MemAvailable, each with a reserve kept free. Should the kernel refuse a stack all the same, the scheduler does
//   not start that fiber and reports it (`Scheduler.stackRefusal`): the parker stops at it and the fiber model
//   shows it as the limit;
// - threads (the threads model): its own check of RLIMIT_NPROC and `kernel.threads-max` goes through the same
//   `ParkProgress.stop(limit:)`.
//
// Rejected: a fallible `Scheduler.spawn` that reports a refused stack mapping. The stack is mapped by the
// carrier when the fiber first runs, far from the spawner, so the refusal is reported by the scheduler instead
// (Scheduler+Stacks.swift); the budget keeps it rare, as the process may by then be short of memory.

import Foundation
import Runtime
import Synchronization
import Telemetry

/// What a parked task waits on.
public enum ParkWait: String, Sendable, Equatable, CaseIterable {
    /// A timer (one hour at a time, until the preset stops).
    case sleep
    /// A `read` on a loopback TCP connection that is never written to.
    case socket
}

/// `park = { count = N, on = "sleep" | "socket" }`: tasks parked for the whole run.
public struct ParkSpec: Sendable, Equatable {
    public var count: Int
    public var on: ParkWait
    /// The largest `count` a preset may ask for.
    public static let maxCount = 1_000_000

    public init(count: Int, on: ParkWait) {
        self.count = count
        self.on = on
    }
}

/// How far parking got, and the limit that stopped it. Written by the parker, read by the sampler; any thread.
final class ParkProgress: Sendable {
    let target: Int
    // relaxed: a gauge the sampler reads; nothing is published through it.
    private let started = Atomic<Int>(0)
    // protected by its lock: set once, by the parker, when a limit stopped it.
    private let limitText = Mutex<String?>(nil)

    init(target: Int) { self.target = target }

    /// Tasks set up to park so far.
    var count: Int { started.load(ordering: .relaxed) }
    func add(_ n: Int) { started.add(n, ordering: .relaxed) }

    /// The limit that stopped parking, if any.
    var limit: String? { limitText.withLock { $0 } }
    func stop(limit: String) { limitText.withLock { if $0 == nil { $0 = limit } } }

    /// A limit's banner text: what refused, and how many tasks had parked before it.
    static func text(_ what: String, parked: Int) -> String { "\(what) after \(parked) parked tasks" }
}

/// The body of a fiber parked on a timer (`on = "sleep"`): hour-long sleeps until the scheduler's shutdown drops it.
/// A plain function, so the closure made of it captures nothing and has no context: a parked fiber's frame holds
/// its body's context for as long as it is parked, and a dropped fiber never releases it (its frames never
/// return), so a capturing body leaked one 32-byte context per fiber at every teardown — and, interleaved with the
/// task records in the heap, kept every page of them from going back to the kernel (~190 MB after a million).
enum ParkedFiber {
    static func sleepUntilDropped() {
        while true { Scheduler.sleep(nanoseconds: 3_600_000_000_000) }  // parks the fiber
    }
}

/// The address-space and memory check made before each batch of parked tasks.
struct ParkBudget: Sendable {
    /// Tasks parked between two checks.
    static let batch = 1024
    /// Address space kept free under RLIMIT_AS, bytes (thread stacks, heap growth, the UI).
    static let addressReserve: UInt64 = 512 << 20
    /// Memory kept free under MemAvailable, bytes.
    static let memoryReserve: UInt64 = 1 << 30

    /// Address space one task reserves (a fiber: its stack mapping and guard page), bytes.
    var reservedPerTask: UInt64
    /// Memory one task is expected to touch at most, bytes (a fiber: a few stack pages, its record, its timer).
    var touchedPerTask: UInt64
    /// The soft RLIMIT_AS (nil: unlimited), current address space, and MemAvailable: injected by tests.
    var addressLimit: @Sendable () -> UInt64? = ParkBudget.softAddressLimit
    var addressUsed: @Sendable () -> UInt64? = { ProcessMemory.statm()?.size }
    var memoryAvailable: @Sendable () -> UInt64? = ProcessMemory.memAvailable

    /// Nil when another `batch` tasks fit; else the limit they would cross, in one line.
    func check(parked: Int) -> String? {
        let n = UInt64(ParkBudget.batch)
        if let limit = addressLimit(), let used = addressUsed() {
            if used + n * reservedPerTask + ParkBudget.addressReserve > limit {
                return ParkProgress.text("address space: RLIMIT_AS \(ByteCount.text(limit)) reached", parked: parked)
            }
        }
        if let available = memoryAvailable(), available < n * touchedPerTask + ParkBudget.memoryReserve {
            return ParkProgress.text("memory: \(ByteCount.text(available)) available (MemAvailable)", parked: parked)
        }
        return nil
    }

    static func softAddressLimit() -> UInt64? {
        var l = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &l) == 0, l.rlim_cur != rlim_t.max else {
            return nil
        }
        return UInt64(l.rlim_cur)
    }
}

/// Loopback TCP connections whose server end never writes: a task parks reading its client end. Owned by one
/// model: the parker opens pairs (`openPair`, one thread or fiber at a time), `close()` after the runtime has
/// shut down closes every descriptor.
final class ParkedSockets: Sendable {
    let listener: Int32
    let port: UInt16
    // protected by its lock: every descriptor opened and not closed (client and server ends). A `SpinLock`: the
    // parker may be a fiber (docs/ARCHITECTURE.md, "Fiber code and thread identity").
    private let fds = SpinLock<[Int32]>([])

    /// Why a pair could not be opened.
    struct Failure: Error, Sendable {
        /// One line for the banner or the error.
        var message: String
        /// True when a descriptor limit was hit (EMFILE / ENFILE): stop parking, show the banner.
        var isLimit: Bool
    }

    init() throws(ModelError) {
        Self.raiseDescriptorLimit()
        (listener, port) = try LoopbackServer.listen(
            who: "parked sockets", backlog: 1024, nonBlocking: false, reuseAddress: false)
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit (two descriptors per parked connection). Process-wide.
    static func raiseDescriptorLimit() {
        var l = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &l) == 0, l.rlim_cur < l.rlim_max else { return }
        l.rlim_cur = l.rlim_max
        _ = setrlimit(resource, &l)
    }

    /// The soft RLIMIT_NOFILE now.
    static var descriptorLimit: Int {
        var l = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l) == 0 else { return -1 }
        return l.rlim_cur == rlim_t.max ? Int.max : Int(l.rlim_cur)
    }

    /// Opens one connection: a blocking connect to the listener (loopback: done at once, the backlog holds it),
    /// the accept, then the client end made non-blocking. Returns the client end. A few microseconds of
    /// blocking calls: fine on a carrier, for a parker that runs once.
    /// `openPair()` for a parker: the client end, or nil once parking has stopped on the failure (a descriptor
    /// limit is the banner "… after N parked tasks"; any other failure its own line). The parker's thread or fiber.
    func openPair(orStop progress: ParkProgress, parked: Int) -> Int32? {
        do throws(Failure) {
            return try openPair()
        } catch {
            progress.stop(limit: error.isLimit ? ParkProgress.text(error.message, parked: parked) : error.message)
            return nil
        }
    }

    func openPair() throws(Failure) -> Int32 {
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard c >= 0 else { throw Self.failure("socket", errno) }
        var addr = LoopbackServer.address(port: port)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(c, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard r == 0 else {
            let e = errno
            Glibc.close(c)
            throw Self.failure("connect", e)
        }
        let s = accept(listener, nil, nil)
        guard s >= 0 else {
            let e = errno
            Glibc.close(c)
            throw Self.failure("accept", e)
        }
        _ = fcntl(s, F_SETFD, FD_CLOEXEC)
        _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
        fds.withLock { $0.append(contentsOf: [c, s]) }
        return c
    }

    static func failure(_ op: String, _ e: Int32) -> Failure {
        if e == EMFILE || e == ENFILE {
            let which = e == EMFILE ? "RLIMIT_NOFILE \(descriptorLimit)" : "the system's file table (ENFILE)"
            return Failure(message: "file descriptors: \(which) reached (\(op); two per connection)", isLimit: true)
        }
        return Failure(message: "parked sockets: \(op) failed, errno \(e)", isLimit: false)
    }

    /// Closes every descriptor (both ends) and the listener. After the runtime has shut down; once. Abortive
    /// closes (`SO_LINGER` 0: a reset, no FIN handshake and no TIME_WAIT per connection), so that tearing down
    /// ten thousand connections fits the preset switch's second.
    func close() {
        for fd in fds.withLock({ f -> [Int32] in
            defer { f.removeAll() }
            return f
        }) {
            LoopbackServer.resetOnClose(fd)
            Glibc.close(fd)
        }
        Glibc.close(listener)
    }
}
