import Foundation
import Runtime
import Synchronization
import Telemetry
import Testing

@testable import Workloads

/// The HTTP/1.1 parsers: bytes in, messages out, however the bytes arrive.
@Suite struct HTTPParserTests {
    static let get = "GET /work?us=5&bytes=3 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n"

    static func parseAll(_ chunks: [String]) throws -> [HTTPRequest] {
        var p = HTTPRequestParser()
        var out: [HTTPRequest] = []
        for c in chunks {
            p.append(Array(c.utf8))
            while let r = try p.next() { out.append(r) }
        }
        return out
    }

    static func status(of text: String) -> Int? {
        var p = HTTPRequestParser()
        p.append(Array(text.utf8))
        do {
            _ = try p.next()
            return nil
        } catch {
            return error.status
        }
    }

    @Test func aRequestSplitByteByByteParsesAsInOneRead() throws {
        let whole = try Self.parseAll([Self.get])
        let split = try Self.parseAll(Self.get.map { String($0) })
        #expect(whole.count == 1)
        #expect(split == whole)
        let r = try #require(whole.first)
        #expect(r.method == "GET" && r.target == "/work?us=5&bytes=3" && r.minorVersion == 1 && r.keepAlive)
        #expect(r.query("us") == "5" && r.query("bytes") == "3" && r.query("reset") == nil)
        #expect(r.headers.map(\.name) == ["Host", "User-Agent"])
    }

    @Test func pipelinedRequestsInOneReadComeOutInOrder() throws {
        let second = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
        let third = "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        // All three in one read, then split mid-body of the second and mid-head of the third.
        let one = try Self.parseAll([Self.get + second + third])
        let all = Self.get + second + third
        let cut1 = all.index(all.startIndex, offsetBy: Self.get.count + second.count - 2)
        let cut2 = all.index(cut1, offsetBy: 10)
        let split = try Self.parseAll([String(all[..<cut1]), String(all[cut1..<cut2]), String(all[cut2...])])
        #expect(one.map(\.target) == ["/work?us=5&bytes=3", "/b", "/c"])
        #expect(split == one)
        #expect(one[1].body == Array("hello".utf8))
        #expect(one.map(\.keepAlive) == [true, true, false])
    }

    @Test func keepAliveFollowsTheVersionAndConnectionHeader() throws {
        let cases: [(String, Bool)] = [
            ("GET / HTTP/1.1\r\nHost: h\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false),
            ("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, Close\r\n\r\n", false),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ]
        for (text, keep) in cases {
            let r = try #require(try Self.parseAll([text]).first, "\(text.debugDescription) did not parse")
            #expect(r.keepAlive == keep, "\(text.debugDescription)")
        }
    }

    @Test func badRequestsGetTheirStatus() {
        #expect(Self.status(of: "GET / HTTP/1.1\r\n\r\n") == 400)  // no Host
        #expect(Self.status(of: "GET /\r\nHost: h\r\n\r\n") == 400)  // no version
        #expect(Self.status(of: "GET  / HTTP/1.1\r\nHost: h\r\n\r\n") == 400)  // empty target
        #expect(Self.status(of: "G(T / HTTP/1.1\r\nHost: h\r\n\r\n") == 400)  // not a token
        #expect(Self.status(of: "GET / HTTP/1.1\r\nHost : h\r\n\r\n") == 400)  // space before the colon
        #expect(Self.status(of: "GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n") == 400)
        #expect(Self.status(of: "GET / HTTP/1.1\nHost: h\r\n\r\n") == 400)  // bare LF
        #expect(Self.status(of: "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n") == 400)
        #expect(
            Self.status(of: "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab") == 400)
        #expect(Self.status(of: "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n") == 501)
        #expect(Self.status(of: "GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505)
        #expect(Self.status(of: "GET / " + String(repeating: "a", count: 9000)) == 431)
        // Incomplete is not bad: nothing yet.
        #expect(Self.status(of: "GET / HTTP/1.1\r\nHost: h\r\n") == nil)
    }

    @Test func responsesAreReadByTheirContentLength() throws {
        let bytes =
            HTTPText.response(status: 200, body: Array("abcdef".utf8)) + HTTPText.response(status: 200, body: [])
        var p = HTTPResponseParser()
        var out: [HTTPResponse] = []
        for b in bytes {
            [b].withUnsafeBytes { p.append($0) }
            while let r = try p.next() { out.append(r) }
        }
        #expect(
            out == [
                HTTPResponse(status: 200, body: Array("abcdef".utf8), keepAlive: true),
                HTTPResponse(status: 200, body: [], keepAlive: true),
            ])
    }
}

/// The loopback server, and the one sync client on a fiber and on a plain thread (the same function), its
/// full-duplex variant, and the async twin on an event loop.
@Suite(.serialized, .timeLimit(.minutes(1))) struct HTTPClientServerTests {
    static func server() throws -> HTTPServer {
        let s = try HTTPServer()
        try s.start()
        return s
    }

    /// A raw blocking exchange: writes `request`, reads until the server closes or `timeout` passes.
    static func raw(_ port: UInt16, _ request: String) throws -> String {
        let socket = try SyncIO.connect(port: port)
        defer { socket.close() }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(socket.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        try socket.write(Array(request.utf8))
        var all: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = try socket.read(into: &buf)
            if n == 0 { break }
            all += buf[..<n]
        }
        return String(decoding: all, as: UTF8.self)
    }

    @Test func aBadRequestIsAnswered400AndClosed() throws {
        let s = try Self.server()
        defer { s.stop() }
        let text = try Self.raw(s.port, "GET / HTTP/1.1\r\nHost : x\r\n\r\n")
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(text.debugDescription)")
        #expect(text.contains("Connection: close"))
        #expect(s.counters.badRequests.load(ordering: .relaxed) == 1)
    }

    @Test func pipelinedRequestsAreAnsweredInRequestOrder() throws {
        let s = try Self.server()
        defer { s.stop() }
        // The first is due last: answers still leave in request order. The last asks to close.
        let text = try Self.raw(
            s.port,
            "GET /work?us=30000&bytes=1 HTTP/1.1\r\nHost: h\r\n\r\nGET /work?bytes=2 HTTP/1.1\r\nHost: h\r\n\r\n"
                + "GET /work?bytes=3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        let lengths = text.components(separatedBy: "Content-Length: ").dropFirst().map { $0.prefix(1) }
        #expect(lengths == ["1", "2", "3"], "\(text.debugDescription)")
        #expect(s.counters.requests.load(ordering: .relaxed) == 3)
        #expect(s.counters.connections.load(ordering: .relaxed) == 1)
    }

    static let targets = (0..<3).map { _ in HTTPText.target(delayMicros: 2000, bytes: 100) }

    @Test func theSyncClientCompletesOnAPlainThreadBlockingInTheKernel() throws {
        let s = try Self.server()
        defer { s.stop() }
        let client = HTTPClient(port: s.port)
        let responses = try client.get(Self.targets)
        #expect(responses.map(\.status) == [200, 200, 200])
        try HTTPClient.check(responses, bytes: 100)
        #expect(s.counters.connections.load(ordering: .relaxed) == 1, "keep-alive: one connection for 3 requests")
        #expect(client.sockets.count == 0)
        // On a thread the seam makes a blocking socket (its waits are the kernel's).
        let socket = try SyncIO.connect(port: s.port)
        defer { socket.close() }
        #expect(!socket.parks && fcntl(socket.fd, F_GETFL) & O_NONBLOCK == 0)
    }

    @Test func theSameSyncClientCompletesOnAFiberParkingIt() throws {
        let s = try Self.server()
        defer { s.stop() }
        let client = HTTPClient(port: s.port)
        let scheduler = try Scheduler(.init(carriers: 2))
        defer { scheduler.shutdown() }
        // The server answers after 200 ms: meanwhile the fiber is parked on the socket, not holding a carrier.
        let slow = [HTTPText.target(delayMicros: 200_000, bytes: 10)] + Self.targets
        let handle = scheduler.spawn(name: "client") { () -> Result<[HTTPResponse], TaskFailure> in
            Result { () throws(TaskFailure) in try client.get(slow) }
        }
        let parkedBy = Monotonic.now() + 2_000_000_000
        while scheduler.metrics().ioWaiters < 1 && Monotonic.now() < parkedBy { usleep(1000) }
        #expect(scheduler.metrics().ioWaiters == 1, "the client fiber never parked on its socket")
        let responses = try handle.join().get()
        #expect(responses.map(\.status) == [200, 200, 200, 200])
        #expect(responses.map(\.body.count) == [10, 100, 100, 100])
        #expect(s.counters.connections.load(ordering: .relaxed) == 1)
    }

    static let pipelined = (0..<8).map { i in HTTPText.target(delayMicros: 1000, bytes: 10 + i) }

    @Test func fullDuplexOnFibersOneWritesWhileTheOtherReads() throws {
        let s = try Self.server()
        defer { s.stop() }
        let client = HTTPClient(port: s.port)
        let scheduler = try Scheduler(.init(carriers: 2))
        defer { scheduler.shutdown() }
        unowned(unsafe) let sch = scheduler
        let handle = scheduler.spawn(name: "reader") { () -> Result<[HTTPResponse], TaskFailure> in
            Result { () throws(TaskFailure) in
                try client.getPipelined(Self.pipelined) { body in
                    let h = sch.spawn(name: "writer", body)
                    return { h.join() }
                }
            }
        }
        let responses = try handle.join().get()
        #expect(responses.map(\.body.count) == Array(10..<18))
        #expect(s.counters.requests.load(ordering: .relaxed) == 8)
        #expect(s.counters.connections.load(ordering: .relaxed) == 1)
    }

    /// The seam's two directions at once on fibers: a writer fiber parked on a full send buffer and a reader
    /// fiber parked for the answer wait on the same socket together (two fd waiters), and both finish.
    @Test func aWriterAndAReaderFiberParkOnOneSocketTogether() throws {
        let listener = try LoopbackServer()  // only its listening socket: nobody serves it but this test
        defer { listener.close() }
        let port = listener.port
        let scheduler = try Scheduler(.init(carriers: 2))
        defer { scheduler.shutdown() }
        unowned(unsafe) let sch = scheduler
        let big = [UInt8](repeating: 0x61, count: 16 << 20)  // more than the kernel buffers hold
        let client = scheduler.spawn(name: "reader") { () -> Result<Int, TaskFailure> in
            Result { () throws(TaskFailure) in
                let socket = try SyncIO.connect(port: port)
                defer { socket.close() }
                let writer = sch.spawn(name: "writer") { () -> TaskFailure? in
                    do throws(TaskFailure) { try socket.write(big) } catch { return error }
                    return nil
                }
                var buf = [UInt8](repeating: 0, count: 16)
                let n = try socket.read(into: &buf)
                if let f = writer.join() { throw f }
                return n
            }
        }
        // Accept on this plain thread (blocking), read nothing until both fibers are parked.
        var pfd = pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0)
        try #require(poll(&pfd, 1, 5000) == 1, "the client never connected")
        let c = accept(listener.fd, nil, nil)
        try #require(c >= 0)
        defer { Glibc.close(c) }
        _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK)
        let by = Monotonic.now() + 5_000_000_000
        while scheduler.metrics().ioWaiters < 2 && Monotonic.now() < by { usleep(1000) }
        #expect(scheduler.metrics().ioWaiters == 2, "the writer and the reader were not parked on the socket together")
        var hello = Array("hello".utf8)
        _ = send(c, &hello, hello.count, Int32(MSG_NOSIGNAL))
        var sink = [UInt8](repeating: 0, count: 1 << 16)
        var drained = 0
        while drained < big.count {
            let n = recv(c, &sink, sink.count, 0)
            if n <= 0 { break }
            drained += n
        }
        #expect(drained == big.count)
        #expect(try client.join().get() == 5)
    }

    @Test func fullDuplexOnPlainThreadsOneWritesWhileTheOtherReads() throws {
        let s = try Self.server()
        defer { s.stop() }
        let client = HTTPClient(port: s.port)
        let responses = try client.getPipelined(Self.pipelined, beside: SyncIO.thread)
        #expect(responses.map(\.body.count) == Array(10..<18))
        #expect(s.counters.connections.load(ordering: .relaxed) == 1)
    }

    /// What a plain-threads model will run: the same `HTTPClient.task` the fiber model runs, with threads
    /// for the duplex writer.
    @Test func theModelsTaskRunsOnAPlainThreadWithThreadsBeside() throws {
        let s = try Self.server()
        defer { s.stop() }
        let client = HTTPClient(port: s.port)
        var spec = TaskSpec(name: "web", kind: .http, arrival: .rate(1), duration: .fixed(1))
        spec.requests = 5
        spec.bodyBytes = 33
        try client.task(spec, ms: 1, faults: nil, beside: SyncIO.thread)
        spec.duplex = true
        try client.task(spec, ms: 1, faults: nil, beside: SyncIO.thread)
        #expect(s.counters.requests.load(ordering: .relaxed) == 10)
        #expect(s.counters.connections.load(ordering: .relaxed) == 2)
        spec.duplex = false
        spec.resetShare = 1
        let faults = try #require(LoopbackFaults.of(spec))
        let failed = Result { () throws(TaskFailure) in
            try client.task(spec, ms: 1, faults: faults, beside: SyncIO.thread)
        }
        guard case .failure(let f) = failed else {
            Issue.record("a reset request completed")
            return
        }
        #expect(f.kind == .reset, "\(f)")
    }

    /// Runs `body` as a task of a fresh loop and returns what it gave.
    static func onLoop<T: Sendable>(_ body: @escaping @Sendable (EventLoop) async throws -> T) throws -> T {
        let loop = try EventLoop(EventLoop.Configuration())
        defer { loop.shutdown() }
        let result = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        loop.spawn(name: "client") {
            let r: Result<T, any Error>
            do { r = .success(try await body(loop)) } catch { r = .failure(error) }
            result.withLock { $0 = r }
            done.signal()
        }
        try #require(done.wait(timeout: .now() + 10) == .success, "the loop task never finished")
        return try result.withLock { $0! }.get()
    }

    @Test func theAsyncTwinCompletesOnTheEventLoop() throws {
        let s = try Self.server()
        defer { s.stop() }
        let client = HTTPClient(port: s.port)
        let plain = try Self.onLoop { loop in try await client.get(Self.targets, on: loop) }
        #expect(plain.map(\.body.count) == [100, 100, 100])
        let duplex = try Self.onLoop { loop in try await client.getPipelined(Self.pipelined, on: loop) }
        #expect(duplex.map(\.body.count) == Array(10..<18))
        #expect(s.counters.connections.load(ordering: .relaxed) == 2)
        #expect(client.sockets.count == 0)
    }

    static let resetting = [
        HTTPText.target(delayMicros: 0, bytes: 5), HTTPText.target(delayMicros: 0, bytes: 5, reset: true),
    ]

    @Test func aServerResetIsAResetFailureOnEveryStrand() throws {
        let s = try Self.server()
        defer { s.stop() }
        let client = HTTPClient(port: s.port)
        // Plain thread.
        #expect(throws: TaskFailure.self) { try client.get(Self.resetting) }
        do { _ = try client.get(Self.resetting) } catch { #expect(error.kind == .reset, "\(error)") }
        // Fiber.
        let scheduler = try Scheduler(.init(carriers: 1))
        defer { scheduler.shutdown() }
        let onFiber = scheduler.spawn(name: "client") { () -> Result<[HTTPResponse], TaskFailure> in
            Result { () throws(TaskFailure) in try client.get(Self.resetting) }
        }.join()
        #expect(throws: TaskFailure.self) { try onFiber.get() }
        if case .failure(let f) = onFiber { #expect(f.kind == .reset, "\(f)") }
        // Event loop.
        #expect(throws: TaskFailure.self) {
            _ = try Self.onLoop { loop in try await client.get(Self.resetting, on: loop) }
        }
        do {
            _ = try Self.onLoop { loop in try await client.get(Self.resetting, on: loop) }
        } catch {
            #expect(TaskFailure.kind(of: error) == .reset, "\(error)")
        }
        #expect(s.counters.resets.load(ordering: .relaxed) == 5)
    }

    /// Many strands at once against one server: 64 fibers on 4 carriers and 8 plain threads, each with its own
    /// keep-alive connections; every response arrives, every socket is closed.
    @Test func manyFibersAndThreadsAtOnce() throws {
        let s = try Self.server()
        defer { s.stop() }
        let client = HTTPClient(port: s.port)
        let scheduler = try Scheduler(.init(carriers: 4))
        defer { scheduler.shutdown() }
        let targets = (0..<5).map { i in HTTPText.target(delayMicros: UInt64(i * 200), bytes: 64) }
        let fibers = (0..<64).map { i in
            scheduler.spawn(name: "f\(i)") { () -> Int in
                (0..<5).reduce(0) { n, _ in n + ((try? client.get(targets))?.count ?? 0) }
            }
        }
        let counted = Mutex(0)
        let threads = try (0..<8).map { i in
            try OSThread.start(name: "t\(i)") {
                let n = (0..<5).reduce(0) { n, _ in n + ((try? client.get(targets))?.count ?? 0) }
                counted.withLock { $0 += n }
            }
        }
        for t in threads { t.join() }
        let onFibers = fibers.reduce(0) { $0 + $1.join() }
        #expect(onFibers == 64 * 25)
        #expect(counted.withLock { $0 } == 8 * 25)
        #expect(s.counters.requests.load(ordering: .relaxed) == 72 * 25)
        #expect(s.counters.connections.load(ordering: .relaxed) == 72 * 5)
        #expect(client.sockets.count == 0)
    }

    @Test func stoppingTheServerWakesAClientWaitingForAnAnswer() throws {
        let s = try Self.server()
        let client = HTTPClient(port: s.port)
        let scheduler = try Scheduler(.init(carriers: 1))
        defer { scheduler.shutdown() }
        let handle = scheduler.spawn(name: "client") { () -> Result<[HTTPResponse], TaskFailure> in
            Result { () throws(TaskFailure) in try client.get([HTTPText.target(delayMicros: 60_000_000, bytes: 1)]) }
        }
        let parkedBy = Monotonic.now() + 2_000_000_000
        while scheduler.metrics().ioWaiters < 1 && Monotonic.now() < parkedBy { usleep(1000) }
        let start = Monotonic.now()
        s.stop()
        #expect(throws: TaskFailure.self) { try handle.join().get() }
        #expect(Monotonic.now() - start < 1_000_000_000, "the parked client did not wake within 1 s of the stop")
    }
}

extension HeadlessTests {
    /// The `http` kind on every model: plain and full-duplex connections complete, and a server reset is
    /// counted as a `reset` failure (never a completion), as the socket kinds' are.
    @Suite(.timeLimit(.minutes(2))) struct HTTPKindTests {
        static func preset(_ model: SchedulerModel) throws -> Preset {
            let extra = model == .loopPerThread ? "loops = 2" : model == .virtualThreads ? "carriers = 2" : ""
            return try Preset.parse(
                """
                name = "http-kind"
                title = "http kind"
                explain = "coverage"
                [scheduler]
                model = "\(model.rawValue)"
                \(extra)
                [task.web]
                kind = "http"
                population = 8
                requests = 3
                body_bytes = 100
                duration_ms = 1
                [task.pipe]
                kind = "http"
                rate = 20
                requests = 6
                duplex = true
                duration_ms = [0, 2]
                [task.flaky]
                kind = "http"
                rate = 40
                requests = 2
                reset_share = 0.25
                duration_ms = 1
                """, file: "http-kind.toml")
        }

        @Test(arguments: SchedulerModel.allCases.filter(\.runsTaskSpecs)) func httpCompletesAndResetsCountAsResets(
            model: SchedulerModel
        ) throws {
            let s = try #require(try HeadlessRun.summary(preset: Self.preset(model), seconds: 1.5))
            #expect(s.taskKinds.map(\.kind) == ["web", "pipe", "flaky"])
            for k in s.taskKinds { #expect(k.completed > 0, "\(model.rawValue): \(k.kind) never completed") }
            for k in s.taskKinds.prefix(2) {
                #expect(k.errors?.total == 0, "\(model.rawValue): \(k.kind) failed: \(String(describing: k.errors))")
            }
            // Every fourth request is reset, two requests a task: about every second task fails, by a reset.
            let flaky = try #require(s.taskKinds.last?.errors)
            #expect(flaky.reset > 0 && flaky.reset == flaky.total, "\(model.rawValue): \(flaky)")
        }
    }

    /// The function-colouring presets load and run; the claim: the same sync client completes on fibers.
    @Suite(.timeLimit(.minutes(2))) struct HTTPPresetTests {
        @Test(arguments: ["vt-http", "asyncio-http"]) func presetRunsAndEveryRequestSucceeds(name: String) throws {
            let s = try Shipped.run(name, seconds: 1.5)
            #expect(!s.taskKinds.isEmpty)
            for k in s.taskKinds {
                #expect(k.completed > 0, "\(name): \(k.kind) never completed")
                #expect(k.errors?.total == 0, "\(name): \(k.kind) failed: \(String(describing: k.errors))")
            }
        }

        /// The claim, by the figure that shows it: the one sync client (`HTTPClient.get` / `getPipelined`)
        /// completes requests on fibers, its kinds' completed counts grow, nothing fails.
        /// threads-http runs the same workload on plain OS threads: the same function, blocking each thread
        /// in read(2), and the threads model's own bookkeeping sees them blocked in socket calls.
        @Test(arguments: ["vt-http", "threads-http"]) func theSameSyncClientCompletesRequestsOnFibersAndThreads(
            name: String
        ) throws {
            let preset = try Shipped.preset(name)
            #expect(name == "vt-http" ? preset.scheduler.model.usesFibers : preset.scheduler.model == .threads)
            let http = preset.workload.tasks.filter { $0.kind == .http }
            #expect(http.contains { !$0.duplex } && http.contains { $0.duplex }, "\(name) runs both clients")
            #expect(http == (try Shipped.preset("vt-http")).workload.tasks, "the same HTTP workload as vt-http")
            let s = try Shipped.run(name, seconds: 1.5)
            if name == "threads-http" {
                let t = try #require(s.threads, "the threads model's figures")
                #expect(t.blockedMax > 0, "threads blocked in socket calls: \(t)")
            }
            for spec in http {
                let k = try #require(s.taskKinds.first { $0.kind == spec.name })
                #expect(
                    k.completed > 0 && k.errors?.total == 0,
                    "\(spec.name): \(k.completed) completed, errors \(String(describing: k.errors))")
            }
        }
    }
}

/// The code pane's `http` listings are the client's real source: one sync function, its async twin.
@Suite struct HTTPTaskSourceTests {
    @Test func theDuplexListingIsThePipelinedClient() throws {
        var spec = TaskSpec(name: "d", kind: .http, arrival: .rate(1), duration: .fixed(1))
        spec.duplex = true
        let source = TaskSource.of(spec)
        let sync = try #require(TaskSourceTests.section("Models/HTTPClient.swift", "sync", "http-duplex"))
        let async = try #require(TaskSourceTests.section("Models/HTTPClient.swift", "async", "http-duplex"))
        #expect(source.sync == sync && source.async == async)
        #expect(source.sync.contains("func getPipelined(") && !source.sync.contains("await"))
        #expect(source.async.contains("await"))
        spec.duplex = false
        #expect(TaskSource.of(spec) == TaskSource.of(.http))
        #expect(TaskSource.of(.http).syncTitle?.contains("threads") == true)
    }

    /// The sync client uses nothing fiber-specific beyond the seam: a plain-threads model can run it unchanged.
    @Test func theSyncClientNamesNoFiberAPI() {
        for text in [TaskSource.of(.http).sync, TaskSource.of(TaskSpec.duplexHTTP).sync] {
            // The code, not its comments (they say what happens on a fiber).
            let code = text.split(separator: "\n").map { String($0).components(separatedBy: "//")[0] }
                .joined(separator: "\n")
            #expect(code.contains("SyncIO.connect"))
            for word in ["Scheduler", "spawn", "Fiber", "fiber", "park"] {
                #expect(!code.contains(word), "the sync client's code names \(word)")
            }
        }
    }
}

extension TaskSpec {
    fileprivate static var duplexHTTP: TaskSpec {
        var s = TaskSpec(name: "d", kind: .http, arrival: .rate(1), duration: .fixed(1))
        s.duplex = true
        return s
    }
}

/// The `http` kind's preset fields are checked like every kind's.
@Suite struct HTTPPresetFieldTests {
    static func error(_ task: String) -> String? {
        let text = """
            name = "h"
            title = "h"
            explain = "h"
            [scheduler]
            model = "virtual-threads"
            [task.web]
            kind = "http"
            rate = 10
            \(task)
            """
        do {
            _ = try Preset.parse(text, file: "h.toml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func fieldsParseAndAreChecked() throws {
        let p = try Preset.parse(
            """
            name = "h"
            title = "h"
            explain = "h"
            [scheduler]
            model = "event-loop"
            [task.web]
            kind = "http"
            population = 3
            requests = 7
            body_bytes = 10
            duplex = true
            reset_share = 0.5
            """, file: "h.toml")
        let t = try #require(p.workload.tasks.first)
        #expect(t.kind == .http && t.requests == 7 && t.bodyBytes == 10 && t.duplex && t.resetShare == 0.5)
        #expect(Self.error("requests = 0") == "h.toml:9: task.web.requests must be between 1 and 1000")
        #expect(Self.error("duplex = 1") == "h.toml:9: task.web.duplex must be true or false")
        #expect(Self.error("body_bytes = 2000000") == "h.toml:9: task.web.body_bytes must be between 0 and 1048576")
        #expect(Self.error("io = \"socket\"")?.contains("task.web.io is not a field of kind http") == true)
        #expect(Self.error("timeout_ms = 5")?.contains("is not a field of kind http") == true)
    }
}
