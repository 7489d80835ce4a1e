// Points, rectangles and the layout splitter.
//
// Coordinates are cells: x grows right, y grows down, (0, 0) is the top-left corner. A `Rect`
// may be empty (zero width or height) but never negative: every operation clamps, so layout
// code on a tiny terminal degrades to empty rectangles instead of trapping.

/// A cell position.
public struct Point: Hashable, Sendable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public init(x: Int, y: Int) {
        self.x = x
        self.y = y
    }
    public init(_ x: Int, _ y: Int) { self.init(x: x, y: y) }
    public var description: String { "(\(x),\(y))" }
}

/// Width and height in cells.
public struct Size: Hashable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
    }
    public init(_ width: Int, _ height: Int) { self.init(width: width, height: height) }
    public var description: String { "\(width)×\(height)" }
    /// True when both sides are at least those of `other`.
    public func covers(_ other: Size) -> Bool { width >= other.width && height >= other.height }
}

/// A rectangle of cells; `maxX`/`maxY` are exclusive.
public struct Rect: Hashable, Sendable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }
    public init(_ x: Int, _ y: Int, _ width: Int, _ height: Int) {
        self.init(x: x, y: y, width: width, height: height)
    }
    public init(origin: Point, size: Size) {
        self.init(x: origin.x, y: origin.y, width: size.width, height: size.height)
    }

    public var origin: Point { Point(x, y) }
    public var size: Size { Size(width, height) }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width == 0 || height == 0 }
    public var description: String { "[\(x),\(y) \(width)×\(height)]" }

    public func contains(_ p: Point) -> Bool { p.x >= x && p.x < maxX && p.y >= y && p.y < maxY }

    /// The overlap of two rectangles (empty, at this origin, when they do not meet).
    public func intersection(_ other: Rect) -> Rect {
        let nx = max(x, other.x)
        let ny = max(y, other.y)
        let w = min(maxX, other.maxX) - nx
        let h = min(maxY, other.maxY) - ny
        if w <= 0 || h <= 0 { return Rect(x: nx, y: ny, width: 0, height: 0) }
        return Rect(x: nx, y: ny, width: w, height: h)
    }

    /// Shrunk by `dx` on the left and right and `dy` on the top and bottom.
    public func inset(dx: Int = 1, dy: Int = 1) -> Rect {
        Rect(x: x + dx, y: y + dy, width: width - 2 * dx, height: height - 2 * dy)
    }

    /// Shrunk by the given amounts on each side.
    public func inset(top: Int = 0, left: Int = 0, bottom: Int = 0, right: Int = 0) -> Rect {
        Rect(x: x + left, y: y + top, width: width - left - right, height: height - top - bottom)
    }

    /// The first `n` rows (clamped), and the rest.
    public func splitTop(_ n: Int) -> (top: Rect, rest: Rect) {
        let k = max(0, min(n, height))
        return (Rect(x, y, width, k), Rect(x, y + k, width, height - k))
    }

    /// The last `n` rows (clamped), and the rest.
    public func splitBottom(_ n: Int) -> (rest: Rect, bottom: Rect) {
        let k = max(0, min(n, height))
        return (Rect(x, y, width, height - k), Rect(x, maxY - k, width, k))
    }

    /// The first `n` columns (clamped), and the rest.
    public func splitLeft(_ n: Int) -> (left: Rect, rest: Rect) {
        let k = max(0, min(n, width))
        return (Rect(x, y, k, height), Rect(x + k, y, width - k, height))
    }

    /// One row of this rectangle (empty when out of range).
    public func row(_ i: Int) -> Rect {
        guard i >= 0 && i < height else { return Rect(x, y + max(0, min(i, height)), width, 0) }
        return Rect(x, y + i, width, 1)
    }

    /// A rectangle of `size` centred in this one (clamped to it).
    public func centered(_ size: Size) -> Rect {
        let w = min(size.width, width)
        let h = min(size.height, height)
        return Rect(x + (width - w) / 2, y + (height - h) / 2, w, h)
    }

    /// Splits along `axis` into consecutive parts sized by `sizes`, with `gap` cells between parts.
    /// See `Layout` for how sizes are resolved.
    public func split(_ axis: Axis, _ sizes: [Layout], gap: Int = 0) -> [Rect] {
        let total = axis == .horizontal ? width : height
        let lengths = Layout.resolve(sizes, total: total, gap: gap)
        var out: [Rect] = []
        out.reserveCapacity(lengths.count)
        var pos = axis == .horizontal ? x : y
        for len in lengths {
            if axis == .horizontal {
                out.append(Rect(pos, y, len, height))
            } else {
                out.append(Rect(x, pos, width, len))
            }
            pos += len + gap
        }
        return out
    }

    /// `n` equal columns (the remainder goes to the first ones).
    public func columns(_ n: Int, gap: Int = 0) -> [Rect] {
        split(.horizontal, Array(repeating: .fill, count: max(0, n)), gap: gap)
    }

    /// `n` equal rows (the remainder goes to the first ones).
    public func rows(_ n: Int, gap: Int = 0) -> [Rect] {
        split(.vertical, Array(repeating: .fill, count: max(0, n)), gap: gap)
    }
}

/// Direction of a split: `.horizontal` places parts side by side (columns), `.vertical` stacks them (rows).
public enum Axis: Sendable {
    case horizontal, vertical
}

/// The size of one part of a split.
///
/// Resolution: fixed parts first, then percentages of the whole length (gaps excluded), then
/// what remains is shared among `fill` parts by weight, leftovers to the first fills. When
/// the length is too short, parts are cut from the last one backwards, so the first parts
/// (headers, the main panel) keep their size longest. Parts never get negative lengths.
public enum Layout: Hashable, Sendable {
    /// Exactly `n` cells.
    case fixed(Int)
    /// `p` percent of the length.
    case percent(Int)
    /// A share of what is left, by weight; `min` cells at least when room allows.
    case fill(weight: Int, min: Int)

    /// A share of what is left, weight 1.
    public static var fill: Layout { .fill(weight: 1, min: 0) }
    /// A share of what is left, by weight.
    public static func fill(_ weight: Int) -> Layout { .fill(weight: weight, min: 0) }

    /// Lengths of the parts for a total length (gaps between parts included in `total`).
    public static func resolve(_ parts: [Layout], total: Int, gap: Int = 0) -> [Int] {
        guard !parts.isEmpty else { return [] }
        let avail = max(0, total - max(0, gap) * (parts.count - 1))
        var lengths = [Int](repeating: 0, count: parts.count)
        var used = 0
        for (i, p) in parts.enumerated() {
            switch p {
            case .fixed(let n): lengths[i] = max(0, n)
            case .percent(let pc): lengths[i] = max(0, avail * max(0, pc) / 100)
            case .fill(_, let m): lengths[i] = max(0, m)
            }
            used += lengths[i]
        }
        var left = avail - used
        if left > 0 {
            let fills = parts.enumerated().compactMap { i, p -> (Int, Int)? in
                if case .fill(let w, _) = p { return (i, max(0, w)) }
                return nil
            }
            let weights = fills.reduce(0) { $0 + $1.1 }
            if weights > 0 {
                var given = 0
                for (i, w) in fills {
                    let share = left * w / weights
                    lengths[i] += share
                    given += share
                }
                var rest = left - given
                for (i, w) in fills where rest > 0 && w > 0 {
                    lengths[i] += 1
                    rest -= 1
                }
                left = 0
            }
        }
        // Too long: cut from the last part backwards.
        var over = lengths.reduce(0, +) - avail
        var i = lengths.count - 1
        while over > 0 && i >= 0 {
            let cut = min(over, lengths[i])
            lengths[i] -= cut
            over -= cut
            i -= 1
        }
        return lengths
    }
}
