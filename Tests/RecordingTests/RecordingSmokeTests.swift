import Testing

@testable import Recording

@Suite struct RecordingSmokeTests {
    @Test func moduleLoads() {
        #expect(Bool(true))
    }
}
