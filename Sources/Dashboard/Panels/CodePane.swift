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
        "import", "from", "as", "yield", "lambda", "not", "and", "or", "pass", "func", "let", "var", "try", "throws",
        "guard", "switch", "case", "defer",
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
        // Wraps, so a reducer may just count up ("next listing") without knowing how many there are.
        let index = ((view.codeIndex % listings.count) + listings.count) % listings.count
        let l = listings[index]
        let sep = Character(grid.glyphs.separator)
        let title = "Code \(sep) \(l.kind)" + (listings.count > 1 ? " (\(index + 1)/\(listings.count))" : "")
        let inner = grid.box(rect, title: title).inset(dx: 1, dy: 0)
        guard inner.height > 0 else { return }
        let (body, foot) = inner.splitBottom(inner.height >= 6 ? 1 : 0)
        let cols = body.columns(2, gap: 1)
        drawListing(into: &grid, rect: cols[0], title: l.syncTitle ?? "sync: as a fiber runs it", source: l.sync)
        drawListing(into: &grid, rect: cols[1], title: l.asyncTitle ?? "async: as a loop task", source: l.async)
        if !foot.isEmpty, let note = l.note {
            grid.line(foot, 0, note, style: .dim)
        } else if !foot.isEmpty {
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
        let rows = lines.flatMap { wrap(spans($0), width: rect.width) }
        for (i, row) in rows.enumerated() where i + 1 < rect.height {
            grid.spans(rect, i + 1, row)
        }
        if rows.count + 1 > rect.height && rect.height > 1 {
            let more = rows.count - rect.height + 2
            grid.line(rect, rect.height - 1, "\(Character(grid.glyphs.ellipsis)) \(more) more rows", style: .dim)
        }
    }

    /// One colored source line as rows of at most `width` characters: breaks at the last space that fits
    /// (else mid-word), continuation rows indented two more than the line. Styles carry across the break,
    /// so a wrapped comment stays dim. Code is ASCII in practice; one character counts as one column.
    static func wrap(_ spans: [(String, Style)], width: Int) -> [[(String, Style)]] {
        var chars: [(Character, Style)] = []
        for (text, style) in spans { for c in text { chars.append((c, style)) } }
        guard width > 4, chars.count > width else { return [spans] }
        let indent = min(chars.prefix { $0.0 == " " }.count + 2, width / 2)
        var rows: [[(Character, Style)]] = []
        var rest = chars[...]
        var first = true
        while !rest.isEmpty {
            let room = first ? width : width - indent
            var row: [(Character, Style)] = first ? [] : Array(repeating: (" ", .plain), count: indent)
            if rest.count <= room {
                row += rest
                rows.append(row)
                break
            }
            let window = rest.prefix(room)
            let minBreak = rest.startIndex + (first ? indent : 1)
            var cut = rest.startIndex + room
            if let space = window.lastIndex(where: { $0.0 == " " }), space > minBreak { cut = space + 1 }
            row += rest[rest.startIndex..<cut]
            rows.append(row)
            rest = rest[cut...]
            first = false
        }
        return rows.map { row in
            var out: [(String, Style)] = []
            for (c, st) in row {
                if let last = out.last, last.1 == st {
                    out[out.count - 1].0.append(c)
                } else {
                    out.append((String(c), st))
                }
            }
            return out
        }
    }
}
