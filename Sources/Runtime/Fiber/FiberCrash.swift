// FiberCrash: a crash on a fiber names the fiber, and a stack overflow can be reported at all.
//
// Each carrier thread gets an alternate signal stack when it starts (`prepareCarrierThread`, from
// `carrierMain`; C side in altstack.c): a fiber that overflows faults in the guard page below its stack,
// and without an alternate stack the kernel cannot deliver SIGSEGV to any handler — the process dies
// without restoring the terminal. `FiberCrashReport.install()` adds a SIGSEGV/SIGBUS handler (on that
// stack) that writes one line naming the running fiber and whether the fault hit its guard page, then
// lets the signal go on to the handler installed before it (Swift's backtracer, or the default action).
// Installing it is the executable's choice (qvtop does at start-up); the library installs no handler
// by itself.
//
// The line is built in a buffer on the signal stack and written with write(2): no allocation, no lock.
// Reading the fiber's name takes its label's reference (an atomic increment), which is safe unless the
// crash hit inside the refcounting itself — best effort, as every crash report is.
import CRuntime
import Glibc

public enum FiberCrashReport {
    /// Installs the crash report (once per process). Call on the main thread before handlers that should
    /// run first and chain to it (qvtop's terminal restore installs later, so it runs first).
    public static func install() {
        _ = qv_fiber_crash_install { sig, addr in FiberCrashReport.describe(signal: sig, address: addr) }
    }

    /// Gives the calling carrier thread its alternate signal stack. Called first thing in `carrierMain`.
    static func prepareCarrierThread() {
        _ = qv_altstack_install()
    }

    /// Writes the crash line for the fiber running on this thread, if any. Runs inside the signal handler.
    static func describe(signal: Int32, address: UnsafeMutableRawPointer?) {
        guard let task = Scheduler.currentTask else { return }
        var line = CrashLine()
        line.append("Runtime: fiber \"")
        line.append(task.name)
        line.append("\"")
        let kind = task.kind
        if !kind.isEmpty {
            line.append(" (kind ")
            line.append(kind)
            line.append(")")
        }
        let addr = UInt(bitPattern: address)
        if let stack = task.stack, stack.isGuarded, addr >= UInt(bitPattern: stack.mapping),
            addr < UInt(bitPattern: stack.bottom)
        {
            line.append(" overflowed its ")
            line.appendDecimal(UInt(stack.size / 1024))
            line.append(" KiB stack (fault at ")
            line.appendHex(addr)
            line.append(", its guard page)\n")
        } else {
            line.append(signal == SIGBUS ? " crashed: SIGBUS at " : " crashed: SIGSEGV at ")
            line.appendHex(addr)
            line.append("\n")
        }
        line.write()
    }
}

/// A fixed buffer for one line, filled without allocating (it lives on the signal stack).
private struct CrashLine {
    // 128 bytes; longer lines are cut.
    private var bytes:
        (
            UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
            UInt64, UInt64, UInt64
        ) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    private var count = 0

    mutating func append(byte: UInt8) {
        let at = count
        guard at < MemoryLayout.size(ofValue: bytes) else { return }
        withUnsafeMutableBytes(of: &bytes) { $0[at] = byte }
        count = at + 1
    }

    mutating func append(_ text: String) {
        for b in text.utf8 { append(byte: b) }
    }

    mutating func appendHex(_ value: UInt) {
        append("0x")
        var started = false
        for shift in stride(from: UInt.bitWidth - 4, through: 0, by: -4) {
            let digit = UInt8((value >> UInt(shift)) & 0xF)
            if digit != 0 || started || shift == 0 {
                started = true
                append(byte: digit < 10 ? 48 + digit : 87 + digit)
            }
        }
    }

    mutating func appendDecimal(_ value: UInt) {
        if value >= 10 { appendDecimal(value / 10) }
        append(byte: 48 + UInt8(value % 10))
    }

    /// Writes the line; a line cut at the capacity still ends with a newline.
    mutating func write() {
        let n = count
        if n == MemoryLayout.size(ofValue: bytes) { withUnsafeMutableBytes(of: &bytes) { $0[n - 1] = 10 } }
        withUnsafeMutableBytes(of: &bytes) { qv_write_stderr($0.baseAddress!.assumingMemoryBound(to: CChar.self), n) }
    }
}
