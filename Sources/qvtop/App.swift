// The app loop: one OS thread that owns the terminal, the UI state and the snapshot source.
//
//   main thread                      UI thread ("qvtop-ui")
//   ───────────                      ──────────────────────
//   block UI signals                 take over SIGINT/SIGTERM/SIGHUP (flag handlers), unblock
//   set the locale                   open the terminal; crash handlers restore it (best effort)
//   create the source (caller)       loop:  signal flag? → restore, exit 128+n
//   start the UI thread (OSThread) ─>       frame due?   → poll source (unless paused), render, blit
//   wait for it <─────────────────          wait for a key until the next frame → intent → reduce
//   return its exit status           restore the terminal, stop the source
//
// Frames are due every 1/rate seconds (10 Hz by default, 1…60 with +/-); a key redraws at once.
// A late frame is not caught up: the next one is due a full period later, so a stalled
// terminal never causes a burst. The UI thread is never a scheduler carrier or a loop thread,
// and everything it owns (terminal, `UIState`, `ViewData`, the source) is touched by it alone.

import Dashboard
import Foundation
import Recording
import Runtime
import Telemetry
import Terminal

/// What `qvtop run` / `qvtop replay` pass to the app loop.
struct AppOptions: Sendable {
    var rateHz = 10
    var ascii = false
    /// The preset asked for, shown in the header until a snapshot names the running one.
    var presetName = ""
    /// Sync/async bodies of the first source's task kinds, for the code pane.
    var code: [CodeListing] = []
    /// Recording (`--record`, the `r` and `b` keys; AppRecording.swift); nil in a replay.
    var record: RecordSetup?
    /// Where the `s` key saves pictures (Pictures.swift): `--record-dir` live, the recording's folder
    /// in a replay; nil: the current directory.
    var pictureDirectory: String?
}

/// Live preset switching (keys 1–9, Tab, the `p` picker), given to the app loop by `run`.
/// `start` runs on the UI thread only.
struct PresetMenu {
    var presets: [PresetInfo]
    /// Index of the preset the first source runs, if it is one of `presets`.
    var current: Int?
    /// Starts preset `index` in place of `running` and returns the new source with its code listings.
    /// Contract: when it throws, `running` must still be running (load and validate the preset before
    /// stopping the old one), so a preset that fails leaves the current one on screen.
    var start: (_ index: Int, _ running: (any SnapshotSource)?) throws -> (any SnapshotSource, [CodeListing])
}

enum App {
    /// Runs the dashboard until the user quits or a signal arrives; returns the exit status
    /// (0 quit, 130 SIGINT/Ctrl-C, 143 SIGTERM, 129 SIGHUP, 2 when the terminal cannot open or the system refuses
    /// the dashboard's thread).
    /// Call on the main thread after `Signals.blockInThisThread()`; takes ownership of `source`
    /// and stops it before returning.
    static func run(
        source: (any SnapshotSource)?, menu: PresetMenu? = nil, compare: CompareSession? = nil, options: AppOptions
    ) -> Int32 {
        Signals.blockInThisThread()
        Terminal.setUpLocale()
        let env = ProcessInfo.processInfo.environment
        let handoff = Handoff(source: source, menu: menu, compare: compare)
        let result = ExitBox()
        let ui: OSThread
        do {
            ui = try OSThread.start(name: "qvtop-ui") {
                let (source, menu, compare) = handoff.take()
                result.status = uiThreadMain(
                    source: source, menu: menu, compare: compare, options: options, environment: env)
            }
        } catch {
            // Past the system's thread limit (or a stack it cannot map): one line and exit 2, not a trap.
            let (source, _, _) = handoff.take()
            source?.stop()
            let reason = String(cString: strerror(error.code))
            FileHandle.standardError.write(
                Data("qvtop: the system refused the dashboard's thread (pthread_create: \(reason))\n".utf8))
            return 2
        }
        ui.join()
        return result.status
    }

    /// The UI thread's body.
    private static func uiThreadMain(
        source initialSource: (any SnapshotSource)?, menu: PresetMenu?, compare: CompareSession?, options: AppOptions,
        environment: [String: String]
    ) -> Int32 {
        Signals.takeOverInThisThread()
        var source = initialSource
        defer { source?.stop() }
        let terminal: Terminal
        do {
            terminal = try Terminal(options: TerminalOptions(ascii: options.ascii), environment: environment)
        } catch {
            FileHandle.standardError.write(Data("qvtop: \(error)\n".utf8))
            return 2
        }
        defer { terminal.close() }  // runs before `source?.stop()`: the terminal comes back first
        Signals.restoreTerminalOnCrash()  // a crash on any thread restores the terminal too
        defer { Signals.restoreCrashHandlers() }
        var state = UIState(size: terminal.size, rateHz: options.rateHz, presetName: options.presetName)
        state.presets = menu?.presets ?? []
        state.presetIndex = menu?.current
        var data = ViewData(sourceAttached: source != nil, code: options.code)
        // Replay mode (replay keys, REPLAY header, timeline bar) and recording: AppRecording.swift.
        let replayer = source as? Replayer
        state.replaying = replayer != nil || compare != nil
        // Compare (CompareCommand.swift): B's data beside `data` (A's); both sides polled each frame.
        var dataB = ViewData(sourceAttached: true)
        if compare != nil { data.sourceAttached = true }
        let recording = options.record.map { SessionRecording(setup: $0) }
        defer { recording?.finish() }
        var bookmarks = 0
        var shownNotice: String?
        var replayCode = ReplayCode()
        var shown: Grid?  // the grid drawn last: what `s` saves
        func startRecording() {
            let failure = recording?.start(
                columns: state.size.width, rows: state.size.height, sampleHz: Double(state.rateHz),
                presetIndex: state.presetIndex, presetName: state.presetName, current: data.snapshot)
            if let failure { _ = reduce(&state, .recordingFailed(failure)) }
        }
        if options.record?.startNow == true { startRecording() }
        let clock = ContinuousClock()
        var due = clock.now
        while true {
            if let sig = Signals.pending { return 128 + sig }
            let now = clock.now
            if now >= due {
                let grid: Grid
                if let compare {
                    grid = compare.frame(a: &data, b: &dataB, state: &state, glyphs: terminal.glyphs)
                } else {
                    if !state.paused, let s = source?.poll() {
                        if replayer?.lastPollJumped == true { data.restartHistory() }
                        data.ingest(s)
                        recording?.record(s)
                        if data.selectableCount != state.selectableCount {
                            _ = reduce(&state, .selectableCount(data.selectableCount))
                        }
                    }
                    if let notice = source?.notice, notice != shownNotice {
                        state.banner = notice  // the source has ended: say so once, keep the last frame
                        shownNotice = notice
                    }
                    if let failure = recording?.takeFailure() { _ = reduce(&state, .recordingFailed(failure)) }
                    data.recording = recording?.badge
                    if let replayer {
                        data.replay = ReplayStatus(replayer.timeline)
                        replayCode.update(&data, from: replayer)
                    }
                    grid = Shell.render(data: data, state: state, glyphs: terminal.glyphs)
                }
                terminal.draw(grid)
                shown = grid
                due = now + .nanoseconds(1_000_000_000 / state.rateHz)
            }
            let wait = due - clock.now
            let waitMs = max(
                0, Int(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000))
            guard let key = terminal.readKey(timeoutMs: waitMs) else { continue }
            // A comparison has no single-run layout to hit-test clicks against: without a snapshot only the
            // footer's hints answer clicks.
            let clickData = compare == nil ? data : ViewData(sourceAttached: true)
            let intent: Intent? =
                key == .resize ? .resize(terminal.size) : Shell.intent(for: key, data: clickData, state: state)
            guard let intent else { continue }
            switch reduce(&state, intent) {
            case .quit(let status):
                return status
            case .repaintAll:
                terminal.repaintAll()
            case .switchPreset(let index):
                // Draw "starting NAME" first: starting a runtime can take a moment.
                terminal.draw(Shell.render(data: data, state: state, glyphs: terminal.glyphs))
                guard let menu else {
                    _ = reduce(&state, .presetFailed("live preset switching is not available here"))
                    break
                }
                do {
                    // Blocked while the new runtime starts its threads: they must never take the UI's signals.
                    let (next, code) = try Signals.whileBlocked { try menu.start(index, source) }
                    source = next
                    data.code = code
                    // The old runtime's memory is garbage now: give its free pages back (HeapPolicy.swift).
                    HeapPolicy.release()
                    _ = reduce(&state, .presetSwitched(index))
                    recording?.presetSwitched(index: index, name: state.presetName, time: data.snapshot?.time ?? 0)
                } catch {
                    _ = reduce(&state, .presetFailed("preset \(state.presets[index].name): \(error)"))
                }
            case .toggleRecording:
                if recording?.isRecording == true {
                    recording?.stop()
                    state.status = nil  // "bookmark N" belonged to that recording
                } else {
                    startRecording()
                }
            case .bookmark:
                if recording?.bookmark(time: data.snapshot?.time ?? 0, label: "bookmark \(bookmarks + 1)") == true {
                    bookmarks += 1
                    state.status = "bookmark \(bookmarks)"
                } else {
                    state.status = "not recording (r records)"
                }
            case .replay(let command):
                replayer?.apply(command.control)
                compare?.player.apply(command.control)
            case .savePicture:
                let grid = shown ?? Shell.render(data: data, state: state, glyphs: terminal.glyphs)
                switch Pictures.save(grid, snapshot: data.snapshot, directory: options.pictureDirectory) {
                case .success(let path): _ = reduce(&state, .pictureSaved(path))
                case .failure(let error): _ = reduce(&state, .pictureFailed(error.message))
                }
            case .none:
                break
            }
            due = clock.now  // show the change at once
        }
    }
}

/// Moves the source, the preset menu and a comparison from the main thread to the UI thread.
// @unchecked Sendable: the main thread stores them before the UI thread starts (pthread_create is a
// happens-before edge) and never touches them again; the UI thread takes them exactly once.
private final class Handoff: @unchecked Sendable {
    private var source: (any SnapshotSource)?
    private var menu: PresetMenu?
    private var compare: CompareSession?
    init(source: (any SnapshotSource)?, menu: PresetMenu?, compare: CompareSession?) {
        self.source = source
        self.menu = menu
        self.compare = compare
    }
    func take() -> ((any SnapshotSource)?, PresetMenu?, CompareSession?) {
        defer {
            source = nil
            menu = nil
            compare = nil
        }
        return (source, menu, compare)
    }
}

/// The UI thread's exit status, read by the main thread after the join.
// @unchecked Sendable: written once by the UI thread before it exits, read by the main thread after
// `join()`; pthread_join orders the two.
private final class ExitBox: @unchecked Sendable {
    var status: Int32 = 0
}
