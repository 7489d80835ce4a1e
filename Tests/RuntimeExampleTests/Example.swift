import Glibc
import Runtime

/// Fibers, a channel, a sleep and a socket read on an M:N scheduler; then an event loop with `to_thread`.
func runtimeExample() async throws -> [String] {
    var lines: [String] = []

    // Fibers on 2 carrier threads. Each parks (sleep, channel, socket) without holding its thread.
    let scheduler = try Scheduler(.init(carriers: 2))
    let numbers = Channel<Int>(capacity: 4)
    let producer = scheduler.spawn(name: "producer") {
        for i in 1...3 {
            Scheduler.sleep(for: .milliseconds(1))  // parks the fiber, not the carrier
            try? numbers.send(i)
        }
        numbers.close()
    }
    let consumer = scheduler.spawn(name: "consumer") { () -> Int in
        var sum = 0
        while let n = numbers.receive() { sum += n }  // nil once closed and empty
        return sum
    }

    // A socket read on a fiber: it parks until the peer writes (the fd must be non-blocking).
    var fds: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw ExampleError.socketpair }
    let (mine, peer) = (fds[0], fds[1])
    _ = fcntl(mine, F_SETFL, fcntl(mine, F_GETFL) | O_NONBLOCK)
    let reader = scheduler.spawn(name: "reader") { () -> String in
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = (try? buffer.withUnsafeMutableBytes { try Scheduler.read(mine, into: $0) }) ?? 0
        return String(decoding: buffer[..<n], as: UTF8.self)
    }
    _ = "hello".withCString { write(peer, $0, 5) }

    producer.join()  // on a plain thread, join blocks; inside a fiber it parks
    lines.append("sum \(consumer.join())")
    lines.append("read \(reader.join())")
    scheduler.shutdown()
    close(mine)
    close(peer)

    // An asyncio-style event loop on its own thread, with a `to_thread` pool for blocking calls.
    let pool = try ThreadPool(threads: 2)
    var configuration = EventLoop.Configuration()
    configuration.pool = pool
    let loop = try EventLoop(configuration)
    let task = loop.spawn(name: "main") { () async throws -> String in
        let answer = try await loop.toThread { () -> Int in
            usleep(1000)  // blocks a pool thread, not the loop
            return 42
        }
        try await loop.sleep(for: .milliseconds(1))
        return "to_thread \(answer)"
    }
    lines.append(try await task.value)
    loop.shutdown()
    pool.shutdown()
    return lines
}

enum ExampleError: Error { case socketpair }
