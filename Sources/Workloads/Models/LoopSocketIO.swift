// The coloured copy of the socket seam (SyncSocketIO.swift), for the event loop's async client: the
// same connect / read / write, each wait an `await` on the loop's fd waits (`waitReadable` /
// `waitWritable`, EventLoop+FdWaits.swift: a reader slot and a writer slot per fd, so a writer task and
// a reader task may wait on one connection at once). The socket is always non-blocking: a blocking call
// would stop the whole loop.
//
// Ownership: a `LoopSocket` is used by tasks of one loop (they all run on its thread); `close` once,
// after every task using it is done — then no wait is registered on it any more (a wait's registration
// ends with it), so plain `close(2)` is right.

import Foundation
import Runtime

struct LoopSocket: Sendable {
    let fd: Int32
    let loop: EventLoop

    /// Connects to 127.0.0.1:`port`, awaiting the connect's end on `loop`. `track` sees the fd first.
    static func connect(port: UInt16, on loop: EventLoop, track: (Int32) -> Void) async throws -> LoopSocket {
        guard let (fd, connected) = LoopbackServer.startConnect(port: port) else {
            throw TaskFailure(op: "connect", errno: lastErrno())
        }
        track(fd)
        let socket = LoopSocket(fd: fd, loop: loop)
        if !connected {
            try await loop.waitWritable(fd)
            try LoopbackServer.checkConnected(fd)
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }

    /// Reads at most `buffer.count` bytes into `buffer`; 0 means the peer closed.
    func read(into buffer: inout [UInt8]) async throws -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return n }
            let e = lastErrno()
            if e == EINTR { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { throw TaskFailure(op: "read", errno: e) }
            try await loop.waitReadable(fd)
        }
    }

    /// Writes all of `bytes` (`MSG_NOSIGNAL`: a peer gone is a failure, not a SIGPIPE).
    func write(_ bytes: [UInt8]) async throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            if n >= 0 {
                done += n
                continue
            }
            let e = lastErrno()
            if e == EINTR { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { throw TaskFailure(op: "write", errno: e) }
            try await loop.waitWritable(fd)
        }
    }

    /// `shutdown(2)` both ways: a task waiting on the socket wakes (the hang-up is a readiness event).
    func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    func close() { _ = Glibc.close(fd) }
}
