import Testing

@testable import Runtime

/// The published fiber names keep two label slots (`PublishedFiberNames`): a run of a fiber whose label is already
/// in a slot only points at it. What a reader sees must stay what one field per name showed: `current` is the
/// running fiber's name (nil for an unnamed one), `last` the last named fiber not yet taken.
@Suite("Published fiber names")
struct PublishedFiberNamesTests {
    private func name(_ n: (name: String, kind: String)?) -> String? { n?.name }

    /// Publishes `label`'s run and checks that it is both the current and the last name.
    private func run(_ label: TaskLabel, in names: inout PublishedFiberNames) {
        names.publish(running: label)
        #expect(name(names.current) == label.name)
        #expect(name(names.last) == label.name)
    }

    @Test func twoFibersTakingTurnsAreNamedInTurn() {
        let a = TaskLabel(name: "a", kind: "k")
        let b = TaskLabel(name: "b", kind: "k")
        var names = PublishedFiberNames()
        for _ in 0..<3 {
            run(a, in: &names)
            run(b, in: &names)
        }
    }

    /// A third label replaces the slot that is neither current nor last, never the running fiber's.
    @Test func aNewLabelNeverReplacesTheRunningOne() {
        let labels = ["a", "b", "c", "d", "e"].map { TaskLabel(name: $0, kind: "") }
        var names = PublishedFiberNames()
        for (i, l) in labels.enumerated() {
            run(l, in: &names)
            if i > 0 {
                // The previous label is still in the other slot; this one was not replaced by it.
                run(labels[i - 1], in: &names)
                run(l, in: &names)
            }
        }
    }

    /// An unnamed run clears `current` and keeps `last`; a reader's take clears `last` and keeps `current`.
    @Test func unnamedRunsAndTakesClearOneNameEach() {
        let a = TaskLabel(name: "a", kind: "")
        let b = TaskLabel(name: "b", kind: "")
        var names = PublishedFiberNames()
        names.publish(running: a)
        names.publish(running: nil)
        #expect(names.current == nil)
        #expect(name(names.last) == "a")
        names.last = nil
        #expect(names.last == nil)
        names.publish(running: b)
        names.last = nil
        #expect(name(names.current) == "b")
        #expect(names.last == nil)
        // A new label after the take: the running one's slot may be reused (it no longer runs).
        run(a, in: &names)
        run(b, in: &names)
    }

    /// A reader's value stored into `last` does not disturb the running fiber's name.
    @Test func aStoredLastKeepsTheCurrentName() {
        var names = PublishedFiberNames()
        names.publish(running: TaskLabel(name: "a", kind: ""))
        names.last = (name: "x", kind: "")
        #expect(name(names.current) == "a")
        #expect(name(names.last) == "x")
    }
}
