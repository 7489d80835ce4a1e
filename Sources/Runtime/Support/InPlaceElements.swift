// InPlaceElements: elements made (or moved) straight into an array's new storage by `append(contentsOf:)`.
//
// The samplers make arrays whose elements are built in place each sample — a snapshot's worker rows, a drain's
// events — and the event rings hand their records over by moving them. The standard library's way to make
// elements in an array's uninitialised storage, `Array(unsafeUninitializedCapacity:initializingWith:)`, allocates
// through an unspecialised entry point that looks the storage class's generic metadata up in the runtime's hash
// table on every call (a few per cent of a 256-carrier sample); and `append(contentsOf:)` of a buffer copies each
// element through its value witness (a retain of each name). `append(contentsOf:)` of an `InPlaceElements`
// allocates through the specialised path, whose metadata is cached, and hands the fill the array's new storage
// (`Sequence._copyContents(initializing:)`, the hook `append(contentsOf:)` fills its new room with).
//
// A fill is a value of a type of its own (`InPlaceFill`), not a closure: a closure stored in the sequence is an
// escaping one, whose context is allocated on the heap at each call. Rejected: an array of blank values
// overwritten in place (a copy of each blank through the value witness, then an assignment per field).

/// What makes `count` elements in place for `Array.append(madeInPlace:)`.
@usableFromInline package protocol InPlaceFill {
    associatedtype Element
    /// The elements it makes.
    var count: Int { get }
    /// Initialises every element of `buffer` (exactly `count` of them, uninitialised before), and nothing else.
    func fill(_ buffer: UnsafeMutableBufferPointer<Element>)
}

/// The `count` elements at `start`, moved (bit moves: no retain, no release): each place is left uninitialised, and
/// its owner initialises it again before it reads it.
@usableFromInline package struct InPlaceMove<Element>: InPlaceFill {
    // Unsafe pointer: `count` initialised elements the caller owns and gives up.
    @usableFromInline package let start: UnsafeMutablePointer<Element>
    @usableFromInline package let count: Int

    @inlinable package init(from start: UnsafeMutablePointer<Element>, count: Int) {
        self.start = start
        self.count = count
    }

    @inlinable package func fill(_ buffer: UnsafeMutableBufferPointer<Element>) {
        buffer.baseAddress!.moveInitialize(from: start, count: count)
    }
}

extension Array {
    /// Appends the elements `f` makes, in place in the array's storage (see the file's comment).
    // @inlinable: specialised for the element and fill types at the call site (unspecialised, it is the generic
    // path the type exists to avoid).
    @inlinable
    package mutating func append<F: InPlaceFill>(madeInPlace f: F) where F.Element == Element {
        if f.count > 0 { append(contentsOf: InPlaceElements(f)) }
    }

    /// A new array of the elements `f` makes in its storage.
    @inlinable
    package init<F: InPlaceFill>(madeInPlace f: F) where F.Element == Element {
        self.init()
        append(madeInPlace: f)
    }
}

/// The elements a fill makes, as the sequence `append(contentsOf:)` takes: appended, `fill` makes them in the
/// array's new room (exactly `count`); on a path that iterates instead, they are made in a buffer of the iterator's
/// own and moved out one by one.
@usableFromInline
struct InPlaceElements<F: InPlaceFill>: Sequence {
    @usableFromInline let f: F

    @inlinable init(_ f: F) { self.f = f }

    @inlinable var underestimatedCount: Int { f.count }

    @usableFromInline
    struct Iterator: IteratorProtocol {
        // Unsafe buffer: owned by this iterator; `next` moves each made element out once, then frees it.
        @usableFromInline var buffer: UnsafeMutableBufferPointer<F.Element>?
        @usableFromInline var taken = 0

        @inlinable init(buffer: UnsafeMutableBufferPointer<F.Element>?) { self.buffer = buffer }

        // Inlined: after `_copyContents` the append asks the iterator it returned (with no buffer) for more, which
        // folds to nil here; a call returned an optional element the caller destroyed through the optional's
        // generic witness.
        @inlinable @inline(__always) mutating func next() -> F.Element? {
            guard let b = buffer else { return nil }
            if taken == b.count {
                b.deallocate()
                buffer = nil
                return nil
            }
            defer { taken += 1 }
            return (b.baseAddress! + taken).move()
        }
    }

    @inlinable func makeIterator() -> Iterator {
        let b = UnsafeMutableBufferPointer<F.Element>.allocate(capacity: f.count)
        f.fill(b)
        return Iterator(buffer: b)
    }

    /// What `append(contentsOf:)` calls with the array's new room: the fill makes the elements in it, and nothing is
    /// left to iterate.
    @inlinable func _copyContents(
        initializing buffer: UnsafeMutableBufferPointer<F.Element>
    ) -> (Iterator, UnsafeMutableBufferPointer<F.Element>.Index) {
        let n = f.count
        precondition(buffer.count >= n, "InPlaceElements._copyContents: room for \(buffer.count) of \(n) elements")
        f.fill(UnsafeMutableBufferPointer(rebasing: buffer[0..<n]))
        return (Iterator(buffer: nil), n)
    }
}
