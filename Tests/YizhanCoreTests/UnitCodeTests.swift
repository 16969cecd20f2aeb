import Testing
@testable import YizhanCore

@Suite struct UnitCodeTests {
    // Check characters worked by hand from the GB 32100 weights.
    @Test func validCodesParse() throws {
        for prefix in ["11420100MB1234567", "12420100MA4K0000X", "91350100M000100Y4"] {
            let code = try UnitCode.completing(prefix)
            #expect(try UnitCode(code.rawValue) == code)
        }
        // Worked independently (Python, same weights): check characters 1 and X.
        #expect(try UnitCode.completing("11420100MB1234567").rawValue == "11420100MB12345671")
        #expect(try UnitCode.completing("11420100MB7654321").rawValue == "11420100MB7654321X")
        // A published code: 91350100M000100Y43 (check character 3).
        #expect(try UnitCode("91350100M000100Y43").rawValue == "91350100M000100Y43")
    }

    @Test func wrongCheckCharacterIsRejected() throws {
        let good = try UnitCode.completing("11420100MB1234567").rawValue
        let alphabet = UnitCode.alphabet
        let last = good.last!
        let other = alphabet.first { $0 != last }!
        #expect(throws: YizhanError.self) { try UnitCode(String(good.dropLast()) + String(other)) }
    }

    @Test func badShapesAreRejected() {
        for bad in ["", "114201", "11420100MB12345670X", "11420100MB123456I0", "11420100MB123456O0", "11420100mb12345670"] {
            #expect(throws: YizhanError.self) { try UnitCode(bad) }
        }
    }
}
