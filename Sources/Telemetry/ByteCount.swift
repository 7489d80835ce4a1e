// ByteCount: byte figures as text, in binary units ("8.5 KiB", "1.8 GiB"). The one formatter for bytes: the
// memory panel, the park limit banners and the benchmarks use it (issue 15, memory per parked task).

public enum ByteCount {
    /// "512 B", "8.5 KiB", "1.8 GiB" (one decimal from KiB up); "-" for a negative or non-finite value.
    public static func text(_ bytes: Double) -> String {
        guard bytes.isFinite, bytes >= 0 else { return "-" }
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = bytes
        var i = 0
        while v >= 1024 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        if i == 0 { return "\(Int(v.rounded())) B" }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[i])"
    }

    public static func text(_ bytes: UInt64) -> String { text(Double(bytes)) }
}
