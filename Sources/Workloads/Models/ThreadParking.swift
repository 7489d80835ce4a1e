// ThreadParking: the threads model's `park` — every parked task an OS thread of its own, blocked in the kernel
// for the whole run, so the memory panel can set what one parked thread costs beside what one parked fiber
// costs (issue 15, "Memory per parked task, live"; the shared parts — limits, loopback pairs, progress — are in
// Parking.swift).
//
// # The shape
//
// One parker thread (`qv-parker`) starts `park.count` threads through the model's `ThreadTable` (so each one
// has a slot: its state is drawn in the Worker Threadpool, counted in `alive` and `created`, and a refusal is
// counted as the model counts every refusal). Each parked thread runs one body until the model stops:
// - `on = "sleep"`: `Blocking.sleep` an hour at a time (state `sleep`: a `ppoll` on the model's stop signal);
// - `on = "socket"`: `Blocking.wait(.read)` around a `poll(2)` for input on the client end of its own loopback
//   connection (`ParkedSockets.openPair`), which the server end never writes (state `read`).
// Threads get the default stack size (RLIMIT_STACK's, as `pthread_create` with no attributes gives): the cost
// on screen is that of a thread as everyone starts one.
//
// # Limits: a banner, never a crash
//
// Before every `ParkBudget.batch` threads the budget (address space: the default stack mapping and its guard
// per thread; memory available) is checked; a descriptor limit comes back from `openPair`; a refused thread
// (`pthread_create` failing, EAGAIN at RLIMIT_NPROC or `kernel.threads-max`) comes back from the table. Each
// stops parking through `ParkProgress.stop(limit:)`, the memory panel's banner; a refused thread is also the
// Worker Threadpool's own `pthread_create failed` banner.
//
// # Teardown (the model's `stop()`, within 1 s)
//
// The stop signal wakes every sleeper at once; the parker sees it between two threads and returns; `stop`
// joins the parker, then `shutDown` shuts every parked connection's client end down (`shutdown(2)`: a `poll`
// for input returns at once, also one that has not begun yet), and the table joins every thread. The
// descriptors are closed last (`ParkedSockets.close`), once no thread can be reading them.
//
// Ownership: `start` by the model's `start()`; the parker's loop on its own thread; `stop` once by the model's
// `stop()`, after the spawn gate is closed. `clients` is written by the parker and read by `stop` after the
// parker has been joined.
//
// Rejected: blocking `read(2)` on a blocking socket, woken by `shutdown` — the same wake, but `openPair` hands
// out non-blocking client ends (the fibers' readers need them) and a second flavour of pair would be a second
// home for the loopback setup; `pthread_cancel` for teardown (unwinding Swift frames is undefined); parked
// threads outside the slot table (the threads figures would then hide ten thousand threads).

import Foundation
import Runtime
import Synchronization
import Telemetry

/// The parked threads of one threads model (see the essay at the top of this file).
final class ThreadParker: Sendable {
    let progress: ParkProgress
    let sockets: ParkedSockets?
    // protected by its lock: the parker thread, set by `start`, taken by `stop`.
    private let parker = Mutex<OSThread?>(nil)
    // protected by its lock: parked client ends, appended by the parker, shut down by `stop` after the join.
    private let clients = Mutex<[Int32]>([])

    /// The largest `park.count` of a threads preset: each parked thread has a slot the sampler reads every frame.
    static let maxCount = 50_000

    /// Opens the loopback listener for `on = "socket"`. Called by the model's `start()`.
    init(_ park: ParkSpec, progress: ParkProgress) throws(ModelError) {
        self.progress = progress
        sockets = park.on == .socket ? try ParkedSockets() : nil
    }

    /// The default stack size of a new thread (RLIMIT_STACK's soft value; glibc's 8 MiB when unlimited), bytes.
    static var defaultStackSize: UInt64 {
        var attr = pthread_attr_t()
        var size = 0
        guard pthread_attr_init(&attr) == 0 else { return 8 << 20 }
        defer { pthread_attr_destroy(&attr) }
        guard pthread_attr_getstacksize(&attr, &size) == 0, size > 0 else { return 8 << 20 }
        return UInt64(size)
    }

    /// Starts the parker thread: `park.count` threads through `launch` (the model's table, inside its spawn gate;
    /// false when refused), each bound to `signal`. False when the parker thread itself could not start.
    func start(
        _ park: ParkSpec, signal: StopSignal, table: ThreadTable,
        launch: @escaping @Sendable (@escaping @Sendable () -> Void) -> Bool?
    ) -> Bool {
        let page = UInt64(FiberStack.pageSize)
        let budget = ParkBudget(
            reservedPerTask: Self.defaultStackSize + page,  // the stack mapping and its guard page
            touchedPerTask: 64 << 10)  // a few stack pages, TLS and the thread's descriptor, the kernel's stack
        let body: @Sendable () -> Void = { [self] in
            var n = 0
            while n < park.count && !signal.isSet {
                if n % ParkBudget.batch == 0, let limit = budget.check(parked: n) {
                    return progress.stop(limit: limit)
                }
                let parked: @Sendable () -> Void
                switch park.on {
                case .sleep:
                    parked = {
                        while !signal.isSet { Blocking.sleep(nanoseconds: 3_600_000_000_000) }  // blocks the thread
                    }
                case .socket:
                    guard let sockets else { return }
                    guard let fd = sockets.openPair(orStop: progress, parked: n) else { return }
                    clients.withLock { $0.append(fd) }
                    parked = { Blocking.wait(.read) { Self.waitReadable(fd) } }
                }
                let failedBefore = table.createFailed.load(ordering: .relaxed)
                guard let started = launch(parked) else { return }  // the gate is closed: the model stops
                guard started else {
                    return progress.stop(limit: Self.refusal(table, failedBefore: failedBefore, parked: n))
                }
                n += 1
                progress.add(1)
            }
        }
        do throws(OSThread.StartError) {
            let t = try OSThread.start(name: "qv-parker", body)
            parker.withLock { $0 = t }
            return true
        } catch {
            progress.stop(limit: "threads: the parker thread could not start (\(error))")
            return false
        }
    }

    /// The banner's line for a thread the table did not start.
    static func refusal(_ table: ThreadTable, failedBefore: UInt64, parked: Int) -> String {
        guard table.createFailed.load(ordering: .relaxed) > failedBefore else {
            return ParkProgress.text("threads: all \(table.slots.count) slots taken", parked: parked)
        }
        let code = table.lastCreateError.load(ordering: .relaxed)
        let name = code == EAGAIN ? "EAGAIN" : "error \(code)"
        let what =
            "threads: pthread_create refused a thread (\(name); RLIMIT_NPROC \(Self.processLimit), "
            + "kernel.threads-max \(Self.threadsMax))"
        return ParkProgress.text(what, parked: parked)
    }

    /// The soft RLIMIT_NPROC as text ("unlimited" when so).
    static var processLimit: String {
        var l = rlimit()
        guard getrlimit(__rlimit_resource_t(__RLIMIT_NPROC.rawValue), &l) == 0 else { return "n/a" }
        return l.rlim_cur == rlim_t.max ? "unlimited" : "\(l.rlim_cur)"
    }

    /// `kernel.threads-max` as text.
    static var threadsMax: String {
        ProcessMemory.readSmall("/proc/sys/kernel/threads-max")?.trimmingCharacters(in: .whitespacesAndNewlines)
            ?? "n/a"
    }

    /// Blocks the calling thread until `fd` has input, a hang-up or an error (EINTR restarts).
    static func waitReadable(_ fd: Int32) {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&p, 1, -1) < 0 && errno == EINTR {}
    }

    /// The model's `stop()`, after its stop signal is set and its spawn gate closed, before the table joins its
    /// threads: joins the parker, then wakes every parked reader (their client ends shut down).
    func stop() {
        parker.withLock { t -> OSThread? in
            defer { t = nil }
            return t
        }?.join()
        for fd in clients.withLock({ $0 }) { _ = shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// After every thread has been joined: closes the parked connections and the listener.
    func close() { sockets?.close() }
}
