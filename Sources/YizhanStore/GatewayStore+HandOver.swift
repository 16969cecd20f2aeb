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

    /// What `storeHandedOver` did: the refusal per draft, in order (nil: stored), and with a lease
    /// the copies leased to the caller to publish at once.
    public struct StoredHandOver: Sendable {
        public var refusals: [YizhanError?]
        public var prompt: [Due]
        public init(refusals: [YizhanError?], prompt: [Due]) { self.refusals = refusals; self.prompt = prompt }
    }

    /// Stores handed-over drafts, with their signatures, in one durable commit; each in a savepoint
    /// of its own, so that one with a bad link (a reply to no request) or a reused id is refused
    /// alone. A storage failure fails them all and nothing is stored. With `lease` (see `releaseLeases`),
    /// the copies of signed drafts without file parts are leased to the caller and come back in
    /// `prompt`, ready to publish; file parts go in chunks, by the transfer loop.
    public func storeHandedOver(_ items: [HandedOver], now: Date = Date(), lease: Date? = nil) throws -> StoredHandOver {
        guard !items.isEmpty else { return StoredHandOver(refusals: [], prompt: []) }
        return try writer.write { db in
            var prompt: [Due] = []
            let refusals = try items.map { item -> YizhanError? in
                let d = item.submission.draft
                let signed = item.envelope.flatMap { e in item.payloadSha256.map { (e, $0) } }
                let leased = signed != nil && d.files.isEmpty ? lease : nil
                do {
                    try db.inSavepoint {
                        try Self.checkLinks(db, d)
                        try Self.insertDraft(db, d, now: item.receivedAt, dueAt: leased, signed: signed)
                        try Self.insertStamp(db, d, item.submission.stamp, now: item.receivedAt)
                        if signed != nil { try Self.trailSigned(db, d.id, kind: d.kind.rawValue, now) }
                        return .commit
                    }
                } catch let e as YizhanError {
                    return e
                } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
                    return YizhanError(.conflict, "a document with id \(d.id) is already stored")
                }
                if leased != nil, let (e, _) = signed {
                    prompt += d.recipients.map { r in
                        Due(documentID: d.id, recipient: r.unit.rawValue, attempts: 0, envelope: e, hasParts: !d.parts.isEmpty, transfer: nil, position: 0,
                            kind: d.kind, parts: d.parts.map(\.data))
                    }
                }
                return nil
            }
            return StoredHandOver(refusals: refusals, prompt: prompt)
        }
    }

    /// Copies leased to a prompt publish that never came back (the process ended with the publish
    /// in flight): due again at once. A gateway calls it as each broker session starts. A leased
    /// copy is one still queued, never attempted, and due only in the future; nothing else makes
    /// such a copy (a retry counts an attempt).
    @discardableResult
    public func releaseLeases(now: Date = Date()) throws -> Int {
        var released = 0
        try writer.relaxedWrite { db in
            try db.execute(sql: "UPDATE deliveries SET next_attempt_at = ? WHERE state = 'queued' AND attempts = 0 AND next_attempt_at > ?",
                           arguments: [now.storeTime, now.storeTime])
            released = db.changesCount
        }
        return released
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
