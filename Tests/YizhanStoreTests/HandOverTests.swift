import Foundation
import Testing
import YizhanCore
@testable import YizhanStore

/// The hand-over's frames and the one commit that stores handed-over drafts, on a real SQLite file
/// (the socket between processes is tested with running gateways, `HandOverGatewayTests`).
@Suite struct HandOverTests {
    let store: GatewayStore
    let b: UnitCode

    init() throws {
        store = try GatewayStore(path: NSTemporaryDirectory() + "yizhan-handover-\(UUIDv7.make()).sqlite")
        b = try UnitCode.completing("11420100MB7654321")
    }

    func draft(_ kind: Envelope.Kind = .document, inReplyTo: String? = nil) -> GatewayStore.Draft {
        GatewayStore.Draft(kind: kind, document: DocumentInfo(title: "交接的公文"), inReplyTo: inReplyTo, recipients: [.init(unit: b, role: .main)],
                           parts: [.init(name: "正文.txt", mediaType: "text/plain", data: Array("正文".utf8), sha256: String(repeating: "a", count: 64))])
    }

    func body(_ frame: [UInt8]) -> [UInt8] { Array(frame.dropFirst(4)) }

    @Test func aSubmissionSurvivesItsFrame() throws {
        var d = draft()
        d.extras.signForBy = "2026-12-31T00:00:00Z"
        let stamp = GatewayStore.StampRecord(sealID: "seal-1", custodians: ["王芳", "李雷"], stampedAt: Date(timeIntervalSince1970: 1_790_000_000))
        let frame = try HandOver.encode(HandOver.Submission(draft: d, stamp: stamp))
        #expect(frame.prefix(4).reduce(0) { $0 << 8 | Int($1) } == frame.count - 4, "the length prefix counts the body")
        let back = try HandOver.decodeSubmission(body(frame))
        #expect(back.draft.id == d.id && back.draft.kind == .document && back.draft.document == d.document)
        #expect(back.draft.recipients == d.recipients && back.draft.extras == d.extras)
        #expect(back.draft.parts.map(\.data) == [Array("正文".utf8)] && back.draft.parts.map(\.name) == ["正文.txt"])
        #expect(back.stamp?.sealID == "seal-1" && back.stamp?.custodians == ["王芳", "李雷"] && back.stamp?.stampedAt == stamp.stampedAt)
        let answer = HandOver.Answer(id: d.id, refusal: YizhanError(.notFound, "no such request"))
        #expect(try HandOver.decodeAnswer(body(try HandOver.encode(answer))) == answer)
    }

    @Test func aBadSubmissionIsRefusedWithItsReason() throws {
        func refusal(_ text: String) -> YizhanError? {
            do { _ = try HandOver.decodeSubmission(Array(text.utf8)); return nil } catch { return error }
        }
        #expect(refusal("not json")?.code == .malformedJSON)
        #expect(refusal(#"{"id":"x"}"#)?.code == .schemaViolation, "members missing")
        let good = String(decoding: body(try HandOver.encode(HandOver.Submission(draft: draft()))), as: UTF8.self)
        #expect(try HandOver.decodeSubmission(Array(good.utf8)).draft.kind == .document)
        #expect(refusal(good.replacingOccurrences(of: #""kind":"document""#, with: #""kind":"receipt""#))?.code == .invalidArgument)
        #expect(refusal(good.replacingOccurrences(of: #""kind":"document""#, with: #""kind":"memo""#))?.code == .schemaViolation)
        let id = try #require(try JSONValue.parse(good).objectValue?["id"]?.stringValue)
        #expect(refusal(good.replacingOccurrences(of: id, with: "a b"))?.code == .invalidArgument, "an id with a space")
        #expect(refusal(good.replacingOccurrences(of: Base64URL.encode(Array("正文".utf8)), with: "%%%"))?.code == .schemaViolation, "data not base64url")
    }

    /// One commit for several drafts, each in its own savepoint: a reply to no request and a reused
    /// id are refused alone, the others stored, signed when an envelope came with them.
    @Test func handedOverDraftsAreStoredSignedInOneCommitAndRefusedOneByOne() throws {
        let signed = draft(), unsigned = draft(), orphan = draft(.reply, inReplyTo: "no-such-request")
        let at = Date(timeIntervalSince1970: 1_790_000_000.1234)
        let items = [
            GatewayStore.HandedOver(submission: .init(draft: signed), receivedAt: at, envelope: Array("{}".utf8), payloadSha256: String(repeating: "0", count: 64)),
            GatewayStore.HandedOver(submission: .init(draft: orphan), receivedAt: at),
            GatewayStore.HandedOver(submission: .init(draft: unsigned), receivedAt: at),
            GatewayStore.HandedOver(submission: .init(draft: signed), receivedAt: at),
        ]
        let refusals = try store.storeHandedOver(items).refusals
        #expect(refusals.count == 4)
        #expect(refusals[0] == nil && refusals[2] == nil)
        #expect(refusals[1]?.code == .notFound, "\(String(describing: refusals[1]))")
        #expect(refusals[3]?.code == .conflict, "the same id twice")
        #expect(try store.outboxEntry(id: orphan.id) == nil, "nothing of a refused draft is stored")
        let e = try #require(try store.outboxEntry(id: signed.id))
        #expect(e.signed && e.createdAt.timeIntervalSince1970 == 1_790_000_000.123, "created when it was read off the socket, to the millisecond")
        #expect(try store.due().map(\.documentID) == [signed.id], "due at once: no second commit to sign it")
        #expect(try store.unsigned().map(\.id) == [unsigned.id], "stored unsigned, for the send loop")
        // Stored with its envelope in one insert, the trail still says it was queued, then signed.
        #expect(try store.trail(documentID: signed.id).map(\.event) == ["queued", "signed"])
        #expect(try store.trail(documentID: unsigned.id).map(\.event) == ["queued"])
        #expect(signed.unsigned(createdAt: at).envelope(sender: b, senderName: nil).created == Timestamp.format(e.createdAt),
                "the envelope signed before storing names the time the store keeps")
    }

    /// Leased copies (see `GatewayStore.releaseLeases`): stored durably but left out of the send
    /// loop's due copies, handed back ready to publish; released when a session starts, made due
    /// at once by an outcome the broker never gave, and done once confirmed.
    @Test func leasedCopiesStayAwayFromTheSendLoopUntilReleased() throws {
        let now = Date()
        let lease = now.addingTimeInterval(60)
        let leased = draft(), other = draft(), unsigned = draft()
        let sig = (envelope: Array(#"{"signed":1}"#.utf8), sha: String(repeating: "0", count: 64))
        let stored = try store.storeHandedOver([
            GatewayStore.HandedOver(submission: .init(draft: leased), receivedAt: now, envelope: sig.envelope, payloadSha256: sig.sha),
            GatewayStore.HandedOver(submission: .init(draft: other), receivedAt: now, envelope: sig.envelope, payloadSha256: sig.sha),
            GatewayStore.HandedOver(submission: .init(draft: unsigned), receivedAt: now),
        ], now: now, lease: lease)
        #expect(stored.refusals.allSatisfy { $0 == nil })
        #expect(stored.prompt.map(\.documentID) == [leased.id, other.id], "only signed drafts are leased; an unsigned one waits to be signed")
        let p = try #require(stored.prompt.first)
        #expect(p.envelope == sig.envelope && p.hasParts && p.parts == [Array("正文".utf8)] && p.recipient == b.rawValue && p.attempts == 0,
                "handed back as the due read would give it")
        #expect(try store.due(now: now).isEmpty, "leased: the send loop leaves them alone")
        #expect(try store.due(now: lease.addingTimeInterval(1)).count == 2, "due once the lease ends")

        try store.recordPublishes([(leased.id, b.rawValue, .confirmed, now)])
        try store.recordPublishes([(other.id, b.rawValue, .unknown, now)])
        #expect(try store.due(now: now).map(\.documentID) == [other.id], "no answer from the broker: due again at once")
        #expect(try store.outboxEntry(id: other.id)?.deliveries.first?.attempts == 0, "and no attempt counted")
        #expect(try store.outboxEntry(id: leased.id)?.deliveries.first?.state == "published")

        // A lease whose publish never came back (the process ended) is released as a session starts.
        let orphan = draft()
        _ = try store.storeHandedOver([GatewayStore.HandedOver(submission: .init(draft: orphan), receivedAt: now, envelope: sig.envelope, payloadSha256: sig.sha)],
                                      now: now, lease: lease)
        try store.recordPublishes([(other.id, b.rawValue, .retry(error: "nacked", after: 30), now)])
        #expect(try store.releaseLeases(now: now) == 1, "the retry's wait is not a lease")
        #expect(try store.due(now: now).map(\.documentID) == [orphan.id])
    }

    /// With a lease, the signed receipts of the documents a group stored are leased and handed
    /// back; a duplicate's receipt is queued again for the send loop as before.
    @Test func absorbLeasesTheReceiptsOfNewDocumentsOnly() throws {
        let a = try UnitCode.completing("11420100MB1234567")
        let doc = Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()), document: DocumentInfo(title: "t"))
        let incoming = GatewayStore.Incoming(envelope: doc, bytes: [7], payloadSha256: String(repeating: "1", count: 64), onBehalfOf: nil, parts: [])
        let info = ReceiptInfo(status: .delivered, document: doc.id, payloadSha256: String(repeating: "1", count: 64))
        let now = Date()
        let first = try store.absorb(documents: [(incoming, .init(to: a.rawValue, receipt: info, signed: ([9, 9], String(repeating: "2", count: 64))))],
                                     receipts: [], now: now, lease: now.addingTimeInterval(60))
        let receipt = try #require(first.prompt.first)
        #expect(first.prompt.count == 1 && receipt.kind == .receipt && receipt.envelope == [9, 9] && receipt.recipient == a.rawValue && !receipt.hasParts)
        #expect(try store.due(now: now).isEmpty, "leased")
        let again = try store.absorb(documents: [(incoming, .init(to: a.rawValue, receipt: info, signed: ([8], String(repeating: "3", count: 64))))],
                                     receipts: [], now: now, lease: now.addingTimeInterval(60))
        #expect(again.documents == [.duplicate(receiptID: receipt.documentID)] && again.prompt.isEmpty)
        #expect(try store.due(now: now).map(\.documentID) == [receipt.documentID], "the duplicate's receipt goes again by the send loop")
    }
}
