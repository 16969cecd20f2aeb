import Foundation
import GRDB
import YizhanCore

extension GatewayStore {
    /// Marks a copy rejected at the sender (e.g. the recipient is deregistered): kept, with the reason.
    public func refuse(documentID: String, recipient: String, reason: String, now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE deliveries SET state = 'rejected', reason = ?, last_error = ? WHERE document_id = ? AND recipient = ? AND state = 'queued'",
                           arguments: [reason, reason, documentID, recipient])
            if db.changesCount == 1 { try Self.trail(db, documentID, recipient, "refused", reason, now) }
        }
    }

    public struct TransferSummary: Sendable, Codable, Equatable {
        public var fromUnit: String
        public var inbox: Int
        public var outbox: Int
    }

    /// Takes over a deregistered unit's records from its gateway's SQLite file: inbox and outbox
    /// (with their signed envelopes, parts and states) land in `transferred`, with one `transfers`
    /// row recording where they came from. Running it again adds nothing twice.
    public func importRecords(fromDatabase path: String, fromUnit: String, now: Date = Date()) throws -> TransferSummary {
        guard FileManager.default.fileExists(atPath: path) else { throw YizhanError(.notFound, "no gateway database at \(path)") }
        // Bring an older gateway's file to the current schema before reading it.
        _ = try GatewayStore(path: path)
        return try writer.writeWithoutTransaction { db in
            try db.execute(sql: "ATTACH DATABASE ? AS src", arguments: [path])
            defer { try? db.execute(sql: "DETACH DATABASE src") }
            var summary = TransferSummary(fromUnit: fromUnit, inbox: 0, outbox: 0)
            try db.inTransaction {
                try db.execute(sql: "INSERT INTO transfers (from_unit, at, inbox_count, outbox_count, source) VALUES (?, ?, 0, 0, ?)",
                               arguments: [fromUnit, now.storeTime, path])
                let tid = db.lastInsertedRowID
                try db.execute(sql: """
                    INSERT OR IGNORE INTO transferred (id, box, transfer_id, from_unit, kind, title, counterpart, envelope)
                    SELECT id, 'inbox', ?, ?, kind, title, sender, envelope FROM src.inbox
                    """, arguments: [tid, fromUnit])
                summary.inbox = db.changesCount
                try db.execute(sql: """
                    INSERT OR IGNORE INTO transferred_parts (document_id, box, idx, name, media_type, size, sha256, data, file)
                    SELECT document_id, 'inbox', idx, name, media_type, size, sha256, data, file FROM src.inbox_parts
                    """)
                try db.execute(sql: """
                    INSERT OR IGNORE INTO transferred (id, box, transfer_id, from_unit, kind, title, counterpart, states, envelope)
                    SELECT o.id, 'outbox', ?, ?, o.kind, json_extract(o.document_json, '$.title'),
                           (SELECT group_concat(recipient, ',') FROM src.deliveries d WHERE d.document_id = o.id),
                           (SELECT json_group_array(json_object('recipient', recipient, 'state', state, 'reason', reason)) FROM src.deliveries d WHERE d.document_id = o.id),
                           o.envelope
                    FROM src.outbox o WHERE o.kind != 'receipt'
                    """, arguments: [tid, fromUnit])
                summary.outbox = db.changesCount
                try db.execute(sql: """
                    INSERT OR IGNORE INTO transferred_parts (document_id, box, idx, name, media_type, size, sha256, data, file)
                    SELECT p.document_id, 'outbox', p.idx, p.name, p.media_type, p.size, p.sha256, p.data, p.file
                    FROM src.outbox_parts p JOIN src.outbox o ON o.id = p.document_id WHERE o.kind != 'receipt'
                    """)
                try db.execute(sql: "UPDATE transfers SET inbox_count = ?, outbox_count = ? WHERE id = ?", arguments: [summary.inbox, summary.outbox, tid])
                try Self.trail(db, "transfer-\(tid)", fromUnit, "transferred", "\(summary.inbox) inbox and \(summary.outbox) outbox record(s) from \(fromUnit)", now)
                return .commit
            }
            return summary
        }
    }

    public struct TransferredEntry: Sendable, Codable {
        public var id: String
        public var box: String
        public var fromUnit: String
        public var kind: String
        public var title: String?
        public var counterpart: String?
        public var states: String?
    }

    public func transferred() throws -> [TransferredEntry] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM transferred ORDER BY transfer_id, box, id").map {
                TransferredEntry(id: $0["id"], box: $0["box"], fromUnit: $0["from_unit"], kind: $0["kind"], title: $0["title"],
                                 counterpart: $0["counterpart"], states: $0["states"])
            }
        }
    }

    public func transferredEnvelope(id: String) throws -> [UInt8]? {
        try writer.read { db in try Data.fetchOne(db, sql: "SELECT envelope FROM transferred WHERE id = ? AND envelope IS NOT NULL LIMIT 1", arguments: [id]).map { Array($0) } }
    }
}
