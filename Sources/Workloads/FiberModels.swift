// Fiber models (virtual-threads, green-threads): wait for the M:N scheduler (branch `sched`).

import Telemetry

extension Models {
    static func makeFiberModel(_ preset: Preset, sessionStart: UInt64) throws(ModelError) -> any Model {
        throw ModelError("model \(preset.scheduler.model.rawValue) is not yet available in this build")
    }
}
