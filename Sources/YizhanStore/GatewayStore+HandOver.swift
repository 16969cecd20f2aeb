import Foundation
import GRDB
import YizhanCore

extension GatewayStore {
    /// A draft handed to the running gateway (see `HandOver`), signed by it unless its certificate
    /// is revoked (then stored unsigned, as `doc send` would have stored it, for later).
    public struct HandedOver: Sendable {
        public var submission: HandOver.Submission
        /// When the gateway read it off the socket: the document's `created` and the start of its trail.
        public var receivedAt: Date
        public var envelope: [UInt8]?
        public var payloadSha256: String?
        public init(submission: HandOver.Submission, receivedAt: Date, envelope: [UInt8]? = nil, payloadSha256: String? = nil) {
            self.submission = submission; self.receivedAt = receivedAt; self.envelope = envelope; self.payloadSha256 = payloadSha256
        }
    }

    /// Stores handed-over drafts, with their signatures, in one durable commit; each in a savepoint
    /// of its own, so that one with a bad link (a reply to no request) or a reused id is refused
    /// alone. The refusal per draft, in order (nil: stored). A storage failure fails them all and
    /// nothing is stored.
    public func storeHandedOver(_ items: [HandedOver], now: Date = Date()) throws -> [YizhanError?] {
        guard !items.isEmpty else { return [] }
        return try writer.write { db in
            try items.map { item in
                let d = item.submission.draft
                do {
                    try db.inSavepoint {
                        try Self.checkLinks(db, d)
                        try Self.insertDraft(db, d, now: item.receivedAt)
                        try Self.insertStamp(db, d, item.submission.stamp, now: item.receivedAt)
                        if let e = item.envelope, let sha = item.payloadSha256 { try Self.setSigned(db, d.id, e, sha, now: now) }
                        return .commit
                    }
                    return nil
                } catch let e as YizhanError {
                    return e
                } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                    return YizhanError(.conflict, "a document with id \(d.id) is already stored")
                }
            }
        }
    }
}

extension GatewayStore.Draft {
    /// The draft as the send loop would read it back once stored at `createdAt` (to the millisecond,
    /// as the store keeps times), so that the gateway can sign it before it is stored.
    public func unsigned(createdAt: Date) -> GatewayStore.Unsigned {
        GatewayStore.Unsigned(
            id: id, kind: kind, createdAt: Date(timeIntervalSince1970: createdAt.storeTime), document: document, receipt: receipt, inReplyTo: inReplyTo,
            recipients: recipients,
            parts: parts.map { Envelope.Part(name: $0.name, mediaType: $0.mediaType, size: $0.data.count, sha256: $0.sha256) }
                + files.map { Envelope.Part(name: $0.name, mediaType: $0.mediaType, size: $0.size, sha256: $0.sha256) },
            extras: extras)
    }
}
