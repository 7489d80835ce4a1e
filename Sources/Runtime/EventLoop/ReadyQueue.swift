// ReadyQueue: the loop's FIFO of ready jobs. A power-of-two ring over raw memory.
//
// Why not Deque: the ready queue is touched twice per job (append, pop), and Deque's copy-on-write
// uniqueness check and generic outlined moves were ~5% of a task switch in profiles. The queue is
// owned by one thread and never copied, so it needs neither.
//
// Ownership: owned by the loop thread (a field of the loop's thread state). Not copyable in
// spirit: copies would share the buffer; the loop keeps exactly one and calls `destroy()` once.

struct ReadyQueue<Element> {
    // Unsafe: raw storage; slots head ..< head+count (mod capacity) are initialized, the rest not.
    private var buffer: UnsafeMutablePointer<Element>
    private var capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity { c <<= 1 }
        self.capacity = c
        buffer = .allocate(capacity: c)
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    mutating func append(_ e: Element) {
        if count == capacity { grow() }
        (buffer + ((head &+ count) & (capacity &- 1))).initialize(to: e)
        count &+= 1
    }

    @inline(__always)
    mutating func popFirst() -> Element? {
        if count == 0 { return nil }
        let e = (buffer + head).move()
        head = (head &+ 1) & (capacity &- 1)
        count &-= 1
        return e
    }

    private mutating func grow() {
        let newCap = capacity * 2
        let nb = UnsafeMutablePointer<Element>.allocate(capacity: newCap)
        for i in 0..<count {
            (nb + i).moveInitialize(from: buffer + ((head + i) & (capacity - 1)), count: 1)
        }
        buffer.deallocate()
        buffer = nb
        capacity = newCap
        head = 0
    }

    /// Drops every queued element and frees the storage. Call once, when the owner goes away.
    mutating func destroy() {
        while popFirst() != nil {}
        buffer.deallocate()
        capacity = 0
    }
}
