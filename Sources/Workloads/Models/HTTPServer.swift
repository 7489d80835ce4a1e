// The loopback HTTP/1.1 server of the `http` task kind: a real server on 127.0.0.1 that parses every
// request (HTTPMessage.swift) and answers it, on a thread of its own — never on the runtime under test,
// so the same server stands behind fibers, plain threads and the event loop, and its own scheduling
// adds nothing to what the dashboard shows of the model.
//
// # The model
//
// One OS thread, non-blocking sockets, `poll(2)` over the listener, a wake-up pipe and every open
// connection. Per connection: a request parser (pipelined bytes stay in it), a queue of answers in
// request order, and an output buffer. A request `GET /work?us=U&bytes=B` is answered U µs after it
// was parsed with B bytes of body (`reset=1`: the connection is reset with `SO_LINGER` 0 instead, so the
// client's read fails with a real `ECONNRESET`). Answers leave in request order even when a later one
// is due first, as HTTP/1.1 pipelining requires. A bad request is answered with its status (400, 413,
// 431, 501, 505) and `Connection: close`, after the answers before it; the connection then closes.
// `Connection: close` (or HTTP/1.0 without keep-alive) closes after its answer; a peer's end of stream
// closes once the answers owed are sent.
//
// The delay is a timer of the server (poll's timeout), not a blocking call: one server thread serves
// any number of connections waiting at once. poll's timeout is in whole milliseconds (Glibc's Swift
// overlay has no ppoll): rounded up, an answer is late by under 1 ms, never early.
//
// Rejected: epoll (the runtime's EpollSet is internal to Runtime, and at a preset's few hundred
// connections poll's scan costs microseconds); a thread per connection (10,000 parked clients would
// need 10,000 server threads); the server on the runtime under test (the existing `io = "socket"`
// server does that; here the server must be the same for every model, threads included).
//
// Ownership: `start` and `stop` from the model's starting/stopping thread, once each; everything in
// `ServerLoop` belongs to the server thread; `counters` are read from any thread.

import Foundation
import Runtime
import Synchronization

/// What the server did, counted on its thread, read by tests and models from any thread.
final class HTTPServerCounters: Sendable {
    // relaxed: independent counters; nothing else is published through them.
    let connections = Atomic<UInt64>(0)
    let requests = Atomic<UInt64>(0)
    let badRequests = Atomic<UInt64>(0)
    let resets = Atomic<UInt64>(0)
}

final class HTTPServer: Sendable {
    let port: UInt16
    let counters = HTTPServerCounters()
    private let listener: Int32
    /// The wake-up pipe: `stop` writes, the server thread polls the read end.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let stopping = StopFlag()
    // protected by its lock: the server thread, set by `start`, taken by `stop`.
    private let thread = Mutex<OSThread?>(nil)

    init() throws(ModelError) {
        let (s, port) = try LoopbackServer.listen(
            who: "http server", backlog: 4096, nonBlocking: true, reuseAddress: true)
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            Glibc.close(s)
            throw ModelError("http server: pipe failed, errno \(errno)")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        listener = s
        self.port = port
        wakeRead = fds[0]
        wakeWrite = fds[1]
    }

    /// A started server when `workload` has an `http` spec, else nil.
    static func startIfNeeded(for workload: Workload) throws(ModelError) -> HTTPServer? {
        guard workload.tasks.contains(where: { $0.kind == .http }) else { return nil }
        let server = try HTTPServer()
        try server.start()
        return server
    }

    /// Starts the server thread. Once.
    func start() throws(ModelError) {
        let loop = ServerLoop(listener: listener, wake: wakeRead, stopping: stopping, counters: counters)
        let t: OSThread
        do {
            t = try OSThread.start(name: "qv-http-server") { loop.run() }
        } catch {
            throw ModelError("cannot start the http server thread: \(error)")
        }
        thread.withLock { $0 = t }
    }

    /// Stops the thread (it closes every connection: clients waiting on one see the end or a reset),
    /// joins it and closes the listener. Idempotent; also for a server that never started.
    func stop() {
        stopping.set()
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        let t = thread.withLock { t -> OSThread? in
            defer { t = nil }
            return t
        }
        t?.join()
        closeOnce()
    }

    private func closeOnce() {
        guard !closed.exchange(true, ordering: .sequentiallyConsistent) else { return }
        Glibc.close(listener)
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    // seq-cst: a once-flag.
    private let closed = Atomic<Bool>(false)

    deinit { closeOnce() }
}

/// The server thread's state and loop. Everything here belongs to the server thread.
private final class ServerLoop: @unchecked Sendable {
    // @unchecked Sendable: built by `start`, then used by the server thread alone.

    /// One answer owed on a connection, in request order.
    struct Answer {
        var due: UInt64
        var bytes: [UInt8]
        var reset: Bool
        var close: Bool
    }

    /// One connection's life (the server thread's alone):
    ///
    ///     reading     -> reading       requests parsed; answers queued in request order
    ///     reading     -> readDone      the peer ended its stream, a request said close, or a request was bad
    ///     any         -> closeWhenSent a `Connection: close` or error answer moved into `out`
    ///     closeWhenSent / readDone with nothing owed -> dropped   once `out` is sent
    ///     any         -> dropped       a reset is due (answers before it sent first), a send or recv error,
    ///                                  an error or hang-up from poll, or the server stops
    ///
    /// A class, not a struct: the loop mutates it in place (a struct copied out of the dictionary and
    /// written back would copy its buffers on every change).
    final class Connection {
        var parser = HTTPRequestParser()
        var owed: [Answer] = []
        var out: [UInt8] = []
        var sent = 0
        /// No more requests are read: the peer ended its stream, or a request asked to close, or was bad.
        var readDone = false
        /// Close once `out` is sent (a `Connection: close` answer or an error status went out).
        var closeWhenSent = false
        var unsent: Int { out.count - sent }
    }

    let listener: Int32
    let wake: Int32
    let stopping: StopFlag
    let counters: HTTPServerCounters
    var connections: [Int32: Connection] = [:]

    init(listener: Int32, wake: Int32, stopping: StopFlag, counters: HTTPServerCounters) {
        self.listener = listener
        self.wake = wake
        self.stopping = stopping
        self.counters = counters
    }

    func run() {
        var fds: [pollfd] = []
        while !stopping.isSet {
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
            var earliest = UInt64.max
            for (fd, c) in connections {
                let events = (c.readDone ? 0 : Int16(POLLIN)) | (c.unsent > 0 ? Int16(POLLOUT) : 0)
                fds.append(pollfd(fd: fd, events: events, revents: 0))
                if c.unsent == 0, let head = c.owed.first { earliest = min(earliest, head.due) }
            }
            let now = Monotonic.now()
            let timeoutMs: Int32 =
                earliest == .max ? -1 : earliest <= now ? 0 : Int32(min((earliest - now + 999_999) / 1_000_000, 1000))
            if poll(&fds, nfds_t(fds.count), timeoutMs) < 0 && errno != EINTR { break }
            if fds[1].revents != 0 { drainWake() }
            if fds[0].revents != 0 { acceptAll() }
            var touched: Set<Int32> = []
            for p in fds.dropFirst(2) where p.revents != 0 {
                // Error or hang-up both ways: nothing can be delivered any more (and poll would report it again
                // at once, every round, until the connection goes).
                if p.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
                    if connections[p.fd] != nil { drop(p.fd) }
                    continue
                }
                touched.insert(p.fd)
                if p.revents & Int16(POLLIN) != 0 { receive(p.fd) }
            }
            // Only connections with news: an event, or an answer now due (collected first: progress may drop).
            let after = Monotonic.now()
            let due = connections.filter { fd, c in
                touched.contains(fd) || (c.owed.first.map { $0.due <= after } ?? false)
            }
            for (fd, c) in due { progress(fd, c, now: after) }
        }
        for fd in connections.keys { Glibc.close(fd) }
        connections.removeAll()
    }

    private func drainWake() {
        var buf = [UInt8](repeating: 0, count: 64)
        while read(wake, &buf, buf.count) > 0 {}
    }

    private func acceptAll() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 { return }
            _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            var one: Int32 = 1
            _ = setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            connections[c] = Connection()
            counters.connections.add(1, ordering: .relaxed)
        }
    }

    /// Reads what `fd` has and parses every whole request in it.
    private func receive(_ fd: Int32) {
        guard let c = connections[fd], !c.readDone else { return }
        var gone = false
        withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 1) { buf in
            while true {
                let n = recv(fd, buf.baseAddress, buf.count, 0)
                if n > 0 {
                    c.parser.append(UnsafeRawBufferPointer(rebasing: buf[..<n]))
                    continue
                }
                if n == 0 {
                    c.readDone = true
                } else if errno != EAGAIN && errno != EINTR {
                    gone = true  // reset by the peer: nothing more can be sent either
                }
                return
            }
        }
        if gone {
            drop(fd)
            return
        }
        let now = Monotonic.now()
        while !c.closeWhenSent && !c.owed.contains(where: \.close) {
            do {
                guard let request = try c.parser.next() else { break }
                counters.requests.add(1, ordering: .relaxed)
                let micros = request.query("us").flatMap { UInt64($0) } ?? 0
                let bytes = min(request.query("bytes").flatMap { Int($0) } ?? 0, HTTPHead.maxBody)
                c.owed.append(
                    Answer(
                        due: now &+ micros &* 1000,
                        bytes: HTTPText.response(
                            status: 200, body: [UInt8](repeating: 0x78, count: bytes), close: !request.keepAlive),
                        reset: request.query("reset") == "1", close: !request.keepAlive))
                if !request.keepAlive { c.readDone = true }
            } catch {
                counters.badRequests.add(1, ordering: .relaxed)
                c.owed.append(
                    Answer(
                        due: now,
                        bytes: HTTPText.response(status: error.status, body: Array("\(error)\n".utf8), close: true),
                        reset: false, close: true))
                c.readDone = true
            }
        }
    }

    /// Moves due answers out (in order), sends what is unsent, resets or closes when that is what is owed.
    private func progress(_ fd: Int32, _ c: Connection, now: UInt64) {
        guard connections[fd] === c else { return }  // dropped meanwhile
        while let head = c.owed.first, head.due <= now, !c.closeWhenSent {
            if head.reset {
                guard c.unsent == 0 else { break }  // the answers before it go out first
                counters.resets.add(1, ordering: .relaxed)
                LoopbackServer.resetOnClose(fd)
                drop(fd)
                return
            }
            c.owed.removeFirst()
            if c.sent > 0 {
                c.out.removeFirst(c.sent)
                c.sent = 0
            }
            c.out += head.bytes
            if head.close { c.closeWhenSent = true }
        }
        while c.unsent > 0 {
            let n = c.out.withUnsafeBytes { send(fd, $0.baseAddress! + c.sent, c.unsent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                c.sent += n
            } else if n < 0 && (errno == EAGAIN || errno == EINTR) {
                break
            } else {
                drop(fd)
                return
            }
        }
        if c.unsent == 0 && (c.closeWhenSent || (c.readDone && c.owed.isEmpty)) {
            drop(fd)
        }
    }

    private func drop(_ fd: Int32) {
        connections[fd] = nil
        Glibc.close(fd)
    }
}
