import Testing

@testable import Runtime

@Suite struct RuntimeSmokeTests {
    @Test func moduleLoads() {
        #expect(Bool(true))
    }
}
