// Pictures of the dashboard as SVG (`export --format svg`, the `s` key): which moment of a recording
// to draw, and writing the picture.
//
// A picture is `SVGPicture.render` of the grid `Shell.render` makes: the same cells the terminal
// shows. `export` draws a recorded moment in the default view (no overlay, no replay bar) at the
// recorded terminal size, after feeding every earlier snapshot to a `ViewData` so histories and
// sparklines are as they were on screen then. The `s` key writes the grid the app loop drew last,
// overlays and all: what the user sees is what the file shows.

import Dashboard
import Foundation
import Recording
import Telemetry

/// Which moment of a recording `export --at` draws.
enum Moment: Equatable {
    /// Seconds since the first frame (`12.5s`, `12.5`).
    case elapsed(Double)
    /// The n-th bookmark, from 1 (`bookmark:2`).
    case bookmark(Int)
    /// Every bookmark, one file each into a folder (`bookmarks`).
    case allBookmarks

    /// Parses `--at`; nil when it is none of the forms.
    init?(_ text: String) {
        let t = text.lowercased()
        if t == "bookmarks" {
            self = .allBookmarks
        } else if t.hasPrefix("bookmark:"), let n = Int(t.dropFirst("bookmark:".count)), n >= 1 {
            self = .bookmark(n)
        } else if let s = Double(t.hasSuffix("s") ? String(t.dropLast()) : t), s.isFinite, s >= 0 {
            self = .elapsed(s)
        } else {
            return nil
        }
    }

    /// The session times this moment names, each with the file stem it is written under.
    func times(in recording: Recording) throws -> [(time: Double, stem: String)] {
        switch self {
        case .elapsed(let s):
            return [(recording.startTime + s, "frame")]
        case .bookmark(let n):
            guard n <= recording.bookmarks.count else {
                throw fail("--at bookmark:\(n): the recording has \(recording.bookmarks.count) bookmark(s)")
            }
            return [(recording.bookmarks[n - 1].time, "bookmark-\(n)")]
        case .allBookmarks:
            guard !recording.bookmarks.isEmpty else { throw fail("--at bookmarks: the recording has no bookmarks") }
            return recording.bookmarks.enumerated().map { ($0.element.time, "bookmark-\($0.offset + 1)") }
        }
    }
}

enum Pictures {
    /// The dashboard at each of `times` (session seconds, any order) as SVG documents with the time of
    /// the frame drawn, in the order asked, at `width`×`height`: every snapshot up to a moment's frame
    /// is fed to one `ViewData`. A time past the end draws the last frame.
    static func render(
        _ recording: Recording, at times: [Double], width: Int, height: Int
    ) -> [(svg: String, frameTime: Double)] {
        let frames = DashboardFrames(recording)
        let wanted = times.map { recording.frameIndex(atSessionTime: $0) ?? 0 }
        var pictures: [Int: String] = [:]
        var next = 0
        for target in wanted.sorted() where pictures[target] == nil {
            var grid: Grid?
            while next <= target, next < recording.frames.count {
                grid = frames.grid(recording.frames[next], width: width, height: height)
                next += 1
            }
            let snapshot = recording.frames.isEmpty ? nil : recording.frames[target]
            pictures[target] = SVGPicture.render(
                grid ?? frames.grid(nil, width: width, height: height),
                title: title(snapshot, start: recording.startTime))
        }
        return wanted.map { (pictures[$0] ?? "", recording.frames.isEmpty ? 0 : recording.frames[$0].time) }
    }

    /// `qvtop · Virtual threads · 12.5 s`.
    static func title(_ s: Snapshot?, start: Double) -> String {
        guard let s else { return "qvtop" }
        let name = s.presetTitle.isEmpty ? s.preset : s.presetTitle
        return "qvtop · \(name) · \(PlainTextRenderer.fixed(s.time - start, 1)) s"
    }

    /// Saves `grid` (what the app loop drew last) as a new SVG file in `directory` (nil: the current
    /// one), named `qvtop-PRESET-SECONDSs.svg` (`-2`, `-3`… when taken). Returns the path written, or
    /// a one-line error. UI thread (the `s` key).
    static func save(_ grid: Grid, snapshot: Snapshot?, directory: String?) -> Result<String, ExitCodeMessage> {
        let preset = (snapshot?.preset).map { $0.isEmpty ? "frame" : $0 } ?? "frame"
        let seconds = snapshot.map { PlainTextRenderer.fixed($0.time, 1) + "s" } ?? "0s"
        let safe = String((preset + "-" + seconds).map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
        let svg = Array(SVGPicture.render(grid, title: title(snapshot, start: 0)).utf8)
        for attempt in 1...100 {
            let name = "qvtop-\(safe)" + (attempt == 1 ? "" : "-\(attempt)") + ".svg"
            let path = directory.map { ($0 as NSString).appendingPathComponent(name) } ?? name
            switch writeWholeFile(path, svg, exclusive: true) {
            case .success: return .success(path)
            case .failure(let e) where e.code == EEXIST: continue
            case .failure(let e): return .failure(e)
            }
        }
        return .failure(ExitCodeMessage(code: EEXIST, message: "cannot save the frame: 100 files of that name exist"))
    }
}

/// A failed write: errno and the one line to show.
struct ExitCodeMessage: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { message }
}

/// Writes `bytes` to `path`: created or truncated, or (`exclusive`) created only when it does not
/// exist. The one file writer of `export` and the `s` key.
func writeWholeFile(_ path: String, _ bytes: [UInt8], exclusive: Bool = false) -> Result<Void, ExitCodeMessage> {
    func failure(_ code: Int32) -> Result<Void, ExitCodeMessage> {
        .failure(ExitCodeMessage(code: code, message: "cannot write \(path): \(String(cString: strerror(code)))"))
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0o644)
    guard fd >= 0 else { return failure(errno) }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { raw in
            // safety: `done < bytes.count`, so the pointer and length stay inside `raw`.
            write(fd, raw.baseAddress! + done, bytes.count - done)
        }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return failure(n < 0 ? errno : EIO) }
        done += n
    }
    return .success(())
}
