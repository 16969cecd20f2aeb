import Foundation
import GRDB
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// The attack table of README "Security": each row sent straight to the broker against a running
/// gateway (B), each refused with its reason (or, for a replay, taken once), B's inbox unchanged,
/// and B still delivering a good document afterwards.
enum AttackRow: String, CaseIterable, Sendable {
    case replayedEnvelope, replayedToAnotherUnit, rogueCertificateAuthority, certificateOfAnotherUnit, userIDSpoofing
    case oversizeMessage, partThatExpandsWithoutBound, tenThousandRecipients, deeplyNestedJSON, invalidUTF8, hugeHeaders
}

extension BrokerTests {
    @Test(arguments: AttackRow.allCases)
    func attackIsRefused(_ row: AttackRow) async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode(), c = try randomUnitCode()
            let ha = try await net.enrol(a, name: "甲"), hb = try await net.enrol(b, name: "乙"), hc = try await net.enrol(c, name: "丙")
            let sb = try GatewayStore(path: hb.database)
            let (keyA, certA) = try net.key(ha), (keyC, certC) = try net.key(hc)
            let userA = try ha.loadConfig().brokerUser, userC = try hc.loadConfig().brokerUser
            let connA = try await AMQPConnection.connect(try net.brokerConfig(ha))
            let connC = try await AMQPConnection.connect(try net.brokerConfig(hc))
            func envelope(from: UnitCode, to: [UnitCode], title: String = "攻击测试", parts: [Envelope.Part] = [], transfer: TransferInfo? = nil) -> Envelope {
                Envelope(kind: .document, sender: from, recipients: to.map { .init(unit: $0, role: .main) }, created: Timestamp.format(Date()),
                         document: DocumentInfo(title: title), parts: parts, transfer: transfer)
            }
            func publish(_ body: [UInt8], on conn: AMQPConnection? = nil, user: String? = nil, type: String = MessageFrame.envelopeContentType,
                         id: String = UUIDv7.make()) async throws -> PublishOutcome {
                try await (conn ?? connA).publish(exchange: "yizhan.documents", routingKey: b.rawValue,
                                                  message: AMQPMessage(body: body, contentType: type, messageID: id, userID: user ?? userA))
            }
            func quarantined(_ reason: String) async throws {
                try await eventually("quarantined as \(reason)") { try sb.quarantined().contains { $0.reason == reason } }
            }

            try await withGateways(net, [hb]) {
                switch row {
                case .replayedEnvelope:
                    let e = try SignedEnvelope.sign(envelope(from: a, to: [b]), key: keyA, certificate: certA)
                    #expect(try await publish(e.bytes, id: e.envelope.id) == .confirmed)
                    #expect(try await publish(e.bytes, id: e.envelope.id) == .confirmed)
                    try await eventually("the replay seen as a duplicate") { try sb.trail(documentID: e.envelope.id).contains { $0.event == "duplicate" } }
                    #expect(try sb.inboxCount() == 1)
                    #expect(try sb.quarantined().isEmpty)
                case .replayedToAnotherUnit:
                    // A's genuine envelope for C, replayed into B's queue.
                    let e = try SignedEnvelope.sign(envelope(from: a, to: [c]), key: keyA, certificate: certA)
                    _ = try await publish(e.bytes)
                    try await quarantined("not-addressed")
                case .rogueCertificateAuthority:
                    let rogue = try CertificateAuthority.create(name: "Rogue CA")
                    let forged = try rogue.issue(unitCode: a.rawValue, unitName: "甲", publicKey: keyA.publicKey)
                    _ = try await publish(try SignedEnvelope.sign(envelope(from: a, to: [b]), key: keyA, certificate: forged).bytes)
                    try await quarantined("untrusted-certificate")
                case .certificateOfAnotherUnit:
                    // C claims to be A, carrying A's certificate, but can only sign with its own key
                    // (built by hand: SignedEnvelope.sign refuses a certificate that is not the key's).
                    guard case .object(var o) = try JSONValue.from(envelope(from: a, to: [b])) else { throw TestFailure("not an object") }
                    o.removeValue(forKey: "signature")
                    let header = JSONValue.object(["alg": .string("EdDSA"), "typ": .string("yizhan-envelope+jws"),
                                                   "x5c": .array([.string(Data(certA.der).base64EncodedString())])]).canonicalBytes()
                    let input = Base64URL.encode(header) + "." + Base64URL.encode(JSONValue.object(o).canonicalBytes())
                    o["signature"] = .object(["protected": .string(Base64URL.encode(header)), "signature": .string(Base64URL.encode(try keyC.sign(Array(input.utf8))))])
                    _ = try await publish(JSONValue.object(o).canonicalBytes(), on: connC, user: userC)
                    try await quarantined("bad-signature")
                    // C's own certificate for an envelope that says A sent it.
                    _ = try await publish(try SignedEnvelope.sign(envelope(from: a, to: [b]), key: keyC, certificate: certC).bytes, on: connC, user: userC)
                    try await quarantined("sender-mismatch")
                case .userIDSpoofing:
                    // The broker refuses a user_id that is not the publisher's own...
                    let spoofer = try await AMQPConnection.connect(try net.brokerConfig(ha))
                    await #expect(throws: (any Error).self) {
                        _ = try await spoofer.publish(exchange: "yizhan.documents", routingKey: b.rawValue, message: AMQPMessage(
                            body: Array("{}".utf8), contentType: MessageFrame.envelopeContentType, messageID: UUIDv7.make(), userID: userC))
                    }
                    await spoofer.close()
                    // ...and the gateway refuses C's genuine envelope published by A.
                    _ = try await publish(try SignedEnvelope.sign(envelope(from: c, to: [b]), key: keyC, certificate: certC).bytes)
                    try await quarantined("wrong-user-id")
                case .oversizeMessage:
                    let big = [UInt8](repeating: 0x20, count: ReceiveLimits.message + 1)
                    _ = try await publish(big)
                    try await quarantined("oversize")
                    let kept = try await sb.writer.read { db in try Int.fetchOne(db, sql: "SELECT length(body) FROM quarantine WHERE reason = 'oversize'") }
                    #expect(kept == ReceiveLimits.keptOfOversize)
                case .partThatExpandsWithoutBound:
                    // A frame whose part header claims 2^62 bytes...
                    let e = try SignedEnvelope.sign(envelope(from: a, to: [b]), key: keyA, certificate: certA)
                    var frame = MessageFrame.encode(envelope: e.bytes, parts: [Array("x".utf8)])
                    let at = 8 + e.bytes.count
                    frame.replaceSubrange(at..<(at + 8), with: [0x40, 0, 0, 0, 0, 0, 0, 0])
                    _ = try await publish(frame, type: MessageFrame.framedContentType)
                    try await quarantined("malformed-frame")
                    // ...and a signed envelope declaring parts far beyond what a document may carry.
                    let huge = Envelope.Part(name: "炸弹.bin", mediaType: "application/octet-stream", size: 1 << 50, sha256: String(repeating: "0", count: 64))
                    _ = try await publish(try SignedEnvelope.sign(envelope(from: a, to: [b], parts: [huge], transfer: TransferInfo(chunkSize: 1 << 20)),
                                                                  key: keyA, certificate: certA).bytes)
                    try await quarantined("oversize")
                case .tenThousandRecipients:
                    let many = try (0..<10_000).map { _ in try randomUnitCode() } + [b]
                    _ = try await publish(try SignedEnvelope.sign(envelope(from: a, to: many), key: keyA, certificate: certA).bytes)
                    try await quarantined("schema-violation")
                case .deeplyNestedJSON:
                    _ = try await publish(Array((String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)).utf8))
                    try await quarantined("malformed-json")
                case .invalidUTF8:
                    let text = String(decoding: try SignedEnvelope.sign(envelope(from: a, to: [b], title: "UTFX"), key: keyA, certificate: certA).bytes, as: UTF8.self)
                    let parts = text.components(separatedBy: "UTFX")
                    let bytes = Array(parts[0].utf8) + [0xC3, 0x28, 0xFF] + Array(parts[1].utf8)
                    _ = try await publish(bytes)
                    try await quarantined("malformed-json")
                case .hugeHeaders:
                    // 100 KiB of headers (the most one AMQP frame carries is 128 KiB), through the management API.
                    let e = try SignedEnvelope.sign(envelope(from: a, to: [b]), key: keyA, certificate: certA)
                    var headers: [String: JSONValue] = [:]
                    for i in 0..<100 { headers["x-junk-\(i)"] = .string(String(repeating: "头", count: 340)) }
                    let body = JSONValue.object([
                        "properties": .object(["delivery_mode": .number(2), "content_type": .string(MessageFrame.envelopeContentType), "headers": .object(headers)]),
                        "routing_key": .string(b.rawValue), "payload": .string(String(decoding: e.bytes, as: UTF8.self)), "payload_encoding": .string("string"),
                    ])
                    let admin = try TestBroker.admin()
                    let r = try await admin.http.json("POST", "/api/exchanges/\(net.vhost)/yizhan.documents/publish", body)
                    #expect(r.status == 200, "\(String(decoding: r.body, as: UTF8.self))")
                    // Published by the administrator, not by A: refused for that, and the gateway carries on.
                    try await quarantined("wrong-user-id")
                }
                #expect(try sb.inboxCount() == (row == .replayedEnvelope ? 1 : 0))
                // B is still receiving.
                let good = try SignedEnvelope.sign(envelope(from: a, to: [b], title: "之后的正常公文"), key: keyA, certificate: certA)
                _ = try await publish(good.bytes, id: good.envelope.id)
                try await eventually("a good document still arrives") { try sb.inboxEntry(id: good.envelope.id) != nil }
            }
            await connA.close(); await connC.close()
        }
    }
}
