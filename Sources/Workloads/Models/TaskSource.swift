// The task bodies as source text, for the dashboard's code pane (function colouring side by side).
//
// Generated from the `// BEGIN sync KIND` / `// BEGIN async KIND` sections of FiberModels.swift and
// LoopModels.swift (for `http`, of HTTPClient.swift: the one sync client and its async twin, `http` and
// `http-duplex`); `TaskSourceTests` fails if a body changes without this file (regenerate with the
// script in that test's comment).

/// Source text of one task kind's two bodies.
public struct TaskSource: Sendable, Equatable {
    public var kind: TaskKind
    /// The synchronous body a fiber runs (virtual/green threads): plain calls that park. The threads model's OS
    /// threads run the same body, blocking in the kernel (Models/Blocking.swift).
    public var sync: String
    /// The async body a loop task runs (event-loop models): every wait is an `await`.
    public var async: String

    /// The code pane's column titles for this kind (nil: the pane's defaults). `http` says that its one sync
    /// function serves fibers and plain threads alike, and that the loop needs a copy.
    public var syncTitle: String? {
        kind == .http ? "sync: one client, fibers and threads run it" : nil
    }
    public var asyncTitle: String? {
        kind == .http ? "async: the copy a loop needs" : nil
    }

    /// The bodies of `kind`.
    public static func of(_ kind: TaskKind) -> TaskSource {
        switch kind {
        case .io:
            return TaskSource(
                kind: .io,
                sync: #"""
                    func io(ms: Double, mode: IOMode, faults: LoopbackFaults? = nil) throws {
                        if mode == .socket, let server {
                            // connect, write, read: each parks the fiber; a timeout is a watchdog fiber
                            try server.roundTrip(serverDelayMs: ms, faults: faults) { _ = spawn("timeout", kind: .io, $0) }
                        } else {
                            Blocking.sleep(nanoseconds: UInt64(ms * 1e6))  // parks the fiber, not the carrier
                        }
                    }
                    """#,
                async: #"""
                    func io(ms: Double, mode: IOMode, faults: LoopbackFaults? = nil) async throws {
                        if mode == .socket, let server {
                            try await server.roundTrip(on: loop, serverDelayMs: ms, faults: faults)
                        } else {
                            try await loop.sleep(for: .microseconds(Int64(ms * 1000)))
                        }
                    }
                    """#)
        case .cpu:
            return TaskSource(
                kind: .cpu,
                sync: #"""
                    func cpu(ms: Double) {
                        Work.spin(ms: ms)  // holds the carrier: its queue waits unless another carrier steals it
                    }
                    """#,
                async: #"""
                    func cpu(ms: Double) async throws {
                        if offload.contains(.cpu) {
                            try await loop.toThread(name: "cpu") { Work.spin(ms: ms) }
                        } else {
                            Work.spin(ms: ms)  // runs on the loop thread: nothing else runs meanwhile
                        }
                    }
                    """#)
        case .blocking:
            return TaskSource(
                kind: .blocking,
                sync: #"""
                    func blocking(ms: Double, call: BlockingCall) {
                        Blocking.call(call.state) { Work.block(ms: ms, call: call) }  // pin or hand off the carrier
                    }
                    """#,
                async: #"""
                    func blocking(ms: Double, call: BlockingCall) async throws {
                        if offload.contains(.blocking) {
                            try await loop.toThread(name: "blocking") { Work.block(ms: ms, call: call) }
                        } else {
                            Work.block(ms: ms, call: call)  // the whole loop waits in the syscall
                        }
                    }
                    """#)
        case .fanout:
            return TaskSource(
                kind: .fanout,
                sync: #"""
                    func fanout(children: Int, child: TaskKind, ms: Double, name: String) {
                        let handles = (0..<children).compactMap { _ in
                            spawn(name, kind: .fanout) {
                                if child == .io { try? self.io(ms: ms, mode: .sleep) } else { self.cpu(ms: ms) }
                            }
                        }
                        Blocking.wait(.join) { for h in handles { h.join() } }
                    }
                    """#,
                async: #"""
                    func fanout(children: Int, child: TaskKind, ms: Double, name: String) async throws {
                        var tasks: [LoopTask<Void>] = []
                        for _ in 0..<children {
                            tasks.append(
                                loop.spawn(name: name) {
                                    if child == .io { try await self.io(ms: ms, mode: .sleep) } else { try await self.cpu(ms: ms) }
                                })
                        }
                        for t in tasks { try await t.value }
                    }
                    """#)
        case .chatty:
            return TaskSource(
                kind: .chatty,
                sync: #"""
                    func chatty(producers: Int, consumers: Int, messages: Int, capacity: Int, ms: Double, name: String) {
                        let channel = Channel<Int>(capacity: capacity == 0 ? nil : capacity)
                        let senders = (0..<producers).compactMap { _ in
                            spawn(name, kind: .chatty) {
                                for i in 0..<messages { try? Blocking.wait(.channel) { try channel.send(i) } }
                            }
                        }
                        let receivers = (0..<consumers).compactMap { _ in
                            spawn(name, kind: .chatty) {
                                while Blocking.wait(.channel, { channel.receive() }) != nil { Work.spin(ms: ms) }
                            }
                        }
                        Blocking.wait(.join) { for s in senders { s.join() } }
                        channel.close()
                        Blocking.wait(.join) { for r in receivers { r.join() } }
                    }
                    """#,
                async: #"""
                    func chatty(producers: Int, consumers: Int, messages: Int, capacity: Int, ms: Double, name: String)
                        async throws
                    {
                        let channel = LoopChannel<Int>(capacity: capacity)
                        let senders = (0..<producers).map { _ in
                            loop.spawn(name: name) { for i in 0..<messages { try await channel.send(i) } }
                        }
                        let receivers = (0..<consumers).map { _ in
                            loop.spawn(name: name) { while try await channel.receive() != nil { try await self.cpu(ms: ms) } }
                        }
                        for s in senders { try await s.value }
                        channel.close()
                        for r in receivers { try await r.value }
                    }
                    """#)
        case .http:
            return TaskSource(
                kind: .http,
                sync: #"""
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
                    """#,
                async: #"""
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
                    """#)
        }
    }

    /// The bodies of `spec`'s kind; for a full-duplex `http` spec, the pipelined client.
    public static func of(_ spec: TaskSpec) -> TaskSource {
        guard spec.kind == .http, spec.duplex else { return of(spec.kind) }
        return TaskSource(
            kind: .http,
            sync: #"""
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
                """#,
            async: #"""
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
                """#)
    }
}
