import Foundation
import GRDB
import YizhanCore

/// Lifecycle requests (apply, rename, merge, deregister): requested, then approved or rejected,
/// cancellable until applied; applied in one transaction each, with the audit entry.
extension RegistryStore {
    public struct Request: Sendable, Codable, Equatable {
        public var id: String
        public var kind: String
        public var subject: String
        public var payload: JSONValue
        public var state: String
        public var requestedBy: String
        public var requestedAt: Date
        public var effectiveAt: Date?
        public var decidedBy: String?
        public var decidedAt: Date?
        public var reason: String?
        public var appliedAt: Date?
    }

    static func request(_ r: Row) throws -> Request {
        Request(id: r["id"], kind: r["kind"], subject: r["subject"], payload: try JSONValue.parse(r["payload"] as String),
                state: r["state"], requestedBy: r["requested_by"], requestedAt: Date(timeIntervalSince1970: r["requested_at"]),
                effectiveAt: (r["effective_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, decidedBy: r["decided_by"],
                decidedAt: (r["decided_at"] as Double?).map { Date(timeIntervalSince1970: $0) }, reason: r["reason"],
                appliedAt: (r["applied_at"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }

    public func createRequest(kind: String, subject: String, payload: JSONValue, by actor: String, effectiveAt: Date?,
                              applicantSecretSha256: String? = nil, why: String?, now: Date = Date()) throws -> Request {
        let id = UUIDv7.make(at: now)
        try writer.write { db in
            try db.execute(sql: """
                INSERT INTO requests (id, kind, subject, payload, state, requested_by, requested_at, effective_at, applicant_secret_sha256)
                VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)
                """, arguments: [id, kind, subject, payload.canonicalString(), actor, now.storeTime, effectiveAt?.storeTime, applicantSecretSha256])
            try audit(db, actor: actor, action: "\(kind).requested", subject: subject, detail: "request \(id)\(why.map { ": \($0)" } ?? "")", now: now)
        }
        guard let r = try request(id: id) else { throw YizhanError(.notFound, "request \(id) vanished") }
        return r
    }

    public func request(id: String) throws -> Request? {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE id = ?", arguments: [id]).map(Self.request) }
    }

    public func requests(state: String? = nil) throws -> [Request] {
        try writer.read { db in
            let rows = state == nil ? try Row.fetchAll(db, sql: "SELECT * FROM requests ORDER BY requested_at")
                : try Row.fetchAll(db, sql: "SELECT * FROM requests WHERE state = ? ORDER BY requested_at", arguments: [state])
            return try rows.map(Self.request)
        }
    }

    public func applicantSecretSha256(requestID: String) throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT applicant_secret_sha256 FROM requests WHERE id = ?", arguments: [requestID]) }
    }

    /// Pending → approved or rejected. Anything else is a clear error and changes nothing.
    public func decide(id: String, approve: Bool, by actor: String, reason: String?, now: Date = Date()) throws -> Request {
        try writer.write { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE id = ?", arguments: [id]).map(Self.request) else {
                throw YizhanError(.notFound, "no request \(id)")
            }
            guard r.state == "pending" else {
                throw YizhanError(.conflict, "request \(id) is \(r.state); only a pending request can be \(approve ? "approved" : "rejected")")
            }
            if !approve && (reason ?? "").isEmpty { throw YizhanError(.invalidArgument, "a rejection needs a reason") }
            try db.execute(sql: "UPDATE requests SET state = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ?",
                           arguments: [approve ? "approved" : "rejected", actor, now.storeTime, reason, id])
            try audit(db, actor: actor, action: "\(r.kind).\(approve ? "approved" : "rejected")", subject: r.subject,
                      detail: "request \(id)\(reason.map { ": \($0)" } ?? "")", now: now)
            return try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE id = ?", arguments: [id]).map(Self.request) ?? r
        }
    }

    /// Pending or approved-but-not-yet-effective → cancelled.
    public func cancel(id: String, by actor: String, reason: String?, now: Date = Date()) throws {
        try writer.write { db in
            guard let r = try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE id = ?", arguments: [id]).map(Self.request) else {
                throw YizhanError(.notFound, "no request \(id)")
            }
            guard r.state == "pending" || r.state == "approved" else {
                throw YizhanError(.conflict, "request \(id) is \(r.state) and can no longer be cancelled")
            }
            try db.execute(sql: "UPDATE requests SET state = 'cancelled', reason = COALESCE(?, reason) WHERE id = ?", arguments: [reason, id])
            try audit(db, actor: actor, action: "\(r.kind).cancelled", subject: r.subject, detail: "request \(id)\(reason.map { ": \($0)" } ?? "")", now: now)
        }
    }

    /// Approved requests whose effective time has come.
    public func dueRequests(now: Date = Date()) throws -> [Request] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM requests WHERE state = 'approved' AND COALESCE(effective_at, 0) <= ? ORDER BY decided_at",
                             arguments: [now.storeTime]).map(Self.request)
        }
    }

    /// Marks a request applied inside the caller's transaction; fails if it was cancelled meanwhile.
    func markApplied(_ db: Database, _ r: Request, actor: String, detail: String, now: Date) throws {
        try db.execute(sql: "UPDATE requests SET state = 'applied', applied_at = ? WHERE id = ? AND state = 'approved'", arguments: [now.storeTime, r.id])
        guard db.changesCount == 1 else { throw YizhanError(.conflict, "request \(r.id) is no longer approved") }
        try audit(db, actor: actor, action: "\(r.kind).applied", subject: r.subject, detail: detail, now: now)
    }

    // MARK: applying

    /// Admits an approved applicant with its one-time enrolment token, stored as SHA-256 only
    /// (192 random bits: a slow hash adds nothing for a secret that cannot be guessed).
    public func applyApplication(_ r: Request, _ a: RegistryAPI.Apply, brokerUser: String, tokenSha256: String, tokenExpires: Date, now: Date = Date()) throws {
        try writer.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM units WHERE code = ?", arguments: [a.code]) != nil {
                throw YizhanError(.conflict, "unit \(a.code) is already registered")
            }
            try db.execute(sql: "INSERT INTO units (code, name, status, broker_user, created_at, parent, contact, head) VALUES (?, ?, 'active', ?, ?, ?, ?, ?)",
                           arguments: [a.code, a.name, brokerUser, now.storeTime, a.parent, a.contact, a.head])
            try db.execute(sql: "INSERT INTO unit_names (code, name, valid_from) VALUES (?, ?, ?)", arguments: [a.code, a.name, now.storeTime])
            try db.execute(sql: "INSERT INTO enrolment_tokens (token_sha256, code, created_at, expires_at) VALUES (?, ?, ?, ?)",
                           arguments: [tokenSha256, a.code, now.storeTime, tokenExpires.storeTime])
            try markApplied(db, r, actor: "registry", detail: "unit \(a.code) \(a.name) admitted and provisioned", now: now)
        }
    }

    /// The name changes at `at`; certificates with the old name are replaced by `reissued` and
    /// revoked from `at`; the roster must be confirmed again.
    public func applyRename(_ r: Request, code: String, name: String, at: Date, reissued: [CertificateRecord], now: Date = Date()) throws {
        try writer.write { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM units WHERE code = ?", arguments: [code]) else { throw YizhanError(.notFound, "no unit \(code)") }
            guard status == "active" else { throw YizhanError(.conflict, "unit \(code) is \(status)") }
            let old = try String.fetchAll(db, sql: "SELECT serial FROM certificates WHERE code = ? AND revoked_at IS NULL", arguments: [code])
            try db.execute(sql: "UPDATE unit_names SET valid_to = ? WHERE code = ? AND valid_to IS NULL", arguments: [at.storeTime, code])
            try db.execute(sql: "INSERT INTO unit_names (code, name, valid_from) VALUES (?, ?, ?)", arguments: [code, name, at.storeTime])
            try db.execute(sql: "UPDATE units SET name = ?, roster_state = 'needs-reconfirmation' WHERE code = ?", arguments: [name, code])
            for s in old {
                try db.execute(sql: "UPDATE certificates SET revoked_at = ?, revocation_reason = 'superseded' WHERE serial = ?", arguments: [at.storeTime, s])
            }
            for c in reissued { try Self.insertCertificate(db, c, now: now) }
            try Self.sealsFollowRename(db, code: code, now: now) { id, action in
                try audit(db, actor: "registry", action: action, subject: id, detail: "unit \(code) renamed to \(name); apply for a new seal (reason renamed) to replace it", now: now)
            }
            try markApplied(db, r, actor: "registry", detail: "renamed to \(name); certificates \(old.joined(separator: ",")) superseded", now: now)
        }
    }

    /// `codes` leave the active set at `at`: merged into, or deregistered with transfer to, `successor`.
    public func applyRetirement(_ r: Request, codes: [String], status: String, successor: String, at: Date, now: Date = Date()) throws {
        try writer.write { db in
            for code in codes {
                guard let s = try String.fetchOne(db, sql: "SELECT status FROM units WHERE code = ?", arguments: [code]) else { throw YizhanError(.notFound, "no unit \(code)") }
                guard s == "active" else { throw YizhanError(.conflict, "unit \(code) is already \(s)") }
                try db.execute(sql: "UPDATE units SET status = ?, successor = ?, roster_state = 'revoked' WHERE code = ?", arguments: [status, successor, code])
                try db.execute(sql: "UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE code = ? AND revoked_at IS NULL",
                               arguments: [at.storeTime, status, code])
                try db.execute(sql: "UPDATE roster SET active = 0 WHERE code = ?", arguments: [code])
                try db.execute(sql: "UPDATE unit_tokens SET revoked_at = ? WHERE code = ? AND revoked_at IS NULL", arguments: [now.storeTime, code])
                try db.execute(sql: "UPDATE unit_names SET valid_to = ? WHERE code = ? AND valid_to IS NULL", arguments: [at.storeTime, code])
                try Self.sealsFollowRetirement(db, code: code, status: status, at: at) { id, action in
                    try audit(db, actor: "registry", action: action, subject: id, detail: "unit \(code) \(status); certificate revoked, awaiting witnessed destruction", now: now)
                }
            }
            try markApplied(db, r, actor: "registry", detail: "\(codes.joined(separator: ",")) \(status); successor \(successor)", now: now)
        }
    }

    // MARK: unit credentials and rosters

    public func addUnitToken(id: String, code: String, secretHash: String, now: Date = Date()) throws {
        try writer.write { db in
            try db.execute(sql: "INSERT INTO unit_tokens (id, code, secret_hash, created_at) VALUES (?, ?, ?, ?)", arguments: [id, code, secretHash, now.storeTime])
        }
    }

    public func unitToken(id: String) throws -> (code: String, secretHash: String)? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT code, secret_hash FROM unit_tokens WHERE id = ? AND revoked_at IS NULL", arguments: [id]).map { ($0["code"], $0["secret_hash"]) }
        }
    }

    public struct RosterEntry: Sendable, Codable, Equatable {
        public var account: String
        public var name: String
        public var role: String
        public var active: Bool
        public init(account: String, name: String, role: String, active: Bool = true) {
            self.account = account; self.name = name; self.role = role; self.active = active
        }
    }

    /// Replaces a unit's filed roster; filing it is also its confirmation.
    public func fileRoster(code: String, entries: [RosterEntry], by actor: String, now: Date = Date()) throws {
        try writer.write { db in
            guard let s = try String.fetchOne(db, sql: "SELECT status FROM units WHERE code = ?", arguments: [code]) else { throw YizhanError(.notFound, "no unit \(code)") }
            guard s == "active" else { throw YizhanError(.conflict, "unit \(code) is \(s)") }
            guard Set(entries.map(\.account)).count == entries.count else { throw YizhanError(.invalidArgument, "one person, one account: an account is listed twice") }
            try db.execute(sql: "DELETE FROM roster WHERE code = ?", arguments: [code])
            for e in entries {
                try db.execute(sql: "INSERT INTO roster (code, account, name, role, active, filed_at) VALUES (?, ?, ?, ?, ?, ?)",
                               arguments: [code, e.account, e.name, e.role, e.active, now.storeTime])
            }
            try db.execute(sql: "UPDATE units SET roster_state = 'confirmed' WHERE code = ?", arguments: [code])
            try audit(db, actor: actor, action: "roster.filed", subject: code, detail: "\(entries.count) account(s)", now: now)
        }
    }

    public func roster(code: String) throws -> [RosterEntry] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM roster WHERE code = ? ORDER BY account", arguments: [code]).map {
                RosterEntry(account: $0["account"], name: $0["name"], role: $0["role"], active: $0["active"])
            }
        }
    }

    public struct NamePeriod: Sendable, Codable, Equatable {
        public var code: String
        public var name: String
        public var from: Date
        public var to: Date?
    }

    /// Units whose current or former name contains `text`, with every name period that matched.
    public func searchNames(_ text: String) throws -> [NamePeriod] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM unit_names WHERE instr(name, ?) > 0 ORDER BY code, valid_from", arguments: [text]).map(Self.namePeriod)
        }
    }

    public func names(code: String) throws -> [NamePeriod] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM unit_names WHERE code = ? ORDER BY valid_from", arguments: [code]).map(Self.namePeriod)
        }
    }

    static func namePeriod(_ r: Row) -> NamePeriod {
        NamePeriod(code: r["code"], name: r["name"], from: Date(timeIntervalSince1970: r["valid_from"]),
                   to: (r["valid_to"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }

    // MARK: audit chain

    public struct AuditProblem: Sendable, Equatable, CustomStringConvertible {
        public var entry: Int64
        public var problem: String
        public var description: String { "entry \(entry): \(problem)" }
    }

    /// Walks the chain; reports every entry that was changed, and where entries were removed or reordered.
    public func verifyAudit() throws -> [AuditProblem] {
        try writer.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM audit_log ORDER BY id")
            let hashes = Set(rows.map { $0["hash"] as String })
            var problems: [AuditProblem] = []
            var prevHash = ""
            var prevID: Int64 = 0
            for r in rows {
                let id: Int64 = r["id"]
                let stored: String = r["hash"], storedPrev: String = r["prev_hash"]
                let recomputed = digest(Self.auditBytes(id: id, at: r["at"], actor: r["actor"], action: r["action"], subject: r["subject"], detail: r["detail"], prev: storedPrev))
                if recomputed != stored {
                    problems.append(.init(entry: id, problem: "was changed (its contents no longer match its hash)"))
                }
                if storedPrev != prevHash {
                    if id != prevID + 1 || !hashes.contains(storedPrev) {
                        problems.append(.init(entry: id, problem: "the entry before it is missing (removed after entry \(prevID))"))
                    } else {
                        problems.append(.init(entry: id, problem: "is out of order (its predecessor is not entry \(prevID))"))
                    }
                } else if id != prevID + 1 {
                    problems.append(.init(entry: id, problem: "follows entry \(prevID) with a gap in numbering"))
                }
                prevHash = stored
                prevID = id
            }
            return problems
        }
    }
}
