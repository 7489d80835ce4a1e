/// Where the app loop gets snapshots: a live sampler (Workloads) or a recording (Recording).
/// Live and replay differ only in which source feeds the app loop.
///
/// Only the UI thread calls these methods.
public protocol SnapshotSource: AnyObject {
    /// The newest snapshot, or nil when none is available yet. Called at the UI rate.
    func poll() -> Snapshot?
    /// Stops the source (shuts a live runtime down, closes a file). Idempotent.
    func stop()
    /// One line the dashboard shows as a banner once it appears (a watched program has ended); nil
    /// while there is nothing to say. The last frame stays on screen.
    var notice: String? { get }
}

extension SnapshotSource {
    public var notice: String? { nil }
}
