// Text renderings of a grid, for snapshot tests and `--dump`-style debugging.
//
// `text` is what a person sees: one line per row, wide characters once, trailing spaces cut.
// `styleText` is the matching style layer: one character per cell, `.` for the plain style,
// letters for the others in order of first appearance, then a legend (`a: fg=2 bg=- bold`).
// Two screens that look the same but differ in color differ in the style layer.

extension Grid {
    /// The characters of the grid, one line per row, trailing spaces removed, rows joined by "\n".
    public var text: String {
        var lines: [String] = []
        lines.reserveCapacity(height)
        for y in 0..<height {
            var line = String.UnicodeScalarView()
            for x in 0..<width {
                let c = cells[y * width + x]
                if c.width == 0 { continue }
                line.append(c.scalar)
            }
            var s = String(line)
            while s.last == " " { s.removeLast() }
            lines.append(s)
        }
        return lines.joined(separator: "\n")
    }

    /// The style layer: one character per cell (`.` plain; `a`…`z`, `A`…`Z`, `0`…`9` others in order of first
    /// appearance, `?` after that), rows joined by "\n" with trailing `.` cut, then an empty line and the legend.
    public var styleText: String {
        let codes = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var assigned: [Style: Character] = [:]
        var order: [Style] = []
        var lines: [String] = []
        for y in 0..<height {
            var line = ""
            for x in 0..<width {
                let st = cells[y * width + x].style
                if st == .plain {
                    line.append(".")
                    continue
                }
                if let c = assigned[st] {
                    line.append(c)
                } else {
                    let c: Character = order.count < codes.count ? codes[order.count] : "?"
                    assigned[st] = c
                    order.append(st)
                    line.append(c)
                }
            }
            while line.last == "." { line.removeLast() }
            lines.append(line)
        }
        var out = lines.joined(separator: "\n")
        if !order.isEmpty {
            out += "\n\n" + order.map { "\(assigned[$0]!): \($0.summary)" }.joined(separator: "\n")
        }
        return out
    }
}
