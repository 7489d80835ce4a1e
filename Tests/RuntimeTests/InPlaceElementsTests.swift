import Testing

@testable import Runtime

/// `Array.append(madeInPlace:)`: elements made or moved straight into an array's new storage (the samplers'
/// snapshot rows and events, the event rings' drains).
@Suite struct InPlaceElementsTests {
    /// Makes `count` names "p-0", "p-1", … in place (heap strings: a wrong copy or move shows as a wrong name, or
    /// under AddressSanitizer as a use after free).
    struct Names: InPlaceFill {
        let count: Int
        let prefix: String
        func fill(_ buffer: UnsafeMutableBufferPointer<String>) {
            #expect(buffer.count == count)
            for i in 0..<count { (buffer.baseAddress! + i).initialize(to: "\(prefix)-\(i)") }
        }
    }

    static let long = String(repeating: "x", count: 32)

    @Test func appendsAfterTheElementsAlreadyThere() {
        var a = ["first"]
        a.append(madeInPlace: Names(count: 3, prefix: Self.long))
        #expect(a == ["first"] + (0..<3).map { "\(Self.long)-\($0)" })
        a.append(madeInPlace: Names(count: 0, prefix: "none"))
        #expect(a.count == 4)
        #expect(Array(madeInPlace: Names(count: 0, prefix: "none")).isEmpty)
        #expect(Array(madeInPlace: Names(count: 2, prefix: "b")) == ["b-0", "b-1"])
    }

    /// A copy of an array being appended to is left as it was (the append makes its own storage first).
    @Test func aSharedArrayIsCopiedBeforeTheAppend() {
        var a = ["a", "b"]
        let before = a
        a.append(madeInPlace: Names(count: 2, prefix: "c"))
        #expect(before == ["a", "b"])
        #expect(a == ["a", "b", "c-0", "c-1"])
    }

    /// Moved elements leave their places uninitialised: the source is initialised again (here, by the test) before
    /// it is freed, and every name arrives once, whole.
    @Test func movedElementsArriveOnceAndLeaveTheirPlaces() {
        let source = UnsafeMutablePointer<String>.allocate(capacity: 4)
        defer { source.deallocate() }
        for i in 0..<4 { (source + i).initialize(to: "\(Self.long)-\(i)") }
        var a: [String] = []
        a.append(madeInPlace: InPlaceMove(from: source + 1, count: 3))
        #expect(a == (1..<4).map { "\(Self.long)-\($0)" })
        // Slot 0 was not moved; 1–3 were, and are initialised again before the deinitialize below.
        for i in 1..<4 { (source + i).initialize(to: "again-\(i)") }
        #expect(source[0] == "\(Self.long)-0" && source[3] == "again-3")
        source.deinitialize(count: 4)
    }

    /// Iterated instead of appended (the path a consumer other than `append(contentsOf:)` takes), the sequence
    /// yields the same elements, in order.
    @Test func iteratedItYieldsTheSameElements() {
        let s = InPlaceElements(Names(count: 5, prefix: Self.long))
        #expect(s.underestimatedCount == 5)
        var seen: [String] = []
        for name in s { seen.append(name) }
        #expect(seen == (0..<5).map { "\(Self.long)-\($0)" })
        var empty = InPlaceElements(Names(count: 0, prefix: "none")).makeIterator()
        #expect(empty.next() == nil)
        #expect(empty.next() == nil)
    }
}
