import Testing

@testable import Workloads

@Suite struct WorkloadsSmokeTests {
    @Test func moduleLoads() {
        #expect(Bool(true))
    }
}
