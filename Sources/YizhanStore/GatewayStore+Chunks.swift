import Foundation
import GRDB
import YizhanCore

/// Chunked transfers. Part bytes live in files under `parts/` beside the database; the database
/// records what is where. On the receiving side a document stays in `incoming` (invisible to
/// clerks) until every chunk is stored and every part matches its signed digest.
extension GatewayStore {
    /// `parts/` beside the database file.
    public var partsDirectory: String {
        ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("parts")
    }

    /// Where `doc send` copies a large part before the gateway sends it in chunks.
    public func outgoingDirectory(_ id: String) -> String { (partsDirectory as NSString).appendingPathComponent("out/\(id)") }
    /// Where a chunked part is assembled; the file stays there once the document is in the inbox.
    public func incomingDirectory(_ id: String) -> String { (partsDirectory as NSString).appendingPathComponent("in/\(id)") }

    // MARK: sending

    public struct OutgoingFile: Sendable {
        public var index: Int
        public var size: Int
        public var sha256: String
        public var file: String
    }

    public func outgoingFiles(documentID: String) throws -> [OutgoingFile] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT idx, size, sha256, file FROM outbox_parts WHERE document_id = ? AND file IS NOT NULL ORDER BY idx",
                             arguments: [documentID]).map { OutgoingFile(index: $0["idx"], size: $0["size"], sha256: $0["sha256"], file: $0["file"]) }
        }
    }

    /// Records how far the broker has confirmed a transfer to one recipient (never backwards).
    public func recordTransferProgress(documentID: String, recipient: String, position: Int) throws {
        try writer.write { db in
            try db.run( """
                UPDATE deliveries SET transfer_position = ? WHERE document_id = ? AND recipient = ? AND state = 'queued' AND transfer_position < ?
                """, arguments: [position, documentID, recipient, position])
        }
    }

    public func transferPosition(documentID: String, recipient: String) throws -> Int? {
        try writer.read { db in
            try Int.fetchOne(db, sql: "SELECT transfer_position FROM deliveries WHERE document_id = ? AND recipient = ?", arguments: [documentID, recipient])
        }
    }

    // MARK: receiving

    public enum IncomingStart: Sendable, Equatable { case started, resumed, duplicate(receiptID: String) }

    /// Takes a verified envelope whose parts follow in chunks. Nothing is visible in the inbox yet.
    public func beginIncoming(_ e: Envelope, bytes: [UInt8], payloadSha256: String, onBehalfOf: String?, userID: String, now: Date = Date()) throws -> IncomingStart {
        guard let t = e.transfer else { throw YizhanError(.invalidArgument, "envelope \(e.id) is not a chunked transfer") }
        let dir = incomingDirectory(e.id)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return try writer.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT receipt_id FROM inbox WHERE id = ?", arguments: [e.id]) {
                try db.run( "UPDATE deliveries SET state = 'queued', next_attempt_at = ? WHERE document_id = ?", arguments: [now.storeTime, existing])
                try Self.trail(db, e.id, e.sender.rawValue, "duplicate", "already in the inbox; receipt sent again", now)
                return .duplicate(receiptID: existing)
            }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM incoming WHERE id = ?", arguments: [e.id]) != nil { return .resumed }
            try db.run( """
                INSERT INTO incoming (id, sender, user_id, envelope, payload_sha256, on_behalf_of, chunk_size, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [e.id, e.sender.rawValue, userID, Data(bytes), payloadSha256, onBehalfOf, t.chunkSize, now.storeTime])
            for (i, p) in e.parts.enumerated() {
                try db.run( "INSERT INTO incoming_parts (document_id, idx, size, sha256, chunks, file) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [e.id, i, p.size, p.sha256, t.chunks(of: p.size), (dir as NSString).appendingPathComponent("\(i)")])
            }
            let total = e.parts.reduce(0) { $0 + t.chunks(of: $1.size) }
            try db.run("UPDATE incoming SET total_chunks = ? WHERE id = ?", arguments: [total, e.id])
            try Self.trail(db, e.id, e.sender.rawValue, "receiving", "\(e.parts.count) part(s) in \(total) chunk(s) of up to \(t.chunkSize) bytes", now)
            return .started
        }
    }

    public struct IncomingState: Sendable {
        public struct Part: Sendable { public var size: Int; public var sha256: String; public var chunks: Int; public var file: String }
        public var id: String
        public var sender: String
        public var userID: String
        public var chunkSize: Int
        public var parts: [Part]
        public var stored: Int
        public var total: Int { parts.reduce(0) { $0 + $1.chunks } }
    }

    public func incoming(id: String) throws -> IncomingState? {
        try writer.read { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM incoming WHERE id = ?", arguments: [id]) else { return nil }
            let parts = try Row.fetchAll(db, sql: "SELECT * FROM incoming_parts WHERE document_id = ? ORDER BY idx", arguments: [id])
                .map { IncomingState.Part(size: $0["size"], sha256: $0["sha256"], chunks: $0["chunks"], file: $0["file"]) }
            return IncomingState(id: id, sender: r["sender"], userID: r["user_id"], chunkSize: r["chunk_size"], parts: parts, stored: r["stored_chunks"])
        }
    }

    /// Transfers in progress, for `doc list --incoming` and the monitor.
    public func incomingTransfers() throws -> [IncomingState] {
        let ids = try writer.read { db in try String.fetchAll(db, sql: "SELECT id FROM incoming ORDER BY started_at") }
        return try ids.compactMap { try incoming(id: $0) }
    }

    public func incomingEnvelope(_ id: String) throws -> (bytes: [UInt8], payloadSha256: String)? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT envelope, payload_sha256 FROM incoming WHERE id = ?", arguments: [id]).map {
                (bytes: Array($0["envelope"] as Data), payloadSha256: $0["payload_sha256"])
            }
        }
    }

    public func incomingOnBehalfOf(_ id: String) throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT on_behalf_of FROM incoming WHERE id = ?", arguments: [id]) }
    }

    /// The digest a chunk was stored with, when it was stored before.
    public func storedChunk(documentID: String, part: Int, index: Int) throws -> String? {
        try writer.read { db in
            try String.fetchOne(db, sql: "SELECT sha256 FROM incoming_chunks WHERE document_id = ? AND part = ? AND idx = ?", arguments: [documentID, part, index])
        }
    }

    /// Writes a chunk's bytes at their place in the part file and flushes them to disk. The
    /// database learns of the chunk only afterwards (`recordChunk`), so a crash in between means
    /// the chunk is written again on redelivery, never that a hole is taken for data.
    public static func writeChunk(_ data: [UInt8], to file: String, at offset: Int) throws {
        if !FileManager.default.fileExists(atPath: file) {
            guard FileManager.default.createFile(atPath: file, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw YizhanError(.configuration, "cannot create \(file)")
            }
        }
        guard let h = FileHandle(forUpdatingAtPath: file) else { throw YizhanError(.configuration, "cannot open \(file)") }
        defer { try? h.close() }
        try h.seek(toOffset: UInt64(offset))
        try h.write(contentsOf: data)
        try h.synchronize()
    }

    /// Records a stored chunk; returns how many chunks of the document are still missing.
    public func recordChunk(documentID: String, part: Int, index: Int, sha256: String) throws -> Int {
        try writer.write { db in
            try db.run( "INSERT OR IGNORE INTO incoming_chunks (document_id, part, idx, sha256) VALUES (?, ?, ?, ?)",
                           arguments: [documentID, part, index, sha256])
            if db.changesCount == 1 {
                try db.run("UPDATE incoming SET stored_chunks = stored_chunks + 1 WHERE id = ?", arguments: [documentID])
            }
            let r = try Row.fetchOne(db, sql: "SELECT total_chunks, stored_chunks FROM incoming WHERE id = ?", arguments: [documentID])
            return (r?["total_chunks"] ?? 0) - (r?["stored_chunks"] ?? 0)
        }
    }

    /// Everything arrived and every part matched its signed digest: the document enters the inbox
    /// with its delivered receipt, in one transaction.
    public func completeIncoming(id: String, envelope e: Envelope, receipt: SignedReceipt, now: Date = Date()) throws {
        try writer.write { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM incoming WHERE id = ?", arguments: [id]) else {
                throw YizhanError(.notFound, "no incoming transfer \(id)")
            }
            let files = try String.fetchAll(db, sql: "SELECT file FROM incoming_parts WHERE document_id = ? ORDER BY idx", arguments: [id])
            try Self.insertReceipt(db, receipt, now: now)
            try Self.insertInbox(db, e, bytes: Array(r["envelope"] as Data), payloadSha256: r["payload_sha256"], onBehalfOf: r["on_behalf_of"],
                                 receiptID: receipt.id, now: now)
            for (i, p) in e.parts.enumerated() {
                try db.run( "INSERT INTO inbox_parts (document_id, idx, name, media_type, size, sha256, file) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               arguments: [id, i, p.name, p.mediaType, p.size, p.sha256, files[i]])
            }
            try db.run( "DELETE FROM incoming WHERE id = ?", arguments: [id])
            let behalf: String? = r["on_behalf_of"]
            try Self.trail(db, id, e.sender.rawValue, "received", "all parts complete and verified\(behalf.map { "; as successor of \($0)" } ?? "")", now)
        }
    }

    /// A transfer that cannot complete (a part failed its digest, a chunk was damaged): the
    /// envelope goes to quarantine with the reason and the rejected receipt, the files are removed.
    @discardableResult
    public func failIncoming(id: String, _ q: QuarantineRecord, receipt: SignedReceipt?, now: Date = Date()) throws -> Int64 {
        let qid = try writer.write { db in
            let qid = try Self.insertQuarantine(db, q, receipt: receipt, now: now)
            try db.run( "DELETE FROM incoming WHERE id = ?", arguments: [id])
            try Self.trail(db, id, q.claimedSender, "refused", "\(q.reason): \(q.detail)", now)
            return qid
        }
        try? FileManager.default.removeItem(atPath: incomingDirectory(id))
        return qid
    }

    /// Whether an envelope with this id was refused (so its chunks have nothing to join).
    public func wasRefused(documentID: String) throws -> Bool {
        try writer.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM quarantine WHERE message_id = ? LIMIT 1", arguments: [documentID]) != nil }
    }

    public func isInInbox(_ id: String) throws -> Bool {
        try writer.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM inbox WHERE id = ?", arguments: [id]) != nil }
    }

    /// Where a part's bytes are: a file, or inline bytes (small parts).
    public enum PartSource: Sendable { case file(String), bytes([UInt8]) }

    public func partSource(documentID: String, index: Int) throws -> PartSource? {
        try writer.read { db in
            for table in ["inbox_parts", "outbox_parts"] {
                if let r = try Row.fetchOne(db, sql: "SELECT data, file FROM \(table) WHERE document_id = ? AND idx = ?", arguments: [documentID, index]) {
                    if let f = r["file"] as String? { return .file(f) }
                    return .bytes(Array((r["data"] as Data?) ?? Data()))
                }
            }
            return nil
        }
    }
}
