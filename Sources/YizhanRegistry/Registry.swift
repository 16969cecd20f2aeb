import Foundation
import Logging
import YizhanCore
import YizhanCrypto
import YizhanStore

/// The registry's operations: onboarding, enrolment, the signed directory, administrator checks.
public struct Registry: Sendable {
    public let home: RegistryHome
    public let config: RegistryHome.Config
    public let store: RegistryStore
    public let ca: CertificateAuthority
    public let topology: BrokerTopology?
    public let logger: Logger
    /// One request is applied at a time (the scheduler and an approving call may race).
    let applying = AsyncMutex()

    /// Creates the store, the CA (key encrypted at rest) and the first administrator token.
    /// Returns the administrator token, shown once.
    public static func initialize(home: RegistryHome, config: RegistryHome.Config, brokerAdminURL: String?) async throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: home.database) { throw YizhanError(.conflict, "a registry already exists in \(home.path)") }
        try fm.createDirectory(atPath: home.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let passphrase = try SecretFile.passphrase(file: home.passphraseFile, create: true)
        let ca = try CertificateAuthority.create(name: config.name)
        try SecretFile.write(try ca.key.encryptedPEM(passphrase: passphrase), to: home.caKeyFile, secret: true)
        try SecretFile.write(ca.certificate.pem, to: home.caCertificateFile, secret: false)
        try SecretFile.write(String(decoding: try JSONValue.from(config).canonicalBytes(), as: UTF8.self) + "\n", to: home.configFile, secret: false)
        if let brokerAdminURL {
            _ = try BrokerAdmin(url: brokerAdminURL)
            try SecretFile.write(brokerAdminURL + "\n", to: home.brokerAdminFile, secret: true)
        }
        let store = try RegistryStore(path: home.database, digest: Digest.sha256Hex)
        let id = try SecureRandom.token(bytes: 6)
        let secret = try SecureRandom.token(bytes: 24)
        try store.addAdminToken(id: id, label: "initial administrator", secretHash: try PasswordHash.make(secret))
        let token = "\(id).\(secret)"
        try SecretFile.write(token + "\n", to: home.adminTokenFile, secret: true)
        let registry = try open(home: home, logger: Logger(label: "yizhan.registry"))
        if let t = registry.topology { try await t.ensureBase(adminUser: Self.adminUser(brokerAdminURL)) }
        try await registry.publishDirectory()
        return token
    }

    static func adminUser(_ url: String?) -> String? {
        url.flatMap { URLComponents(string: $0)?.user }
    }

    public static func open(home: RegistryHome, logger: Logger) throws -> Registry {
        guard FileManager.default.fileExists(atPath: home.configFile) else {
            throw YizhanError(.configuration, "no registry in \(home.path) (run yizhan registry init)")
        }
        let config = try JSONValue.parse(Array(try SecretFile.read(home.configFile).utf8)).decode(RegistryHome.Config.self)
        let passphrase = try SecretFile.passphrase(file: home.passphraseFile, create: false)
        let key = try PrivateKey.fromEncryptedPEM(try SecretFile.read(home.caKeyFile), passphrase: passphrase)
        let cert = try Certificate(pem: try SecretFile.read(home.caCertificateFile))
        var topology: BrokerTopology? = nil
        if FileManager.default.fileExists(atPath: home.brokerAdminFile) {
            let url = try SecretFile.read(home.brokerAdminFile).trimmingCharacters(in: .whitespacesAndNewlines)
            topology = BrokerTopology(vhost: config.vhost, admin: try BrokerAdmin(url: url))
        }
        return Registry(home: home, config: config, store: try RegistryStore(path: home.database, digest: Digest.sha256Hex),
                        ca: CertificateAuthority(key: key, certificate: cert), topology: topology, logger: logger)
    }

    init(home: RegistryHome, config: RegistryHome.Config, store: RegistryStore, ca: CertificateAuthority, topology: BrokerTopology?, logger: Logger) {
        self.home = home; self.config = config; self.store = store; self.ca = ca; self.topology = topology; self.logger = logger
    }

    /// Who is calling: an administrator (the leadership group) or a unit's gateway.
    public enum Principal: Sendable, Equatable {
        case admin(id: String)
        case unit(code: String)

        public var actor: String {
            switch self {
            case .admin(let id): return "admin:\(id)"
            case .unit(let code): return "unit:\(code)"
            }
        }
    }

    /// Checks `Bearer <id>.<secret>` against the scrypt hashes of administrator and unit tokens.
    public func principal(bearer: String?) throws -> Principal {
        guard let bearer, let dot = bearer.firstIndex(of: ".") else { throw YizhanError(.unauthorized, "a bearer token is required") }
        let id = String(bearer[..<dot]), secret = String(bearer[bearer.index(after: dot)...])
        if let t = try store.adminToken(id: id), PasswordHash.verify(secret, against: t.secretHash) { return .admin(id: id) }
        if let t = try store.unitToken(id: id), PasswordHash.verify(secret, against: t.secretHash) { return .unit(code: t.code) }
        throw YizhanError(.unauthorized, "token not accepted")
    }

    /// Administrators only; a unit's credentials are refused with `forbidden`.
    public func authorize(bearer: String?) throws -> String {
        let p = try principal(bearer: bearer)
        guard case .admin = p else { throw YizhanError(.forbidden, "this call needs an administrator") }
        return p.actor
    }

    /// Administrators, or the unit `code` itself.
    public func authorize(bearer: String?, unit code: String) throws -> Principal {
        let p = try principal(bearer: bearer)
        if case .unit(let c) = p, c != code { throw YizhanError(.forbidden, "a unit may read only its own records") }
        return p
    }

    /// An administrator's one-step onboarding: the application is recorded and approved at once
    /// (both in the audit log), then provisioned like any approved application.
    public func addUnit(_ req: RegistryAPI.AddUnit, actor: String) async throws -> RegistryAPI.AddedUnit {
        let (request, _) = try apply(.init(code: req.code, name: req.name, parent: nil, contact: "-", head: "-", reason: "added by an administrator"), actor: actor)
        let (_, added) = try await decide(id: request.id, approve: true, actor: actor, reason: "added by an administrator")
        guard let added else { throw YizhanError(.conflict, "unit \(req.code) was not admitted") }
        return added
    }

    /// Exchanges a one-time token and a public key for a certificate and broker credentials.
    public func enrol(_ req: RegistryAPI.Enrol) async throws -> RegistryAPI.Enrolled {
        let tokenHash = Digest.sha256Hex(Array(req.token.utf8))
        guard let code = try store.enrolmentUnit(tokenSha256: tokenHash), let unit = try store.unit(code: code), unit.status == "active" else {
            throw YizhanError(.unauthorized, "enrolment token is unknown, used or expired")
        }
        guard let der = Data(base64Encoded: req.publicKey) else { throw YizhanError(.invalidArgument, "publicKey must be base64 DER") }
        let key = try PublicKey(spkiDER: Array(der))
        let cert = try ca.issue(unitCode: code, unitName: unit.name, publicKey: key)
        guard let topology else { throw YizhanError(.configuration, "the registry has no broker-admin credentials") }
        let password = try SecureRandom.token(bytes: 24)
        try store.completeEnrolment(tokenSha256: tokenHash, certificate: .init(
            serial: cert.serialHex, code: code, fingerprint: cert.fingerprint, der: cert.der,
            notBefore: cert.notBefore ?? Date(), notAfter: cert.notAfter ?? Date()))
        try await topology.issuePassword(unit: code, password: password)
        let tokenID = try SecureRandom.token(bytes: 6), tokenSecret = try SecureRandom.token(bytes: 24)
        try store.addUnitToken(id: tokenID, code: code, secretHash: try PasswordHash.make(tokenSecret))
        try await publishDirectory()
        logger.info("unit enrolled", metadata: ["unit": "\(code)", "certificate": "\(cert.serialHex)"])
        return RegistryAPI.Enrolled(code: code, name: unit.name, certificate: cert.pem, caCertificate: ca.certificate.pem,
                                    broker: .init(host: config.amqpHost, port: config.amqpPort, vhost: config.vhost,
                                                  user: unit.brokerUser, password: password, tls: config.amqpTLS),
                                    registryToken: "\(tokenID).\(tokenSecret)")
    }

    /// Builds, signs and stores the next directory version, then announces it on `yizhan.registry`
    /// (a failed announcement is logged: gateways also poll).
    @discardableResult
    public func publishDirectory() async throws -> Int {
        let version = try buildDirectory()
        if let topology {
            do { try await topology.publishEvent(.object(["type": .string("directory"), "version": .number(Double(version))])) } catch {
                logger.warning("directory event not published", metadata: ["version": "\(version)", "error": "\(error)"])
            }
        }
        return version
    }

    @discardableResult
    public func buildDirectory() throws -> Int {
        try store.publishDirectory { version, units, certs in
            let current = Dictionary(grouping: certs.filter { $0.revokedAt == nil }, by: \.code)
            let entries = try units.map { u in
                Directory.Entry(code: try UnitCode(u.code), name: u.name, formerNames: u.formerNames,
                                status: Directory.Entry.Status(rawValue: u.status) ?? .deregistered,
                                successor: try u.successor.map { try UnitCode($0) }, brokerUser: u.brokerUser,
                                certificates: (current[u.code] ?? []).map(\.fingerprint))
            }
            let d = Directory(version: version, issued: Timestamp.format(Date()), units: entries,
                              revoked: certs.compactMap { c in c.revokedAt.map { Directory.Revocation(serial: c.serial, at: Timestamp.format($0), reason: c.revocationReason ?? "unspecified") } })
            return try SignedDirectory.sign(d, ca: ca)
        }
    }

    public func directoryBytes() throws -> [UInt8] {
        if let d = try store.latestDirectory() { return d.signed }
        try buildDirectory()
        guard let d = try store.latestDirectory() else { throw YizhanError(.notFound, "no directory") }
        return d.signed
    }
}
