import Foundation
import Testing

@testable import Dashboard

#if canImport(FoundationXML)
    import FoundationXML
#endif

// SVG pictures of the dashboard: well-formed XML whose drawn cells read back as the grid's text, the
// terminal's colours, and a real renderer (librsvg's `rsvg-convert`, then netpbm's `pngtopnm` for the
// pixels) drawing a picture that is not blank and whose box lines meet at every cell seam. The
// renderer tests run when both tools exist, and under CI=true (where .ci/run installs them) a missing
// tool is a failure.

@Suite struct SVGPictureTests {
    static let sizes = [Size(80, 24), Size(160, 50)]

    static func live(_ size: Size) -> Grid {
        Shell.render(data: Fixtures.data(), state: UIState(size: size, rateHz: 10, presetName: "virtual-threads"))
    }

    /// The picture's drawn cells by row and column: `<text>` content at its x/y, shapes by the `data-c`
    /// they carry, placed by the first point of their path (inside the cell they draw).
    final class Cells: NSObject, XMLParserDelegate {
        var chars: [Int: [Int: Character]] = [:]
        var root: String?
        var pendingText: (x: Int, y: Int)?
        var text = ""

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if root == nil { root = name }
            switch name {
            case "text":
                let x = Int(attributes["x"] ?? "") ?? -1
                let y = Int(attributes["y"] ?? "") ?? -1
                pendingText = (x / SVGPicture.cellWidth, (y - SVGPicture.baseline) / SVGPicture.cellHeight)
                text = ""
            case "path":
                guard let c = attributes["data-c"], let d = attributes["d"], d.first == "M" else { return }
                let point = d.dropFirst().prefix { $0 != "h" }.split(separator: " ").compactMap { Double($0) }
                guard point.count == 2 else { return }
                let col = Int(point[0]) / SVGPicture.cellWidth
                let row = Int(point[1]) / SVGPicture.cellHeight
                chars[row, default: [:]][col] = c.first
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard name == "text", let p = pendingText else { return }
            chars[p.y, default: [:]][p.x] = text.first
            pendingText = nil
        }

        /// Row `y` as `Grid.text` writes it: wide characters once, trailing blanks cut.
        func row(_ y: Int, width: Int) -> String {
            var s = ""
            var x = 0
            while x < width {
                if let c = chars[y]?[x] {
                    s.append(c)
                    x += DisplayWidth.of(c.unicodeScalars.first!) == 2 ? 2 : 1
                } else {
                    s.append(" ")
                    x += 1
                }
            }
            while s.last == " " { s.removeLast() }
            return s
        }
    }

    static func parse(_ svg: String) throws -> Cells {
        let parser = XMLParser(data: Data(svg.utf8))
        let cells = Cells()
        parser.delegate = cells
        let ok = parser.parse()
        if !ok { throw ParseFailure(message: parser.parserError.map { "\($0)" } ?? "unknown XML error") }
        return cells
    }

    struct ParseFailure: Error { var message: String }

    @Test(arguments: sizes) func pictureIsXMLAndEveryRowOfTheGridReadsBack(size: Size) throws {
        let grid = Self.live(size)
        let svg = SVGPicture.render(grid, title: "qvtop <test> & \"quotes\"")
        let cells = try Self.parse(svg)
        #expect(cells.root == "svg")
        #expect(svg.contains(##"width="\##(size.width * SVGPicture.cellWidth)""##))
        let rows = grid.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(rows.count == size.height)
        for (y, row) in rows.enumerated() {
            #expect(cells.row(y, width: size.width) == row, "row \(y)")
        }
        // The dashboard draws boxes: line pieces are shapes, not font glyphs.
        #expect(svg.contains(##"<path data-c="┌""##))
        #expect(!svg.contains(">┌</text>"))
    }

    @Test func coloursAreTheTerminalPaletteAndReverseSwapsThem() throws {
        var grid = Grid(width: 4, height: 1)
        grid.text(at: Point(0, 0), "ab", style: Style(fg: .red, bg: .blue))
        grid.text(at: Point(2, 0), "c", style: Style(fg: .cube(5, 0, 0), .reverse))
        grid.text(at: Point(3, 0), "d", style: Style(fg: .grey(23), .bold))
        let svg = SVGPicture.render(grid)
        _ = try Self.parse(svg)
        #expect(svg.contains(##"<rect x="0" y="0" width="20" height="20" fill="#0000ee"/>"##))  // ANSI blue, both cells
        #expect(svg.contains(##"fill="#cd0000">a</text>"##))  // ANSI red
        // Reverse: the default background becomes the text colour, the cube red the cell's background.
        #expect(svg.contains(##"<rect x="20" y="0" width="10" height="20" fill="#ff0000"/>"##))
        #expect(svg.contains(##"fill="#121212">c</text>"##))
        #expect(svg.contains(##"fill="#eeeeee" font-weight="bold">d</text>"##))  // grey 23 = 238
    }

    @Test func blockElementsFillTheirEighthsOfTheCell() {
        // ▄ is the lower half: from y 10 to 20 of a 10×20 cell; ▌ the left half: x 0 to 5.
        #expect(SVGPicture.shape("▄", x: 0, y: 0) == "M0 10h10v10h-10z")
        #expect(SVGPicture.shape("▌", x: 0, y: 0) == "M0 0h5v20h-5z")
        #expect(SVGPicture.shape("█", x: 10, y: 20) == "M10 20h10v20h-10z")
        #expect(SVGPicture.shape("a", x: 0, y: 0) == nil)
        // ─ spans the whole cell width, so two of them side by side meet.
        #expect(SVGPicture.shape("─", x: 0, y: 0) == "M0 9h6v2h-6zM4 9h6v2h-6z")
    }

    // MARK: - A real renderer

    static func tool(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static let rendererEnabled = (tool("rsvg-convert") != nil && tool("pngtopnm") != nil) || isCI

    /// Runs `args` with stdin from `input`, returns stdout; fails on a non-zero status.
    static func pipe(_ args: [String], input: URL) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: args[0])
        p.arguments = Array(args.dropFirst())
        p.standardInput = try FileHandle(forReadingFrom: input)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ParseFailure(message: "\(args[0]) exited \(p.terminationStatus)") }
        return data
    }

    /// A binary PPM (P6, maxval 255) as width, height and RGB bytes.
    static func ppm(_ data: Data) throws -> (w: Int, h: Int, rgb: [UInt8]) {
        let bytes = [UInt8](data)
        var fields: [Int] = []
        var i = 0
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "6") else {
            throw ParseFailure(message: "not a P6 PPM")
        }
        i = 2
        while fields.count < 3 {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 {
                i += 1
            }
            var n = 0
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) {
                n = n * 10 + Int(bytes[i] - 0x30)
                i += 1
            }
            fields.append(n)
        }
        i += 1  // the single whitespace before the raster
        guard fields[2] == 255, bytes.count - i >= fields[0] * fields[1] * 3 else {
            throw ParseFailure(message: "unexpected PPM header \(fields)")
        }
        return (fields[0], fields[1], Array(bytes[i..<(i + fields[0] * fields[1] * 3)]))
    }

    @Test(.enabled(if: rendererEnabled, "rsvg-convert and pngtopnm are not installed (required under CI=true)"))
    func aRealRendererDrawsItAndBoxLinesMeet() throws {
        guard let rsvg = Self.tool("rsvg-convert"), let pngtopnm = Self.tool("pngtopnm") else {
            Issue.record("rsvg-convert (librsvg2-bin) or pngtopnm (netpbm) missing: .ci/run installs them")
            return
        }
        let grid = Self.live(Size(80, 24))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qvtop-svg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let svgURL = dir.appendingPathComponent("frame.svg")
        try SVGPicture.render(grid).write(to: svgURL, atomically: true, encoding: .utf8)
        let png = try Self.pipe([rsvg, "-f", "png"], input: svgURL)
        let pngURL = dir.appendingPathComponent("frame.png")
        try png.write(to: pngURL)
        let image = try Self.ppm(try Self.pipe([pngtopnm], input: pngURL))
        #expect(image.w == 80 * SVGPicture.cellWidth && image.h == 24 * SVGPicture.cellHeight)

        let bg = SVGPicture.Theme.dark.background
        func pixel(_ x: Int, _ y: Int) -> SVGPicture.RGB {
            let i = (y * image.w + x) * 3
            return SVGPicture.RGB(Int(image.rgb[i]), Int(image.rgb[i + 1]), Int(image.rgb[i + 2]))
        }
        func lit(_ x: Int, _ y: Int) -> Bool {
            let p = pixel(x, y)
            return max(abs(p.r - bg.r), abs(p.g - bg.g), abs(p.b - bg.b)) > 40
        }
        // Not blank: a good share of the pixels is drawn, in many colours.
        var drawn = 0
        var colours = Set<SVGPicture.RGB>()
        for y in 0..<image.h {
            for x in 0..<image.w {
                if lit(x, y) { drawn += 1 }
                colours.insert(pixel(x, y))
            }
        }
        #expect(drawn > image.w * image.h / 20, "only \(drawn) pixels drawn")
        #expect(colours.count > 8)

        // The first box of the grid: its left edge from ┌ down to └, its bottom edge from └ to ┘ (the
        // top edge holds the title).
        let W = SVGPicture.cellWidth
        let H = SVGPicture.cellHeight
        let top = try #require(
            (0..<grid.height).lazy.compactMap { y in
                (0..<grid.width).first { grid[$0, y].scalar == "┌" }.map { Point($0, y) }
            }.first)
        let bottom = try #require((top.y + 1..<grid.height).first { grid[top.x, $0].scalar == "└" })
        let right = try #require((top.x + 1..<grid.width).first { grid[$0, bottom].scalar == "┘" })
        // Down the left edge the line runs through every row seam (the pixel either side of it).
        let cx = top.x * W + W / 2
        for row in top.y + 1...bottom {
            #expect(lit(cx, row * H - 1) && lit(cx, row * H), "left edge broken at row \(row)")
        }
        // Along the bottom edge it runs through every column seam.
        let cy = bottom * H + H / 2
        for col in top.x + 1...right {
            #expect(lit(col * W - 1, cy) && lit(col * W, cy), "bottom edge broken at column \(col)")
        }
        // Inside the corner, off the line, is background: the lines are lines, not filled cells.
        #expect(!lit(top.x * W + 1, top.y * H + 1))
    }
}
