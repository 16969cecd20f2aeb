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
        let refusals = try store.storeHandedOver(items)
        #expect(refusals.count == 4)
        #expect(refusals[0] == nil && refusals[2] == nil)
        #expect(refusals[1]?.code == .notFound, "\(String(describing: refusals[1]))")
        #expect(refusals[3]?.code == .conflict, "the same id twice")
        #expect(try store.outboxEntry(id: orphan.id) == nil, "nothing of a refused draft is stored")
        let e = try #require(try store.outboxEntry(id: signed.id))
        #expect(e.signed && e.createdAt.timeIntervalSince1970 == 1_790_000_000.123, "created when it was read off the socket, to the millisecond")
        #expect(try store.due().map(\.documentID) == [signed.id], "due at once: no second commit to sign it")
        #expect(try store.unsigned().map(\.id) == [unsigned.id], "stored unsigned, for the send loop")
        #expect(signed.unsigned(createdAt: at).envelope(sender: b, senderName: nil).created == Timestamp.format(e.createdAt),
                "the envelope signed before storing names the time the store keeps")
    }
}
