// ContinuationHandOff: two tasks on one executor passing control back and forth through one continuation
// slot — the hand-off `qvtop bench loop-switch` measures (`loop-switch-continuation` and its Swift-only floor)
// and `LoopAffinityTests` counts the jobs of. One definition, so the test checks exactly what the benchmark
// runs. Package access: a measuring tool for this package, not part of the runtime's API.

/// One side of a continuation hand-off between two tasks on one thread: each `play` step parks itself and
/// resumes the other.
package final class ContinuationHandOff: @unchecked Sendable {
    // @unchecked Sendable: used by tasks of one executor thread only (a loop's, or a bare executor's).
    private var waiting: UnsafeContinuation<Void, Never>?

    package init() {}

    /// Plays `n` steps, then resumes the other side once more so it can finish.
    package func play(_ n: Int) async {
        for _ in 0..<n {
            await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                let other = waiting
                waiting = c
                other?.resume()
            }
        }
        let other = waiting
        waiting = nil
        other?.resume()
    }
}
