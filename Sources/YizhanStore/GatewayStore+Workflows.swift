import Foundation
import GRDB
import YizhanCore

/// How documents are handled once delivered: 签收 and 退回, 催办, 采用, 请示/批复, 会议通知 with
/// 参会回执, and paper registrations. Every act is one transaction that changes the local state and
/// queues the signed envelope that tells the other side.
extension GatewayStore {
    // MARK: links a draft or an incoming envelope must satisfy

    /// Refuses a draft whose link points nowhere: a reply to an unknown request, an attendance
    /// reply to an unknown meeting notice, a correction of a document that was not returned.
    static func checkLinks(_ db: Database, _ draft: Draft) throws {
        switch draft.kind {
        case .reply:
            guard let req = draft.inReplyTo,
                  let sender = try String.fetchOne(db, sql: "SELECT sender FROM inbox WHERE id = ? AND kind = 'request'", arguments: [req]) else {
                throw YizhanError(.notFound, "no request \(draft.inReplyTo ?? "(none)") in this unit's inbox; a reply answers a received request")
            }
            guard draft.recipients.map(\.unit.rawValue) == [sender] else {
                throw YizhanError(.invalidArgument, "a reply goes to the requesting unit \(sender) only")
            }
        case .attendance:
            guard let n = draft.inReplyTo,
                  let sender = try String.fetchOne(db, sql: "SELECT sender FROM inbox WHERE id = ? AND kind = 'notice'", arguments: [n]) else {
                throw YizhanError(.notFound, "no meeting notice \(draft.inReplyTo ?? "(none)") in this unit's inbox")
            }
            guard draft.recipients.map(\.unit.rawValue) == [sender] else {
                throw YizhanError(.invalidArgument, "an attendance reply goes to the unit that sent the notice, \(sender)")
            }
        default: break
        }
        if let sup = draft.extras.supersedes {
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM deliveries WHERE document_id = ? AND state = 'returned'", arguments: [sup]) != nil else {
                throw YizhanError(.invalidArgument, "document \(sup) was not returned by any recipient; only a returned document is corrected and sent again")
            }
        }
    }

    /// Why a verified incoming envelope cannot be taken in, or nil. `sender` is the unit that signed it.
    public func linkProblem(_ e: Envelope) throws -> String? {
        try writer.read { db in
            let sender = e.sender.rawValue
            let target = e.inReplyTo ?? ""
            func sentTo(_ kind: String?) throws -> Bool {
                try Bool.fetchOne(db, sql: """
                    SELECT 1 FROM outbox o JOIN deliveries d ON d.document_id = o.id
                    WHERE o.id = ? AND (? IS NULL OR o.kind = ?) AND (d.recipient = ? OR d.delivered_by = ?)
                    """, arguments: [target, kind, kind, sender, sender]) != nil
            }
            switch e.kind {
            case .reply:
                return try sentTo("request") ? nil : "reply to an unknown request \(target): no request of this unit went to \(sender)"
            case .attendance:
                return try sentTo("notice") ? nil : "attendance reply to an unknown meeting notice \(target)"
            case .chase:
                let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM inbox WHERE id = ? AND sender = ?", arguments: [target, sender]) != nil
                return known ? nil : "chase for an unknown document \(target): nothing from \(sender) with that id is in the inbox"
            case .receipt:
                guard let r = e.receipt, r.status.isClerkAct else { return nil }
                let addressed = r.onBehalfOf?.rawValue ?? sender
                let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM deliveries WHERE document_id = ? AND recipient = ?", arguments: [r.document, addressed]) != nil
                return known ? nil : "\(r.status.rawValue) receipt for a document \(r.document) this unit did not send to \(addressed)"
            default:
                return nil
            }
        }
    }

    /// Stores a verified envelope in the inbox and applies what it means (a chase, an attendance
    /// reply, a correction) in the caller's transaction.
    static func insertInbox(_ db: Database, _ e: Envelope, bytes: [UInt8], payloadSha256: String, onBehalfOf: String?, receiptID: String, now: Date) throws {
        let extras = Extras(signForBy: e.signForBy, supersedes: e.supersedes, meeting: e.meeting, chase: e.chase, attendance: e.attendance, transfer: e.transfer)
        try db.run( """
            INSERT INTO inbox (id, sender, sender_name, kind, title, number, doc_type, created, received_at, on_behalf_of, envelope, payload_sha256, receipt_id,
                               in_reply_to, supersedes, urgency, sign_for_by, extras_json)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [e.id, e.sender.rawValue, e.senderName, e.kind.rawValue, e.document?.title, e.document?.number, e.document?.type,
                             e.created, now.storeTime, onBehalfOf, Data(bytes), payloadSha256, receiptID,
                             e.inReplyTo, e.supersedes, e.document?.urgency, e.signForBy.flatMap { Timestamp.parse($0)?.storeTime },
                             extras.isEmpty ? nil : try canonical(extras)])
        let sender = e.sender.rawValue
        if let sup = e.supersedes {
            try db.run( "UPDATE inbox SET superseded_by = ? WHERE id = ? AND sender = ?", arguments: [e.id, sup, sender])
            if db.changesCount > 0 { try trail(db, sup, sender, "superseded", "corrected version \(e.id) received", now) }
        }
        guard let target = e.inReplyTo else { return }
        switch e.kind {
        case .chase:
            try db.run( "UPDATE inbox SET chases = chases + 1, last_chased_at = ?, last_chase_message = ? WHERE id = ? AND sender = ?",
                           arguments: [now.storeTime, e.chase?.message, target, sender])
            try trail(db, target, sender, "chased", e.chase?.message, now)
        case .attendance:
            guard let a = e.attendance else { return }
            try db.run( """
                INSERT INTO attendance (notice_id, unit, attending, attendees_json, note, replied_at, envelope_id) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (notice_id, unit) DO UPDATE SET attending = excluded.attending, attendees_json = excluded.attendees_json,
                    note = excluded.note, replied_at = excluded.replied_at, envelope_id = excluded.envelope_id
                WHERE excluded.replied_at >= attendance.replied_at
                """, arguments: [target, sender, a.attending, try canonical(a.attendees), a.note, (Timestamp.parse(e.created) ?? now).storeTime, e.id])
            try trail(db, target, sender, "attendance", a.attending ? "attending: \(a.attendees.joined(separator: "、"))" : "not attending", now)
        case .reply:
            try trail(db, target, sender, "replied", "reply \(e.id) received", now)
        default: break
        }
    }

    // MARK: a clerk's acts on a received document

    public enum ClerkAct: Sendable, Equatable {
        case signFor
        case giveBack(reason: String)
        case adopt(note: String?)
        case decline(note: String?)
    }

    /// Records the act and queues the signed receipt that tells the sender. Returns the receipt's id.
    @discardableResult
    public func act(_ act: ClerkAct, on documentID: String, clerk: String, now: Date = Date()) throws -> String {
        let clerk = clerk.trimmingCharacters(in: .whitespaces)
        guard !clerk.isEmpty else { throw YizhanError(.invalidArgument, "name the clerk (--by)") }
        return try writeQueueing { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM inbox WHERE id = ?", arguments: [documentID]) else {
                throw YizhanError(.notFound, "document \(documentID) is not in this unit's inbox (it was not addressed to this unit)")
            }
            let kind: String = row["kind"], state: String = row["state"], sender: String = row["sender"]
            guard Envelope.Kind(rawValue: kind)?.carriesDocument == true else {
                throw YizhanError(.invalidArgument, "a \(kind) message is not signed for, returned or adopted; only documents are")
            }
            let status: ReceiptInfo.Status
            var reason: String? = nil, detail: String? = nil
            switch act {
            case .signFor, .giveBack:
                guard state == "received" else {
                    let at = Self.date(row["handled_at"]).map { Timestamp.format($0) } ?? "?"
                    throw YizhanError(.conflict, "document \(documentID) is already \(state) (by \(row["handled_by"] as String? ?? "?") at \(at))")
                }
                if case .giveBack(let r) = act {
                    let r = r.trimmingCharacters(in: .whitespacesAndNewlines)
                    guard !r.isEmpty else { throw YizhanError(.invalidArgument, "a return (退回) needs a reason (--reason)") }
                    status = .returned; reason = r
                    try db.run( "UPDATE inbox SET state = 'returned', handled_at = ?, handled_by = ?, return_reason = ? WHERE id = ?",
                                   arguments: [now.storeTime, clerk, r, documentID])
                } else {
                    status = .signedFor
                    try db.run( "UPDATE inbox SET state = 'signed-for', handled_at = ?, handled_by = ? WHERE id = ?",
                                   arguments: [now.storeTime, clerk, documentID])
                }
            case .adopt(let note), .decline(let note):
                guard kind == "report" else { throw YizhanError(.invalidArgument, "only an information report (kind report) is adopted or not; \(documentID) is a \(kind)") }
                if let done = row["outcome"] as String? { throw YizhanError(.conflict, "report \(documentID) is already marked \(done)") }
                status = act == .adopt(note: note) ? .adopted : .notAdopted
                detail = note.flatMap { $0.isEmpty ? nil : $0 }
                try db.run( "UPDATE inbox SET outcome = ?, outcome_note = ? WHERE id = ?", arguments: [status.rawValue, detail, documentID])
            }
            let receipt = ReceiptInfo(status: status, document: documentID, payloadSha256: row["payload_sha256"], reason: reason, detail: detail,
                                      onBehalfOf: try (row["on_behalf_of"] as String?).map { try UnitCode($0) }, clerk: clerk)
            let draft = Draft(kind: .receipt, document: nil, receipt: receipt, inReplyTo: documentID,
                              recipients: [.init(unit: try UnitCode(sender), role: .main)], parts: [])
            try Self.insertDraft(db, draft, now: now)
            try Self.trail(db, documentID, nil, status.rawValue, "by \(clerk)\((reason ?? detail).map { ": \($0)" } ?? "")", now)
            return draft.id
        }
    }

    // MARK: the sender's acts

    /// Queues a 催办 to the recipients of `documentID` that have not signed for it yet (or to
    /// `units` among them). Returns the chase's id and who it went to.
    public func chase(documentID: String, units: [String]? = nil, message: String, now: Date = Date()) throws -> (id: String, recipients: [String]) {
        return try writeQueueing { db in
            guard let kind = try String.fetchOne(db, sql: "SELECT kind FROM outbox WHERE id = ?", arguments: [documentID]),
                  Envelope.Kind(rawValue: kind)?.carriesDocument == true else {
                throw YizhanError(.notFound, "no document \(documentID) in this unit's outbox")
            }
            let rows = try Row.fetchAll(db, sql: "SELECT recipient, state FROM deliveries WHERE document_id = ?", arguments: [documentID])
            let states = Dictionary(uniqueKeysWithValues: rows.map { ($0["recipient"] as String, $0["state"] as String) })
            if let units {
                for u in units where states[u] == nil { throw YizhanError(.invalidArgument, "\(u) is not a recipient of \(documentID)") }
            }
            let targets = (units ?? rows.map { $0["recipient"] }).filter { ["published", "delivered"].contains(states[$0] ?? "") }.sorted()
            guard !targets.isEmpty else {
                throw YizhanError(.conflict, "nothing to chase: no recipient of \(documentID) is waiting to sign for it (states: \(states.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))")
            }
            let draft = Draft(kind: .chase, document: nil, inReplyTo: documentID, recipients: try targets.map { .init(unit: try UnitCode($0), role: .main) },
                              parts: [], extras: Extras(chase: ChaseInfo(message: message)))
            try Self.insertDraft(db, draft, now: now)
            for t in targets {
                try db.run( "UPDATE deliveries SET chases = chases + 1, last_chased_at = ? WHERE document_id = ? AND recipient = ?",
                               arguments: [now.storeTime, documentID, t])
                try Self.trail(db, documentID, t, "chase sent", message, now)
            }
            return (draft.id, targets)
        }
    }

    // MARK: meetings

    public struct AttendanceEntry: Sendable, Codable, Equatable {
        public var unit: String
        public var replied: Bool
        public var attending: Bool?
        public var attendees: [String]
        public var note: String?
        public var repliedAt: Date?
    }

    /// One line per invited unit: its latest reply, or that it has not replied.
    public func attendance(noticeID: String) throws -> [AttendanceEntry] {
        try writer.read { db in
            guard try String.fetchOne(db, sql: "SELECT kind FROM outbox WHERE id = ?", arguments: [noticeID]) == "notice" else {
                throw YizhanError(.notFound, "no meeting notice \(noticeID) in this unit's outbox")
            }
            let invited = try String.fetchAll(db, sql: "SELECT recipient FROM deliveries WHERE document_id = ? ORDER BY rowid", arguments: [noticeID])
            var out: [AttendanceEntry] = []
            for u in invited {
                if let r = try Row.fetchOne(db, sql: "SELECT * FROM attendance WHERE notice_id = ? AND unit = ?", arguments: [noticeID, u]) {
                    let names = try JSONValue.parse(r["attendees_json"] as String).decode([String].self)
                    out.append(AttendanceEntry(unit: u, replied: true, attending: r["attending"], attendees: names, note: r["note"], repliedAt: Self.date(r["replied_at"])))
                } else {
                    out.append(AttendanceEntry(unit: u, replied: false, attending: nil, attendees: [], note: nil, repliedAt: nil))
                }
            }
            return out
        }
    }

    // MARK: paper registrations

    public struct PaperRecord: Sendable, Codable, Equatable {
        public enum Direction: String, Codable, Sendable, CaseIterable { case sent, received }
        public enum Kind: String, Codable, Sendable, CaseIterable { case document, report, request }
        public var id: Int64?
        public var direction: Direction
        public var kind: Kind
        public var counterpart: String
        public var title: String
        public var number: String?
        public var date: String
        public var registeredBy: String
        public init(direction: Direction, kind: Kind, counterpart: String, title: String, number: String?, date: String, registeredBy: String) {
            self.direction = direction; self.kind = kind; self.counterpart = counterpart; self.title = title; self.number = number
            self.date = date; self.registeredBy = registeredBy
        }
    }

    @discardableResult
    public func registerPaper(_ p: PaperRecord, now: Date = Date()) throws -> Int64 {
        _ = try UnitCode(p.counterpart)
        guard !p.title.trimmingCharacters(in: .whitespaces).isEmpty else { throw YizhanError(.invalidArgument, "a paper registration needs a title") }
        guard p.date.count == 10, Timestamp.parse(p.date + "T00:00:00Z") != nil else { throw YizhanError(.invalidArgument, "date must be YYYY-MM-DD, not \(p.date)") }
        if let n = p.number { _ = try DocumentNumber(n) }
        guard !p.registeredBy.trimmingCharacters(in: .whitespaces).isEmpty else { throw YizhanError(.invalidArgument, "name who registers it (--by)") }
        return try writer.write { db in
            try db.run( "INSERT INTO paper (direction, kind, counterpart, title, number, date, registered_at, registered_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [p.direction.rawValue, p.kind.rawValue, p.counterpart, p.title, p.number, p.date, now.storeTime, p.registeredBy])
            return db.lastInsertedRowID
        }
    }

    /// Paper registrations, optionally for one month (`YYYY-MM`).
    public func paperRecords(month: String? = nil) throws -> [PaperRecord] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM paper WHERE ? IS NULL OR substr(date, 1, 7) = ? ORDER BY date, id", arguments: [month, month]).map {
                var r = PaperRecord(direction: PaperRecord.Direction(rawValue: $0["direction"]) ?? .sent, kind: PaperRecord.Kind(rawValue: $0["kind"]) ?? .document,
                                    counterpart: $0["counterpart"], title: $0["title"], number: $0["number"], date: $0["date"], registeredBy: $0["registered_by"])
                r.id = $0["id"]
                return r
            }
        }
    }
}

extension GatewayStore {
    /// The gauges a gateway exports: copies still to be confirmed or answered, overdue documents
    /// on both sides, transfers arriving, quarantined messages, when the directory was fetched.
    public struct Figures: Sendable, Codable, Equatable {
        public var outboxDepth: Int
        public var overdue: Int
        public var incomingTransfers: Int
        public var quarantined: Int
        public var directoryFetchedAt: Date?
    }

    /// Each count reads a partial index of open items only (migration `v7-open-copies`), so a
    /// gauge costs the same after a year of documents as on the first day. `INDEXED BY`, since
    /// without statistics SQLite prefers `deliveries_due` (by state), which walks every receipt's
    /// copy ever sent; a count that could not use its index fails instead of walking.
    static let gaugeSQL = (
        openCopies: "SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_open WHERE receipt_copy = 0 AND state IN ('queued','published')",
        overdueCopies: "SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_awaiting_sign_for WHERE sign_for_by IS NOT NULL AND sign_for_by < ? AND state IN ('queued','published','delivered')",
        overdueInbox: "SELECT COUNT(*) FROM inbox INDEXED BY inbox_awaiting_sign_for WHERE sign_for_by IS NOT NULL AND sign_for_by < ? AND state = 'received'"
    )

    public func figures(now: Date = Date()) throws -> Figures {
        try writer.read { db in
            let depth = try Int.fetchOne(db.cachedStatement(sql: Self.gaugeSQL.openCopies)) ?? 0
            let overdueOut = try Int.fetchOne(db.cachedStatement(sql: Self.gaugeSQL.overdueCopies), arguments: [now.storeTime]) ?? 0
            let overdueIn = try Int.fetchOne(db.cachedStatement(sql: Self.gaugeSQL.overdueInbox), arguments: [now.storeTime]) ?? 0
            return Figures(outboxDepth: depth, overdue: overdueOut + overdueIn,
                           incomingTransfers: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM incoming") ?? 0,
                           quarantined: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM quarantine") ?? 0,
                           directoryFetchedAt: try Double.fetchOne(db, sql: "SELECT fetched_at FROM directory_cache WHERE singleton = 1").map { Date(timeIntervalSince1970: $0) })
        }
    }
}
