// The HTTP/1.1 client of the `http` task kind, written once as synchronous code and run unchanged by
// two models — the talk's "the http client is written once, and the application operator chooses
// whether to run it async or sync":
// - on a fiber (virtual threads, green threads) each socket step parks the fiber;
// - on a plain OS thread (the plain-threads model) each step blocks the thread in the kernel.
// The difference lives in the seam under it (`SyncSocket`, SyncSocketIO.swift), decided at connect.
// The event loop cannot call it: its tasks must never block the loop thread, so it needs the coloured
// copy below (`get(_:on:)`), the same steps with an `await` at each wait, over the loop's fd waits
// (`LoopSocket`, LoopSocketIO.swift). The code pane shows the two side by side (`TaskSource`, generated
// from the BEGIN/END sections here).
//
// One task = one connection: connect, `requests` keep-alive GETs, each response read by its
// `Content-Length`, close. The full-duplex variant pipelines: a second strand (a fiber beside the
// fiber, a thread beside the thread, a loop task beside the task) writes every request while the first
// reads the responses as they come on the same connection — two waiters on one fd, one per direction
// (the runtime's per-direction fd waiters).
//
// Ownership: an `HTTPClient` is shared by every strand of a model (immutable, plus `OpenSockets`, which
// is safe from any strand).

import Foundation
import Runtime

/// Connection sockets of a model's clients not yet closed. `shutDownAll` (the model's stop, while its
/// runtime still runs) wakes every strand waiting on one; `closeAll` (after the runtime is down) closes
/// what strands dropped while parked left open.
final class OpenSockets: Sendable {
    // protected by its lock. A SpinLock: fibers track and untrack (docs/ARCHITECTURE.md, "Fiber code and
    // thread identity").
    private let open = SpinLock<Set<Int32>>([])

    func track(_ fd: Int32) { open.withLock { _ = $0.insert(fd) } }

    /// True when `fd` was tracked (the caller closes it).
    @discardableResult func untrack(_ fd: Int32) -> Bool { open.withLock { $0.remove(fd) } != nil }

    var count: Int { open.withLock { $0.count } }

    /// `shutdown(2)` on every open socket, under the lock (no socket is closed and its number reused meanwhile).
    func shutDownAll() { open.withLock { o in for fd in o { _ = shutdown(fd, Int32(SHUT_RDWR)) } } }

    /// Closes every socket still tracked. After no strand can use them.
    func closeAll() {
        for fd in open.withLock({ o -> Set<Int32> in
            defer { o.removeAll() }
            return o
        }) {
            Glibc.close(fd)
        }
    }
}

/// The client side of the loopback HTTP server: its port and the model's open sockets.
final class HTTPClient: Sendable {
    let port: UInt16
    let sockets = OpenSockets()

    init(port: UInt16) { self.port = port }

    /// The targets of one task: `requests` GETs asking for `bytes` of body after `delayMs`, the share of them
    /// `faults` says asking for a reset. Colourless; both clients start from it.
    static func targets(requests: Int, delayMs: Double, bytes: Int, faults: LoopbackFaults?) -> [String] {
        (0..<requests).map { _ in
            HTTPText.target(
                delayMicros: UInt64(max(0, delayMs) * 1000), bytes: bytes, reset: faults?.nextResets() ?? false)
        }
    }

    /// Every response must be a 200 with the body asked for: anything else is a failed task.
    static func check(_ responses: [HTTPResponse], bytes: Int) throws(TaskFailure) {
        for r in responses where r.status != 200 || r.body.count != bytes {
            throw TaskFailure(.other, "HTTP \(r.status) with \(r.body.count) bytes (wanted 200 with \(bytes))")
        }
    }

    /// One `http` task of `spec` with server think time `ms`: the sync client, plain or full duplex, its
    /// responses checked. What every synchronous model runs (fibers here; a plain-threads model passes
    /// `SyncIO.thread` as `beside`), so they all run this same code.
    func task(_ spec: TaskSpec, ms: Double, faults: LoopbackFaults?, beside: SyncIO.Beside) throws(TaskFailure) {
        let targets = Self.targets(requests: spec.requests, delayMs: ms, bytes: spec.bodyBytes, faults: faults)
        let responses = spec.duplex ? try getPipelined(targets, beside: beside) : try get(targets)
        try Self.check(responses, bytes: spec.bodyBytes)
    }

    private func close(_ socket: SyncSocket) {
        if sockets.untrack(socket.fd) { socket.close() }
    }

    // BEGIN sync http
    /// GETs each target over one keep-alive connection; each response is read by its Content-Length.
    /// On a fiber every step parks the fiber; on a plain thread it blocks the thread. Same code.
    func get(_ targets: [String]) throws(TaskFailure) -> [HTTPResponse] {
        let socket = try SyncIO.connect(port: port, track: sockets.track, untrack: { self.sockets.untrack($0) })
        defer { close(socket) }
        var parser = HTTPResponseParser()
        var responses: [HTTPResponse] = []
        for target in targets {
            try socket.write(HTTPText.get(target))
            responses.append(try Self.response(from: socket, &parser))
        }
        return responses
    }

    /// Reads until `parser` holds a whole response (its head and Content-Length bytes of body).
    static func response(from socket: SyncSocket, _ parser: inout HTTPResponseParser) throws(TaskFailure)
        -> HTTPResponse
    {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            if let response = try parsed(&parser) { return response }
            let n = try socket.read(into: &buffer)
            if n == 0 { throw TaskFailure(.other, "connection closed before a whole response") }
            buffer.withUnsafeBytes { parser.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
    }
    // END sync http

    // BEGIN sync http-duplex
    /// Full duplex over one connection: a strand beside this one (a fiber, or a thread) writes every request
    /// while this one reads the responses as they come (pipelining).
    func getPipelined(_ targets: [String], beside: SyncIO.Beside) throws(TaskFailure) -> [HTTPResponse] {
        let socket = try SyncIO.connect(port: port, track: sockets.track, untrack: { self.sockets.untrack($0) })
        defer { close(socket) }
        let writer = beside {
            do throws(TaskFailure) {
                for target in targets { try socket.write(HTTPText.get(target)) }
                return nil
            } catch {
                return error
            }
        }
        guard let writer else { throw TaskFailure(.other, "no strand for the writer (stopping)") }
        var parser = HTTPResponseParser()
        var responses: [HTTPResponse] = []
        do throws(TaskFailure) {
            for _ in targets { responses.append(try Self.response(from: socket, &parser)) }
        } catch {
            socket.shutdown()  // wakes the writer if it waits; it is joined before the close
            _ = writer()
            throw error
        }
        if let failure = writer() { throw failure }
        return responses
    }
    // END sync http-duplex

    /// Decodes the next response from `parser`'s bytes, a malformed one as a failed task.
    static func parsed(_ parser: inout HTTPResponseParser) throws(TaskFailure) -> HTTPResponse? {
        do {
            return try parser.next()
        } catch {
            throw TaskFailure(.other, "bad response: \(error)")
        }
    }

    // MARK: - The coloured copy, for the event loop

    private func close(_ socket: LoopSocket) {
        if sockets.untrack(socket.fd) { socket.close() }
    }

    // BEGIN async http
    /// GETs each target over one keep-alive connection; each response is read by its Content-Length.
    /// Every wait is an `await` on the loop, and so is every caller's, all the way up.
    func get(_ targets: [String], on loop: EventLoop) async throws -> [HTTPResponse] {
        let socket = try await LoopSocket.connect(port: port, on: loop, track: sockets.track)
        defer { close(socket) }
        var parser = HTTPResponseParser()
        var responses: [HTTPResponse] = []
        for target in targets {
            try await socket.write(HTTPText.get(target))
            responses.append(try await Self.response(from: socket, &parser))
        }
        return responses
    }

    /// Reads until `parser` holds a whole response (its head and Content-Length bytes of body).
    static func response(from socket: LoopSocket, _ parser: inout HTTPResponseParser) async throws -> HTTPResponse {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            if let response = try parsed(&parser) { return response }
            let n = try await socket.read(into: &buffer)
            if n == 0 { throw TaskFailure(.other, "connection closed before a whole response") }
            buffer.withUnsafeBytes { parser.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
    }
    // END async http

    // BEGIN async http-duplex
    /// Full duplex over one connection: a loop task beside this one writes every request while this one reads
    /// the responses as they come (pipelining).
    func getPipelined(_ targets: [String], on loop: EventLoop) async throws -> [HTTPResponse] {
        let socket = try await LoopSocket.connect(port: port, on: loop, track: sockets.track)
        defer { close(socket) }
        let writer = loop.spawn(name: "http-writer") {
            for target in targets { try await socket.write(HTTPText.get(target)) }
        }
        var parser = HTTPResponseParser()
        var responses: [HTTPResponse] = []
        do {
            for _ in targets { responses.append(try await Self.response(from: socket, &parser)) }
        } catch {
            socket.shutdown()  // wakes the writer if it waits; it is awaited before the close
            _ = try? await writer.value
            throw error
        }
        try await writer.value
        return responses
    }
    // END async http-duplex
}
