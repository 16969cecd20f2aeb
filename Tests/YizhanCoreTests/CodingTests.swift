import Foundation
import Testing
@testable import YizhanCore

/// Models to and from `JSONValue` without text in between, by JSONEncoder's rules (dates as
/// RFC 3339), and UUIDv7 made and checked on bytes.
@Suite struct CodingTests {
    struct Sample: Codable, Equatable {
        enum Colour: String, Codable { case red, green }
        var name: String
        var count: Int
        var ratio: Double
        var flag: Bool
        var when: Date
        var colour: Colour
        var tags: [String]
        var nested: [String: [Int]]
        var optional: String?
        var blob: Data
        var free: JSONValue
    }

    static let sample = Sample(name: "公文 \"引号\"", count: -42, ratio: 0.25, flag: true, when: Date(timeIntervalSince1970: 1_780_000_000),
                               colour: .green, tags: ["a", "b"], nested: ["x": [1, 2], "y": []], optional: nil, blob: Data([0, 1, 254]),
                               free: .object(["k": .array([.null, .bool(false), .number(1.5)])]))

    @Test func encodesLikeJSONEncoderAndDecodesBack() throws {
        let direct = try JSONValue.from(Self.sample)
        // The same value by way of Foundation's text encoder, with the dates Yizhan uses.
        let enc = JSONEncoder()
        enc.dateEncodingStrategy = .custom { d, e in var c = e.singleValueContainer(); try c.encode(Timestamp.format(d)) }
        let viaText = try JSONValue.parse(Array(try enc.encode(Self.sample)))
        #expect(direct == viaText)
        #expect(direct["optional"] == nil, "nil optionals are left out")
        #expect(direct["when"] == .string(Timestamp.format(Self.sample.when)))
        #expect(try direct.decode(Sample.self) == Self.sample)
    }

    @Test func decodingRefusesWrongTypesAndMissingMembers() throws {
        guard case .object(var o) = try JSONValue.from(Self.sample) else { Issue.record("not an object"); return }
        func refused(_ edit: (inout [String: JSONValue]) -> Void) -> Bool {
            var x = o
            edit(&x)
            return (try? JSONValue.object(x).decode(Sample.self)) == nil
        }
        #expect(refused { $0["count"] = .number(1.5) }, "a fraction is not an Int")
        #expect(refused { $0["count"] = .string("1") }, "no coercion from strings")
        #expect(refused { $0["flag"] = .number(1) }, "no coercion from numbers")
        #expect(refused { $0.removeValue(forKey: "name") }, "required member")
        #expect(refused { $0["name"] = .null }, "null for a required member")
        #expect(refused { $0["when"] = .string("yesterday") }, "not a time")
        #expect(refused { $0["colour"] = .string("blue") }, "unknown enum case")
        #expect(refused { $0["tags"] = .array([.number(1)]) }, "element type")
        o["optional"] = .null
        #expect(try JSONValue.object(o).decode(Sample.self).optional == nil, "null optional decodes as nil")
    }

    @Test func uuidv7IsWellFormedTimeOrderedAndChecked() throws {
        let early = UUIDv7.make(at: Date(timeIntervalSince1970: 1_700_000_000)), late = UUIDv7.make(at: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(early < late)
        let ids = (0..<1000).map { _ in UUIDv7.make() }
        #expect(Set(ids).count == 1000)
        for id in ids.prefix(50) {
            #expect(UUIDv7.isValid(id))
            #expect(UUID(uuidString: id) != nil)
            #expect(Array(id.utf8)[14] == UInt8(ascii: "7"))
        }
        #expect(early.hasPrefix("018bcfe5-6800-7"), "48-bit milliseconds first: \(early)")
        for bad in ["", String(early.dropLast()), early.uppercased(), early.replacingOccurrences(of: "-7", with: "-4"),
                    String(early.prefix(19)) + "c" + String(early.dropFirst(20)), early.replacingOccurrences(of: "-", with: "x")] {
            #expect(!UUIDv7.isValid(bad), "\(bad)")
        }
    }
}

/// Splicing a member into canonical bytes gives exactly what serialising the whole object would.
@Suite struct CanonicalSpliceTests {
    @Test func splicedBytesEqualTheWholeSerialisation() throws {
        let value = JSONValue.object(["protected": .string("eyJ9"), "signature": .string("c2ln")])
        let objects: [[String: JSONValue]] = [
            [:],
            ["a": .number(1)],
            ["z": .number(1)],
            ["sender": .string("x"), "spec": .number(1)],
            ["signForBy": .string("t"), "signature": .string("old"), "spec": .number(1), "created": .string("c"), "中文": .bool(true)],
            ["kind": .string("receipt"), "parts": .array([]), "recipients": .array([.object(["unit": .string("u")])]), "sigma": .null, "sig": .null],
        ]
        for o in objects {
            let splice = try #require(JSONValue.object(o).canonicalSplice(omitting: "signature"))
            var without = o
            without.removeValue(forKey: "signature")
            #expect(splice.payload == JSONValue.object(without).canonicalBytes(), "\(o.keys.sorted())")
            var with = o
            with["signature"] = value
            #expect(splice.with(value) == JSONValue.object(with).canonicalBytes(), "\(o.keys.sorted())")
        }
        #expect(JSONValue.array([]).canonicalSplice(omitting: "signature") == nil)
    }
}
