import Foundation
import Testing
import YizhanCore
@testable import YizhanStore

/// The gateway store on a real SQLite file: the recipient state machine and duplicate handling.
@Suite struct GatewayStoreTests {
    let store: GatewayStore
    let path: String
    let b: UnitCode, c: UnitCode

    init() throws {
        path = NSTemporaryDirectory() + "yizhan-store-\(UUIDv7.make()).sqlite"
        store = try GatewayStore(path: path)
        b = try UnitCode.completing("11420100MB7654321")
        c = try UnitCode.completing("12420100MA4K0000X")
    }

    func draft(parts: [GatewayStore.PartData] = []) -> GatewayStore.Draft {
        GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "t"), recipients: [.init(unit: b, role: .main), .init(unit: c, role: .cc)], parts: parts)
    }

    /// The send loop's one read: drafts to sign and copies due, as `unsigned` and `due` give them.
    @Test func lookFindsDraftsToSignAndCopiesDueTogether() throws {
        #expect(try store.look(limit: 10).unsigned.isEmpty && store.look(limit: 10).due.isEmpty, "an empty outbox")
        let signed = draft(), waiting = draft()
        try store.enqueue(signed)
        try store.markSigned(id: signed.id, envelope: Array("{}".utf8), payloadSha256: String(repeating: "0", count: 64))
        try store.enqueue(waiting)
        let look = try store.look(limit: 10)
        #expect(look.unsigned.map(\.id) == [waiting.id])
        #expect(look.due.map(\.documentID) == [signed.id, signed.id])
        #expect(Set(look.due.map(\.recipient)) == [b.rawValue, c.rawValue])
        #expect(look.due.allSatisfy { $0.envelope == Array("{}".utf8) })
        #expect(try store.look(limit: 1).due.count == 1 && store.look(limit: 1).unsigned.count == 1, "the limit holds for each")
        try store.recordPublish(documentID: signed.id, recipient: b.rawValue, result: .retry(error: "x", after: 60))
        #expect(try store.look(limit: 10).due.map(\.recipient) == [c.rawValue], "a copy waiting for its backoff is not due")
    }

    @Test func statesRunQueuedPublishedDeliveredOrRejected() throws {
        let d = draft()
        try store.enqueue(d)
        #expect(try store.due().isEmpty, "unsigned drafts are not due")
        #expect(try store.unsigned().map(\.id) == [d.id])
        try store.markSigned(id: d.id, envelope: Array("{}".utf8), payloadSha256: String(repeating: "0", count: 64))
        #expect(try store.due().count == 2)
        try store.recordPublish(documentID: d.id, recipient: b.rawValue, result: .confirmed)
        try store.recordPublish(documentID: d.id, recipient: c.rawValue, result: .retry(error: "no such recipient", after: 60))
        var e = try #require(try store.outboxEntry(id: d.id))
        #expect(e.deliveries.map(\.state) == ["published", "queued"])
        #expect(e.deliveries[1].lastError == "no such recipient" && e.deliveries[1].attempts == 1)
        #expect(try store.due().isEmpty, "the retried copy waits for its backoff")
        #expect(try store.due(now: Date().addingTimeInterval(61)).count == 1)

        let ok = ReceiptInfo(status: .delivered, document: d.id, payloadSha256: String(repeating: "0", count: 64))
        let receiptID = UUIDv7.make()
        try store.applyReceipt(id: receiptID, from: b.rawValue, receipt: ok, envelope: [1])
        try store.applyReceipt(id: receiptID, from: b.rawValue, receipt: ok, envelope: [1]) // a resent receipt changes nothing
        let no = ReceiptInfo(status: .rejected, document: d.id, payloadSha256: "", reason: "not-addressed", detail: "x")
        try store.applyReceipt(id: UUIDv7.make(), from: c.rawValue, receipt: no, envelope: [2])
        e = try #require(try store.outboxEntry(id: d.id))
        #expect(e.deliveries.map(\.state) == ["delivered", "rejected"])
        #expect(e.deliveries[1].reason == "not-addressed: x")
        #expect(try store.receipts(documentID: d.id).count == 2)
        // A late confirm never moves a delivered copy back.
        try store.recordPublish(documentID: d.id, recipient: b.rawValue, result: .confirmed)
        #expect(try store.outboxEntry(id: d.id)?.deliveries.first?.state == "delivered")
        // A confirm recorded only after the receipt came (a prompt publish's outcome waits for the
        // record loop) still says when the broker took the copy.
        #expect(try store.outboxEntry(id: d.id)?.deliveries[1].publishedAt == nil)
        try store.recordPublish(documentID: d.id, recipient: c.rawValue, result: .confirmed)
        let late = try #require(try store.outboxEntry(id: d.id)?.deliveries[1])
        #expect(late.state == "rejected" && late.publishedAt != nil)
    }

    /// What a broker message is acked on must survive a power cut: every connection commits with
    /// `synchronous = FULL`; only publish bookkeeping (`relaxedWrite`) commits without waiting for
    /// the disk, and the connection is back to FULL after it, also when it fails.
    @Test func commitsWaitForTheDiskExceptPublishBookkeeping() throws {
        struct Boom: Error {}
        func level() throws -> Int? { try store.writer.write { try Int.fetchOne($0, sql: "PRAGMA synchronous") } }
        #expect(try level() == 2, "FULL on the writer connection")
        let d = draft()
        try store.enqueue(d)
        try store.markSigned(id: d.id, envelope: Array("{}".utf8), payloadSha256: String(repeating: "0", count: 64))
        var inside: Int?
        try store.writer.relaxedWrite { db in inside = try Int.fetchOne(db, sql: "PRAGMA synchronous") }
        #expect(inside == 1, "NORMAL inside a relaxed write")
        try store.recordPublish(documentID: d.id, recipient: b.rawValue, result: .confirmed)
        #expect(try level() == 2, "FULL again after a relaxed write")
        #expect(throws: Boom.self) { try store.writer.relaxedWrite { _ in throw Boom() } }
        #expect(try level() == 2, "FULL again after a relaxed write that failed")
        #expect(try #require(try store.outboxEntry(id: d.id)).deliveries.map(\.state) == ["published", "queued"], "the relaxed write was committed")
    }

    @Test func duplicateDeliveryIsNotStoredTwiceAndItsReceiptIsQueuedAgain() throws {
        let a = try UnitCode.completing("11420100MB1234567")
        let env = Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()), document: DocumentInfo(title: "t"))
        let receipt = GatewayStore.SignedReceipt(id: UUIDv7.make(), to: a.rawValue,
                                                 receipt: ReceiptInfo(status: .delivered, document: env.id, payloadSha256: String(repeating: "1", count: 64)),
                                                 envelope: [9], payloadSha256: String(repeating: "2", count: 64))
        let incoming = GatewayStore.Incoming(envelope: env, bytes: [7], payloadSha256: String(repeating: "1", count: 64), onBehalfOf: nil, parts: [])
        #expect(try store.receive(incoming, receipt: receipt) == .stored)
        try store.recordPublish(documentID: receipt.id, recipient: a.rawValue, result: .confirmed)
        let again = GatewayStore.SignedReceipt(id: UUIDv7.make(), to: a.rawValue, receipt: receipt.receipt, envelope: [9], payloadSha256: receipt.payloadSha256)
        #expect(try store.receive(incoming, receipt: again) == .duplicate(receiptID: receipt.id))
        #expect(try store.inboxCount() == 1)
        // The original receipt (same id) is due again; the second one was never stored.
        #expect(try store.due().map(\.documentID) == [receipt.id])
        #expect(try store.outbox(includeReceipts: true).count == 1)
    }

    /// A group's receipts come signed into the group's transaction and are due at once; one left
    /// unsigned (the unit's certificate revoked) waits for the send loop and is not due.
    @Test func absorbStoresSignedReceiptsDueAndUnsignedOnesWaiting() throws {
        let a = try UnitCode.completing("11420100MB1234567")
        func doc() -> Envelope {
            Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()), document: DocumentInfo(title: "t"))
        }
        let first = doc(), second = doc()
        func incoming(_ e: Envelope) -> GatewayStore.Incoming {
            GatewayStore.Incoming(envelope: e, bytes: [7], payloadSha256: String(repeating: "1", count: 64), onBehalfOf: nil, parts: [])
        }
        func receipt(_ e: Envelope) -> ReceiptInfo { ReceiptInfo(status: .delivered, document: e.id, payloadSha256: String(repeating: "1", count: 64)) }
        let signed = GatewayStore.OutgoingReceipt(to: a.rawValue, receipt: receipt(first), signed: ([9, 9], String(repeating: "2", count: 64)))
        let unsigned = GatewayStore.OutgoingReceipt(to: a.rawValue, receipt: receipt(second))
        let absorbed = try store.absorb(documents: [(incoming(first), signed), (incoming(second), unsigned)], receipts: [])
        #expect(absorbed.documents == [.stored, .stored])
        #expect(try store.inboxCount() == 2)
        let due = try store.due()
        #expect(due.map(\.documentID) == [signed.id] && due.first?.envelope == [9, 9], "the signed receipt is due as stored")
        #expect(try store.unsigned().map(\.id) == [unsigned.id], "the unsigned one waits for the send loop")
    }

    @Test func schemaRefusesHalfRecords() throws {
        // A part whose bytes disagree with its declared size violates a CHECK constraint: nothing is stored.
        let bad = GatewayStore.PartData(name: "p", mediaType: "text/plain", data: [1, 2, 3], sha256: "short")
        #expect(throws: (any Error).self) { try store.enqueue(draft(parts: [bad])) }
        #expect(try store.outbox().isEmpty)
        #expect(throws: YizhanError.self) {
            try store.enqueue(GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "t"), recipients: [], parts: []))
        }
    }

    @Test func classifiedOrMalformedDocumentsAreRefusedBeforeStoring() throws {
        for doc in [DocumentInfo(title: "t", classification: "秘密"), DocumentInfo(title: "t", number: "武建[2026]1号"), DocumentInfo(title: "t", type: "请示")] {
            #expect(throws: YizhanError.self) {
                try store.enqueue(GatewayStore.Draft(kind: .document, document: doc, recipients: [.init(unit: b, role: .main)], parts: []))
            }
        }
        #expect(try store.outbox().isEmpty)
    }

    @Test func directoryCacheNeverGoesBack() throws {
        try store.cacheDirectory(version: 5, signed: [5])
        try store.cacheDirectory(version: 3, signed: [3])
        #expect(try store.cachedDirectory()?.version == 5)
        try store.cacheDirectory(version: 6, signed: [6])
        #expect(try store.cachedDirectory()?.signed == [6])
    }
}
