import Testing
@testable import YizhanCore

@Suite struct EnvelopeValidationTests {
    func sample() throws -> JSONValue {
        let a = try UnitCode.completing("11420100MB1234567"), b = try UnitCode.completing("11420100MB7654321")
        var e = Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(.init()),
                         document: DocumentInfo(title: "关于开展安全检查的通知", number: "武建〔2007〕242号", type: "通知"),
                         parts: [.init(name: "a.pdf", mediaType: "application/pdf", size: 3, sha256: String(repeating: "a", count: 64))])
        e.signature = .init(protected: "eyJhIjoxfQ", signature: "AAAA")
        return try JSONValue.from(e)
    }

    @Test func wellFormedEnvelopeValidates() throws {
        try Envelope.validate(try sample())
    }

    @Test func violationsAreNamed() throws {
        guard case .object(let base) = try sample() else { Issue.record("not an object"); return }
        var cases: [(String, JSONValue)] = []
        var o = base; o["extra"] = .string("x"); cases.append(("/extra", .object(o)))
        o = base; o["spec"] = .number(2); cases.append(("/spec", .object(o)))
        o = base; o["sender"] = .string("11420100MB12345670"); cases.append(("/sender", .object(o)))
        o = base; o["recipients"] = .array([]); cases.append(("/recipients", .object(o)))
        o = base; o["created"] = .string("yesterday"); cases.append(("/created", .object(o)))
        o = base; o.removeValue(forKey: "signature"); cases.append(("/signature", .object(o)))
        o = base; o["document"] = .object(["title": .string("t"), "type": .string("便条")]); cases.append(("/document/type", .object(o)))
        for (path, value) in cases {
            do {
                try Envelope.validate(value)
                Issue.record("\(path) accepted")
            } catch {
                #expect(error.code == .schemaViolation)
                #expect(error.message.contains(path), "\(error.message) should name \(path)")
            }
        }
    }

    @Test func frameRoundTripsAndRejectsTruncation() throws {
        let env = Array("{}".utf8), parts: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 7, count: 1000)]
        let f = MessageFrame.encode(envelope: env, parts: parts)
        let d = try MessageFrame.decode(f)
        #expect(d.envelope == env && d.parts == parts)
        #expect(throws: YizhanError.self) { try MessageFrame.decode(Array(f.dropLast())) }
        #expect(throws: YizhanError.self) { try MessageFrame.decode(Array("nope".utf8)) }
    }
}

extension EnvelopeValidationTests {
    /// A stamp goes only on kinds that carry a document, with exactly its four members.
    @Test func stampMemberIsChecked() throws {
        let a = try UnitCode.completing("11420100MB1234567"), b = try UnitCode.completing("11420100MB7654321")
        let stamp = Envelope.Stamp(seal: "s1", stamped: "2026-11-30T08:00:00Z", protected: "eyJ9", signature: "c2ln")
        var doc = Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: "2026-11-30T08:00:01Z", document: DocumentInfo(title: "t"))
        doc.stamp = stamp
        doc.signature = .init(protected: "eyJ9", signature: "c2ln")
        try Envelope.validate(try JSONValue.from(doc))
        var receipt = Envelope(kind: .receipt, sender: a, recipients: [.init(unit: b, role: .main)], created: "2026-11-30T08:00:01Z", inReplyTo: doc.id,
                               receipt: ReceiptInfo(status: .delivered, document: doc.id, payloadSha256: String(repeating: "0", count: 64)))
        receipt.stamp = stamp
        receipt.signature = doc.signature
        #expect(throws: YizhanError.self) { try Envelope.validate(try JSONValue.from(receipt)) }
        guard case .object(var o) = try JSONValue.from(doc) else { return }
        o["stamp"] = .object(["seal": .string("s1"), "stamped": .string("yesterday"), "protected": .string("eyJ9"), "signature": .string("c2ln")])
        #expect(throws: YizhanError.self) { try Envelope.validate(.object(o)) }
        o["stamp"] = .object(["seal": .string("s1"), "stamped": .string("2026-11-30T08:00:00Z"), "protected": .string("eyJ9"), "signature": .string("c2ln"), "x": .null])
        #expect(throws: YizhanError.self) { try Envelope.validate(.object(o)) }
    }
}
