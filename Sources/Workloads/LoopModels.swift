// Loop models (event-loop, loop-per-thread) on the Runtime's EventLoop. Registered in `Models`.

import Telemetry

extension Models {
    static func registerLoopModels(_ f: inout [SchedulerModel: @Sendable (Preset) throws(ModelError) -> any Model]) {
    }
}
