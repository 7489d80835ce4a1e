import Telemetry

/// The data side of a frame: the newest snapshot and short histories derived from the stream.
///
/// Owned by the app loop (UI thread). `ingest` is called with each new snapshot while the view is
/// not paused; drawing only reads it. Histories are bounded, so memory stays flat in long sessions.
public struct ViewData: Sendable, Equatable {
    /// Points kept per history (enough for a 200-column sparkline).
    public static let historyLength = 240

    /// The newest snapshot; nil until the source produced one (or when there is no source).
    public private(set) var snapshot: Snapshot?
    /// `lag.recentMs` of each snapshot, oldest first; NaN marks a preset switch (a gap in the sparkline).
    public private(set) var lagHistory: [Double] = []
    /// True when a `SnapshotSource` feeds the app loop.
    public var sourceAttached: Bool

    public init(sourceAttached: Bool = false, snapshot: Snapshot? = nil) {
        self.sourceAttached = sourceAttached
        if let snapshot { ingest(snapshot) }
    }

    /// Takes a new snapshot in.
    public mutating func ingest(_ s: Snapshot) {
        if let old = snapshot, old.preset != s.preset { append(&lagHistory, .nan) }
        append(&lagHistory, s.lag.recentMs)
        snapshot = s
    }

    private func append(_ h: inout [Double], _ v: Double) {
        h.append(v)
        if h.count > Self.historyLength { h.removeFirst(h.count - Self.historyLength) }
    }
}
