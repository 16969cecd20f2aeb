import Foundation
import Testing
import YizhanCore
import YizhanStore

/// Every signed envelope a set of gateways emitted, as stored (outbox, receipts included).
func emittedEnvelopes(_ stores: [GatewayStore]) throws -> [[UInt8]] {
    try stores.flatMap { s in try s.outbox(includeReceipts: true).compactMap { try s.envelopeBytes(id: $0.id) } }
}

/// Schemas/examples: one example per kind of envelope, each accepted by the published schema
/// (python3-jsonschema, Draft 2020-12) and by the gateway's own parser; broken variants are
/// refused by both.
@Suite struct SchemaExampleTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Schemas/examples")

    func examples() throws -> [(String, JSONValue)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { ($0, try JSONValue.parse(Array(try Data(contentsOf: Self.folder.appendingPathComponent($0))))) }
    }

    @Test func everyKindHasAnExampleThatBothValidatorsAccept() throws {
        let all = try examples()
        let kinds = Set(all.compactMap { $0.1["kind"]?.stringValue })
        #expect(kinds == Set(Envelope.Kind.allCases.map(\.rawValue)))
        let statuses = Set(all.compactMap { $0.1["receipt"]?["status"]?.stringValue })
        #expect(statuses.isSuperset(of: ["delivered", "rejected", "signed-for", "returned", "adopted"]))
        let errors = try schemaErrors(all.map { $0.1.canonicalBytes() })
        for ((name, json), err) in zip(all, errors) {
            #expect(err == nil, "\(name): \(err ?? "")")
            #expect(throws: Never.self, "\(name)") { _ = try Envelope.parse(json.canonicalBytes()) }
        }
    }

    @Test func brokenVariantsAreRefusedByBoth() throws {
        let all = Dictionary(uniqueKeysWithValues: try examples())
        func edit(_ name: String, _ change: (inout [String: JSONValue]) -> Void) throws -> [UInt8] {
            var o = try #require(all[name]?.objectValue)
            change(&o)
            return JSONValue.object(o).canonicalBytes()
        }
        let broken: [(String, [UInt8])] = [
            ("returned without a reason", try edit("receipt-returned.json") { o in
                o["receipt"] = .object((o["receipt"]?.objectValue ?? [:]).filter { $0.key != "reason" }) }),
            ("signed-for without the clerk", try edit("receipt-signed-for.json") { o in
                o["receipt"] = .object((o["receipt"]?.objectValue ?? [:]).filter { $0.key != "clerk" }) }),
            ("chase without inReplyTo", try edit("chase.json") { $0.removeValue(forKey: "inReplyTo") }),
            ("notice without meeting", try edit("notice.json") { $0.removeValue(forKey: "meeting") }),
            ("attending with nobody named", try edit("attendance.json") { $0["attendance"] = .object(["attending": .bool(true), "attendees": .array([])]) }),
            ("chunk size below the minimum", try edit("document.json") { $0["transfer"] = .object(["chunkSize": .number(100)]) }),
            ("transfer without parts", try edit("report.json") { $0["transfer"] = .object(["chunkSize": .number(1_048_576)]) }),
            ("a document carrying a chase", try edit("document.json") { $0["chase"] = .object(["message": .string("快")]) }),
            ("a chase carrying a document", try edit("chase.json") { $0["document"] = .object(["title": .string("x")]) }),
            ("unknown status", try edit("receipt-delivered.json") { o in
                var r = o["receipt"]?.objectValue ?? [:]; r["status"] = .string("read"); o["receipt"] = .object(r) }),
            ("deadline not in UTC", try edit("document.json") { $0["signForBy"] = .string("2026-11-30T12:00:00+08:00") }),
            ("a stamped receipt", try edit("receipt-delivered.json") { $0["stamp"] = .object(["seal": .string("s"), "stamped": .string("2026-11-30T08:00:00Z"),
                                                                                              "protected": .string("eyJ9"), "signature": .string("c2ln")]) }),
            ("a stamp without its time", try edit("document.json") { $0["stamp"] = .object(["seal": .string("s"), "protected": .string("eyJ9"),
                                                                                           "signature": .string("c2ln")]) }),
            ("a batch proof on a document", try edit("document.json") { o in
                var sig = o["signature"]?.objectValue ?? [:]
                sig["batch"] = all["receipt-delivered-batch.json"]?["signature"]?["batch"]
                o["signature"] = .object(sig) }),
            ("a path hash that is not 32 bytes", try edit("receipt-delivered-batch.json") { o in
                var sig = o["signature"]?.objectValue ?? [:], b = sig["batch"]?.objectValue ?? [:]
                b["path"] = .array([.string("c2hvcnQ")])
                sig["batch"] = .object(b); o["signature"] = .object(sig) }),
        ]
        let errors = try schemaErrors(broken.map(\.1))
        for ((what, bytes), err) in zip(broken, errors) {
            #expect(err != nil, "schema accepted: \(what)")
            #expect(throws: YizhanError.self, "parser accepted: \(what)") { _ = try Envelope.parse(bytes) }
        }
        // JSON Schema cannot compare two members: an index past the tree's size is the parser's to refuse.
        let pastSize = try edit("receipt-delivered-batch.json") { o in
            var sig = o["signature"]?.objectValue ?? [:], b = sig["batch"]?.objectValue ?? [:]
            b["index"] = .number(5)
            sig["batch"] = .object(b); o["signature"] = .object(sig)
        }
        #expect(throws: YizhanError.self, "parser accepted a batch index past its size") { _ = try Envelope.parse(pastSize) }
    }
}
