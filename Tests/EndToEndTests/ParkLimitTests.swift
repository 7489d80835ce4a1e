import Foundation
import Testing

/// Memory per parked task (issue 15): a parking preset run past a real system limit, shrunk for the child
/// process with prlimit(1), stops parking with the limit named in its figures (the banner's text) and exits 0:
/// never a crash.
@Suite(.enabled(if: E2E.findExecutable("prlimit") != nil, "prlimit(1) is not installed"), .timeLimit(.minutes(2)))
struct ParkLimitTests {
    /// The headless JSON summary's `memory` object of `preset` run under `limit` (a prlimit option).
    static func memory(_ preset: String, under limit: String) throws -> [String: Any] {
        let prlimit = try #require(E2E.findExecutable("prlimit"))
        let r = try E2E.run(
            [prlimit, limit, try E2E.binary(), "run", "--headless", "--preset", preset, "--duration", "1.5", "--json"],
            timeout: 60)
        #expect(r.status == 0, "exit \(r.status): \(r.err.suffix(2000))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "\(r.out)")
        return try #require(json["memory"] as? [String: Any], "no memory figures: \(r.out)")
    }

    @Test func descriptorLimitStopsTheSocketPresetWithABanner() throws {
        // 300 descriptors: about 145 connections of two each fit, far from the 9,000 asked for.
        let m = try Self.memory("vt-parked-sockets", under: "--nofile=300")
        let limit = try #require(m["limit"] as? String)
        #expect(limit.hasPrefix("file descriptors: RLIMIT_NOFILE 300 reached"), "\(limit)")
        let parked = try #require(m["parkedTasks"] as? Int)
        #expect(parked > 50 && parked < 300, "parked \(parked)")
    }

    /// The plain-thread twin: a thread per parked connection, stopped at the same descriptor limit.
    @Test func descriptorLimitStopsTheThreadSocketPresetWithABanner() throws {
        let m = try Self.memory("threads-parked-sockets", under: "--nofile=300")
        let limit = try #require(m["limit"] as? String)
        #expect(limit.hasPrefix("file descriptors: RLIMIT_NOFILE 300 reached"), "\(limit)")
        let parked = try #require(m["parkedTasks"] as? Int)
        #expect(parked > 50 && parked < 300, "parked \(parked)")
    }

    @Test func addressSpaceLimitStopsTheSleepPresetWithABanner() throws {
        // 1 GB of address space: the process itself reserves about 0.7 GB (one malloc arena: HeapPolicy), 10,000
        // stacks need another 0.7 GB.
        let m = try Self.memory("vt-parked", under: "--as=1000000000")
        let limit = try #require(m["limit"] as? String)
        #expect(limit.hasPrefix("address space: RLIMIT_AS"), "\(limit)")
        let parked = try #require(m["parkedTasks"] as? Int)
        #expect(parked < 10_000, "parked \(parked)")
    }

    /// Ten thousand OS threads reserve 80 GB of address space (8 MiB default stacks): 20 GB of RLIMIT_AS stops
    /// threads-parked at the address-space banner before a stack mapping is refused.
    @Test func addressSpaceLimitStopsTheThreadSleepPresetWithABanner() throws {
        let m = try Self.memory("threads-parked", under: "--as=20000000000")
        let limit = try #require(m["limit"] as? String)
        #expect(limit.hasPrefix("address space: RLIMIT_AS"), "\(limit)")
        let parked = try #require(m["parkedTasks"] as? Int)
        #expect(parked > 100 && parked < 10_000, "parked \(parked)")
    }
}
