import Foundation
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// Everything that crosses the real broker. Serialized: one test closes every broker
/// connection on purpose, which must not disturb the others.
@Suite(.serialized) struct BrokerTests {}

extension BrokerTests {
    @Test(arguments: [false, true])
    func documentDeliveredReceiptBackStatesRight(overTLS: Bool) async throws {
        try await TestNetwork.with(tls: overTLS) { net in
        let a = try randomUnitCode(), b = try randomUnitCode()
        let ha = try await net.enrol(a, name: "武汉市城乡建设委员会"), hb = try await net.enrol(b, name: "武汉市江岸区建设局")
        let ga = RunningGateway(try net.gateway(ha)), gb = RunningGateway(try net.gateway(hb))
        let attachment = Array("附件内容 attachment bytes".utf8)
        let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "关于开展安全检查的通知", number: "武建〔2026〕7号", type: "通知"),
                                       recipients: [.init(unit: b, role: .main)],
                                       parts: [.init(name: "要点.txt", mediaType: "text/plain", data: attachment, sha256: Digest.sha256Hex(attachment))])
        try ga.gateway.store.enqueue(draft)
        try await eventually("receipt back at the sender") {
            try ga.gateway.store.outboxEntry(id: draft.id)?.deliveries.first?.state == "delivered"
        }
        let entry = try #require(try ga.gateway.store.outboxEntry(id: draft.id))
        let d = try #require(entry.deliveries.first)
        #expect(d.recipient == b.rawValue && d.publishedAt != nil && d.deliveredAt != nil && d.deliveredBy == b.rawValue)
        // The trail runs queued → signed → published → delivered.
        let events = try ga.gateway.store.trail(documentID: draft.id).map(\.event)
        #expect(events == ["queued", "signed", "published", "delivered"])
        // The recipient holds the document once, with the attachment bytes intact.
        let inbox = try gb.gateway.store.inbox()
        #expect(inbox.count == 1 && inbox[0].id == draft.id && inbox[0].senderName == "武汉市城乡建设委员会")
        #expect(try gb.gateway.store.inboxPart(documentID: draft.id, index: 0) == attachment)
        // Export is byte-identical on both sides and verifies on its own.
        let sent = try #require(try ga.gateway.store.envelopeBytes(id: draft.id))
        let received = try #require(try gb.gateway.store.envelopeBytes(id: draft.id))
        #expect(sent == received)
        let (opened, cert) = try SignedEnvelope.open(received)
        #expect(cert.commonName == a.rawValue)
        // The receipt names the payload digest the recipient verified.
        let receipts = try ga.gateway.store.receipts(documentID: draft.id)
        #expect(receipts.count == 1 && receipts[0].status == "delivered" && receipts[0].fromUnit == b.rawValue)
        let rb = try #require(try gb.gateway.store.outbox(includeReceipts: true).first { $0.kind == "receipt" })
        let receiptEnvelope = try SignedEnvelope.open(try #require(try gb.gateway.store.envelopeBytes(id: rb.id))).0
        #expect(receiptEnvelope.envelope.receipt?.payloadSha256 == opened.payloadSha256)
        if overTLS { #expect(try ha.loadConfig().brokerTLS && FileManager.default.fileExists(atPath: ha.brokerCAFile)) }
        await ga.stop(); await gb.stop()
        }
    }

    @Test func unroutableCopyStaysQueuedWithReason() async throws {
        try await TestNetwork.with { net in
        let a = try randomUnitCode(), nobody = try randomUnitCode()
        let ha = try await net.enrol(a, name: "单位甲")
        let ga = RunningGateway(try net.gateway(ha))
        let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "无人接收"), recipients: [.init(unit: nobody, role: .main)], parts: [])
        try ga.gateway.store.enqueue(draft)
        try await eventually("the broker returned the copy") {
            try ga.gateway.store.outboxEntry(id: draft.id)?.deliveries.first?.lastError?.contains("no such recipient") == true
        }
        let d = try #require(try ga.gateway.store.outboxEntry(id: draft.id)?.deliveries.first)
        #expect(d.state == "queued" && d.attempts >= 1 && d.publishedAt == nil)
        await ga.stop()
        }
    }
}
