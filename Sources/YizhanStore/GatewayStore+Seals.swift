import Foundation
import GRDB
import YizhanCore

/// The unit's seals as its gateway host keeps them. `vault` is the dual-custody JSON (the key
/// encrypted under a key-encryption key split among custodians); this store never sees a key.
extension GatewayStore {
    public struct LocalSeal: Sendable, Codable, Equatable {
        public var id: String
        public var state: String
        public var algorithm: String
        public var certificate: [UInt8]?
        public var vault: String?
        public var madeAt: Date?
        public var revokedAt: Date?
        public var revocationReason: String?
        public var wipedAt: Date?
        public var wipeReportedAt: Date?
    }

    static func localSeal(_ r: Row) -> LocalSeal {
        LocalSeal(id: r["id"], state: r["state"], algorithm: r["algorithm"], certificate: (r["certificate"] as Data?).map { Array($0) },
                  vault: r["vault"], madeAt: date(r["made_at"]), revokedAt: date(r["revoked_at"]), revocationReason: r["revocation_reason"],
                  wipedAt: date(r["wiped_at"]), wipeReportedAt: date(r["wipe_reported_at"]))
    }

    public func seals() throws -> [LocalSeal] {
        try writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM seals ORDER BY created_at").map(Self.localSeal) }
    }

    public func seal(id: String) throws -> LocalSeal? {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM seals WHERE id = ?", arguments: [id]).map(Self.localSeal) }
    }

    /// Step one of making: the locked key is stored before the registry is asked for the
    /// certificate, so a certificate is never issued for a key this host does not hold.
    public func beginSeal(id: String, algorithm: String, vault: String, now: Date = Date()) throws {
        try writer.write { db in
            if let state = try String.fetchOne(db, sql: "SELECT state FROM seals WHERE id = ?", arguments: [id]) {
                guard state == "making" else { throw YizhanError(.conflict, "seal \(id) is already \(state) at this gateway") }
                try db.execute(sql: "DELETE FROM seals WHERE id = ?", arguments: [id])
            }
            try db.execute(sql: "INSERT INTO seals (id, state, algorithm, vault, created_at) VALUES (?, 'making', ?, ?, ?)",
                           arguments: [id, algorithm, vault, now.storeTime])
        }
    }

    public func completeSeal(id: String, certificate: [UInt8], now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE seals SET state = 'in-use', certificate = ?, made_at = ? WHERE id = ? AND state = 'making'",
                           arguments: [Data(certificate), now.storeTime, id])
            guard db.changesCount == 1 else { throw YizhanError(.conflict, "seal \(id) is not being made here") }
        }
    }

    /// A making that failed: the key it generated is dropped (no certificate was issued for it, or none arrived).
    public func abandonSeal(id: String) throws {
        try writer.write { db in try db.execute(sql: "DELETE FROM seals WHERE id = ? AND state = 'making'", arguments: [id]) }
    }

    /// Custodians replaced: the new vault (same key, same key-encryption key) replaces the old one.
    public func replaceVault(id: String, vault: String, detail: String, now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE seals SET vault = ? WHERE id = ? AND state = 'in-use'", arguments: [vault, id])
            guard db.changesCount == 1 else { throw YizhanError(.conflict, "seal \(id) is not in use at this gateway") }
            try Self.trail(db, id, nil, "custodians-replaced", detail, now)
        }
    }

    /// The registry revoked the seal: the locked key is deleted and the row kept as the record.
    /// SQLite's secure_delete overwrites the freed pages, so the ciphertext does not linger in the file.
    public func wipeSeal(id: String, revokedAt: Date?, reason: String?, now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "PRAGMA secure_delete = ON")
            try db.execute(sql: """
                UPDATE seals SET state = 'wiped', vault = NULL, wiped_at = ?, revoked_at = ?, revocation_reason = ?
                WHERE id = ? AND state != 'wiped'
                """, arguments: [now.storeTime, revokedAt?.storeTime, reason, id])
            if db.changesCount == 1 { try Self.trail(db, id, nil, "seal-wiped", "key material deleted after revocation (\(reason ?? "revoked"))", now) }
        }
    }

    public func sealWipeReported(id: String, now: Date = Date()) throws {
        try writer.write { db in try db.execute(sql: "UPDATE seals SET wipe_reported_at = ? WHERE id = ?", arguments: [now.storeTime, id]) }
    }

    public struct StampEntry: Sendable, Codable, Equatable {
        public var documentID: String
        public var sealID: String
        public var custodians: [String]
        public var stampedAt: Date
    }

    public func stamps(sealID: String? = nil) throws -> [StampEntry] {
        try writer.read { db in
            let rows = sealID == nil ? try Row.fetchAll(db, sql: "SELECT * FROM stamps ORDER BY stamped_at")
                : try Row.fetchAll(db, sql: "SELECT * FROM stamps WHERE seal_id = ? ORDER BY stamped_at", arguments: [sealID])
            return rows.map { r in
                StampEntry(documentID: r["document_id"], sealID: r["seal_id"], custodians: (r["custodians"] as String).components(separatedBy: "、"),
                           stampedAt: Date(timeIntervalSince1970: r["stamped_at"]))
            }
        }
    }
}
