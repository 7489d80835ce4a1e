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

import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The first signal of the terminating set received, 0 for none. Written by the handler, read by the UI thread.
/// Relaxed ordering would do (nothing else is published with it), but signals are rare: sequentially consistent.
private let pendingSignal = Atomic<Int32>(0)

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

    /// The first terminating signal received so far, if any.
    public static var pending: Int32? {
        let s = pendingSignal.load(ordering: .sequentiallyConsistent)
        return s == 0 ? nil : s
    }
}
