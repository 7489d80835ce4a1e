import Telemetry

/// The data side of a frame: the newest snapshot, the panels' history, and the code listings.
///
/// Owned by the app loop (UI thread). `ingest` is called with each new snapshot while the view is
/// not paused; drawing only reads it. The history is bounded, so memory stays flat in long sessions.
public struct ViewData: Sendable, Equatable {
    /// The newest snapshot; nil until the source produced one (or when there is no source).
    public private(set) var snapshot: Snapshot?
    /// Recent samples and events for sparklines, the slow list and the details view.
    public private(set) var history = PanelHistory()
    /// Sync/async bodies of the current workload's task kinds, for the code pane (`c`).
    public var code: [CodeListing]
    /// True when a `SnapshotSource` feeds the app loop.
    public var sourceAttached: Bool
    /// Where the replay is (replay mode only), set by the app loop each frame.
    public var replay: ReplayStatus?
    /// The recording in progress, for the header's REC marker; nil when not recording.
    public var recording: RecordingBadge?

    public init(sourceAttached: Bool = false, snapshot: Snapshot? = nil, code: [CodeListing] = []) {
        self.sourceAttached = sourceAttached
        self.code = code
        if let snapshot { ingest(snapshot) }
    }

    /// Takes a new snapshot in.
    public mutating func ingest(_ s: Snapshot) {
        history.append(s)
        snapshot = s
    }

    /// Forgets the history (sparklines, event lists): after a replay seek the next snapshot does not
    /// follow the previous one.
    public mutating func restartHistory() {
        history = PanelHistory()
    }

    /// Workers (fiber models) or loops (loop models) of the newest snapshot: what arrows and clicks select.
    public var selectableCount: Int {
        guard let s = snapshot else { return 0 }
        return s.model.usesFibers ? s.workers.count : s.loops.count
    }
}
