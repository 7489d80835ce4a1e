// The invariant workload's source text, for the code pane of asyncio-mn (issue 15, wave 3): the read-modify-write
// steps and the task both loops run, so the screen shows the code whose updates it counts.
//
// Generated from the `// BEGIN invariant NAME` sections of InvariantModel.swift, de-indented by four spaces;
// `InvariantSourceTests` fails if a section changes without this file (regenerate as that test's comment says).

/// Source text of the asyncio-mn workload, for the code pane.
public enum InvariantSource {
    /// `bump`: the counter's load, compute, store (no await).
    public static let counter = #"""
        /// `n = counter; compute(); counter = n + 1`
        static func bump(_ s: InvariantState, windowMicros: Double) {
            // relaxed (both): the race under study, kept defined: an atomic word, read then written, no
            // ordering asked — what a Python int attribute is under free-threading.
            let n = s.counter.load(ordering: .relaxed)  // read
            Work.spin(ms: windowMicros / 1000)  // compute: no await, so "nothing else runs" (on one loop)
            s.counter.store(n + 1, ordering: .relaxed)  // write
        }
        """#

    /// `fill`: the cache's check, compute, set (no await).
    public static let cache = #"""
        /// `if key not in cache: cache[key] = compute()`
        static func fill(_ s: InvariantState, key: Int, owner: Int, windowMicros: Double) {
            let slot = s.cache[key]
            // relaxed (both): the race under study (see `bump`).
            if slot.owner.load(ordering: .relaxed) == 0 {  // check
                Work.spin(ms: windowMicros / 1000)  // compute the value: no await
                slot.owner.store(owner, ordering: .relaxed)  // set
                s.fills.wrappingAdd(1, ordering: .relaxed)  // the instrument (exact), not the code under study
            }
        }
        """#

    /// The task of a round: both loops run it; an await only between the steps.
    public static let task = #"""
        /// One task of a round, the same on both loops: an await only between the steps, never inside one.
        static func task(_ s: InvariantState, index i: Int, spec: InvariantSpec, on runtime: some InvariantRuntime) async {
            for j in 0..<spec.steps {
                bump(s, windowMicros: spec.windowMicros)
                fill(s, key: (i + j) % spec.cacheKeys, owner: i + 1, windowMicros: spec.windowMicros)
                await runtime.yieldNow()
            }
        }
        """#

    /// The code pane's column titles and note.
    public static let stepTitle = "the step: read, compute, write (no await)"
    public static let taskTitle = "the task both loops run (await between steps)"
    public static let note =
        "the same code on both loops: nothing runs between an await and the next on one loop; on the M:N loop it does"
}
