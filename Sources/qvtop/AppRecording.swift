// Recording from the live app (`run --record FILE`, the `r` and `b` keys) and driving a replay
// (`qvtop replay FILE`): the glue between the app loop and the Recording module.
//
//   app loop (UI thread)                 SessionRecording                  Recorder (writer thread)
//   ─────────────────────                ────────────────                  ───────────────────────
//   each polled snapshot ──────────────> record(s) ─────── append ───────> encode, write(2) ≤ 0.25 s
//   `r` (Effect.toggleRecording) ──────> toggle(): new Recorder (O_EXCL) / requestStop()
//   `b` (Effect.bookmark) ─────────────> bookmark(time:)
//   preset switched ───────────────────> presetSwitched(index:time:) (the preset's full text)
//   each frame <──── badge (REC file size), failure (banner once) <──── status
//
// Nothing here waits for the disk: the recorder queues and its thread writes. A write error
// (e.g. `--record /dev/full`) turns into one banner line, recording stops and the dashboard goes
// on. The first file is the one `--record` named (or `qvtop-YYYYMMDD-HHMMSS.qvrec` in the current
// directory); each later `r` records to a new file `NAME-2.qvrec`, `NAME-3.qvrec`… and never
// replaces one. Ownership: a `SessionRecording` is created and used by the UI thread only.

import Dashboard
import Foundation
import Recording
import Telemetry
import Workloads

/// What `run` tells the app loop about recording.
struct RecordSetup: Sendable {
    /// The file `--record` named; nil: `r` picks `qvtop-DATE-TIME.qvrec`.
    var path: String?
    /// Replace an existing file (`--force`), for the first file only.
    var force = false
    /// Where `r` puts its files when `--record` named none (`--record-dir`; nil: the current directory).
    var directory: String?
    /// Start recording as the dashboard opens (`--record`), else only when `r` is pressed.
    var startNow = false
    /// Name, title and full text (TOML) of each preset of the menu, by menu index; the text is
    /// recorded at the start and at every switch.
    var presets: [(name: String, title: String, text: String)] = []
    /// Free-form metadata (command line, preset asked for).
    var extra: [String: String] = [:]
}

/// One dashboard session's recordings. UI thread only.
final class SessionRecording {
    private let setup: RecordSetup
    private var recorder: Recorder?
    /// Files started so far (for the `-2`, `-3` names).
    private var started = 0
    /// Set once the failure of the current recorder has been reported.
    private var failureReported = false
    /// The first file, and the name later files are numbered from (`NAME-2`…): the `--record`
    /// file, or a dated name in the record directory when there is none or it is a device.
    private let firstPath: String
    private let basePath: String

    init(setup: RecordSetup) {
        self.setup = setup
        let name = "qvtop-\(Self.dateStamp()).qvrec"
        let dated = setup.directory.map { ($0 as NSString).appendingPathComponent(name) } ?? name
        firstPath = setup.path ?? dated
        basePath = setup.path.map { Self.isDevice($0) ? dated : $0 } ?? dated
    }

    var isRecording: Bool { recorder?.status.isRecording ?? false }

    /// `YYYYMMDD-HHMMSS` of now, local time: the stamp in recording file names.
    static func dateStamp() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.string(from: Date())
    }

    /// Starts a new file, records the running preset and `current` (the snapshot on screen).
    /// Returns a one-line error when the file cannot be created.
    func start(
        columns: Int, rows: Int, sampleHz: Double, presetIndex: Int?, presetName: String, current: Snapshot?
    ) -> String? {
        let first = started == 0
        var lastError: RecordingWriteError?
        // The first file as named (with --force if given); then NAME-2, NAME-3… never replacing one.
        for attempt in 0..<100 {
            let path: String
            if first {
                path = firstPath
            } else if basePath != firstPath && started + attempt == 1 {
                path = basePath  // --record named a device: the dated name, then its numbers
            } else {
                path = Self.numbered(basePath, started + attempt + (basePath != firstPath ? 0 : 1))
            }
            do throws(RecordingWriteError) {
                let metadata = RecordingMetadata.now(
                    qvtopVersion: Qvtop.version, columns: columns, rows: rows, sampleHz: sampleHz,
                    extra: setup.extra)
                let force = (first && setup.force) || Self.isDevice(path)
                let rec = try Recorder(path: path, metadata: metadata, force: force)
                recorder = rec
                started += attempt + 1
                failureReported = false
                let time = current?.time ?? 0
                rec.presetSwitch(presetSwitch(index: presetIndex, name: presetName, time: time))
                if let current { rec.append(Self.thinned(current)) }
                return nil
            } catch {
                lastError = error
                // Only an existing file moves on to the next name; the first name was asked for.
                if case .fileExists = error, !first { continue }
                return error.description
            }
        }
        return lastError?.description ?? "cannot create a recording file"
    }

    /// `r` while recording: asks the writer to finish the file (returns at once).
    func stop() {
        recorder?.requestStop()
        recorder = nil
    }

    /// Queues a snapshot the dashboard just took in (thinned, see `thinned`).
    func record(_ s: Snapshot) {
        recorder?.append(Self.thinned(s))
    }

    /// Carrier park/unpark events kept per frame in a recording.
    static let parkEventsPerFrame = 16

    /// `s` with at most `parkEventsPerFrame` carrier park/unpark events. An idle carrier parks and
    /// unparks on every timer tick — about 20 000 of each per second on vt-steal, 3 MB of recording
    /// every 5 s, 30 times the rest — and the dashboard shows none of them (`PanelHistory.events`
    /// leaves them out; the workers' `parks`/`unparks` counters carry them), so a replay draws the
    /// same frames and the summary is the same; the Chrome export keeps a sample of them.
    static func thinned(_ s: Snapshot) -> Snapshot {
        var kept = 0
        guard s.events.count > parkEventsPerFrame else { return s }
        var out = s
        out.events = s.events.filter { e in
            guard e.kind == .workerPark || e.kind == .workerUnpark else { return true }
            kept += 1
            return kept <= parkEventsPerFrame
        }
        return out
    }

    /// `b`: a bookmark at session time `time`, labelled with its number. False when not recording.
    @discardableResult
    func bookmark(time: Double, label: String) -> Bool {
        guard let recorder, recorder.status.isRecording else { return false }
        return recorder.bookmark(Bookmark(time: time, label: label))
    }

    /// The app switched to preset `index` of the menu.
    func presetSwitched(index: Int, name: String, time: Double) {
        recorder?.presetSwitch(presetSwitch(index: index, name: name, time: time))
    }

    /// The header's REC marker; nil when not recording.
    var badge: RecordingBadge? {
        guard let status = recorder?.status, status.isRecording else { return nil }
        return RecordingBadge(
            file: (status.path as NSString).lastPathComponent, bytes: status.bytesWritten,
            framesDropped: status.framesDropped)
    }

    /// The current recorder's write error, once (for the banner); recording is over then.
    func takeFailure() -> String? {
        guard !failureReported, let status = recorder?.status, case .failed(let error) = status.state else {
            return nil
        }
        failureReported = true
        recorder = nil
        return error.description
    }

    /// On quit: finishes the file (waits at most `timeout` seconds for the writer).
    func finish(timeout: Double = 2) {
        _ = recorder?.stop(timeout: timeout)
        recorder = nil
    }

    private func presetSwitch(index: Int?, name: String, time: Double) -> PresetSwitch {
        if let index, index >= 0, index < setup.presets.count {
            let p = setup.presets[index]
            return PresetSwitch(time: time, name: p.name, title: p.title, text: p.text)
        }
        return PresetSwitch(time: time, name: name, text: "")
    }

    /// True when `path` exists and is a regular file: what `--force` is needed to replace. A device
    /// or a FIFO (`/dev/full`, `/dev/null`, a pipe) is written to, not replaced.
    static func wouldClobber(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// True when `path` exists and is not a regular file or a directory (a device, a FIFO).
    static func isDevice(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0 else { return false }
        let kind = st.st_mode & S_IFMT
        return kind != S_IFREG && kind != S_IFDIR
    }

    /// `dir/name.qvrec` → `dir/name-N.qvrec`.
    static func numbered(_ path: String, _ n: Int) -> String {
        let ns = path as NSString
        let ext = ns.pathExtension
        let stem = ext.isEmpty ? path : ns.deletingPathExtension
        return ext.isEmpty ? "\(stem)-\(n)" : "\(stem)-\(n).\(ext)"
    }
}

extension ReplayCommand {
    /// The replayer control for this command.
    var control: ReplayControl {
        switch self {
        case .togglePause: .togglePause
        case .step(let n): .step(n)
        case .seek(let s): .seek(s)
        case .start: .start
        case .end: .end
        case .slower: .slower
        case .faster: .faster
        }
    }
}

extension ReplayStatus {
    /// The shell's view of a replayer's timeline.
    init(_ t: Timeline) {
        self.init(
            start: t.start, end: t.end, position: t.position, frameIndex: t.frameIndex, frameCount: t.frameCount,
            speed: t.speed, paused: t.paused,
            markers: t.markers.map { ReplayMarker(time: $0.time, isBookmark: $0.kind == .bookmark, label: $0.label) })
    }
}

/// The code pane in a replay: the task bodies of the preset in effect at the playhead, parsed from
/// the full preset text the recording holds. UI thread only.
struct ReplayCode {
    /// Preset switch (time and name) the code pane shows.
    private var shown: PresetSwitch?

    /// Sets `data.code` when the preset at the playhead changed.
    mutating func update(_ data: inout ViewData, from replayer: Replayer) {
        let current = replayer.currentPreset
        guard current != shown else { return }
        shown = current
        guard let current, !current.text.isEmpty else {
            data.code = []
            return
        }
        do throws(PresetError) {
            data.code = LivePresets.code(for: try Preset.parse(current.text, file: current.name))
        } catch {
            data.code = []
        }
    }
}
