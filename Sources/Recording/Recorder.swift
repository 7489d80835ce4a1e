// Recorder: writes a session to a file without ever blocking the runtime or the UI.
//
// The caller (the UI thread, or a headless run loop) hands values to `append`, `presetSwitch`
// and `bookmark`; those take a short lock, push onto a bounded queue, and return. When the
// queue is full a snapshot is dropped and counted (tokio-console's rule: telemetry never
// blocks what it observes): the newest queued one gives way to the new one, which carries its
// events along, so the file keeps the latest state and every event. One background writer thread drains the queue, encodes (the
// encoder's delta state and string table live on that thread only) and writes with plain
// `write(2)` at least every `flushInterval` (default 0.25 s). Data in the kernel survives a
// SIGKILL of the process, so a killed session replays up to its last flush. (No fsync: power
// loss is not in scope and fsync on a busy disk can take seconds.)
//
// A write error (ENOSPC on /dev/full, EIO, a pulled disk) stops recording: the writer closes
// the file and publishes `.failed(error)` in `status`, which the UI shows as a banner; later
// appends are ignored. An existing file is never replaced unless `force` is set
// (O_EXCL otherwise).
//
// Ownership: `shared` (queue, status, stop flag) is protected by its lock; `fd` and the
// encoder are used only by the writer thread after `init` returns.
import Dispatch
import Foundation
import Telemetry

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why recording could not start or had to stop. `description` is one line for a banner.
public enum RecordingWriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file exists and `force` was not set.
    case fileExists(path: String)
    /// open(2) failed.
    case cannotCreate(path: String, reason: String)
    /// write(2) failed; recording stopped.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileExists(let path): "\(path) exists; use --force to overwrite it"
        case .cannotCreate(let path, let reason): "cannot create \(path): \(reason)"
        case .writeFailed(let path, let reason): "recording stopped: writing \(path) failed: \(reason)"
        }
    }
}

/// What the UI shows for a recording in progress: REC marker, file, size, drops, banner.
public struct RecorderStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case recording
        /// Stopped cleanly; the file is complete.
        case stopped
        /// Stopped by a write error; the file holds everything written before it.
        case failed(RecordingWriteError)
    }

    public var path: String
    public var state: State
    /// Bytes in the file so far.
    public var bytesWritten: Int
    /// Snapshots encoded (written or about to be, within one flush interval).
    public var framesWritten: UInt64
    /// Snapshots dropped because the queue was full (their events ride on the next frame).
    public var framesDropped: UInt64
    /// Events lost with dropped frames (only when far too many piled up).
    public var eventsDropped: UInt64 = 0
    /// Items waiting for the writer.
    public var queued: Int

    public var isRecording: Bool { state == .recording }
}

/// Records a session to a file (see the essay at the top of this file). Share it freely: every
/// method may be called from any thread. Dropping the last reference stops recording (the
/// writer finishes the file in the background).
public final class Recorder: Sendable {
    private let core: RecorderCore

    /// Creates the file (never replacing one unless `force`) and starts the writer thread.
    /// Throws only if the file cannot be created; write errors, even on the header, come later
    /// as `status.state == .failed`. `flushInterval` is clamped to 0.01…1 s.
    public init(
        path: String, metadata: RecordingMetadata, force: Bool = false, capacity: Int = 256,
        flushInterval: Double = 0.25
    ) throws(RecordingWriteError) {
        core = try RecorderCore(
            path: path, metadata: metadata, force: force, capacity: capacity, flushInterval: flushInterval)
        core.startWriter()
    }

    /// `startWriter: false` is for tests: the queue fills until `startWriter()` is called.
    init(
        path: String, metadata: RecordingMetadata, force: Bool, capacity: Int, flushInterval: Double,
        startWriter: Bool
    ) throws(RecordingWriteError) {
        core = try RecorderCore(
            path: path, metadata: metadata, force: force, capacity: capacity, flushInterval: flushInterval)
        if startWriter { core.startWriter() }
    }

    deinit { core.requestStop() }

    func startWriter() { core.startWriter() }

    public var path: String { core.path }

    /// Queues a snapshot. Never blocks beyond a short lock. When the queue is full the newest
    /// queued snapshot is dropped (counted) and this one takes its place with its events, so no
    /// event is lost. Returns false when recording has stopped (or nothing could take the place).
    @discardableResult
    public func append(_ snapshot: Snapshot) -> Bool { core.append(snapshot) }

    /// Records a preset switch with the preset's full text. Not dropped unless the queue holds
    /// twice its capacity.
    @discardableResult
    public func presetSwitch(_ p: PresetSwitch) -> Bool { core.enqueueMarker(.preset(p)) }

    /// Records a bookmark (`b`).
    @discardableResult
    public func bookmark(_ b: Bookmark) -> Bool { core.enqueueMarker(.bookmark(b)) }

    /// A copy of the current status (REC marker, size, drops, failure banner). Cheap: call it
    /// every frame.
    public var status: RecorderStatus { core.status }

    /// Asks the writer to write what is queued plus the end record and close the file, and
    /// returns without waiting: what the UI calls when `r` stops recording. Idempotent.
    public func requestStop() { core.requestStop() }

    /// Stops and waits (at most `timeout` seconds) until the file is closed. Returns the final
    /// status (`.stopped`, or `.failed` when a write error happened first).
    @discardableResult
    public func stop(timeout: Double = 5) -> RecorderStatus { core.stop(timeout: timeout) }
}

/// The state shared by the `Recorder` handle and its writer thread. The thread holds this,
/// not the handle, so dropping the handle can stop it.
final class RecorderCore: Sendable {
    /// An item handed from the caller to the writer thread.
    enum Item: Sendable {
        case snapshot(Snapshot)
        case preset(PresetSwitch)
        case bookmark(Bookmark)

        var isSnapshot: Bool {
            if case .snapshot = self { return true }
            return false
        }
    }

    /// Events one queued frame may carry for frames that gave way to newer ones.
    static let maxMergedEvents = 1 << 14

    /// Protected by `shared`'s lock.
    private struct Shared: Sendable {
        var queue: [Item] = []
        var status: RecorderStatus
        var stopRequested = false
    }

    let path: String
    /// Snapshots the queue holds before new ones are dropped.
    let capacity: Int
    /// Longest time encoded data waits before it is written to the file.
    let flushInterval: Double
    private let metadata: RecordingMetadata
    /// Used by the writer thread only (and closed by it).
    private let fd: Int32
    private let shared: Locked<Shared>
    /// Wakes the writer early (queue half full, stop).
    private let wake = DispatchSemaphore(value: 0)
    /// Signalled once when the writer thread has closed the file.
    private let finished = DispatchSemaphore(value: 0)

    init(
        path: String, metadata: RecordingMetadata, force: Bool, capacity: Int, flushInterval: Double
    ) throws(RecordingWriteError) {
        var flags = O_WRONLY | O_CREAT | O_CLOEXEC
        flags |= force ? O_TRUNC : O_EXCL
        let fd = open(path, flags, 0o644)
        guard fd >= 0 else {
            let err = errno
            if err == EEXIST { throw .fileExists(path: path) }
            throw .cannotCreate(path: path, reason: String(cString: strerror(err)))
        }
        self.fd = fd
        self.path = path
        self.metadata = metadata
        self.capacity = max(1, capacity)
        self.flushInterval = min(max(flushInterval, 0.01), 1.0)
        self.shared = Locked(
            Shared(
                status: RecorderStatus(
                    path: path, state: .recording, bytesWritten: 0, framesWritten: 0, framesDropped: 0, queued: 0)))
    }

    /// Starts the writer thread. Called once.
    func startWriter() {
        let thread = Thread { [self] in self.writerLoop() }
        thread.name = "qvtop-recorder"
        thread.start()
    }

    func append(_ snapshot: Snapshot) -> Bool {
        let (accepted, kick) = shared.withLock { s -> (Bool, Bool) in
            guard s.status.state == .recording, !s.stopRequested else { return (false, false) }
            guard s.queue.count < capacity else {
                // Full: the newest queued frame gives way to this one, which inherits its events.
                // The file keeps the latest values and every event; an intermediate frame's values
                // are what is lost (and counted).
                s.status.framesDropped += 1
                guard let i = s.queue.lastIndex(where: \.isSnapshot), case .snapshot(let older) = s.queue[i] else {
                    s.status.eventsDropped += UInt64(snapshot.events.count)
                    return (false, false)
                }
                var merged = snapshot
                merged.events = older.events + snapshot.events
                let excess = merged.events.count - Self.maxMergedEvents
                if excess > 0 {
                    merged.events.removeFirst(excess)
                    s.status.eventsDropped += UInt64(excess)
                }
                s.queue[i] = .snapshot(merged)
                return (true, false)
            }
            s.queue.append(.snapshot(snapshot))
            s.status.queued = s.queue.count
            return (true, s.queue.count == capacity / 2)
        }
        if kick { wake.signal() }
        return accepted
    }

    func enqueueMarker(_ item: Item) -> Bool {
        shared.withLock { s in
            guard s.status.state == .recording, !s.stopRequested, s.queue.count < 2 * capacity else { return false }
            s.queue.append(item)
            s.status.queued = s.queue.count
            return true
        }
    }

    var status: RecorderStatus { shared.withLock { $0.status } }

    func requestStop() {
        shared.withLock { $0.stopRequested = true }
        wake.signal()
    }

    func stop(timeout: Double) -> RecorderStatus {
        requestStop()
        if finished.wait(timeout: .now() + timeout) == .success { finished.signal() }
        return status
    }

    // MARK: writer thread

    private func writerLoop() {
        var encoder = RecordEncoder()
        var pending = encoder.start(metadata)
        var failed = !flush(&pending)
        var lastFlush = now()
        while !failed {
            // A timeout means a whole interval passed since the last wait began: flush then, so
            // data waits at most about one interval; a kick (queue half full, stop) drains early.
            let timedOut = wake.wait(timeout: .now() + flushInterval) == .timedOut
            let (items, stopping, dropped) = shared.withLock { s -> ([Item], Bool, UInt64) in
                let items = s.queue
                s.queue = []
                s.status.queued = 0
                return (items, s.stopRequested, s.status.framesDropped)
            }
            var frames: UInt64 = 0
            for item in items {
                switch item {
                case .snapshot(let snap):
                    encoder.snapshot(snap, into: &pending)
                    frames += 1
                case .preset(let p): encoder.presetSwitch(p, into: &pending)
                case .bookmark(let b): encoder.bookmark(b, into: &pending)
                }
            }
            let written = shared.withLock { s -> UInt64 in
                s.status.framesWritten += frames
                return s.status.framesWritten
            }
            if stopping {
                encoder.end(RecordingEnd(framesWritten: written, framesDropped: dropped), into: &pending)
            }
            let due = stopping || timedOut || now() - lastFlush >= flushInterval || pending.count >= 1 << 16
            if !pending.isEmpty && due {
                failed = !flush(&pending)
                lastFlush = now()
            }
            if stopping { break }
        }
        close(fd)
        shared.withLock { s in
            if s.status.state == .recording { s.status.state = .stopped }
            s.queue = []
            s.status.queued = 0
        }
        finished.signal()
    }

    /// Writes `pending` fully; on error publishes `.failed` and returns false.
    private func flush(_ pending: inout [UInt8]) -> Bool {
        var done = 0
        let total = pending.count
        var failure: Int32 = 0
        pending.withUnsafeBytes { raw in
            while done < total {
                // safety: `raw` is valid for `total` bytes for the duration of the closure.
                let n = write(fd, raw.baseAddress! + done, total - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 {
                    failure = EIO
                    return
                }
                done += n
            }
        }
        pending.removeAll(keepingCapacity: true)
        let bytes = done
        let reason = failure == 0 ? nil : String(cString: strerror(failure))
        shared.withLock { s in
            s.status.bytesWritten += bytes
            if let reason { s.status.state = .failed(.writeFailed(path: path, reason: reason)) }
        }
        return failure == 0
    }

    private func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

/// A value behind an `NSLock`: a pthread mutex underneath, which ThreadSanitizer understands
/// (`Synchronization.Mutex` on Linux is built on futexes that TSan cannot see).
final class Locked<Value>: @unchecked Sendable {
    // safety: `value` is read and written only inside `withLock`, under `lock`.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
