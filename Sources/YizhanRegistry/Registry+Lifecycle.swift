import Foundation
import Logging
import YizhanCore
import YizhanCrypto
import YizhanStore

/// A unit's life as the policy has it: every change requested, then approved (or rejected,
/// or cancelled before it takes effect), then applied at its effective time.
extension Registry {
    /// `unit apply`: anyone may apply; nothing is provisioned until an administrator approves.
    public func apply(_ a: RegistryAPI.Apply, actor: String = "applicant") throws -> (RegistryStore.Request, String) {
        let code = try UnitCode(a.code)
        let name = try Self.validName(a.name)
        if let p = a.parent { _ = try UnitCode(p) }
        for (field, v) in [("contact", a.contact), ("head", a.head), ("reason", a.reason)] where v.trimmingCharacters(in: .whitespaces).isEmpty {
            throw YizhanError(.invalidArgument, "the application needs \(field)")
        }
        if try store.unit(code: code.rawValue) != nil { throw YizhanError(.conflict, "unit \(code) is already registered") }
        if try store.requests().contains(where: { $0.kind == "apply" && $0.subject == code.rawValue && ["pending", "approved"].contains($0.state) }) {
            throw YizhanError(.conflict, "unit \(code) already has an open application")
        }
        let secret = try SecureRandom.token(bytes: 24)
        let payload = try JSONValue.from(RegistryAPI.Apply(code: code.rawValue, name: name, parent: a.parent, contact: a.contact, head: a.head, reason: a.reason))
        let r = try store.createRequest(kind: "apply", subject: code.rawValue, payload: payload, by: actor, effectiveAt: nil,
                                        applicantSecretSha256: Digest.sha256Hex(Array(secret.utf8)), why: a.reason)
        return (r, secret)
    }

    static func validName(_ n: String) throws -> String {
        let name = n.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty, name.count <= 200 else { throw YizhanError(.invalidArgument, "a unit name needs 1 to 200 characters") }
        return name
    }

    /// The applicant reads its application (and why it was rejected) with its secret.
    public func application(id: String, secret: String) throws -> RegistryStore.Request {
        guard let r = try store.request(id: id), r.kind == "apply", let sha = try store.applicantSecretSha256(requestID: id),
              sha == Digest.sha256Hex(Array(secret.utf8)) else {
            throw YizhanError(.unauthorized, "no such application for this secret")
        }
        return r
    }

    /// rename, merge or deregister, requested by an administrator; checked now and again on approval.
    public func request(_ l: RegistryAPI.LifecycleRequest, actor: String) throws -> RegistryStore.Request {
        let effective: Date?
        if let e = l.effective {
            guard let d = Timestamp.parse(e) ?? Self.day(e) else { throw YizhanError(.invalidArgument, "effective must be an RFC 3339 time or YYYY-MM-DD, got \(e)") }
            effective = d
        } else { effective = nil }
        let payload = try JSONValue.from(l)
        switch l.kind {
        case "rename":
            guard let unit = l.unit, let name = l.name else { throw YizhanError(.invalidArgument, "rename needs unit and name") }
            try checkRename(unit: unit, name: name)
            return try store.createRequest(kind: "rename", subject: unit, payload: payload, by: actor, effectiveAt: effective, why: l.reason)
        case "merge":
            guard let units = l.units, !units.isEmpty, let into = l.into else { throw YizhanError(.invalidArgument, "merge needs units and into") }
            try checkRetirement(units: units, successor: into, what: "merge into")
            return try store.createRequest(kind: "merge", subject: units.joined(separator: ","), payload: payload, by: actor, effectiveAt: effective, why: l.reason)
        case "deregister":
            guard let unit = l.unit, let to = l.transferTo else { throw YizhanError(.invalidArgument, "deregister needs unit and transferTo") }
            try checkRetirement(units: [unit], successor: to, what: "transfer to")
            return try store.createRequest(kind: "deregister", subject: unit, payload: payload, by: actor, effectiveAt: effective, why: l.reason)
        default:
            throw YizhanError(.invalidArgument, "unknown request kind \(l.kind) (rename, merge, deregister)")
        }
    }

    static func day(_ s: String) -> Date? { Timestamp.parse(s + "T00:00:00Z") }

    func activeUnit(_ code: String) throws -> RegistryStore.Unit {
        _ = try UnitCode(code)
        guard let u = try store.unit(code: code) else { throw YizhanError(.notFound, "no unit \(code)") }
        guard u.status == "active" else { throw YizhanError(.conflict, "unit \(code) is \(u.status)") }
        return u
    }

    /// Units with an open merge or deregistration: they are on their way out.
    func leaving() throws -> Set<String> {
        Set(try store.requests().filter { ["merge", "deregister"].contains($0.kind) && ["pending", "approved"].contains($0.state) }
            .flatMap { $0.subject.split(separator: ",").map(String.init) })
    }

    func checkRename(unit: String, name: String) throws {
        let u = try activeUnit(unit)
        guard try Self.validName(name) != u.name else { throw YizhanError(.invalidArgument, "unit \(unit) is already called \(name)") }
    }

    func checkRetirement(units: [String], successor: String, what: String) throws {
        guard Set(units).count == units.count else { throw YizhanError(.invalidArgument, "a unit is named twice") }
        for u in units {
            guard u != successor else { throw YizhanError(.invalidArgument, "unit \(u) cannot \(what) itself") }
            _ = try activeUnit(u)
        }
        _ = try activeUnit(successor)
        let out = try leaving()
        if out.contains(successor) { throw YizhanError(.conflict, "unit \(successor) is itself being merged or deregistered (a cycle or chain)") }
    }

    /// Approves or rejects; an approved request whose time has come is applied at once.
    public func decide(id: String, approve: Bool, actor: String, reason: String?) async throws -> (RegistryStore.Request, RegistryAPI.AddedUnit?) {
        if approve, let r = try store.request(id: id), r.state == "pending" {
            // The world may have changed since the request: check again before approving.
            let l = try? r.payload.decode(RegistryAPI.LifecycleRequest.self)
            switch r.kind {
            case "rename": if let l, let u = l.unit, let n = l.name { try checkRename(unit: u, name: n) }
            case "merge": if let l, let us = l.units, let into = l.into { try checkRetirement(units: us, successor: into, what: "merge into") }
            case "deregister": if let l, let u = l.unit, let to = l.transferTo { try checkRetirement(units: [u], successor: to, what: "transfer to") }
            default: break
            }
        }
        // Decided and, when its time has come, applied under the lock the scheduler's `applyDue`
        // takes too: a tick between the two steps would otherwise apply the request itself, and
        // this call (an administrator's one-step onboarding) would answer "not admitted" and lose
        // the enrolment token that tick made.
        return try await applying.withLock {
            let decided = try store.decide(id: id, approve: approve, by: actor, reason: reason)
            guard approve, (decided.effectiveAt ?? .distantPast) <= Date() else { return (decided, nil) }
            let added = try await applyLocked(decided)
            return (try store.request(id: id) ?? decided, added)
        }
    }

    /// Applies every approved request whose time has come (the scheduler calls this each tick).
    public func applyDue() async {
        do {
            for r in try store.dueRequests() {
                do { _ = try await applyRequest(r) } catch {
                    logger.error("request could not be applied; will retry", metadata: ["request": "\(r.id)", "kind": "\(r.kind)", "error": "\(error)"])
                }
            }
        } catch {
            logger.error("cannot read due requests", metadata: ["error": "\(error)"])
        }
    }

    /// Applies one approved request. For a merger or deregistration: the store transaction and the
    /// new directory come first (so successors accept what is re-routed to them), then the broker
    /// steps, all idempotent; `reconcile` repeats them at every start, so a registry killed in
    /// between completes the operation when it comes back.
    func applyRequest(_ r: RegistryStore.Request) async throws -> RegistryAPI.AddedUnit? {
        try await applying.withLock {
            guard let fresh = try store.request(id: r.id), fresh.state == "approved" else { return nil }
            return try await applyLocked(fresh)
        }
    }

    func applyLocked(_ r: RegistryStore.Request) async throws -> RegistryAPI.AddedUnit? {
        guard let topology else { throw YizhanError(.configuration, "the registry has no broker-admin credentials") }
        let at = r.effectiveAt ?? Date()
        switch r.kind {
        case "apply":
            let a = try r.payload.decode(RegistryAPI.Apply.self)
            try await topology.provision(unit: a.code)
            let token = try SecureRandom.token(bytes: 24)
            let expires = Date().addingTimeInterval(Double(config.enrolmentTokenHours) * 3600)
            try store.applyApplication(r, a, brokerUser: BrokerTopology.brokerUser(a.code), tokenSha256: Digest.sha256Hex(Array(token.utf8)), tokenExpires: expires)
            try await publishDirectory()
            logger.info("unit admitted", metadata: ["unit": "\(a.code)"])
            return .init(code: a.code, name: a.name, brokerUser: BrokerTopology.brokerUser(a.code), enrolmentToken: token, expires: Timestamp.format(expires))
        case "rename":
            let l = try r.payload.decode(RegistryAPI.LifecycleRequest.self)
            guard let unit = l.unit, let name = l.name else { throw YizhanError(.invalidArgument, "rename payload incomplete") }
            var reissued: [RegistryStore.CertificateRecord] = []
            for c in try store.certificates(code: unit) where c.revokedAt == nil {
                let old = try Certificate(der: c.der)
                let cert = try ca.issue(unitCode: unit, unitName: name, publicKey: try old.publicKey)
                reissued.append(.init(serial: cert.serialHex, code: unit, fingerprint: cert.fingerprint, der: cert.der,
                                      notBefore: cert.notBefore ?? Date(), notAfter: cert.notAfter ?? Date()))
            }
            try store.applyRename(r, code: unit, name: name, at: at, reissued: reissued)
            try await publishDirectory()
        case "merge", "deregister":
            let l = try r.payload.decode(RegistryAPI.LifecycleRequest.self)
            let merge = r.kind == "merge"
            let units = merge ? (l.units ?? []) : [l.unit].compactMap { $0 }
            guard let successor = merge ? l.into : l.transferTo else { throw YizhanError(.invalidArgument, "\(r.kind) payload incomplete") }
            try store.applyRetirement(r, codes: units, status: merge ? "merged" : "deregistered", successor: successor, at: at)
            try await publishDirectory()
            if ProcessInfo.processInfo.environment["YIZHAN_FAULT"] == "exit-before-broker-steps" {
                logger.critical("fault injection: exiting between the store transaction and the broker steps")
                exit(70)
            }
            for u in units { try await finishRetirement(unit: u, successor: successor, merged: merge) }
        default:
            throw YizhanError(.invalidArgument, "unknown request kind \(r.kind)")
        }
        return nil
    }

    /// Re-routing and user disabling for a retired unit; idempotent.
    func finishRetirement(unit: String, successor: String, merged: Bool) async throws {
        guard let topology else { return }
        try await topology.retire(unit: unit, successor: successor, keepRouting: merged)
        try await topology.disableUser(unit: unit, delete: !merged)
    }

    /// At start: every retired unit's broker side is brought in line with the store, so a
    /// registry that died between the store transaction and the broker steps completes them.
    public func reconcile() async {
        do {
            for u in try store.units() where u.status != "active" {
                guard let s = u.successor else { continue }
                try await finishRetirement(unit: u.code, successor: s, merged: u.status == "merged")
            }
        } catch {
            logger.warning("reconciliation incomplete", metadata: ["error": "\(error)"])
        }
    }

    /// Revokes a certificate at once (key compromise and the like); every gateway refuses it as
    /// soon as the new directory reaches it.
    public func revoke(serial: String, reason: String, actor: String) async throws {
        guard !reason.isEmpty, !Directory.Revocation.orderlyReasons.contains(reason) else {
            throw YizhanError(.invalidArgument, "give a reason such as key-compromise (superseded, merged and deregistered are set by the registry)")
        }
        try store.revokeCertificate(serial: serial, reason: reason, actor: actor)
        try await publishDirectory()
    }

    /// The unit's current (unrevoked) certificate, for its gateway after a rename.
    public func currentCertificate(code: String) throws -> String {
        guard let c = try store.certificates(code: code).last(where: { $0.revokedAt == nil }) else {
            throw YizhanError(.notFound, "unit \(code) has no current certificate")
        }
        return try Certificate(der: c.der).pem
    }
}
