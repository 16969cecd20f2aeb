import Foundation
import Testing
@testable import YizhanCore

/// The shared RFC 8785 vectors live beside the repository, in ../shared/testdata/jcs.
func sharedTestdata() throws -> URL {
    if let env = ProcessInfo.processInfo.environment["YIZHAN_SHARED"] { return URL(fileURLWithPath: env).appendingPathComponent("testdata") }
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = repo.deletingLastPathComponent().appendingPathComponent("shared/testdata")
    guard FileManager.default.fileExists(atPath: dir.path) else {
        throw YizhanError(.configuration, "shared test vectors not found at \(dir.path); set YIZHAN_SHARED")
    }
    return dir
}

@Suite struct CanonicalJSONTests {
    static let vectors = ["arrays", "french", "structures", "unicode", "values", "weird"]

    @Test(arguments: vectors)
    func rfc8785Vector(name: String) throws {
        let dir = try sharedTestdata().appendingPathComponent("jcs")
        let input = try Data(contentsOf: dir.appendingPathComponent("input/\(name).json"))
        let expected = try Data(contentsOf: dir.appendingPathComponent("output/\(name).json"))
        let value = try JSONValue.parse(Array(input))
        #expect(value.canonicalBytes() == Array(expected), "vector \(name)")
    }

    @Test func numberFormattingFollowsECMAScript() {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "0"), (1, "1"), (-1.5, "-1.5"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
            (0.000001, "0.000001"), (0.0000001, "1e-7"), (123456789012345680000, "123456789012345680000"),
            (5e-324, "5e-324"), (1.7976931348623157e308, "1.7976931348623157e+308"), (333333333.3333333, "333333333.3333333"),
        ]
        for (d, s) in cases { #expect(JSONValue.ecmaScriptString(d) == s, "\(d)") }
    }

    /// Strings without escapes take a shortcut in the parser and the writer; both ways give the
    /// same values and bytes, and invalid UTF-8 is refused on either.
    @Test func stringsWithAndWithoutEscapes() throws {
        let plain = try JSONValue.parse(Array(#"{"b":"签收 ok","a":"x\"y\\z\n\u0001","aa":"\u00e9"}"#.utf8))
        #expect(plain["b"]?.stringValue == "签收 ok" && plain["a"]?.stringValue == "x\"y\\z\n\u{01}" && plain["aa"]?.stringValue == "é")
        #expect(String(decoding: plain.canonicalBytes(), as: UTF8.self) == #"{"a":"x\"y\\z\n\u0001","aa":"é","b":"签收 ok"}"#)
        let badPlain: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        let badAfterEscape: [UInt8] = Array(#"{"a":"\n"#.utf8) + [0xFF] + Array(#""}"#.utf8)
        #expect(throws: YizhanError.self) { try JSONValue.parse(badPlain) }
        #expect(throws: YizhanError.self) { try JSONValue.parse(badAfterEscape) }
        #expect(throws: YizhanError.self) { try JSONValue.parse(Array("{\"a\":\"tab\there\"}".utf8)) }
    }

    @Test func duplicateMembersAndTrailingDataAreRejected() {
        #expect(throws: YizhanError.self) { try JSONValue.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: YizhanError.self) { try JSONValue.parse(#"{"a":1} x"#) }
        #expect(throws: YizhanError.self) { try JSONValue.parse(#"{"a":"\ud800"}"#) }
        #expect(throws: YizhanError.self) { try JSONValue.parse("[1,]") }
    }
}
