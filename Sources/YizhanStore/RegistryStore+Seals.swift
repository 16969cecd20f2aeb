import Foundation
import GRDB
import YizhanCore

/// Seals (电子印章) as the policy keeps them: applied for with a reason and the unit head's name,
/// approved by the leadership group, made before three witnesses (the key is generated on the
/// unit's gateway host; only the certificate is issued here), in use, then retired and destroyed
/// before witnesses. Every step is in the audit chain. Verification codes of certified prints too.
extension RegistryStore {
    public typealias Witnesses = RegistryAPI.Witnesses

    public struct SealRecord: Codable, Sendable, Equatable {
        public var id: String
        public var unit: String
        public var state: String
        public var reason: String
        public var head: String
        public var algorithm: String
        public var imageMediaType: String
        public var imageSha256: String
        public var replaces: String?
        public var appliedBy: String
        public var appliedAt: Date
        public var decidedBy: String?
        public var decidedAt: Date?
        public var decisionReason: String?
        public var certificateSerial: String?
        public var madeAt: Date?
        public var madeWitnesses: Witnesses?
        public var remakeRequired: String?
        public var revokedAt: Date?
        public var revocationReason: String?
        public var destroyedAt: Date?
        public var destroyWitnesses: Witnesses?
        public var destroyReason: String?
        public var keyWipedAt: Date?
    }

    public static let sealReasons: Set<String> = ["new", "renamed", "merged", "damaged"]

    static func sealRecord(_ r: Row) throws -> SealRecord {
        func witnesses(_ s: String?) throws -> Witnesses? { try s.map { try JSONValue.parse($0).decode(Witnesses.self) } }
        func date(_ v: Double?) -> Date? { v.map { Date(timeIntervalSince1970: $0) } }
        return SealRecord(id: r["id"], unit: r["unit"], state: r["state"], reason: r["reason"], head: r["head"], algorithm: r["algorithm"],
                          imageMediaType: r["image_media_type"], imageSha256: r["image_sha256"], replaces: r["replaces"],
                          appliedBy: r["applied_by"], appliedAt: Date(timeIntervalSince1970: r["applied_at"]), decidedBy: r["decided_by"],
                          decidedAt: date(r["decided_at"]), decisionReason: r["decision_reason"], certificateSerial: r["cert_serial"],
                          madeAt: date(r["made_at"]), madeWitnesses: try witnesses(r["made_witnesses"]), remakeRequired: r["remake_required"],
                          revokedAt: date(r["revoked_at"]), revocationReason: r["revocation_reason"], destroyedAt: date(r["destroyed_at"]),
                          destroyWitnesses: try witnesses(r["destroy_witnesses"]), destroyReason: r["destroy_reason"], keyWipedAt: date(r["key_wiped_at"]))
    }

    public func seal(id: String) throws -> SealRecord? {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM seals WHERE id = ?", arguments: [id]).map(Self.sealRecord) }
    }

    public func seal(serial: String) throws -> SealRecord? {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM seals WHERE cert_serial = ?", arguments: [serial]).map(Self.sealRecord) }
    }

    public func seals(unit: String? = nil) throws -> [SealRecord] {
        try writer.read { db in
            let rows = unit == nil ? try Row.fetchAll(db, sql: "SELECT * FROM seals ORDER BY applied_at")
                : try Row.fetchAll(db, sql: "SELECT * FROM seals WHERE unit = ? ORDER BY applied_at", arguments: [unit])
            return try rows.map(Self.sealRecord)
        }
    }

    public func sealImage(id: String) throws -> (mediaType: String, bytes: [UInt8])? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT image_media_type, image FROM seals WHERE id = ?", arguments: [id]).map { ($0["image_media_type"], Array(($0["image"] as Data?) ?? Data())) }
        }
    }

    public func sealCertificate(id: String) throws -> [UInt8]? {
        try writer.read { db in try (Data.fetchOne(db, sql: "SELECT cert_der FROM seals WHERE id = ?", arguments: [id])).map { Array($0) } }
    }

    public struct SealApplication: Sendable {
        public var unit: String, reason: String, head: String, algorithm: String
        public var image: [UInt8], imageMediaType: String, imageSha256: String
        public var replaces: String?
        public init(unit: String, reason: String, head: String, algorithm: String, image: [UInt8], imageMediaType: String, imageSha256: String, replaces: String?) {
            self.unit = unit; self.reason = reason; self.head = head; self.algorithm = algorithm
            self.image = image; self.imageMediaType = imageMediaType; self.imageSha256 = imageSha256; self.replaces = replaces
        }
    }

    public func applySeal(_ a: SealApplication, by actor: String, now: Date = Date()) throws -> SealRecord {
        let id = UUIDv7.make(at: now)
        try writer.write { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM units WHERE code = ?", arguments: [a.unit]) else {
                throw YizhanError(.notFound, "no unit \(a.unit)")
            }
            guard status == "active" else { throw YizhanError(.conflict, "unit \(a.unit) is \(status); it cannot apply for a seal") }
            if let r = a.replaces {
                guard let old = try Row.fetchOne(db, sql: "SELECT unit, state FROM seals WHERE id = ?", arguments: [r]) else { throw YizhanError(.notFound, "no seal \(r) to replace") }
                guard (old["unit"] as String) == a.unit else { throw YizhanError(.forbidden, "seal \(r) belongs to another unit") }
                guard (old["state"] as String) == "in-use" else { throw YizhanError(.conflict, "seal \(r) is \(old["state"] as String), not in use") }
            }
            let open = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM seals WHERE unit = ? AND state IN ('applied','approved')", arguments: [a.unit]) ?? 0
            guard open == 0 else { throw YizhanError(.conflict, "unit \(a.unit) already has a seal application open") }
            try db.execute(sql: """
                INSERT INTO seals (id, unit, state, reason, head, algorithm, image, image_media_type, image_sha256, replaces, applied_by, applied_at)
                VALUES (?, ?, 'applied', ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, a.unit, a.reason, a.head, a.algorithm, Data(a.image), a.imageMediaType, a.imageSha256, a.replaces, actor, now.storeTime])
            try audit(db, actor: actor, action: "seal.applied", subject: a.unit,
                      detail: "seal \(id); reason \(a.reason); head \(a.head); \(a.algorithm); image sha256 \(a.imageSha256)\(a.replaces.map { "; replaces \($0)" } ?? "")", now: now)
        }
        guard let r = try seal(id: id) else { throw YizhanError(.notFound, "seal \(id) vanished") }
        return r
    }

    public func decideSeal(id: String, approve: Bool, by actor: String, reason: String?, now: Date = Date()) throws -> SealRecord {
        try writer.write { db in
            guard let state = try String.fetchOne(db, sql: "SELECT state FROM seals WHERE id = ?", arguments: [id]) else { throw YizhanError(.notFound, "no seal \(id)") }
            guard state == "applied" else { throw YizhanError(.conflict, "seal \(id) is \(state); only an open application is decided") }
            if !approve, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty { throw YizhanError(.invalidArgument, "a rejection needs a reason") }
            try db.execute(sql: "UPDATE seals SET state = ?, decided_by = ?, decided_at = ?, decision_reason = ? WHERE id = ?",
                           arguments: [approve ? "approved" : "rejected", actor, now.storeTime, reason, id])
            try audit(db, actor: actor, action: approve ? "seal.approved" : "seal.rejected", subject: id, detail: reason, now: now)
        }
        guard let r = try seal(id: id) else { throw YizhanError(.notFound, "no seal \(id)") }
        return r
    }

    /// Approved → in use, with the certificate and the witnesses. A seal it replaces is retired
    /// (its certificate revoked as superseded) in the same transaction.
    public func makeSeal(id: String, unit: String, serial: String, der: [UInt8], witnesses: Witnesses, by actor: String, now: Date = Date()) throws -> SealRecord {
        try writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT unit, state, replaces FROM seals WHERE id = ?", arguments: [id]) else { throw YizhanError(.notFound, "no seal \(id)") }
            guard (row["unit"] as String) == unit else { throw YizhanError(.forbidden, "seal \(id) belongs to another unit") }
            let state: String = row["state"]
            guard state == "approved" else { throw YizhanError(.conflict, "seal \(id) is \(state); only an approved seal is made") }
            try db.execute(sql: "UPDATE seals SET state = 'in-use', cert_serial = ?, cert_der = ?, made_at = ?, made_witnesses = ? WHERE id = ?",
                           arguments: [serial, Data(der), now.storeTime, try JSONValue.from(witnesses).canonicalString(), id])
            try audit(db, actor: actor, action: "seal.made", subject: id,
                      detail: "certificate \(serial); witnesses 领导小组 \(witnesses.leadership), 信息中心 \(witnesses.centre), 单位 \(witnesses.unit)", now: now)
            if let old: String = row["replaces"] {
                try db.execute(sql: "UPDATE seals SET state = 'retiring', revoked_at = ?, revocation_reason = 'superseded' WHERE id = ? AND state = 'in-use'",
                               arguments: [now.storeTime, old])
                if db.changesCount == 1 { try audit(db, actor: "registry", action: "seal.retired", subject: old, detail: "superseded by \(id); awaiting witnessed destruction", now: now) }
            }
        }
        guard let r = try seal(id: id) else { throw YizhanError(.notFound, "no seal \(id)") }
        return r
    }

    /// In use or retiring → destroyed, before witnesses; a seal still in use is revoked now.
    public func destroySeal(id: String, witnesses: Witnesses, reason: String, by actor: String, now: Date = Date()) throws -> SealRecord {
        try writer.write { db in
            guard let state = try String.fetchOne(db, sql: "SELECT state FROM seals WHERE id = ?", arguments: [id]) else { throw YizhanError(.notFound, "no seal \(id)") }
            guard ["in-use", "retiring"].contains(state) else { throw YizhanError(.conflict, "seal \(id) is \(state); only a seal in use or retiring is destroyed") }
            // One statement: the schema refuses a seal in use with a revocation, even for a moment.
            try db.execute(sql: """
                UPDATE seals SET state = 'destroyed', destroyed_at = ?, destroy_witnesses = ?, destroy_reason = ?,
                    revoked_at = COALESCE(revoked_at, ?), revocation_reason = COALESCE(revocation_reason, 'destroyed')
                WHERE id = ?
                """, arguments: [now.storeTime, try JSONValue.from(witnesses).canonicalString(), reason, now.storeTime, id])
            try audit(db, actor: actor, action: "seal.destroyed", subject: id,
                      detail: "\(reason); witnesses 领导小组 \(witnesses.leadership), 信息中心 \(witnesses.centre), 单位 \(witnesses.unit)", now: now)
        }
        guard let r = try seal(id: id) else { throw YizhanError(.notFound, "no seal \(id)") }
        return r
    }

    /// The unit's gateway reports that it wiped the seal's key material.
    public func sealKeyWiped(id: String, unit: String, now: Date = Date()) throws -> SealRecord {
        try writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT unit, revoked_at, key_wiped_at FROM seals WHERE id = ?", arguments: [id]) else { throw YizhanError(.notFound, "no seal \(id)") }
            guard (row["unit"] as String) == unit else { throw YizhanError(.forbidden, "seal \(id) belongs to another unit") }
            guard (row["revoked_at"] as Double?) != nil else { throw YizhanError(.conflict, "seal \(id) is not revoked; its key is kept") }
            guard (row["key_wiped_at"] as Double?) == nil else { return }
            try db.execute(sql: "UPDATE seals SET key_wiped_at = ? WHERE id = ?", arguments: [now.storeTime, id])
            try audit(db, actor: "unit:\(unit)", action: "seal.key-wiped", subject: id, detail: nil, now: now)
        }
        guard let r = try seal(id: id) else { throw YizhanError(.notFound, "no seal \(id)") }
        return r
    }

    /// Inside a rename or retirement transaction: a renamed unit's seals must be remade; a retired
    /// unit's seals are revoked at once and wait for witnessed destruction.
    static func sealsFollowRename(_ db: Database, code: String, now: Date, audit: (String, String) throws -> Void) throws {
        for id in try String.fetchAll(db, sql: "SELECT id FROM seals WHERE unit = ? AND state = 'in-use'", arguments: [code]) {
            try db.execute(sql: "UPDATE seals SET remake_required = 'renamed' WHERE id = ?", arguments: [id])
            try audit(id, "seal.remake-required")
        }
    }

    static func sealsFollowRetirement(_ db: Database, code: String, status: String, at: Date, audit: (String, String) throws -> Void) throws {
        for id in try String.fetchAll(db, sql: "SELECT id FROM seals WHERE unit = ? AND state = 'in-use'", arguments: [code]) {
            try db.execute(sql: "UPDATE seals SET state = 'retiring', revoked_at = ?, revocation_reason = ? WHERE id = ?", arguments: [at.storeTime, status, id])
            try audit(id, "seal.retired")
        }
        try db.execute(sql: "UPDATE seals SET state = 'rejected', decision_reason = ? WHERE unit = ? AND state IN ('applied','approved')",
                       arguments: ["the unit was \(status)", code])
    }

    /// Revoked seal certificates, for the directory's revocation list.
    static func revokedSealCertificates(_ db: Database) throws -> [CertificateRecord] {
        try Row.fetchAll(db, sql: "SELECT unit, cert_serial, cert_der, revoked_at, revocation_reason FROM seals WHERE revoked_at IS NOT NULL AND cert_serial IS NOT NULL").map { r in
            CertificateRecord(serial: r["cert_serial"], code: r["unit"], fingerprint: "", der: Array((r["cert_der"] as Data?) ?? Data()),
                              notBefore: .distantPast, notAfter: .distantFuture,
                              revokedAt: (r["revoked_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, revocationReason: r["revocation_reason"])
        }
    }

    // MARK: certified prints

    public struct PrintRecord: Codable, Sendable, Equatable {
        public var code: String
        public var sealID: String
        public var unit: String
        public var unitName: String
        public var documentID: String
        public var title: String
        public var number: String?
        public var payloadSha256: String
        public var stampedAt: Date
        public var printedAt: Date
        public var printedBy: String
        public init(code: String, sealID: String, unit: String, unitName: String, documentID: String, title: String, number: String?,
                    payloadSha256: String, stampedAt: Date, printedAt: Date, printedBy: String) {
            self.code = code; self.sealID = sealID; self.unit = unit; self.unitName = unitName; self.documentID = documentID; self.title = title
            self.number = number; self.payloadSha256 = payloadSha256; self.stampedAt = stampedAt; self.printedAt = printedAt; self.printedBy = printedBy
        }
    }

    public func addPrint(_ p: PrintRecord) throws {
        try writer.write { db in
            try db.execute(sql: """
                INSERT INTO prints (code, seal_id, unit, unit_name, document_id, title, number, payload_sha256, stamped_at, printed_at, printed_by)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [p.code, p.sealID, p.unit, p.unitName, p.documentID, p.title, p.number, p.payloadSha256, p.stampedAt.storeTime,
                                 p.printedAt.storeTime, p.printedBy])
            try audit(db, actor: p.printedBy, action: "print.certified", subject: p.code, detail: "document \(p.documentID) stamped with seal \(p.sealID)", now: p.printedAt)
        }
    }

    public func print(code: String) throws -> PrintRecord? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM prints WHERE code = ?", arguments: [code]).map { r in
                PrintRecord(code: r["code"], sealID: r["seal_id"], unit: r["unit"], unitName: r["unit_name"], documentID: r["document_id"], title: r["title"],
                            number: r["number"], payloadSha256: r["payload_sha256"], stampedAt: Date(timeIntervalSince1970: r["stamped_at"]),
                            printedAt: Date(timeIntervalSince1970: r["printed_at"]), printedBy: r["printed_by"])
            }
        }
    }
}
