import Foundation
import GRDB
import YizhanCore

/// The registry's SQLite store: units and their names, enrolment tokens, certificates,
/// administrator tokens (scrypt hashes only), directory versions and the audit log.
public struct RegistryStore: Sendable {
    public let writer: any DatabaseWriter
    /// SHA-256 (hex) for the audit chain; injected so the store needs no crypto library.
    let digest: @Sendable ([UInt8]) -> String

    public init(path: String, digest: @escaping @Sendable ([UInt8]) -> String) throws {
        writer = try DatabaseOpener.open(path: path, migrator: Self.migrator)
        self.digest = digest
    }

    public struct Unit: Sendable, Codable, Equatable {
        public var code: String
        public var name: String
        public var status: String
        public var successor: String?
        public var brokerUser: String
        public var createdAt: Date
        public var enrolledAt: Date?
        public var formerNames: [String]
        public var parent: String?
        public var contact: String?
        public var head: String?
        public var rosterState: String
    }

    public struct CertificateRecord: Sendable, Codable {
        public var serial: String
        public var code: String
        public var fingerprint: String
        public var der: [UInt8]
        public var notBefore: Date
        public var notAfter: Date
        public var revokedAt: Date?
        public var revocationReason: String?
        public init(serial: String, code: String, fingerprint: String, der: [UInt8], notBefore: Date, notAfter: Date, revokedAt: Date? = nil, revocationReason: String? = nil) {
            self.serial = serial; self.code = code; self.fingerprint = fingerprint; self.der = der
            self.notBefore = notBefore; self.notAfter = notAfter; self.revokedAt = revokedAt; self.revocationReason = revocationReason
        }
    }

    public func addAdminToken(id: String, label: String, secretHash: String, now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "INSERT INTO admin_tokens (id, label, secret_hash, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [id, label, secretHash, now.storeTime])
            try audit(db, actor: "registry init", action: "admin-token.created", subject: id, detail: label, now: now)
        }
    }

    public func adminToken(id: String) throws -> (label: String, secretHash: String)? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT label, secret_hash FROM admin_tokens WHERE id = ?", arguments: [id]).map { ($0["label"], $0["secret_hash"]) }
        }
    }

    /// Loads many active units with their certificates in one transaction (benchmarks, bulk imports).
    public func bulkLoad(units: [(code: String, name: String, brokerUser: String)], certificates: [CertificateRecord], actor: String, now: Date = Date()) throws {
        try writer.write { db in
            for u in units {
                try db.execute(sql: "INSERT INTO units (code, name, status, broker_user, created_at, enrolled_at) VALUES (?, ?, 'active', ?, ?, ?)",
                               arguments: [u.code, u.name, u.brokerUser, now.storeTime, now.storeTime])
                try db.execute(sql: "INSERT INTO unit_names (code, name, valid_from) VALUES (?, ?, ?)", arguments: [u.code, u.name, now.storeTime])
            }
            for c in certificates { try Self.insertCertificate(db, c, now: now) }
            try audit(db, actor: actor, action: "units.bulk-loaded", subject: nil, detail: "\(units.count) unit(s), \(certificates.count) certificate(s)", now: now)
        }
    }

    public func units() throws -> [Unit] {
        try writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM units ORDER BY code").map { try unit(db, $0) } }
    }

    public func unit(code: String) throws -> Unit? {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM units WHERE code = ?", arguments: [code]).map { try unit(db, $0) } }
    }

    func unit(_ db: Database, _ r: Row, formerNames: [String]? = nil) throws -> Unit {
        let code: String = r["code"]
        let former = try formerNames ?? String.fetchAll(db, sql: "SELECT name FROM unit_names WHERE code = ? AND valid_to IS NOT NULL ORDER BY valid_from", arguments: [code])
        return Unit(code: code, name: r["name"], status: r["status"], successor: r["successor"], brokerUser: r["broker_user"],
                    createdAt: Date(timeIntervalSince1970: r["created_at"]), enrolledAt: (r["enrolled_at"] as Double?).map { Date(timeIntervalSince1970: $0) },
                    formerNames: former, parent: r["parent"], contact: r["contact"], head: r["head"], rosterState: r["roster_state"])
    }

    /// The unit a still-valid, unused enrolment token belongs to.
    public func enrolmentUnit(tokenSha256: String, now: Date = Date()) throws -> String? {
        try writer.read { db in
            try String.fetchOne(db, sql: "SELECT code FROM enrolment_tokens WHERE token_sha256 = ? AND used_at IS NULL AND expires_at > ?",
                                arguments: [tokenSha256, now.storeTime])
        }
    }

    /// Burns the token and records the certificate, atomically; fails if the token was used meanwhile.
    public func completeEnrolment(tokenSha256: String, certificate: CertificateRecord, now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE enrolment_tokens SET used_at = ? WHERE token_sha256 = ? AND used_at IS NULL AND expires_at > ?",
                           arguments: [now.storeTime, tokenSha256, now.storeTime])
            guard db.changesCount == 1 else { throw YizhanError(.unauthorized, "enrolment token is unknown, used or expired") }
            try Self.insertCertificate(db, certificate, now: now)
            try db.execute(sql: "UPDATE units SET enrolled_at = ? WHERE code = ?", arguments: [now.storeTime, certificate.code])
            try audit(db, actor: "unit \(certificate.code)", action: "unit.enrolled", subject: certificate.code, detail: "certificate \(certificate.serial)", now: now)
        }
    }

    static func insertCertificate(_ db: Database, _ c: CertificateRecord, now: Date) throws {
        try db.execute(sql: "INSERT INTO certificates (serial, code, fingerprint, der, not_before, not_after, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       arguments: [c.serial, c.code, c.fingerprint, Data(c.der), c.notBefore.storeTime, c.notAfter.storeTime, now.storeTime])
    }

    public func certificates(code: String? = nil) throws -> [CertificateRecord] {
        try writer.read { db in
            let rows = code == nil
                ? try Row.fetchAll(db, sql: "SELECT * FROM certificates ORDER BY issued_at")
                : try Row.fetchAll(db, sql: "SELECT * FROM certificates WHERE code = ? ORDER BY issued_at", arguments: [code])
            return rows.map(Self.certificate)
        }
    }

    static func certificate(_ r: Row) -> CertificateRecord {
        CertificateRecord(serial: r["serial"], code: r["code"], fingerprint: r["fingerprint"], der: Array((r["der"] as Data?) ?? Data()),
                          notBefore: Date(timeIntervalSince1970: r["not_before"]), notAfter: Date(timeIntervalSince1970: r["not_after"]),
                          revokedAt: (r["revoked_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, revocationReason: r["revocation_reason"])
    }

    public func revokeCertificate(serial: String, reason: String, actor: String, now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ? AND revoked_at IS NULL",
                           arguments: [now.storeTime, reason, serial])
            if db.changesCount == 0 {
                // A seal's certificate (key compromise): revoked, and the seal waits for witnessed destruction.
                try db.execute(sql: "UPDATE seals SET revoked_at = ?, revocation_reason = ?, state = 'retiring' WHERE cert_serial = ? AND state = 'in-use'",
                               arguments: [now.storeTime, reason, serial])
            }
            guard db.changesCount == 1 else { throw YizhanError(.notFound, "no unrevoked certificate with serial \(serial)") }
            try audit(db, actor: actor, action: "certificate.revoked", subject: serial, detail: reason, now: now)
        }
    }

    public func latestDirectory() throws -> (version: Int, signed: [UInt8])? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT version, signed FROM directory ORDER BY version DESC LIMIT 1").map { ($0["version"], Array(($0["signed"] as Data?) ?? Data())) }
        }
    }

    /// Stores directory version N+1 built by `build` from the current state, in one transaction.
    public func publishDirectory(now: Date = Date(), build: (Int, [Unit], [CertificateRecord]) throws -> [UInt8]) throws -> Int {
        try writer.write { db in
            let version = (try Int.fetchOne(db, sql: "SELECT MAX(version) FROM directory") ?? 0) + 1
            // Former names in one query, not one per unit: the directory must build fast at 10,000 units.
            var former: [String: [String]] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT code, name FROM unit_names WHERE valid_to IS NOT NULL ORDER BY valid_from") {
                former[r["code"], default: []].append(r["name"])
            }
            let units = try Row.fetchAll(db, sql: "SELECT * FROM units ORDER BY code").map { try unit(db, $0, formerNames: former[$0["code"]] ?? []) }
            // Unit certificates, then revoked seal certificates (for the revocation list only).
            let certs = try Row.fetchAll(db, sql: "SELECT * FROM certificates ORDER BY issued_at").map(Self.certificate) + Self.revokedSealCertificates(db)
            let signed = try build(version, units, certs)
            try db.execute(sql: "INSERT INTO directory (version, issued_at, signed) VALUES (?, ?, ?)", arguments: [version, now.storeTime, Data(signed)])
            return version
        }
    }

    public struct AuditEntry: Sendable, Codable {
        public var at: Date
        public var actor: String
        public var action: String
        public var subject: String?
        public var detail: String?
    }

    public func auditLog() throws -> [AuditEntry] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit_log ORDER BY id").map {
                AuditEntry(at: Date(timeIntervalSince1970: $0["at"]), actor: $0["actor"], action: $0["action"], subject: $0["subject"], detail: $0["detail"])
            }
        }
    }

    public func audit(actor: String, action: String, subject: String?, detail: String?, now: Date = Date()) throws {
        try writer.write { db in try audit(db, actor: actor, action: action, subject: subject, detail: detail, now: now) }
    }

    /// Appends to the hash-chained audit log: each entry's hash covers its fields and the
    /// previous entry's hash, so a changed, removed or reordered row breaks the chain.
    func audit(_ db: Database, actor: String, action: String, subject: String?, detail: String?, now: Date) throws {
        let prev = try String.fetchOne(db, sql: "SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1") ?? ""
        let id = (try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM audit_log") ?? 0) + 1
        let at = now.storeTime
        let hash = digest(Self.auditBytes(id: id, at: at, actor: actor, action: action, subject: subject, detail: detail, prev: prev))
        try db.execute(sql: "INSERT INTO audit_log (id, at, actor, action, subject, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       arguments: [id, at, actor, action, subject, detail, prev, hash])
    }

    static func auditBytes(id: Int64, at: Double, actor: String, action: String, subject: String?, detail: String?, prev: String) -> [UInt8] {
        JSONValue.object([
            "id": .number(Double(id)), "at": .number(at), "actor": .string(actor), "action": .string(action),
            "subject": subject.map(JSONValue.string) ?? .null, "detail": detail.map(JSONValue.string) ?? .null, "prev": .string(prev),
        ]).canonicalBytes()
    }
}
