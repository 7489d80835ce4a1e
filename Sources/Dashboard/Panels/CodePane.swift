// The code pane: one task kind's body as a fiber runs it (plain, synchronous calls) beside the
// same body as an event-loop task (`async def`, `await`) — the talk's "function coloring".
// The texts are input values (`CodeListing`, provided by the presets side); this file only
// lays them out and colors the async words, so the two colors are visible at a glance.

enum CodePane {
    /// Words drawn in the async color.
    static let asyncWords: Set<Substring> = ["async", "await"]
    /// Keywords drawn bold in both panes.
    static let keywords: Set<Substring> = [
        "def", "return", "with", "for", "in", "while", "if", "else", "elif", "try", "except", "finally",
        "import", "from", "as", "yield", "lambda", "not", "and", "or", "pass", "func", "let", "var",
    ]

    /// Colored spans of one source line: async words, keywords, `#` / `//` comments.
    static func spans(_ line: Substring) -> [(String, Style)] {
        var out: [(String, Style)] = []
        var i = line.startIndex
        var plain = ""
        func flush() {
            if !plain.isEmpty { out.append((plain, .plain)) }
            plain = ""
        }
        while i < line.endIndex {
            let c = line[i]
            if c == "#" || (c == "/" && line[line.index(after: i)...].hasPrefix("/")) {
                flush()
                out.append((String(line[i...]), .dim))
                return out
            }
            if c.isLetter || c == "_" {
                var j = i
                while j < line.endIndex && (line[j].isLetter || line[j].isNumber || line[j] == "_") {
                    j = line.index(after: j)
                }
                let word = line[i..<j]
                if asyncWords.contains(word) {
                    flush()
                    out.append((String(word), PanelPalette.asyncCode))
                } else if keywords.contains(word) {
                    flush()
                    out.append((String(word), .bold))
                } else {
                    plain += word
                }
                i = j
                continue
            }
            plain.append(c == "\t" ? " " : c)
            i = line.index(after: i)
        }
        flush()
        return out
    }

    static func draw(into grid: inout Grid, rect: Rect, listings: [CodeListing], view: PanelView) {
        guard !listings.isEmpty else {
            let inner = grid.box(rect, title: "Code").inset(dx: 1, dy: 0)
            grid.line(inner, 0, "no code listings for this preset", style: .dim)
            return
        }
        let index = max(0, min(view.codeIndex, listings.count - 1))
        let l = listings[index]
        let sep = Character(grid.glyphs.separator)
        let title = "Code \(sep) \(l.kind)" + (listings.count > 1 ? " (\(index + 1)/\(listings.count))" : "")
        let inner = grid.box(rect, title: title).inset(dx: 1, dy: 0)
        guard inner.height > 0 else { return }
        let (body, foot) = inner.splitBottom(inner.height >= 6 ? 1 : 0)
        let cols = body.columns(2, gap: 1)
        drawListing(into: &grid, rect: cols[0], title: "sync: as a fiber runs it", source: l.sync)
        drawListing(into: &grid, rect: cols[1], title: "async: as a loop task", source: l.async)
        if !foot.isEmpty {
            grid.spans(
                foot, 0,
                [
                    ("async", PanelPalette.asyncCode), (" / ", .dim), ("await", PanelPalette.asyncCode),
                    (" spread to every caller on the right; the fiber body on the left stays plain", .dim),
                ])
        }
    }

    static func drawListing(into grid: inout Grid, rect: Rect, title: String, source: String) {
        guard rect.height > 0 else { return }
        grid.line(rect, 0, title, style: .bold.with(.underline))
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, line) in lines.enumerated() where i + 1 < rect.height {
            grid.spans(rect, i + 1, spans(line))
        }
        if lines.count + 1 > rect.height && rect.height > 1 {
            grid.line(
                rect, rect.height - 1, "\(Character(grid.glyphs.ellipsis)) \(lines.count - rect.height + 2) more lines",
                style: .dim)
        }
    }
}
