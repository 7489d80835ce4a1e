// Cell and display width.
//
// A cell holds one Unicode scalar and its style. A wide character (CJK, most emoji: display
// width 2) lives in its left cell with `width == 2`; the cell to its right is a continuation
// (`width == 0`) that draws nothing. Writing over either half of a wide character blanks the
// other half, so the grid never holds half a character. Zero-width scalars (combining marks,
// format characters) and control characters are dropped on write: one scalar per cell keeps
// the model, the diff and the blit simple, and qvtop's own text never needs combining marks.
//
// Widths come from Glibc's `wcwidth`, the same table ncursesw uses to place characters, so the
// grid and the terminal agree on columns. `wcwidth` answers per the thread's LC_CTYPE, which is
// "C" in a test process (every non-ASCII scalar then reads as -1), so the lookup runs under a
// private C.UTF-8 locale object (`uselocale` is per thread, restored at once). If C.UTF-8 does
// not exist, a small built-in table of the East Asian wide ranges answers instead.

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One cell of a `Grid`.
public struct Cell: Hashable, Sendable {
    /// The character drawn here (a space for blank cells and continuations).
    public var scalar: Unicode.Scalar
    /// 1 for a normal cell, 2 for the left half of a wide character, 0 for its right half.
    public var width: UInt8
    public var style: Style

    public init(_ scalar: Unicode.Scalar = " ", width: UInt8 = 1, style: Style = .plain) {
        self.scalar = scalar
        self.width = width
        self.style = style
    }

    /// A blank cell in the given style.
    public static func blank(_ style: Style = .plain) -> Cell { Cell(" ", width: 1, style: style) }

    /// True for the right half of a wide character.
    public var isContinuation: Bool { width == 0 }
}

/// Display width of scalars and strings, in terminal columns.
public enum DisplayWidth {
    /// Columns the scalar takes: 0 (combining, format, control — dropped by the grid), 1, or 2.
    public static func of(_ scalar: Unicode.Scalar) -> Int {
        let v = scalar.value
        if v >= 0x20 && v < 0x7F { return 1 }
        if v < 0x20 || (v >= 0x7F && v < 0xA0) { return 0 }
        if let w = wcwidthUTF8(v) { return w }
        return fallback(scalar)
    }

    /// Columns a string takes when written with `Grid.text` (zero-width scalars skipped).
    public static func of(_ string: some StringProtocol) -> Int {
        var total = 0
        for s in string.unicodeScalars { total += of(s) }
        return total
    }

    /// `wcwidth` under the C.UTF-8 locale; nil when that locale is missing.
    private static func wcwidthUTF8(_ value: UInt32) -> Int? {
        #if canImport(Glibc)
            let shared = UTF8Locale.shared
            guard let loc = shared.handle, let wcwidth = shared.wcwidth else { return nil }
            let previous = uselocale(loc)
            let w = wcwidth(wchar_t(bitPattern: value))
            uselocale(previous)
            return w < 0 ? 0 : Int(w)
        #else
            return nil
        #endif
    }

    /// Built-in answer when no UTF-8 locale exists: East Asian wide/fullwidth ranges and emoji are 2,
    /// nonspacing/enclosing marks and format characters 0, everything else 1.
    static func fallback(_ scalar: Unicode.Scalar) -> Int {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control, .surrogate, .unassigned: return 0
        default: break
        }
        let v = scalar.value
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
            0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60,
            0xFFE0...0xFFE6, 0x1F300...0x1F64F, 0x1F900...0x1F9FF, 0x20000...0x3FFFD,
        ]
        return wide.contains { $0.contains(v) } ? 2 : 1
    }
}

#if canImport(Glibc)
    /// The process-wide C.UTF-8 locale object and Glibc's `wcwidth`, used for width lookups.
    // @unchecked Sendable: both fields are written once in `init` (a `static let`, so initialised
    // exactly once under Swift's lazy-global lock) and never freed or changed; glibc locale
    // objects are safe to use from many threads at once via `uselocale`.
    private final class UTF8Locale: @unchecked Sendable {
        typealias WcwidthFunction = @convention(c) (wchar_t) -> Int32
        static let shared = UTF8Locale()
        let handle: locale_t?
        let wcwidth: WcwidthFunction?
        private init() {
            handle = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil) ?? newlocale(LC_CTYPE_MASK, "C.utf8", nil)
            // Glibc declares `wcwidth` only under _XOPEN_SOURCE, which Swift's Glibc module does not set,
            // so it is looked up by name. unsafeBitCast: the symbol is glibc's `int wcwidth(wchar_t)`,
            // whose C signature is exactly `WcwidthFunction`; RTLD_DEFAULT is the null handle on glibc.
            if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "wcwidth") {
                wcwidth = unsafeBitCast(sym, to: WcwidthFunction.self)
            } else {
                wcwidth = nil
            }
        }
    }
#endif
