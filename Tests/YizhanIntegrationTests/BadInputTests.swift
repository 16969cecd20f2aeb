import Foundation
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanStore

extension BrokerTests {
    /// Messages published straight to the broker as a real unit: each bad one is quarantined with
    /// its reason, the inbox stays unchanged, and the gateway keeps working.
    @Test func badInputIsQuarantinedWithItsReason() async throws {
        try await TestNetwork.with { net in
        let a = try randomUnitCode(), b = try randomUnitCode(), c = try randomUnitCode()
        let ha = try await net.enrol(a, name: "甲"), hb = try await net.enrol(b, name: "乙"), hc = try await net.enrol(c, name: "丙")
        let gb = RunningGateway(try net.gateway(hb))
        let storeA = try GatewayStore(path: ha.database)
        let (keyA, certA) = try net.key(ha), (keyC, certC) = try net.key(hc)
        let conn = try await AMQPConnection.connect(try net.brokerConfig(ha))
        let userA = try ha.loadConfig().brokerUser

        func envelope(from sender: UnitCode, to: UnitCode, parts: [Envelope.Part] = []) -> Envelope {
            Envelope(kind: .document, sender: sender, recipients: [.init(unit: to, role: .main)], created: Timestamp.format(Date()),
                     document: DocumentInfo(title: "测试"), parts: parts)
        }
        func send(_ body: [UInt8], framed: Bool = false, id: String = UUIDv7.make()) async throws {
            let outcome = try await conn.publish(exchange: "yizhan.documents", routingKey: b.rawValue, message: AMQPMessage(
                body: body, contentType: framed ? MessageFrame.framedContentType : MessageFrame.envelopeContentType, messageID: id, userID: userA))
            #expect(outcome == .confirmed)
        }

        // Malformed JSON and a schema violation.
        try await send(Array("{\"spec\": 1, ".utf8))
        try await send(Array(#"{"spec":1,"id":"x"}"#.utf8))
        // Unknown sender: a genuine certificate from the registry CA for a unit that is not registered.
        let stranger = try randomUnitCode()
        let keyS = try PrivateKey.generateEd25519()
        let certS = try net.registry.ca.issue(unitCode: stranger.rawValue, unitName: "未登记单位", publicKey: keyS.publicKey)
        try await send(try SignedEnvelope.sign(envelope(from: stranger, to: b), key: keyS, certificate: certS).bytes)
        // Certificate from another CA.
        let rogue = try CertificateAuthority.create(name: "Rogue CA")
        let certR = try rogue.issue(unitCode: a.rawValue, unitName: "甲", publicKey: keyA.publicKey)
        try await send(try SignedEnvelope.sign(envelope(from: a, to: b), key: keyA, certificate: certR).bytes)
        // Wrong user_id: C's genuine envelope, published by A's broker user.
        let replayed = try SignedEnvelope.sign(envelope(from: c, to: b), key: keyC, certificate: certC)
        try await send(replayed.bytes)
        // Part digest mismatch: the signed digest is of "hello", the frame carries "HELLO".
        let badParts = try SignedEnvelope.sign(envelope(from: a, to: b, parts: [.init(name: "a.txt", mediaType: "text/plain", size: 5, sha256: Digest.sha256Hex(Array("hello".utf8)))]),
                                               key: keyA, certificate: certA)
        try await send(MessageFrame.encode(envelope: badParts.bytes, parts: [Array("HELLO".utf8)]), framed: true)
        // Not addressed to B: A's genuine envelope for C, routed to B.
        let misrouted = try SignedEnvelope.sign(envelope(from: a, to: c), key: keyA, certificate: certA)
        try await send(misrouted.bytes)
        // A classified document, signed by a real unit: refused on receipt as it is at sending.
        var secret = envelope(from: a, to: b)
        secret.document = DocumentInfo(title: "内部文件", classification: "秘密")
        try await send(try SignedEnvelope.sign(secret, key: keyA, certificate: certA).bytes)
        // A forged signature: one changed byte of the title after signing.
        let good = try SignedEnvelope.sign(envelope(from: a, to: b), key: keyA, certificate: certA)
        try await send(Array(String(decoding: good.bytes, as: UTF8.self).replacingOccurrences(of: "测试", with: "测验").utf8))

        let expected = ["malformed-json", "schema-violation", "unknown-sender", "untrusted-certificate", "wrong-user-id", "part-mismatch", "not-addressed",
                        "classified-document", "bad-signature"]
        try await eventually("all \(expected.count) bad messages quarantined") { try gb.gateway.store.quarantined().count == expected.count }
        let q = try gb.gateway.store.quarantined()
        #expect(q.map(\.reason) == expected)
        #expect(q.allSatisfy { !$0.detail.isEmpty })
        #expect(try gb.gateway.store.inboxCount() == 0)
        // Identified senders get a rejected receipt: A for the part mismatch and the misroute.
        let gaReceipts = RunningGateway(try net.gateway(ha))
        try await eventually("rejected receipts at A") { try storeA.receipts().count == 2 }
        let reasons = Set(try storeA.receipts().map { $0.reason ?? "" })
        #expect(reasons == ["part-mismatch", "not-addressed"])
        #expect(try storeA.receipts().allSatisfy { $0.status == "rejected" })
        // The gateway still runs: a good document still arrives.
        let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(
            title: "关于报送2026年建设工程质量情况的报告", number: "武建〔2026〕15号", type: "报告", urgency: "加急", signer: "张三", classification: "非涉密",
            issuer: "甲", dateWritten: "2026-11-30", attachments: ["1. 质量情况统计表"], note: "联系人：李四", printedBy: "甲办公室", printedOn: "2026-11-30"),
            recipients: [.init(unit: b, role: .main), .init(unit: c, role: .cc)], parts: [])
        try storeA.enqueue(draft)
        try await eventually("a good document after the bad ones") { try storeA.outboxEntry(id: draft.id)?.deliveries.first?.state == "delivered" }
        #expect(try gb.gateway.store.inboxCount() == 1)

        // Everything the gateways emitted — documents with and without parts, delivered and
        // rejected receipts — validates against Schemas/envelope.schema.json.
        var emitted: [[UInt8]] = []
        for store in [storeA, gb.gateway.store] {
            for o in try store.outbox(includeReceipts: true) { emitted.append(try #require(try store.envelopeBytes(id: o.id))) }
        }
        emitted += [badParts.bytes, misrouted.bytes]
        #expect(emitted.count >= 5)
        let kinds = Set(try emitted.map { try JSONValue.parse($0)["receipt"]?["status"]?.stringValue ?? "document" })
        #expect(kinds == ["document", "delivered", "rejected"])
        let errors = try schemaErrors(emitted)
        #expect(errors.allSatisfy { $0 == nil }, "\(errors.compactMap { $0 })")
        // Negative control: the validator does reject what the schema forbids.
        guard case .object(var o) = try JSONValue.parse(emitted[0]) else { Issue.record("not an object"); return }
        o["unexpected"] = .bool(true)
        var noSig = o; noSig.removeValue(forKey: "signature"); noSig.removeValue(forKey: "unexpected")
        let bad = try schemaErrors([JSONValue.object(o).canonicalBytes(), JSONValue.object(noSig).canonicalBytes()])
        #expect(bad.allSatisfy { $0 != nil })
        await conn.close()
        await gb.stop(); await gaReceipts.stop()
        }
    }

    /// Unit A's broker user may publish to yizhan.documents and read its own queue, nothing else.
    @Test func leastPrivilegeIsEnforcedByTheBroker() async throws {
        try await TestNetwork.with { net in
        let a = try randomUnitCode(), b = try randomUnitCode()
        let ha = try await net.enrol(a, name: "甲"), hb = try await net.enrol(b, name: "乙")
        let conn = try await AMQPConnection.connect(try net.brokerConfig(ha))
        let userA = try ha.loadConfig().brokerUser, userB = try hb.loadConfig().brokerUser

        func refusal(_ op: () async throws -> Void) async -> Int? {
            do { try await op(); return nil } catch let e as AMQPError { return e.replyCode } catch { return -1 }
        }
        // Positive control: its own queue is readable.
        _ = try await conn.consume(queue: "yizhan.unit.\(a.rawValue)")
        #expect(await refusal { _ = try await conn.consume(queue: "yizhan.unit.\(b.rawValue)") } == 403)
        #expect(await refusal { _ = try await conn.declareQueue("yizhan.unit.\(a.rawValue).extra") } == 403)
        #expect(await refusal { try await conn.deleteQueue("yizhan.unit.\(b.rawValue)") } == 403)
        #expect(await refusal { try await conn.deleteQueue("yizhan.unit.\(a.rawValue)") } == 403)
        #expect(await refusal {
            _ = try await conn.publish(exchange: "yizhan.registry", routingKey: "", message: AMQPMessage(body: [1], messageID: "x", userID: userA))
        } == 403)
        #expect(await refusal {
            _ = try await conn.publish(exchange: "yizhan.documents", routingKey: b.rawValue, message: AMQPMessage(body: [1], messageID: "y", userID: userB))
        } == 406)
        // After the refusals the connection still publishes as itself.
        let ok = try await conn.publish(exchange: "yizhan.documents", routingKey: b.rawValue, message: AMQPMessage(body: [1], messageID: "z", userID: userA))
        #expect(ok == .confirmed)
        await conn.close()
        }
    }
}
