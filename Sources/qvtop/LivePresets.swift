// The live runtime for `qvtop run`: a `LiveSource` for the chosen preset, and the `PresetMenu`
// the app loop uses to switch presets (keys 1–9, Tab, the `p` picker). `run` starts it unless
// `--synthetic` (made-up snapshots, hidden) is given; the tmux end-to-end tests drive it.

import Dashboard
import Foundation
import Telemetry
import Workloads

enum LivePresets {
    /// What `run` hands the app loop.
    struct Live {
        var source: LiveSource
        var menu: PresetMenu
        var code: [CodeListing]
        /// Name, title and file text of each menu preset (by menu index), for recordings.
        var texts: [(name: String, title: String, text: String)] = []
    }

    /// Starts `presetName` (a name or a path; nil = the first preset) and builds the menu over
    /// every preset of the catalog. Throws the preset's one-line error.
    static func start(presetName: String?) throws -> Live {
        let catalog = PresetCatalog.discover()
        var presets = catalog.presets
        let first: Preset
        do throws(PresetError) {
            first = try catalog.choose(presetName)
        } catch {
            throw failLine(error.description)
        }
        // A preset given by path joins the menu so that switching back to it works.
        if !presets.contains(where: { $0.name == first.name && $0.source == first.source }) {
            presets.insert(first, at: 0)
        }
        let source: LiveSource
        do {
            source = try LiveSource(preset: first)
        } catch {
            throw fail("\(first.name): \(error)")
        }
        let menu = PresetMenu(
            presets: presets.map { PresetInfo(name: $0.name, title: $0.title, explanation: $0.explain) },
            current: presets.firstIndex { $0.name == first.name && $0.source == first.source },
            start: { index, running in
                let preset = presets[index]
                let old = running as? LiveSource
                // Start the new runtime before stopping the old one: if it fails, the old one keeps running.
                let next = try LiveSource(
                    preset: preset, sessionStart: old?.sessionStart, firstSequence: old?.nextSequence ?? 0)
                running?.stop()
                return (next, code(for: preset))
            })
        let texts = presets.map { p in (name: p.name, title: p.title, text: p.text) }
        return Live(source: source, menu: menu, code: code(for: first), texts: texts)
    }

    /// The sync/async bodies of each task kind of `preset`, for the code pane.
    static func code(for preset: Preset) -> [CodeListing] {
        if preset.scheduler.model == .asyncioMN {
            // No task kinds: the invariant workload's steps, each beside the task both loops run.
            let s = InvariantSource.self
            return [("counter", s.counter), ("cache", s.cache)].map { name, step in
                CodeListing(
                    kind: name, sync: step, async: s.task, syncTitle: s.stepTitle, asyncTitle: s.taskTitle, note: s.note
                )
            }
        }
        return preset.workload.tasks.map { spec in
            let s = TaskSource.of(spec)
            return CodeListing(
                kind: spec.name, sync: s.sync, async: s.async, syncTitle: s.syncTitle, asyncTitle: s.asyncTitle)
        }
    }
}
