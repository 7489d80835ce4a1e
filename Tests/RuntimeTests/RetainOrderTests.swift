import Foundation
import Testing

// The reduced reproducer of the ARC workaround in CRuntime.h (`qv_retain_object`, used by
// `retainedPointer` in RunQueue.swift): a run-queue push that publishes a retained pointer with a
// releasing store. Compiled here with `swiftc -O`, the `Unmanaged.passRetained` version retains
// *after* the store (the ARC optimizer sinks its own retain past atomics, so a thief could take and
// release the object first); the opaque C call stays before it. A refactor back to `passRetained`
// in the run queues fails `runQueuesPublishThroughRetainedPointer`.
@Suite(.timeLimit(.minutes(2))) struct RetainOrderTests {
    static let header = """
        import Synchronization
        final class Task {}
        final class Queue {
            let tail = Atomic<Int>(0)
            let slots = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 256)
        }
        @_silgen_name("qv_retain_object")
        func qv_retain_object(_ object: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?

        """

    static func push(retain: String) -> String {
        header + """
            @inline(never)
            func push(_ q: Queue, _ t: Task) {
                let i = q.tail.load(ordering: .relaxed)
                q.slots[i & 255] = \(retain)
                q.tail.store(i &+ 1, ordering: .releasing)
            }

            """
    }

    /// Line numbers of the first retain and of the tail increment in `push`'s optimized x86_64 assembly.
    static func retainAndStore(_ source: String) throws -> (retain: Int, store: Int) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qv-retain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("push.swift")
        try source.write(to: file, atomically: true, encoding: .utf8)
        let asm = dir.appendingPathComponent("push.s")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            "swiftc", "-O", "-parse-as-library", "-module-name", "repro", "-emit-assembly", file.path, "-o", asm.path,
        ]
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "swiftc failed")
        let lines = try String(contentsOf: asm, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.hasPrefix("$s5repro4push") }, "no push in the assembly")
        let body = lines[start...].prefix { !$0.hasPrefix(".Lfunc_end") }
        let retain = try #require(body.firstIndex { $0.contains("swift_retain") || $0.contains("qv_retain_object") })
        let store = try #require(body.firstIndex { $0.contains("incq") }, "no tail increment")
        return (retain, store)
    }

    @Test(.enabled(if: Self.isX86, "reads x86_64 assembly"))
    func passRetainedIsSunkPastThePublishingStore() throws {
        let (retain, store) = try Self.retainAndStore(Self.push(retain: "Unmanaged.passRetained(t).toOpaque()"))
        #expect(
            retain > store,
            "this compiler keeps passRetained before the store: the reproducer no longer shows the bug (CRuntime.h)")
    }

    @Test(.enabled(if: Self.isX86, "reads x86_64 assembly"))
    func theOpaqueRetainStaysBeforeThePublishingStore() throws {
        let (retain, store) = try Self.retainAndStore(
            Self.push(retain: "qv_retain_object(Unmanaged.passUnretained(t).toOpaque())"))
        #expect(retain < store)
    }

    /// The run queues and the injector publish retained pointers only through `retainedPointer`.
    @Test func runQueuesPublishThroughRetainedPointer() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/Runtime/Scheduler").standardized
        for name in ["RunQueue.swift", "Injector.swift", "Worker.swift"] {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let code = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
            #expect(!code.contains { $0.contains("passRetained(") }, "\(name) calls Unmanaged.passRetained")
        }
    }

    static var isX86: Bool {
        #if arch(x86_64)
            true
        #else
            false
        #endif
    }
}
