import Foundation
import Logging
import YizhanCore
import YizhanCrypto
import YizhanStore

/// The unit side of its seals: applying, making (the key pair is generated here and never
/// leaves this host), stamping under dual custody, replacing custodians, and wiping the key
/// once the registry has revoked the seal.
public struct SealKeeper: Sendable {
    public let home: GatewayHome
    public let config: GatewayHome.Config
    public let store: GatewayStore
    public let registry: RegistryClient
    let anchor: Certificate

    public init(home: GatewayHome) throws {
        self.home = home
        config = try home.loadConfig()
        store = try GatewayStore(path: home.database)
        anchor = try Certificate(pem: try home.read(home.anchorFile))
        let token = try home.read(home.registryTokenFile).trimmingCharacters(in: .whitespacesAndNewlines)
        registry = RegistryClient(base: config.registry, adminToken: token)
    }

    public static func mediaType(ofImage path: String) throws -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        default: throw YizhanError(.invalidArgument, "a seal image is an .svg or .png file, not \(path)")
        }
    }

    /// Files the application with the unit's own registry credential.
    public func apply(reason: String, head: String, algorithm: KeyAlgorithm, imagePath: String, replaces: String?) async throws -> JSONValue {
        guard let image = FileManager.default.contents(atPath: imagePath) else { throw YizhanError(.invalidArgument, "cannot read \(imagePath)") }
        let body = RegistryAPI.SealApply(reason: reason, head: head, algorithm: algorithm.rawValue, image: image.base64EncodedString(),
                                         mediaType: try Self.mediaType(ofImage: imagePath), replaces: replaces)
        return try await registry.post("/v1/units/\(config.unit)/seals", try JSONValue.from(body))
    }

    /// Making, after approval: key generated here, locked for the custodians, certificate issued by
    /// the registry for the public key before the three witnesses, checked, then put in use.
    public func make(sealID: String, custodians: [SealVault.Secret], threshold: Int, witnesses: RegistryAPI.Witnesses) async throws -> Certificate {
        let record = try await registry.get("/v1/seals/\(sealID)")
        guard record["unit"]?.stringValue == config.unit else { throw YizhanError(.forbidden, "seal \(sealID) belongs to another unit") }
        guard record["state"]?.stringValue == "approved" else {
            throw YizhanError(.conflict, "seal \(sealID) is \(record["state"]?.stringValue ?? "?"); it is made once approved")
        }
        guard let alg = record["algorithm"]?.stringValue.flatMap(KeyAlgorithm.init(rawValue:)), let image = record["imageSha256"]?.stringValue else {
            throw YizhanError(.remote, "the registry's record of seal \(sealID) is incomplete")
        }
        _ = try witnesses.validated()
        let key = try PrivateKey.generate(alg)
        let vault = try SealVault.create(sealID: sealID, key: key, custodians: custodians, threshold: threshold)
        try store.beginSeal(id: sealID, algorithm: alg.rawValue, vault: try JSONValue.from(vault).canonicalString())
        do {
            let made = try JSONValue.parse(try await registry.call("POST", "/v1/seals/\(sealID)/make",
                body: try JSONValue.from(RegistryAPI.SealMake(publicKey: Data(try key.publicKey.spkiDER).base64EncodedString(), witnesses: witnesses)).canonicalBytes()))
                .decode(RegistryAPI.SealMade.self)
            let cert = try Certificate(pem: made.certificate)
            try CertificateVerifier(anchor: anchor).verify(cert)
            guard cert.isSeal, cert.sealID == sealID, cert.commonName == config.unit, key.matches(cert), cert.sealImageSHA256 == image else {
                throw YizhanError(.untrustedCertificate, "the registry's seal certificate does not fit seal \(sealID), this unit, this key and the approved image")
            }
            try store.completeSeal(id: sealID, certificate: cert.der)
            return cert
        } catch {
            try? store.abandonSeal(id: sealID)
            throw error
        }
    }

    /// The directory to judge revocation by: the registry's if it answers, else the cached copy.
    func freshDirectory() async -> Directory? {
        if let bytes = try? await registry.directory(), let d = try? SignedDirectory.open(bytes, anchor: anchor) {
            if let cached = try? store.cachedDirectory(), cached.version >= d.version { return (try? SignedDirectory.open(cached.signed, anchor: anchor)) ?? d }
            try? store.cacheDirectory(version: d.version, signed: bytes)
            return d
        }
        return (try? store.cachedDirectory()).flatMap { try? SignedDirectory.open($0.signed, anchor: anchor) }
    }

    func sealInUse(_ sealID: String?) throws -> (GatewayStore.LocalSeal, Certificate, SealVault.Sealed) {
        let seals = try store.seals()
        let chosen: GatewayStore.LocalSeal
        if let id = sealID {
            guard let s = seals.first(where: { $0.id == id }) else { throw YizhanError(.notFound, "this gateway holds no seal \(id) (a unit stamps only with its own seal)") }
            chosen = s
        } else {
            let inUse = seals.filter { $0.state == "in-use" }
            guard let s = inUse.first else {
                if let w = seals.last(where: { $0.state == "wiped" }) {
                    throw YizhanError(.sealRevoked, "this unit's seal \(w.id) is revoked since \(w.revokedAt.map(Timestamp.format) ?? "?") (\(w.revocationReason ?? "revoked")) and its key destroyed; nothing stamped")
                }
                throw YizhanError(.notFound, "this gateway holds no seal in use (yizhan seal apply, then yizhan seal make)")
            }
            guard inUse.count == 1 else { throw YizhanError(.invalidArgument, "this gateway holds \(inUse.count) seals in use; name one with --seal") }
            chosen = s
        }
        guard chosen.state == "in-use", let der = chosen.certificate, let v = chosen.vault else {
            throw YizhanError(.sealRevoked, "seal \(chosen.id) is \(chosen.state == "wiped" ? "revoked and its key destroyed" : chosen.state); nothing stamped")
        }
        let vault = try JSONValue.parse(v).decode(SealVault.Sealed.self)
        return (chosen, try Certificate(der: der), vault)
    }

    /// Stamps a document about to be stored for sending. Refuses a seal the registry has revoked.
    public func stamp(sealID: String?, secrets: [SealVault.Secret], id: String, document: DocumentInfo, parts: [Envelope.Part]) async throws
        -> (Envelope.Stamp, GatewayStore.StampRecord) {
        let (seal, cert, vault) = try sealInUse(sealID)
        if let rev = await freshDirectory()?.revocation(serial: cert.serialHex) {
            throw YizhanError(.sealRevoked, "seal \(seal.id) is revoked since \(rev.at) (\(rev.reason)); nothing stamped")
        }
        if let na = cert.notAfter, na < Date() { throw YizhanError(.sealRevoked, "seal \(seal.id) expired at \(Timestamp.format(na)); nothing stamped") }
        let unlocked = try SealVault.unlock(vault, secrets: secrets)
        let now = Date()
        let stamp = try Stamping.stamp(id: id, sender: config.unit, document: document, parts: parts, sealID: seal.id,
                                       key: unlocked.key, certificate: cert, at: now)
        return (stamp, .init(sealID: seal.id, custodians: unlocked.custodians, stampedAt: now))
    }

    /// The stamp of a stored document as it stands by this gateway's cached directory (which the
    /// running gateway keeps current); nil when the document is not stamped.
    public static func sealStatus(store: GatewayStore, anchor: Certificate, id: String) throws -> SealStatus? {
        guard let bytes = try store.envelopeBytes(id: id) else { return nil }
        let (env, json) = try Envelope.parse(bytes)
        guard env.stamp != nil else { return nil }
        let dir = try store.cachedDirectory().flatMap { try SignedDirectory.open($0.signed, anchor: anchor) }
        return SealCheck.evaluate(json: json, envelope: env, anchor: CertificateVerifier(anchor: anchor), directory: dir)
    }

    /// Custodians change hands: `secrets` (at least the threshold) authorise it; the key is not decrypted.
    public func replaceCustodians(sealID: String?, secrets: [SealVault.Secret], remove: [String], add: [SealVault.Secret]) throws -> SealVault.Sealed {
        let (seal, _, vault) = try sealInUse(sealID)
        let replaced = try SealVault.replace(vault, secrets: secrets, remove: remove, add: add)
        try store.replaceVault(id: seal.id, vault: try JSONValue.from(replaced).canonicalString(),
                               detail: "authorised by \(secrets.map(\.name).joined(separator: "、")); removed \(remove.joined(separator: "、")); added \(add.map(\.name).joined(separator: "、"))")
        return replaced
    }

    /// Wipes every local seal the directory shows revoked, then tells the registry (retried at
    /// the next directory until it is told).
    static func wipeRevoked(store: GatewayStore, directory: Directory, registry: RegistryClient, logger: Logger) async {
        guard let seals = try? store.seals() else { return }
        for s in seals where s.state != "making" {
            if s.state == "in-use", let der = s.certificate, let cert = try? Certificate(der: der), let rev = directory.revocation(serial: cert.serialHex) {
                do {
                    try store.wipeSeal(id: s.id, revokedAt: Timestamp.parse(rev.at), reason: rev.reason)
                    logger.notice("seal revoked by the registry; its key material is wiped", metadata: ["seal": "\(s.id)", "reason": "\(rev.reason)"])
                } catch {
                    logger.error("could not wipe a revoked seal", metadata: ["seal": "\(s.id)", "error": "\(error)"])
                    continue
                }
            }
            guard let fresh = try? store.seal(id: s.id), fresh.state == "wiped", fresh.wipeReportedAt == nil else { continue }
            do {
                _ = try await registry.post("/v1/seals/\(s.id)/wiped", .object([:]))
                try store.sealWipeReported(id: s.id)
            } catch {
                logger.warning("seal wiped; the registry is not told yet", metadata: ["seal": "\(s.id)", "error": "\(error)"])
            }
        }
    }
}
