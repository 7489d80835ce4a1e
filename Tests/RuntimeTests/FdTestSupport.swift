import CRuntime
import Glibc

@testable import Runtime

/// Sockets and pipes for the fd-wait tests. Every fd is non-blocking and close-on-exec.
enum FdTestSupport {
    /// Moves `fd` to `number` (dup2, then closes the old number). For fd-number reuse tests: a high number
    /// (`reservedFdNumber`) that the kernel never hands out while lower ones are free, so tests running in
    /// parallel cannot take it between a close and the reuse.
    static func move(_ fd: Int32, to number: Int32) -> Int32 {
        precondition(dup2(fd, number) == number, "FdTestSupport.move: dup2 failed (\(qv_errno()))")
        _ = Glibc.close(fd)
        return number
    }

    /// A free fd number far above what the tests open, found with F_DUPFD from `base`.
    static func reservedFdNumber(base: Int32 = 900) -> Int32 {
        let probe = fcntl(0, F_DUPFD, base)
        precondition(probe >= base, "FdTestSupport.reservedFdNumber: F_DUPFD failed (\(qv_errno()))")
        _ = Glibc.close(probe)
        return probe
    }

    /// A connected AF_UNIX stream pair.
    static func socketPair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        let rc = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        precondition(rc == 0, "FdTestSupport.socketPair: socketpair failed (\(qv_errno()))")
        _ = qv_set_nonblocking(fds[0])
        _ = qv_set_nonblocking(fds[1])
        return (fds[0], fds[1])
    }

    /// A pipe: (read end, write end).
    static func pipePair() -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "FdTestSupport.pipePair: pipe failed (\(qv_errno()))")
        _ = qv_set_nonblocking(fds[0])
        _ = qv_set_nonblocking(fds[1])
        return (fds[0], fds[1])
    }

    /// Writes into `fd` until the kernel refuses (EAGAIN): `fd` is then not writable. Returns the bytes written.
    @discardableResult
    static func fillSendBuffer(_ fd: Int32) -> Int {
        var size: Int32 = 4096
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let chunk = [UInt8](repeating: 7, count: 4096)
        var total = 0
        while true {
            let n = chunk.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return total }
            total += n
        }
    }

    /// Reads everything `fd` has now (non-blocking). Returns the bytes read.
    @discardableResult
    static func drain(_ fd: Int32) -> Int {
        var buf = [UInt8](repeating: 0, count: 65536)
        var total = 0
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { return total }
            total += n
        }
    }

    /// A listening TCP socket on 127.0.0.1 (non-blocking) and its address.
    static func listener(backlog: Int32 = 16) -> (Int32, sockaddr_in) {
        let lfd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(lfd >= 0, "FdTestSupport.listener: socket failed (\(qv_errno()))")
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(lfd, $0, len) }
        }
        precondition(bound == 0 && listen(lfd, backlog) == 0, "FdTestSupport.listener: bind/listen failed")
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(lfd, $0, &len) }
        }
        _ = qv_set_nonblocking(lfd)
        return (lfd, addr)
    }

    /// A blocking connect from the calling (plain) thread. Returns the connected fd.
    static func connectBlocking(to address: sockaddr_in) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var a = address
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(rc == 0, "FdTestSupport.connectBlocking: connect failed (\(qv_errno()))")
        return fd
    }

    /// One `Scheduler.read` of up to one byte: the count, or the typed error.
    static func readOne(_ fd: Int32) -> Result<Int, SchedulerError> {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { buf.deallocate() }
        return Result { () throws(SchedulerError) -> Int in try Scheduler.read(fd, into: buf) }
    }

    /// One `Scheduler.write` of one byte: the count, or the typed error.
    static func writeOne(_ fd: Int32) -> Result<Int, SchedulerError> {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1, alignment: 1)
        defer { buf.deallocate() }
        buf[0] = 1
        return Result { () throws(SchedulerError) -> Int in try Scheduler.write(fd, from: UnsafeRawBufferPointer(buf)) }
    }

    /// The error of a result, nil on success.
    static func failure<T>(_ r: Result<T, SchedulerError>) -> SchedulerError? {
        if case .failure(let e) = r { return e }
        return nil
    }

    /// Polls `condition` every 200 µs for up to `seconds`; true as soon as it holds.
    static func eventually(seconds: UInt64 = 10, _ condition: () -> Bool) -> Bool {
        let deadline = qv_now_ns() &+ seconds * 1_000_000_000
        while qv_now_ns() < deadline {
            if condition() { return true }
            usleep(200)
        }
        return condition()
    }
}
