import Testing
@testable import YizhanCore

/// The envelope's hand-written JSON paths (Envelope+JSON.swift) against `Codable`, which stays
/// the reference: same JSON out, same model back, for envelopes that use every member.
@Suite struct EnvelopeCodecTests {
    /// One envelope of every kind, together setting every optional member at least once.
    static func everyShape() throws -> [Envelope] {
        let a = try UnitCode.completing("11420100MB1234567"), b = try UnitCode.completing("11420100MB7654321"), c = try UnitCode.completing("12420100MA4K0000X")
        let now = "2026-11-30T08:00:00.123Z", doc = UUIDv7.make(), sha = String(repeating: "0f", count: 32)
        let part = Envelope.Part(name: "正文 \"定稿\".pdf", mediaType: "application/pdf", size: 9_007_199_254_740_991, sha256: sha)
        let fullDoc = DocumentInfo(title: "关于开展\n安全检查的通知", number: "武建〔2007〕242号", type: "请示", urgency: "特急", signer: "李四",
                                   classification: "非涉密", issuer: "武汉市城乡建设委员会", dateWritten: "2026-11-30", attachments: ["附件一", "附件二"],
                                   note: "联系人：张三", printedBy: "办公室", printedOn: "2026-12-01")
        var out: [Envelope] = []
        var e = Envelope(kind: .request, sender: a, senderName: "发文单位", recipients: [.init(unit: b, role: .main), .init(unit: c, role: .cc)],
                         created: now, document: fullDoc, parts: [part, .init(name: "empty", mediaType: "text/plain", size: 0, sha256: sha)],
                         signForBy: "2026-12-02T00:00:00Z", supersedes: UUIDv7.make(), transfer: TransferInfo(chunkSize: 4096),
                         stamp: .init(seal: "seal-1", stamped: now, protected: "eyJhIjoxfQ", signature: "AAAA"))
        e.signature = .init(protected: "eyJhbGciOiJFZERTQSJ9", signature: "c2ln")
        out.append(e)
        out.append(Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: now, document: DocumentInfo(title: "短")))
        for status in ReceiptInfo.Status.allCases {
            var r = Envelope(kind: .receipt, sender: b, senderName: "收文单位", recipients: [.init(unit: a, role: .main)], created: now, inReplyTo: doc,
                             receipt: ReceiptInfo(status: status, document: doc, payloadSha256: status == .rejected ? "" : sha, reason: "原因",
                                                  detail: "细节", onBehalfOf: status == .delivered ? c : nil, clerk: status.isClerkAct ? "王芳" : nil))
            r.signature = .init(protected: "eyJ9", signature: "c2ln", batch: .init(index: 2, size: 5, path: [String(repeating: "A", count: 43), "B"]))
            out.append(r)
        }
        out.append(Envelope(kind: .notice, sender: a, recipients: [.init(unit: b, role: .main)], created: now, document: DocumentInfo(title: "会议"),
                            meeting: MeetingInfo(start: now, end: now, place: "三楼会议室", replyBy: now)))
        out.append(Envelope(kind: .notice, sender: a, recipients: [.init(unit: b, role: .main)], created: now, document: DocumentInfo(title: "会议"),
                            meeting: MeetingInfo(start: now, place: "三楼")))
        out.append(Envelope(kind: .chase, sender: a, recipients: [.init(unit: b, role: .main)], created: now, inReplyTo: doc, chase: ChaseInfo(message: "请尽快签收")))
        out.append(Envelope(kind: .attendance, sender: b, recipients: [.init(unit: a, role: .main)], created: now, inReplyTo: doc,
                            attendance: AttendanceInfo(attending: true, attendees: ["王芳", "赵六"], note: "两人")))
        out.append(Envelope(kind: .attendance, sender: b, recipients: [.init(unit: a, role: .main)], created: now, inReplyTo: doc,
                            attendance: AttendanceInfo(attending: false, attendees: [])))
        return out
    }

    @Test func encodingMatchesCodable() throws {
        for e in try Self.everyShape() {
            #expect(e.jsonValue == (try JSONValue.from(e)), "\(e.kind)")
        }
    }

    @Test func decodingMatchesCodableAndRoundTrips() throws {
        for e in try Self.everyShape() {
            let json = try JSONValue.from(e)
            let direct = try Envelope.decodeValidated(json)
            #expect(direct == e, "\(e.kind)")
            #expect(direct == (try json.decode(Envelope.self)), "\(e.kind)")
        }
    }

    /// As `decodeIfPresent` does: null is an absent optional; anything else of the wrong type is
    /// a typed error (validation refuses both before decoding, so this is the second line).
    @Test func nullIsAbsentAndWrongTypesThrow() throws {
        guard case .object(var o) = try Self.everyShape()[0].jsonValue else { Issue.record("not an object"); return }
        o["senderName"] = .null
        o["meeting"] = .null
        let withNulls = try Envelope.decodeValidated(.object(o))
        #expect(withNulls.senderName == nil && withNulls.meeting == nil)
        #expect(withNulls == (try JSONValue.object(o).decode(Envelope.self)))

        var bad = o
        bad["parts"] = .array([.object(["name": .string("x"), "mediaType": .string("y"), "size": .string("3"), "sha256": .string("z")])])
        #expect { try Envelope.decodeValidated(.object(bad)) } throws: { ($0 as? YizhanError)?.code == .schemaViolation }
        bad = o
        bad["spec"] = .number(1.5)
        #expect { try Envelope.decodeValidated(.object(bad)) } throws: { ($0 as? YizhanError)?.message.contains("/spec") == true }
        bad = o
        bad["recipients"] = .array([.object(["unit": .string("nope"), "role": .string("main")])])
        #expect { try Envelope.decodeValidated(.object(bad)) } throws: { ($0 as? YizhanError)?.code == .invalidUnitCode }
    }

    /// The byte-level unit code check accepts exactly what the character-level one accepts.
    @Test func unitCodeFastPathAgreesWithTheLongWay() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = UnitCode.alphabet.map(String.init)
        let others = ["I", "O", "Z", "S", "V", "a", "-", "１", "é", "\r\n"]
        var valid = 0
        for n in 0..<20_000 {
            var s = (0..<17).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &rng)] }.joined()
            // A third get their own check character, the rest a random or foreign last character.
            switch n % 3 {
            case 0: s = (try? UnitCode.completing(s).rawValue) ?? s
            case 1: s += alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
            default: s = String(s.dropLast(Int.random(in: 0...2, using: &rng))) + others[Int.random(in: 0..<others.count, using: &rng)]
            }
            let fast = UnitCode.isValidASCII(s), slow = UnitCode.problem(with: s) == nil
            #expect(fast == slow, "\(s)")
            if slow { valid += 1 }
        }
        #expect(valid > 6000)
    }

    /// `Base64URL.isValid` is `decode(_:) != nil` without the bytes.
    @Test func base64URLValidityAgreesWithDecoding() {
        var rng = SystemRandomNumberGenerator()
        let chars = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.")
        var valid = 0
        for _ in 0..<20_000 {
            let n = Int.random(in: 0...9, using: &rng)
            let s = String((0..<n).map { _ in chars[Int.random(in: 0..<(Int.random(in: 0..<8, using: &rng) == 0 ? chars.count : 64), using: &rng)] })
            #expect(Base64URL.isValid(s) == (Base64URL.decode(s) != nil), "\(s)")
            if Base64URL.isValid(s) { valid += 1 }
        }
        #expect(valid > 1000)
        for bytes in [[], [0], [0, 1], [0, 1, 2], Array(repeating: UInt8(255), count: 32)] as [[UInt8]] {
            #expect(Base64URL.isValid(Base64URL.encode(bytes)))
        }
    }

    /// Integers below 2^53 take a shortcut in RFC 8785 number formatting; around the edge it
    /// must still print what ECMAScript prints.
    @Test func integerNumbersFormatAsECMAScript() {
        let cases: [(Double, String)] = [(0, "0"), (1, "1"), (-4096, "-4096"), (9_007_199_254_740_991, "9007199254740991"),
                                         (9_007_199_254_740_992, "9007199254740992"), (1e21, "1e+21"), (1.2345678901234568e20, "123456789012345680000"),
                                         (0.5, "0.5"), (4096.25, "4096.25")]
        for (d, text) in cases { #expect(JSONValue.ecmaScriptString(d) == text, "\(d)") }
    }
}
