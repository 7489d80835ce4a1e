import Telemetry

// MemoryPanel: the process's RSS and what one parked task costs (issue 15, "Memory per parked task, live"),
// and the banner a preset shows when parking stopped at a system limit. Draws `Snapshot.memory` only; every
// figure the source did not measure reads "n/a". Definitions: docs/figures.md, "Memory".

enum MemoryPanel {
    /// Rows the panel takes (borders included).
    static let height = 8

    static func draw(into grid: inout Grid, rect: Rect, memory m: MemorySnapshot) {
        let inner = grid.box(rect, title: "Memory").inset(dx: 1, dy: 0)
        guard inner.width > 0, inner.height > 0 else { return }
        let rows = lines(m)
        for (i, row) in rows.enumerated() where i < inner.height {
            grid.line(inner, i, row.label, style: .dim)
            grid.text(at: Point(inner.x + 11, inner.y + i), row.value, style: row.style, maxWidth: inner.width - 11)
        }
    }

    static func lines(_ m: MemorySnapshot) -> [(label: String, value: String, style: Style)] {
        let parked =
            Fmt.na(m.parkedTasks) { Fmt.count($0) } + (m.parkTarget.map { " of \(Fmt.count($0)) asked" } ?? "")
        let stacks: String
        if let per = m.stackResidentBytesPerStack, let n = m.stacksMeasured, let mapped = m.stacksMapped {
            stacks = "\(ByteCount.text(per)) (mincore \(Fmt.count(n))/\(Fmt.count(mapped)))"
        } else {
            stacks = "n/a"
        }
        return [
            (
                "RSS",
                Fmt.na(m.rssBytes) { ByteCount.text($0) }
                    + " (base \(Fmt.na(m.baselineRSSBytes) { ByteCount.text($0) }))",
                .plain
            ),
            ("parked", parked, PanelPalette.parked),
            ("per parked", Fmt.na(m.bytesPerParked) { ByteCount.text($0) } + " (above base)", .bold),
            ("stack res.", stacks, .plain),
            // What the kernel keeps per parked task (no RSS shows it): this process's page tables, and every
            // process's kernel stacks (system-wide).
            ("page tbl.", Fmt.na(m.pageTablesPerParked, signedBytes) + " (own)", .plain),
            ("kern. stk", Fmt.na(m.kernelStacksPerParked, signedBytes) + " (system-wide)", .plain),
        ]
    }

    /// A difference in bytes: what other processes freed meanwhile can make a system-wide one negative ("−1.2 KiB").
    static func signedBytes(_ v: Double) -> String { v < 0 ? "−" + ByteCount.text(-v) : ByteCount.text(v) }

    /// The one-row banner of a preset stopped at a system limit.
    static func drawBanner(into grid: inout Grid, rect: Rect, limit: String) {
        grid.line(rect, 0, " LIMIT: \(limit) ", style: PanelPalette.blocked)
    }
}
