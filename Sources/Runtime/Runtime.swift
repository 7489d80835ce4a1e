/// Runtime: stackful fibers, the M:N scheduler, the asyncio-style event loop and their metrics.
/// Knows nothing of curses, files or the UI. See docs/ARCHITECTURE.md.
public enum RuntimeInfo {
    public static let version = "0.1.0"
}
