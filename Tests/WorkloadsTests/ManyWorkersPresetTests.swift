import Telemetry
import Testing

@testable import Workloads

/// Many workers (issue 15): the shipped 256-carrier and 16-loop presets load and run with every worker in the
/// snapshot; past the runtime's cap the preset is rejected with a one-line error.
@Suite struct ManyWorkersPresetTests {
    @Test func shippedPresetsHave256CarriersAnd16Loops() throws {
        let vt = try Shipped.preset("vt-256")
        #expect(vt.scheduler.model == .virtualThreads && vt.scheduler.carriers == 256)
        let loops = try Shipped.preset("loops-16")
        #expect(loops.scheduler.model == .loopPerThread && loops.scheduler.loops == 16)
    }

    @Test func carriersPast256AreAOneLineError() {
        let text = """
            name = "vt"
            title = "t"
            explain = "e"
            [scheduler]
            model = "virtual-threads"
            carriers = 257
            [task.web]
            kind = "io"
            io = "sleep"
            population = 1
            duration_ms = 1
            """
        do {
            _ = try Preset.parse(text, file: "presets/vt.toml")
            Issue.record("257 carriers were accepted")
        } catch {
            let message = "\(error)"
            #expect(message == "presets/vt.toml:6: scheduler.carriers must be between 1 and 256")
            #expect(!message.contains("\n"))
        }
    }

    /// The live 256-carrier preset: every carrier is in the snapshots (none folded away by the sampler).
    @Test(.timeLimit(.minutes(1))) func vt256RunsLiveWithEveryCarrier() throws {
        let snapshots = try HeadlessRun.collect(preset: Shipped.preset("vt-256"), seconds: 1.2)
        let last = try #require(snapshots.last)
        #expect(last.workers.count == 256)
        #expect(Set(last.workers.map(\.id)) == Set(0..<256))
        #expect(last.fibers.parked > 100, "the web fibers park on timers")
    }

    /// The sampler benchmark's `sample.vt-256` samples the preset's own scheduler with its own `FiberSampler`
    /// (`LiveSource.fiberScheduler`): it must be the running preset's scheduler, with every carrier in a sample, and
    /// there only while the source runs a fiber model.
    @Test(.timeLimit(.minutes(1))) func aLiveFiberPresetsSchedulerIsSampledWithEveryCarrier() throws {
        let source = try LiveSource(preset: Shipped.preset("vt-256"))
        let s = try #require(source.fiberScheduler)
        #expect(s.configuration.carriers == 256)
        var sampler = FiberSampler(sessionStart: source.sessionStart)
        var snapshot = Snapshot(time: 0, sequence: 0, preset: "vt-256", model: .virtualThreads)
        sampler.sample(s, into: &snapshot)
        #expect(snapshot.workers.count == 256)
        source.stop()
        #expect(source.fiberScheduler == nil, "a stopped source has no scheduler to sample")
        let loop = try LiveSource(preset: Shipped.preset("asyncio"))
        defer { loop.stop() }
        #expect(loop.fiberScheduler == nil, "an event-loop preset runs no fiber scheduler")
    }
}
