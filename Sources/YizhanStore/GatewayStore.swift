import Foundation
import GRDB
import YizhanCore

/// A unit gateway's SQLite store: outbox (with per-recipient delivery state), inbox,
/// receipts, quarantine, the trail, and the cached registry directory.
public struct GatewayStore: Sendable {
    public let writer: any DatabaseWriter
    public let path: String
    /// Wakes this store's gateway after a commit that gives it something to send (see `Knock`).
    let knocker: Knock.Sender?

    public init(path: String) throws {
        self.path = path
        writer = try DatabaseOpener.open(path: path, migrator: Self.migrator)
        // Without a socket the gateway still finds the work, at its next look.
        knocker = try? Knock.Sender(database: path)
    }

    public struct PartData: Sendable {
        public var name: String
        public var mediaType: String
        public var data: [UInt8]
        public var sha256: String
        public init(name: String, mediaType: String, data: [UInt8], sha256: String) {
            self.name = name; self.mediaType = mediaType; self.data = data; self.sha256 = sha256
        }
    }

    /// A part whose bytes were copied (streamed) into the store's `parts/` folder by `doc send`.
    public struct PartFile: Sendable {
        public var name: String
        public var mediaType: String
        public var size: Int
        public var sha256: String
        public var file: String
        public init(name: String, mediaType: String, size: Int, sha256: String, file: String) {
            self.name = name; self.mediaType = mediaType; self.size = size; self.sha256 = sha256; self.file = file
        }
    }

    /// The envelope members beyond `document` that a draft may carry.
    public struct Extras: Codable, Sendable, Equatable {
        public var signForBy: String?
        public var supersedes: String?
        public var meeting: MeetingInfo?
        public var chase: ChaseInfo?
        public var attendance: AttendanceInfo?
        public var transfer: TransferInfo?
        public var stamp: Envelope.Stamp?
        public init(signForBy: String? = nil, supersedes: String? = nil, meeting: MeetingInfo? = nil, chase: ChaseInfo? = nil,
                    attendance: AttendanceInfo? = nil, transfer: TransferInfo? = nil, stamp: Envelope.Stamp? = nil) {
            self.signForBy = signForBy; self.supersedes = supersedes; self.meeting = meeting; self.chase = chase
            self.attendance = attendance; self.transfer = transfer; self.stamp = stamp
        }
        var isEmpty: Bool { self == Extras() }
    }

    /// What `doc send` hands to the gateway: stored first, signed and published later.
    /// Small parts travel inline (`parts`); large ones as files sent in chunks (`files` with `extras.transfer`).
    public struct Draft: Sendable {
        public var id: String
        public var kind: Envelope.Kind
        public var document: DocumentInfo?
        public var receipt: ReceiptInfo?
        public var inReplyTo: String?
        public var recipients: [Envelope.Recipient]
        public var parts: [PartData]
        public var files: [PartFile]
        public var extras: Extras
        public init(id: String = UUIDv7.make(), kind: Envelope.Kind, document: DocumentInfo?, receipt: ReceiptInfo? = nil, inReplyTo: String? = nil,
                    recipients: [Envelope.Recipient], parts: [PartData], files: [PartFile] = [], extras: Extras = Extras()) {
            self.id = id; self.kind = kind; self.document = document; self.receipt = receipt; self.inReplyTo = inReplyTo
            self.recipients = recipients; self.parts = parts; self.files = files; self.extras = extras
        }
    }

    public struct Unsigned: Sendable {
        public var id: String
        public var kind: Envelope.Kind
        public var createdAt: Date
        public var document: DocumentInfo?
        public var receipt: ReceiptInfo?
        public var inReplyTo: String?
        public var recipients: [Envelope.Recipient]
        public var parts: [Envelope.Part]
        public var extras: Extras

        /// The envelope to sign, as `sender` says it.
        public func envelope(sender: UnitCode, senderName: String?) -> Envelope {
            Envelope(id: id, kind: kind, sender: sender, senderName: senderName, recipients: recipients, created: Timestamp.format(createdAt),
                     inReplyTo: inReplyTo, document: document, receipt: receipt, parts: parts, signForBy: extras.signForBy,
                     supersedes: extras.supersedes, meeting: extras.meeting, chase: extras.chase, attendance: extras.attendance,
                     transfer: extras.transfer, stamp: extras.stamp)
        }
    }

    public struct Due: Sendable {
        public var documentID: String
        public var recipient: String
        public var attempts: Int
        public var envelope: [UInt8]
        public var hasParts: Bool
        /// Set for a chunked transfer; `position` counts what the broker confirmed (1 = the envelope,
        /// then one per chunk in part order), so a restarted sender resumes where it was.
        public var transfer: TransferInfo?
        public var position: Int
        public var kind: Envelope.Kind
        /// Inline parts' bytes, read with the due copies (framed documents only).
        public var parts: [[UInt8]] = []
    }

    public struct DeliveryStatus: Sendable, Codable, Equatable {
        public var recipient: String
        public var role: String
        public var state: String
        public var attempts: Int
        public var lastError: String?
        public var publishedAt: Date?
        public var deliveredAt: Date?
        public var deliveredBy: String?
        public var reason: String?
        /// The clerk who signed for or returned it, and when.
        public var handledAt: Date?
        public var handledBy: String?
        /// 采用 / 不采用 of a report, with the collecting unit's note.
        public var outcome: String?
        public var outcomeNote: String?
        public var chases: Int
        public var lastChasedAt: Date?
        /// Past the sign-for deadline and not yet signed for, returned or rejected.
        public var overdue: Bool
    }

    public struct OutboxEntry: Sendable, Codable {
        public var id: String
        public var kind: String
        public var title: String?
        public var number: String?
        public var type: String?
        public var urgency: String?
        public var createdAt: Date
        public var signed: Bool
        public var inReplyTo: String?
        public var signForBy: Date?
        public var supersedes: String?
        /// Replies (inbox ids) to a request.
        public var replies: [String]
        public var parts: [Envelope.Part]
        public var deliveries: [DeliveryStatus]
    }

    public struct InboxEntry: Sendable, Codable {
        public var id: String
        public var sender: String
        public var senderName: String?
        public var kind: String
        public var title: String?
        public var number: String?
        public var type: String?
        public var created: String
        public var receivedAt: Date
        public var onBehalfOf: String?
        public var parts: [Envelope.Part]
        /// received, signed-for or returned.
        public var state: String
        public var urgency: String?
        public var inReplyTo: String?
        public var supersedes: String?
        public var supersededBy: String?
        public var signForBy: Date?
        public var handledAt: Date?
        public var handledBy: String?
        public var returnReason: String?
        public var outcome: String?
        public var outcomeNote: String?
        public var chases: Int
        public var lastChasedAt: Date?
        public var lastChaseMessage: String?
        public var overdue: Bool
        public var extras: Extras?
    }

    public struct TrailEvent: Sendable, Codable {
        public var at: Date
        public var unit: String?
        public var event: String
        public var detail: String?
    }

    public struct QuarantineEntry: Sendable, Codable {
        public var id: Int64
        public var receivedAt: Date
        public var reason: String
        public var detail: String
        public var messageID: String?
        public var userID: String?
        public var claimedSender: String?
        public var receiptID: String?
    }

    // MARK: sending

    /// Who unlocked the seal for a stamped draft (stored with it, in the same transaction).
    public struct StampRecord: Sendable {
        public var sealID: String
        public var custodians: [String]
        public var stampedAt: Date
        public init(sealID: String, custodians: [String], stampedAt: Date) { self.sealID = sealID; self.custodians = custodians; self.stampedAt = stampedAt }
    }

    public func enqueue(_ draft: Draft, stamped: StampRecord? = nil, now: Date = Date()) throws {
        try Self.check(draft)
        try writeQueueing { db in
            try Self.checkLinks(db, draft)
            try Self.insertDraft(db, draft, now: now)
            try Self.insertStamp(db, draft, stamped, now: now)
        }
    }

    /// What a draft must be before anything of it is stored (classified, malformed number, missing
    /// signer, parts both inline and in files, ...); the links to other documents are checked in the
    /// storing transaction (`checkLinks`).
    public static func check(_ draft: Draft) throws {
        guard !draft.recipients.isEmpty else { throw YizhanError(.invalidArgument, "a document needs at least one recipient") }
        try draft.document?.validate()
        guard draft.parts.isEmpty || draft.files.isEmpty else { throw YizhanError(.invalidArgument, "a draft carries inline parts or files, not both") }
        guard draft.files.isEmpty == (draft.extras.transfer == nil) else { throw YizhanError(.invalidArgument, "files travel in chunks and need a transfer") }
    }

    static func insertStamp(_ db: Database, _ draft: Draft, _ stamped: StampRecord?, now: Date) throws {
        guard let st = stamped else { return }
        guard draft.extras.stamp?.seal == st.sealID else { throw YizhanError(.invalidArgument, "the stamp record names another seal") }
        try db.execute(sql: "INSERT INTO stamps (document_id, seal_id, custodians, stamped_at) VALUES (?, ?, ?, ?)",
                       arguments: [draft.id, st.sealID, st.custodians.joined(separator: "、"), st.stampedAt.storeTime])
        try Self.trail(db, draft.id, nil, "stamped", "seal \(st.sealID), unlocked by \(st.custodians.joined(separator: "、"))", now)
    }

    static func canonical<T: Encodable>(_ v: T?) throws -> String? {
        try v.map { String(decoding: try JSONValue.from($0).canonicalBytes(), as: UTF8.self) }
    }

    /// `dueAt`: when its copies come due for the send loop (now, unless leased to a prompt publish, see `releaseLeases`).
    /// `signed`: the envelope, when the gateway signed the draft before storing it (a hand-over):
    /// the row is written whole once, instead of written and then rewritten by `setSigned` (an
    /// update rewrites the whole row, and passes through the `outbox_unsigned` index twice).
    static func insertDraft(_ db: Database, _ draft: Draft, now: Date, dueAt: Date? = nil,
                            signed: (envelope: [UInt8], payloadSha256: String)? = nil) throws {
        let docJSON = try canonical(draft.document), receiptJSON = try canonical(draft.receipt)
        let extrasJSON = draft.extras.isEmpty ? nil : try canonical(draft.extras)
        let signForBy = draft.extras.signForBy.flatMap { Timestamp.parse($0)?.storeTime }
        try db.run( """
            INSERT INTO outbox (id, kind, created_at, in_reply_to, document_json, receipt_json, extras_json, sign_for_by, supersedes, envelope, payload_sha256)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [draft.id, draft.kind.rawValue, now.storeTime, draft.inReplyTo, docJSON, receiptJSON, extrasJSON, signForBy,
                             draft.extras.supersedes, signed.map { Data($0.envelope) }, signed?.payloadSha256])
        for (i, p) in draft.parts.enumerated() {
            try db.run( "INSERT INTO outbox_parts (document_id, idx, name, media_type, size, sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [draft.id, i, p.name, p.mediaType, p.data.count, p.sha256, Data(p.data)])
        }
        for (i, f) in draft.files.enumerated() {
            try db.run( "INSERT INTO outbox_parts (document_id, idx, name, media_type, size, sha256, file) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [draft.id, i, f.name, f.mediaType, f.size, f.sha256, f.file])
        }
        for r in draft.recipients {
            try db.run( "INSERT INTO deliveries (document_id, recipient, role, state, next_attempt_at, sign_for_by) VALUES (?, ?, ?, 'queued', ?, ?)",
                           arguments: [draft.id, r.unit.rawValue, r.role.rawValue, (dueAt ?? now).storeTime, signForBy])
        }
        if let sup = draft.extras.supersedes {
            try Self.trail(db, sup, nil, "corrected", "a corrected version \(draft.id) was sent", now)
        }
        try Self.trail(db, draft.id, nil, "queued", "\(draft.recipients.count) recipient(s), \(draft.parts.count + draft.files.count) part(s)", now)
    }

    /// Documents stored by `doc send` that the gateway has not signed yet.
    public func unsigned(limit: Int = 100) throws -> [Unsigned] {
        try writer.read { db in try Self.unsigned(db, limit: limit) }
    }

    /// What the send loop looks at each time: drafts to sign and copies due, in one read
    /// transaction. A look that finds nothing is the busy gateway's most frequent query (every
    /// 10 ms, and after every batch received), and each read transaction costs more than its
    /// statements on a loaded 2-core machine.
    public func look(limit: Int, now: Date = Date()) throws -> (unsigned: [Unsigned], due: [Due]) {
        try writer.read { db in (try Self.unsigned(db, limit: limit), try Self.due(db, now: now, limit: limit, chunked: false)) }
    }

    static func unsigned(_ db: Database, limit: Int) throws -> [Unsigned] {
        // Three statements for the whole batch (one snapshot), not three per document.
        let rows = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM outbox WHERE envelope IS NULL ORDER BY created_at LIMIT ?"), arguments: [limit])
        guard !rows.isEmpty else { return [] }
        let picked = "SELECT id FROM outbox WHERE envelope IS NULL ORDER BY created_at LIMIT ?"
        var recipients: [String: [Envelope.Recipient]] = [:], parts: [String: [Envelope.Part]] = [:]
        for r in try Row.fetchAll(db.cachedStatement(sql: "SELECT document_id, recipient, role FROM deliveries WHERE document_id IN (\(picked)) ORDER BY rowid"), arguments: [limit]) {
            recipients[r["document_id"], default: []].append(Envelope.Recipient(unit: try UnitCode(r["recipient"]), role: Envelope.Recipient.Role(rawValue: r["role"]) ?? .main))
        }
        for p in try Row.fetchAll(db.cachedStatement(sql: "SELECT document_id, name, media_type, size, sha256 FROM outbox_parts WHERE document_id IN (\(picked)) ORDER BY document_id, idx"), arguments: [limit]) {
            parts[p["document_id"], default: []].append(Envelope.Part(name: p["name"], mediaType: p["media_type"], size: p["size"], sha256: p["sha256"]))
        }
        return try rows.map { row in
            let id: String = row["id"]
            let docJSON: String? = row["document_json"]
            let receiptJSON: String? = row["receipt_json"]
            let extrasJSON: String? = row["extras_json"]
            return Unsigned(
                id: id, kind: Envelope.Kind(rawValue: row["kind"]) ?? .document,
                createdAt: Date(timeIntervalSince1970: row["created_at"]),
                document: try docJSON.map { try DocumentInfo(json: try JSONValue.parse($0)) },
                receipt: try receiptJSON.map { try ReceiptInfo(json: try JSONValue.parse($0)) },
                inReplyTo: row["in_reply_to"],
                recipients: recipients[id] ?? [],
                parts: parts[id] ?? [],
                extras: try extrasJSON.map { try JSONValue.parse($0).decode(Extras.self) } ?? Extras())
        }
    }

    public func markSigned(id: String, envelope: [UInt8], payloadSha256: String, now: Date = Date()) throws {
        try markSigned([(id, envelope, payloadSha256)], now: now)
    }

    /// Stores signed envelopes in one transaction; each only if still unsigned.
    /// Receipts get no trail of their own (the document they answer has one).
    /// Durable before anything is published, so what a receiver holds is always what this outbox holds.
    public func markSigned(_ batch: [(id: String, envelope: [UInt8], payloadSha256: String)], now: Date = Date()) throws {
        guard !batch.isEmpty else { return }
        try writer.write { db in
            for (id, envelope, payloadSha256) in batch { try Self.setSigned(db, id, envelope, payloadSha256, now: now) }
        }
    }

    static func setSigned(_ db: Database, _ id: String, _ envelope: [UInt8], _ payloadSha256: String, now: Date) throws {
        let kind = try String.fetchOne(db.cachedStatement(sql: "UPDATE outbox SET envelope = ?, payload_sha256 = ? WHERE id = ? AND envelope IS NULL RETURNING kind"),
                                       arguments: [Data(envelope), payloadSha256, id])
        if let kind { try Self.trailSigned(db, id, kind: kind, now) }
    }

    /// The trail's "signed" event, for a draft signed after it was stored (`setSigned`) or before
    /// (a hand-over): receipts get none (the document they answer has its own trail).
    static func trailSigned(_ db: Database, _ id: String, kind: String, _ now: Date) throws {
        if kind != Envelope.Kind.receipt.rawValue { try Self.trail(db, id, nil, "signed", nil, now) }
    }

    /// Copies whose (re)publication is due, oldest first: either the framed ones or the chunked
    /// transfers (which the gateway runs apart so a large file never holds up small documents).
    public func due(now: Date = Date(), limit: Int = 200, chunked: Bool = false) throws -> [Due] {
        try writer.read { db in try Self.due(db, now: now, limit: limit, chunked: chunked) }
    }

    static func due(_ db: Database, now: Date, limit: Int, chunked: Bool) throws -> [Due] {
        // Chunked copies are looked up from the few documents with file parts (the `+` keeps
        // SQLite from walking every queued copy in `deliveries_due` instead); framed ones by
        // that index, each checked against the small `outbox_parts_files`.
        let rows = try Row.fetchAll(db.cachedStatement(sql: chunked ? """
            SELECT d.document_id, d.recipient, d.attempts, d.transfer_position, o.extras_json, o.kind, 1 AS has_parts
            FROM deliveries d JOIN outbox o ON o.id = d.document_id
            WHERE d.document_id IN (SELECT document_id FROM outbox_parts WHERE file IS NOT NULL)
              AND +d.state = 'queued' AND +d.next_attempt_at <= ? AND o.envelope IS NOT NULL
            ORDER BY d.next_attempt_at LIMIT ?
            """ : """
            SELECT d.document_id, d.recipient, d.attempts, d.transfer_position, o.extras_json, o.kind,
                   EXISTS (SELECT 1 FROM outbox_parts p WHERE p.document_id = d.document_id) AS has_parts
            FROM deliveries d JOIN outbox o ON o.id = d.document_id
            WHERE d.state = 'queued' AND d.next_attempt_at <= ? AND o.envelope IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM outbox_parts p WHERE p.document_id = d.document_id AND p.file IS NOT NULL)
            ORDER BY d.next_attempt_at LIMIT ?
            """), arguments: [now.storeTime, limit])
        let due = try rows.map { r in
            let extras = try (r["extras_json"] as String?).map { try JSONValue.parse($0).decode(Extras.self) }
            return Due(documentID: r["document_id"], recipient: r["recipient"], attempts: r["attempts"], envelope: [],
                           hasParts: r["has_parts"], transfer: extras?.transfer, position: r["transfer_position"],
                       kind: Envelope.Kind(rawValue: r["kind"]) ?? .document)
        }
        guard !due.isEmpty else { return [] }
        // Envelopes (and inline parts of framed copies) for the chosen copies, a few statements in all.
        let ids = Array(Set(due.map(\.documentID)))
        var envelopes: [String: [UInt8]] = [:], parts: [String: [[UInt8]]] = [:]
        try Database.inSlices(ids) { marks, arguments in
            for r in try Row.fetchAll(db, sql: "SELECT id, envelope FROM outbox WHERE id IN (\(marks))", arguments: arguments) {
                envelopes[r["id"]] = Array((r["envelope"] as Data?) ?? Data())
            }
            guard !chunked else { return }
            for r in try Row.fetchAll(db, sql: "SELECT document_id, data FROM outbox_parts WHERE document_id IN (\(marks)) AND data IS NOT NULL ORDER BY document_id, idx",
                                      arguments: arguments) {
                parts[r["document_id"], default: []].append(Array((r["data"] as Data?) ?? Data()))
            }
        }
        return due.map { d in
            var d = d
            d.envelope = envelopes[d.documentID] ?? []
            if d.hasParts && !chunked { d.parts = parts[d.documentID] ?? [] }
            return d
        }
    }

    /// The next time a queued copy becomes due, so the sender can sleep until then.
    public func nextDue() throws -> Date? {
        try writer.read { db in
            try Double.fetchOne(db.cachedStatement(sql: "SELECT MIN(d.next_attempt_at) FROM deliveries d JOIN outbox o ON o.id = d.document_id WHERE d.state = 'queued' AND o.envelope IS NOT NULL"))
                .map { Date(timeIntervalSince1970: $0) }
        }
    }

    public enum PublishResult: Sendable {
        case confirmed
        case retry(error: String, after: TimeInterval)
        /// The connection went before the broker answered: due again at once, no attempt counted
        /// (a leased copy, see `releaseLeases`, would otherwise wait out its lease).
        case unknown
    }

    public func recordPublish(documentID: String, recipient: String, result: PublishResult, now: Date = Date()) throws {
        try recordPublishes([(documentID, recipient, result)], now: now)
    }

    /// Many outcomes in one transaction (a confirm window's worth).
    /// Receipts (`untrailed`) get no "published" row in the trail: they have no trail of their own.
    public func recordPublishes(_ outcomes: [(documentID: String, recipient: String, result: PublishResult)], untrailed: Set<String> = [], now: Date = Date()) throws {
        try recordPublishes(outcomes.map { ($0.documentID, $0.recipient, $0.result, now) }, untrailed: untrailed)
    }

    /// The same, each outcome with the time the broker gave it (recorded later, in a batch).
    public func recordPublishes(_ outcomes: [(documentID: String, recipient: String, result: PublishResult, at: Date)], untrailed: Set<String> = []) throws {
        guard !outcomes.isEmpty else { return }
        // Lost in a power cut, the copies are published again and recognised as duplicates.
        try writer.relaxedWrite { db in
            for (documentID, recipient, result, now) in outcomes {
                switch result {
                case .confirmed:
                    try db.run("UPDATE deliveries SET state = 'published', published_at = ?, attempts = attempts + 1, last_error = NULL WHERE document_id = ? AND recipient = ? AND state = 'queued'",
                               arguments: [now.storeTime, documentID, recipient])
                    if db.changesCount == 1 {
                        if !untrailed.contains(documentID) { try Self.trail(db, documentID, recipient, "published", "broker confirmed", now) }
                    } else {
                        // Its receipt came back before this record (a prompt publish's outcome waits
                        // for the record loop): keep when the broker took it all the same.
                        try db.run("UPDATE deliveries SET published_at = ? WHERE document_id = ? AND recipient = ? AND published_at IS NULL",
                                   arguments: [now.storeTime, documentID, recipient])
                    }
                case .retry(let error, let after):
                    try db.run("UPDATE deliveries SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE document_id = ? AND recipient = ? AND state = 'queued'",
                               arguments: [error, now.addingTimeInterval(after).storeTime, documentID, recipient])
                    if db.changesCount == 1 { try Self.trail(db, documentID, recipient, "retry", error, now) }
                case .unknown:
                    try db.run("UPDATE deliveries SET next_attempt_at = MIN(next_attempt_at, ?) WHERE document_id = ? AND recipient = ? AND state = 'queued'",
                               arguments: [now.storeTime, documentID, recipient])
                }
            }
        }
    }

    // MARK: receiving

    public struct Incoming: Sendable {
        public var envelope: Envelope
        public var bytes: [UInt8]
        public var payloadSha256: String
        public var onBehalfOf: String?
        public var parts: [[UInt8]]
        public init(envelope: Envelope, bytes: [UInt8], payloadSha256: String, onBehalfOf: String?, parts: [[UInt8]]) {
            self.envelope = envelope; self.bytes = bytes; self.payloadSha256 = payloadSha256; self.onBehalfOf = onBehalfOf; self.parts = parts
        }
    }

    /// A receipt the gateway already signed, ready to queue for one recipient.
    public struct SignedReceipt: Sendable {
        public var id: String
        public var to: String
        public var receipt: ReceiptInfo
        public var envelope: [UInt8]
        public var payloadSha256: String
        public init(id: String, to: String, receipt: ReceiptInfo, envelope: [UInt8], payloadSha256: String) {
            self.id = id; self.to = to; self.receipt = receipt; self.envelope = envelope; self.payloadSha256 = payloadSha256
        }
    }

    public enum InboxResult: Sendable, Equatable { case stored, duplicate(receiptID: String) }

    /// Stores a verified document and queues its receipt in one transaction. A document seen
    /// before is not stored again; its stored receipt is queued for sending again instead.
    public func receive(_ incoming: Incoming, receipt: SignedReceipt, now: Date = Date()) throws -> InboxResult {
        try writer.write { db in try Self.receive(db, incoming, receiptID: receipt.id, now: now) { try Self.insertReceipt(db, receipt, now: now) } }
    }

    /// The receipt for a document being stored: signed already (the gateway signs a group's
    /// receipts together before the group's transaction, so the receipt costs no commit of its
    /// own), or left unsigned for the send loop while this unit has no valid certificate.
    public struct OutgoingReceipt: Sendable {
        public var id: String
        public var to: String
        public var receipt: ReceiptInfo
        public var signed: (envelope: [UInt8], payloadSha256: String)?
        public init(id: String = UUIDv7.make(), to: String, receipt: ReceiptInfo, signed: (envelope: [UInt8], payloadSha256: String)? = nil) {
            self.id = id; self.to = to; self.receipt = receipt; self.signed = signed
        }
    }

    /// A receipt that arrived and verified, to apply to the delivery it answers.
    public struct ArrivedReceipt: Sendable {
        public var id: String
        public var from: String
        public var receipt: ReceiptInfo
        public var envelope: [UInt8]
        public var signedAt: Date?
        public init(id: String, from: String, receipt: ReceiptInfo, envelope: [UInt8], signedAt: Date?) {
            self.id = id; self.from = from; self.receipt = receipt; self.envelope = envelope; self.signedAt = signedAt
        }
    }

    /// What a batch stored: per document stored or duplicate; per receipt when the document it
    /// answers was stored here (for the delivery latency), nil when unknown.
    public struct Absorbed: Sendable {
        public var documents: [InboxResult]
        public var queuedAt: [Date?]
        /// With a lease: the signed receipts of the documents stored, leased for the caller to publish at once.
        public var prompt: [Due] = []
    }

    /// Verified documents (each with its receipt) and verified receipts, stored in one
    /// transaction: a prefetch window of messages costs one commit, not one each.
    /// With `lease` (see `releaseLeases`), the signed receipts of newly stored documents are leased to the
    /// caller, who publishes them once this commit is done, and come back in `prompt`.
    public func absorb(documents: [(Incoming, OutgoingReceipt)], receipts: [ArrivedReceipt], now: Date = Date(), lease: Date? = nil) throws -> Absorbed {
        try writer.write { db in
            var results: [InboxResult] = [], queued: [Date?] = [], prompt: [Due] = []
            for (incoming, r) in documents {
                let leased = r.signed != nil ? lease : nil
                let result = try Self.receive(db, incoming, receiptID: r.id, now: now) {
                    try Self.insertReceipt(db, id: r.id, to: r.to, receipt: r.receipt, signed: r.signed, now: now, dueAt: leased)
                }
                results.append(result)
                if result == .stored, leased != nil, let signed = r.signed {
                    prompt.append(Due(documentID: r.id, recipient: r.to, attempts: 0, envelope: signed.envelope, hasParts: false, transfer: nil, position: 0, kind: .receipt))
                }
            }
            for r in receipts {
                try Self.applyReceipt(db, id: r.id, from: r.from, receipt: r.receipt, envelope: r.envelope, signedAt: r.signedAt, now: now)
                queued.append(r.receipt.status == .delivered
                    ? try Double.fetchOne(db.cachedStatement(sql: "SELECT created_at FROM outbox WHERE id = ?"), arguments: [r.receipt.document]).map { Date(timeIntervalSince1970: $0) }
                    : nil)
            }
            return Absorbed(documents: results, queuedAt: queued, prompt: prompt)
        }
    }

    static func receive(_ db: Database, _ incoming: Incoming, receiptID: String, now: Date, insertReceipt: () throws -> Void) throws -> InboxResult {
        let e = incoming.envelope
        if let existing = try String.fetchOne(db.cachedStatement(sql: "SELECT receipt_id FROM inbox WHERE id = ?"), arguments: [e.id]) {
            try db.run( "UPDATE deliveries SET state = 'queued', next_attempt_at = ? WHERE document_id = ?", arguments: [now.storeTime, existing])
            try Self.trail(db, e.id, e.sender.rawValue, "duplicate", "already in the inbox; receipt sent again", now)
            return .duplicate(receiptID: existing)
        }
        try insertReceipt()
        try Self.insertInbox(db, e, bytes: incoming.bytes, payloadSha256: incoming.payloadSha256, onBehalfOf: incoming.onBehalfOf, receiptID: receiptID, now: now)
        for (i, p) in e.parts.enumerated() {
            try db.run( "INSERT INTO inbox_parts (document_id, idx, name, media_type, size, sha256, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [e.id, i, p.name, p.mediaType, p.size, p.sha256, Data(incoming.parts[i])])
        }
        try Self.trail(db, e.id, e.sender.rawValue, "received", incoming.onBehalfOf.map { "as successor of \($0)" }, now)
        return .stored
    }

    static func insertReceipt(_ db: Database, _ r: SignedReceipt, now: Date) throws {
        try insertReceipt(db, id: r.id, to: r.to, receipt: r.receipt, signed: (r.envelope, r.payloadSha256), now: now)
    }

    /// A receipt in the outbox with its one copy to send: signed already, or (`signed` nil) left for
    /// the send loop to sign together with the other receipts waiting.
    static func insertReceipt(_ db: Database, id: String, to: String, receipt: ReceiptInfo, signed: (envelope: [UInt8], payloadSha256: String)?, now: Date,
                              dueAt: Date? = nil) throws {
        let receiptJSON = String(decoding: receipt.jsonValue.canonicalBytes(), as: UTF8.self)
        try db.run( "INSERT INTO outbox (id, kind, created_at, in_reply_to, receipt_json, envelope, payload_sha256) VALUES (?, 'receipt', ?, ?, ?, ?, ?)",
                       arguments: [id, now.storeTime, receipt.document, receiptJSON, signed.map { Data($0.envelope) }, signed?.payloadSha256])
        try db.run( "INSERT INTO deliveries (document_id, recipient, role, state, next_attempt_at, receipt_copy) VALUES (?, ?, 'main', 'queued', ?, 1)",
                       arguments: [id, to, (dueAt ?? now).storeTime])
    }

    public struct QuarantineRecord: Sendable {
        public var reason: String
        public var detail: String
        public var messageID: String?
        public var userID: String?
        public var routingKey: String?
        public var contentType: String?
        public var claimedSender: String?
        public var body: [UInt8]
        public init(reason: String, detail: String, messageID: String?, userID: String?, routingKey: String?, contentType: String?, claimedSender: String?, body: [UInt8]) {
            self.reason = reason; self.detail = detail; self.messageID = messageID; self.userID = userID
            self.routingKey = routingKey; self.contentType = contentType; self.claimedSender = claimedSender; self.body = body
        }
    }

    /// Keeps a refused message with its reason (never as a document), plus the rejected
    /// receipt to send when the sender could be identified.
    @discardableResult
    public func quarantine(_ q: QuarantineRecord, receipt: SignedReceipt?, now: Date = Date()) throws -> Int64 {
        try writer.write { db in try Self.insertQuarantine(db, q, receipt: receipt, now: now) }
    }

    static func insertQuarantine(_ db: Database, _ q: QuarantineRecord, receipt: SignedReceipt?, now: Date) throws -> Int64 {
        if let r = receipt { try Self.insertReceipt(db, r, now: now) }
        try db.run( """
            INSERT INTO quarantine (received_at, reason, detail, message_id, user_id, routing_key, content_type, claimed_sender, receipt_id, body)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [now.storeTime, q.reason, q.detail, q.messageID, q.userID, q.routingKey, q.contentType, q.claimedSender, receipt?.id, Data(q.body)])
        return db.lastInsertedRowID
    }

    /// Applies a verified receipt to the sender's delivery state: delivered or rejected by the
    /// receiving gateway, then signed for or returned by a clerk; adopted or not for a report.
    public func applyReceipt(id: String, from unit: String, receipt: ReceiptInfo, envelope: [UInt8], signedAt: Date? = nil, now: Date = Date()) throws {
        try writer.write { db in try Self.applyReceipt(db, id: id, from: unit, receipt: receipt, envelope: envelope, signedAt: signedAt, now: now) }
    }

    static func applyReceipt(_ db: Database, id: String, from unit: String, receipt: ReceiptInfo, envelope: [UInt8], signedAt: Date?, now: Date) throws {
        // A receipt seen before (redelivered) changes nothing.
        try db.run( "INSERT OR IGNORE INTO receipts (id, document_id, from_unit, status, reason, detail, on_behalf_of, received_at, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       arguments: [id, receipt.document, unit, receipt.status.rawValue, receipt.reason, receipt.detail, receipt.onBehalfOf?.rawValue, now.storeTime, Data(envelope)])
        guard db.changesCount == 1 else { return }
        // A successor answers for the unit the copy was addressed to.
        let addressed = receipt.onBehalfOf?.rawValue ?? unit
        let via = receipt.onBehalfOf.map { " (\(unit), successor of \($0.rawValue))" } ?? ""
        let clerk = receipt.clerk.map { " by \($0)" } ?? ""
        switch receipt.status {
        case .delivered, .rejected:
            let state = receipt.status == .delivered ? "delivered" : "rejected"
            try db.run( """
                UPDATE deliveries SET state = ?, delivered_at = ?, delivered_by = ?, receipt_id = ?, reason = ?
                WHERE document_id = ? AND recipient = ? AND state IN ('queued','published')
                """, arguments: [state, now.storeTime, unit, id, receipt.reason.map { r in receipt.detail.map { "\(r): \($0)" } ?? r }, receipt.document, addressed])
            // A clerk's act may overtake the gateway's receipt; it still records when and by whom it arrived.
            if db.changesCount == 0 {
                try db.run( "UPDATE deliveries SET delivered_at = COALESCE(delivered_at, ?), delivered_by = COALESCE(delivered_by, ?) WHERE document_id = ? AND recipient = ?",
                               arguments: [now.storeTime, unit, receipt.document, addressed])
            }
            try Self.trail(db, receipt.document, addressed, state, "receipt \(id) verified\(via)\(receipt.reason.map { "; reason \($0)" } ?? "")", now)
        case .signedFor, .returned:
            let state = receipt.status.rawValue
            let handled = signedAt ?? now
            try db.run( """
                UPDATE deliveries SET state = ?, handled_at = ?, handled_by = ?, reason = COALESCE(?, reason), receipt_id = ?,
                                      delivered_at = COALESCE(delivered_at, ?), delivered_by = COALESCE(delivered_by, ?)
                WHERE document_id = ? AND recipient = ? AND state IN ('queued','published','delivered')
                """, arguments: [state, handled.storeTime, receipt.clerk, receipt.status == .returned ? receipt.reason : nil, id, now.storeTime, unit,
                                 receipt.document, addressed])
            try Self.trail(db, receipt.document, addressed, state, "\(receipt.status == .returned ? "returned" : "signed for")\(clerk)\(via)\(receipt.reason.map { ": \($0)" } ?? "")", now)
        case .adopted, .notAdopted:
            try db.run( "UPDATE deliveries SET outcome = ?, outcome_at = ?, outcome_note = ? WHERE document_id = ? AND recipient = ?",
                           arguments: [receipt.status.rawValue, now.storeTime, receipt.detail, receipt.document, addressed])
            try Self.trail(db, receipt.document, addressed, receipt.status.rawValue, "\(receipt.status == .adopted ? "adopted (采用)" : "not adopted (不采用)")\(clerk)\(receipt.detail.map { ": \($0)" } ?? "")", now)
        }
    }

    // MARK: reading

    public func outbox(includeReceipts: Bool = false, now: Date = Date()) throws -> [OutboxEntry] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT *, envelope IS NOT NULL AS signed FROM outbox \(includeReceipts ? "" : "WHERE kind NOT IN ('receipt')") ORDER BY created_at, id")
            return try rows.map { try outboxEntry(db, $0, now: now) }
        }
    }

    public func outboxEntry(id: String, now: Date = Date()) throws -> OutboxEntry? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT *, envelope IS NOT NULL AS signed FROM outbox WHERE id = ?", arguments: [id])
                .map { try outboxEntry(db, $0, now: now) }
        }
    }

    static func date(_ v: Double?) -> Date? { v.map { Date(timeIntervalSince1970: $0) } }

    func outboxEntry(_ db: Database, _ row: Row, now: Date) throws -> OutboxEntry {
        let id: String = row["id"]
        let docJSON: String? = row["document_json"]
        let doc = docJSON.flatMap { try? JSONValue.parse($0).decode(DocumentInfo.self) }
        let deadline = Self.date(row["sign_for_by"])
        let ds = try Row.fetchAll(db, sql: "SELECT * FROM deliveries WHERE document_id = ? ORDER BY rowid", arguments: [id]).map { d in
            let state: String = d["state"]
            return DeliveryStatus(recipient: d["recipient"], role: d["role"], state: state, attempts: d["attempts"], lastError: d["last_error"],
                                  publishedAt: Self.date(d["published_at"]), deliveredAt: Self.date(d["delivered_at"]),
                                  deliveredBy: d["delivered_by"], reason: d["reason"], handledAt: Self.date(d["handled_at"]), handledBy: d["handled_by"],
                                  outcome: d["outcome"], outcomeNote: d["outcome_note"], chases: d["chases"], lastChasedAt: Self.date(d["last_chased_at"]),
                                  overdue: deadline.map { $0 < now && Self.awaitingSignFor(state) } ?? false)
        }
        let replies = try String.fetchAll(db, sql: "SELECT id FROM inbox WHERE in_reply_to = ? AND kind = 'reply' ORDER BY received_at", arguments: [id])
        let parts = try Row.fetchAll(db, sql: "SELECT name, media_type, size, sha256 FROM outbox_parts WHERE document_id = ? ORDER BY idx", arguments: [id])
            .map { Envelope.Part(name: $0["name"], mediaType: $0["media_type"], size: $0["size"], sha256: $0["sha256"]) }
        return OutboxEntry(id: id, kind: row["kind"], title: doc?.title, number: doc?.number, type: doc?.type, urgency: doc?.urgency,
                           createdAt: Date(timeIntervalSince1970: row["created_at"]), signed: row["signed"], inReplyTo: row["in_reply_to"],
                           signForBy: deadline, supersedes: row["supersedes"], replies: replies, parts: parts, deliveries: ds)
    }

    static func awaitingSignFor(_ state: String) -> Bool { ["queued", "published", "delivered"].contains(state) }

    public func inbox(now: Date = Date()) throws -> [InboxEntry] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM inbox ORDER BY received_at, id").map { try inboxEntry(db, $0, now: now) }
        }
    }

    public func inboxEntry(id: String, now: Date = Date()) throws -> InboxEntry? {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM inbox WHERE id = ?", arguments: [id]).map { try inboxEntry(db, $0, now: now) } }
    }

    func inboxEntry(_ db: Database, _ r: Row, now: Date) throws -> InboxEntry {
        let id: String = r["id"]
        let parts = try Row.fetchAll(db, sql: "SELECT name, media_type, size, sha256 FROM inbox_parts WHERE document_id = ? ORDER BY idx", arguments: [id])
            .map { Envelope.Part(name: $0["name"], mediaType: $0["media_type"], size: $0["size"], sha256: $0["sha256"]) }
        let state: String = r["state"]
        let deadline = Self.date(r["sign_for_by"])
        let extras = try (r["extras_json"] as String?).map { try JSONValue.parse($0).decode(Extras.self) }
        return InboxEntry(id: id, sender: r["sender"], senderName: r["sender_name"], kind: r["kind"], title: r["title"], number: r["number"],
                          type: r["doc_type"], created: r["created"], receivedAt: Date(timeIntervalSince1970: r["received_at"]),
                          onBehalfOf: r["on_behalf_of"], parts: parts, state: state, urgency: r["urgency"], inReplyTo: r["in_reply_to"],
                          supersedes: r["supersedes"], supersededBy: r["superseded_by"], signForBy: deadline, handledAt: Self.date(r["handled_at"]),
                          handledBy: r["handled_by"], returnReason: r["return_reason"], outcome: r["outcome"], outcomeNote: r["outcome_note"],
                          chases: r["chases"], lastChasedAt: Self.date(r["last_chased_at"]), lastChaseMessage: r["last_chase_message"],
                          overdue: deadline.map { $0 < now && state == "received" } ?? false, extras: extras)
    }

    public func inboxCount() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM inbox") ?? 0 }
    }

    /// Bytes of an inline part (small parts only; a chunked part is read from its file, see `partSource`).
    public func inboxPart(documentID: String, index: Int) throws -> [UInt8]? {
        try writer.read { db in
            if let f = try String.fetchOne(db, sql: "SELECT file FROM inbox_parts WHERE document_id = ? AND idx = ? AND file IS NOT NULL", arguments: [documentID, index]) {
                return FileManager.default.contents(atPath: f).map { Array($0) }
            }
            return try Data.fetchOne(db, sql: "SELECT data FROM inbox_parts WHERE document_id = ? AND idx = ?", arguments: [documentID, index]).map { Array($0) }
        }
    }

    /// The signed envelope exactly as signed (outbox) or as received (inbox).
    public func envelopeBytes(id: String) throws -> [UInt8]? {
        try writer.read { db in
            if let d = try Data.fetchOne(db, sql: "SELECT envelope FROM inbox WHERE id = ?", arguments: [id]) { return Array(d) }
            return try Data.fetchOne(db, sql: "SELECT envelope FROM outbox WHERE id = ? AND envelope IS NOT NULL", arguments: [id]).map { Array($0) }
        }
    }

    public func trail(documentID: String) throws -> [TrailEvent] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM trail WHERE document_id = ? ORDER BY id", arguments: [documentID]).map {
                TrailEvent(at: Date(timeIntervalSince1970: $0["at"]), unit: $0["unit"], event: $0["event"], detail: $0["detail"])
            }
        }
    }

    /// Copies the write-ahead log into the database and truncates it to zero bytes (operations:
    /// before a backup, or to make the next write need fresh disk space).
    public func checkpointTruncating() throws {
        try writer.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    /// How many trail events of one kind there are (e.g. duplicates recognised).
    public func trailCount(event: String) throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trail WHERE event = ?", arguments: [event]) ?? 0 }
    }

    public func quarantined() throws -> [QuarantineEntry] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM quarantine ORDER BY id").map {
                QuarantineEntry(id: $0["id"], receivedAt: Date(timeIntervalSince1970: $0["received_at"]), reason: $0["reason"], detail: $0["detail"],
                                messageID: $0["message_id"], userID: $0["user_id"], claimedSender: $0["claimed_sender"], receiptID: $0["receipt_id"])
            }
        }
    }

    public struct ReceiptEntry: Sendable, Codable {
        public var id: String
        public var documentID: String
        public var fromUnit: String
        public var status: String
        public var reason: String?
        public var onBehalfOf: String?
        public var receivedAt: Date
    }

    /// Verified receipts received, optionally for one document.
    public func receipts(documentID: String? = nil) throws -> [ReceiptEntry] {
        try writer.read { db in
            let rows = documentID == nil
                ? try Row.fetchAll(db, sql: "SELECT * FROM receipts ORDER BY received_at")
                : try Row.fetchAll(db, sql: "SELECT * FROM receipts WHERE document_id = ? ORDER BY received_at", arguments: [documentID])
            return rows.map {
                ReceiptEntry(id: $0["id"], documentID: $0["document_id"], fromUnit: $0["from_unit"], status: $0["status"], reason: $0["reason"],
                             onBehalfOf: $0["on_behalf_of"], receivedAt: Date(timeIntervalSince1970: $0["received_at"]))
            }
        }
    }

    /// The signed receipt envelopes as they arrived (for audit and export: each verifies on its own).
    public func receiptEnvelopes() throws -> [[UInt8]] {
        try writer.read { db in try Data.fetchAll(db, sql: "SELECT envelope FROM receipts ORDER BY received_at, id").map { Array($0) } }
    }

    /// Delivery states of all outgoing documents (receipts excluded), counted.
    public func deliveryCounts() throws -> [String: Int] {
        try writer.read { db in
            var out: [String: Int] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT d.state, COUNT(*) AS n FROM deliveries d JOIN outbox o ON o.id = d.document_id WHERE o.kind != 'receipt' GROUP BY d.state") {
                out[r["state"]] = r["n"]
            }
            return out
        }
    }

    // MARK: directory cache

    public func cachedDirectory() throws -> (version: Int, fetchedAt: Date, signed: [UInt8])? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM directory_cache WHERE singleton = 1").map {
                (version: $0["version"], fetchedAt: Date(timeIntervalSince1970: $0["fetched_at"]), signed: Array(($0["signed"] as Data?) ?? Data()))
            }
        }
    }

    /// Replaces the cached directory unless the cached one is newer (no rollback).
    public func cacheDirectory(version: Int, signed: [UInt8], now: Date = Date()) throws {
        try writer.write { db in
            try db.run( """
                INSERT INTO directory_cache (singleton, version, fetched_at, signed) VALUES (1, ?, ?, ?)
                ON CONFLICT(singleton) DO UPDATE SET version = excluded.version, fetched_at = excluded.fetched_at, signed = excluded.signed
                WHERE excluded.version >= directory_cache.version
                """, arguments: [version, now.storeTime, Data(signed)])
        }
    }

    static func trail(_ db: Database, _ documentID: String, _ unit: String?, _ event: String, _ detail: String?, _ now: Date) throws {
        try db.run( "INSERT INTO trail (at, document_id, unit, event, detail) VALUES (?, ?, ?, ?, ?)",
                       arguments: [now.storeTime, documentID, unit, event, detail])
    }
}

extension GatewayStore {
    /// A commit that gives the gateway something to send, followed by a knock (see `Knock`): every
    /// such commit goes through here, whichever process makes it.
    func writeQueueing<T>(_ updates: (Database) throws -> T) throws -> T {
        let result = try writer.write(updates)
        knocker?.knock()
        return result
    }
}
