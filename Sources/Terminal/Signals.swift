// Signals: SIGINT, SIGTERM, SIGHUP end qvtop with the terminal restored.
//
// The handler only records the signal number in an atomic flag; the UI thread sees the flag at
// its next wake-up, restores the terminal (`endwin`, which is not async-signal-safe and so can
// never run in a handler) and exits with 128 + the signal (130, 143, 129).
//
// Which thread gets a process-directed signal is up to the kernel, among threads that do not
// block it. So `blockInThisThread()` runs on the main thread before any other thread exists
// (threads inherit the mask), and only the UI thread unblocks the set: every signal of the set
// lands on the UI thread, where it also interrupts the wait for a key (handlers are installed
// without SA_RESTART). SIGWINCH (ncurses' resize handler) and SIGTSTP (ncurses' suspend handler)
// are in the set for the same reason: ncurses' handlers must run on the thread that draws.

@preconcurrency import CCurses
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The first signal of the terminating set received, 0 for none. Written by the handler, read by the UI thread.
/// Relaxed ordering would do (nothing else is published with it), but signals are rare: sequentially consistent.
private let pendingSignal = Atomic<Int32>(0)

/// The crash handlers in place before ours, one per `Signals.crashes` entry: allocated and initialised
/// once (before any of our handlers exists), never freed, so a handler only reads plain memory.
// nonisolated(unsafe): written by `restoreTerminalOnCrash` (UI thread) before our handlers are installed,
// then only read: by `restoreCrashHandlers` (UI thread) and by a crash handler, which runs at most once.
nonisolated(unsafe) private let previousCrashActions: UnsafeMutablePointer<sigaction> = {
    let p = UnsafeMutablePointer<sigaction>.allocate(capacity: Signals.crashes.count)
    p.initialize(repeating: sigaction(), count: Signals.crashes.count)
    return p
}()

public enum Signals {
    /// Signals that end qvtop.
    public static let terminating: [Int32] = [SIGINT, SIGTERM, SIGHUP]
    /// Signals delivered only to the UI thread.
    static let uiOnly: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGWINCH, SIGTSTP]

    private static func set() -> sigset_t {
        var s = sigset_t()
        sigemptyset(&s)
        for sig in uiOnly { sigaddset(&s, sig) }
        return s
    }

    /// Blocks the UI signals in the calling thread and in every thread it creates from now on.
    /// Call first thing on the main thread, before any runtime or sampler thread starts.
    public static func blockInThisThread() {
        var s = set()
        pthread_sigmask(SIG_BLOCK, &s, nil)
    }

    /// Runs `body` with the UI signals blocked in the calling (UI) thread, so threads that `body` starts
    /// (a new runtime on a preset switch) inherit the blocked mask like every thread the main thread
    /// started. Signals that arrive meanwhile stay pending and are delivered when `body` returns.
    public static func whileBlocked<R>(_ body: () throws -> R) rethrows -> R {
        var s = set()
        var old = sigset_t()
        pthread_sigmask(SIG_BLOCK, &s, &old)
        defer { pthread_sigmask(SIG_SETMASK, &old, nil) }
        return try body()
    }

    /// Installs the flag-setting handlers for SIGINT, SIGTERM, SIGHUP and unblocks the UI signals in the
    /// calling thread. Call on the UI thread before the terminal opens (so ncurses keeps our handlers).
    public static func takeOverInThisThread() {
        _ = pendingSignal.load(ordering: .sequentiallyConsistent)  // initialise the global outside any handler
        for sig in terminating {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                _ = pendingSignal.compareExchange(expected: 0, desired: sig, ordering: .sequentiallyConsistent)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0  // no SA_RESTART: a blocking read returns, and the loop sees the flag
            sigaction(sig, &action, nil)
        }
        var s = set()
        pthread_sigmask(SIG_UNBLOCK, &s, nil)
    }

    /// True while our crash handlers are installed. UI thread only.
    nonisolated(unsafe) private static var crashHandlersInstalled = false

    /// Signals of a crash (a Swift trap is SIGILL or SIGTRAP, a bad access SIGSEGV/SIGBUS, abort() SIGABRT).
    static let crashes: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGABRT, SIGFPE]

    /// Restores the terminal when the process crashes, on any thread: the handler calls `endwin`, puts the
    /// previous handler back (Swift's backtracer, or the default action) and lets the signal take its course
    /// — a fault re-executes and faults again, a signal sent by `kill` is raised again. Best effort by
    /// nature (`endwin` is not async-signal-safe), as in htop's SIGSEGV handler. Call on the UI thread
    /// once the terminal is open; `restoreCrashHandlers` undoes it before the terminal closes.
    public static func restoreTerminalOnCrash() {
        guard !crashHandlersInstalled else { return }  // a second install would save our own handler as "previous"
        crashHandlersInstalled = true
        for (i, sig) in crashes.enumerated() {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = { sig, info, _ in
                qv_crash_restore()
                if let i = Signals.crashes.firstIndex(of: sig) { sigaction(sig, previousCrashActions + i, nil) }
                // si_code <= 0: sent by kill/raise/tgkill, nothing re-faults; deliver it again once we return.
                if let info, info.pointee.si_code <= 0 { raise(sig) }
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_SIGINFO | SA_ONSTACK
            sigaction(sig, &action, previousCrashActions + i)
        }
    }

    /// Puts back the crash handlers that were there before `restoreTerminalOnCrash`.
    public static func restoreCrashHandlers() {
        guard crashHandlersInstalled else { return }
        crashHandlersInstalled = false
        for (i, sig) in crashes.enumerated() {
            sigaction(sig, previousCrashActions + i, nil)
        }
    }

    /// The first terminating signal received so far, if any.
    public static var pending: Int32? {
        let s = pendingSignal.load(ordering: .sequentiallyConsistent)
        return s == 0 ? nil : s
    }
}
