// Fiber models (virtual-threads, green-threads) on the Runtime's M:N scheduler. Registered in `Models`.

import Telemetry

extension Models {
    static func registerFiberModels(_ f: inout [SchedulerModel: @Sendable (Preset) throws(ModelError) -> any Model]) {
    }
}
