import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanStore

extension Gateway {
    /// `gateway init`: pins the registry CA, makes the unit's key (encrypted at rest), enrols with
    /// the one-time token, and writes the config. `caFingerprint` (SHA-256 of the CA's DER), or a
    /// CA file, pins the anchor without trusting the first answer from the network.
    public static func initialize(home: GatewayHome, unit: String, registry: String, token: String,
                                  caPEM: String? = nil, caFingerprint: String? = nil, brokerCAPEM: String? = nil,
                                  chunkSize: Int? = nil, requireTLS: Bool = false, algorithm: KeyAlgorithm = .ed25519,
                                  brokerAlternates: [String] = []) async throws -> GatewayHome.Config {
        let code = try UnitCode(unit)
        if let c = chunkSize, !(TransferInfo.minimumChunk...TransferInfo.maximumChunk).contains(c) {
            throw YizhanError(.invalidArgument, "chunk size must be \(TransferInfo.minimumChunk) to \(TransferInfo.maximumChunk) bytes, not \(c)")
        }
        for a in brokerAlternates { _ = try AMQPConfiguration.address(a, tls: false) }
        let fm = FileManager.default
        if fm.fileExists(atPath: home.configFile) { throw YizhanError(.conflict, "a gateway already exists in \(home.path)") }
        try fm.createDirectory(atPath: home.path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let client = RegistryClient(base: registry)
        let anchor = try Certificate(pem: try await caPEM.asyncOr { try await client.caPEM() })
        if let fp = caFingerprint, fp.lowercased().replacingOccurrences(of: ":", with: "") != anchor.fingerprint {
            throw YizhanError(.untrustedCertificate, "registry CA fingerprint \(anchor.fingerprint) does not match the expected one")
        }
        if let b = brokerCAPEM { _ = try Certificate(pem: b) }
        let key = try PrivateKey.generate(algorithm)
        let enrolled = try await client.enrol(.init(token: token, publicKey: Data(try key.publicKey.spkiDER).base64EncodedString()))
        guard try Certificate(pem: enrolled.caCertificate).der == anchor.der else {
            throw YizhanError(.untrustedCertificate, "the registry answered with a different CA than the pinned one")
        }
        // Refused before anything is written: this gateway does not talk to a broker in plain text.
        if requireTLS, !enrolled.broker.tls {
            throw YizhanError(.configuration, "the registry announces plain AMQP (\(enrolled.broker.host):\(enrolled.broker.port)) and this gateway requires TLS; nothing was written (ask for a new enrolment token once the registry uses amqps)")
        }
        let cert = try Certificate(pem: enrolled.certificate)
        try CertificateVerifier(anchor: anchor).verify(cert)
        guard cert.commonName == code.rawValue, try cert.publicKey.spkiDER == key.publicKey.spkiDER else {
            throw YizhanError(.untrustedCertificate, "the issued certificate is not for \(code) and this key")
        }
        let passphrase = try home.passphrase(create: true)
        try home.write(try key.encryptedPEM(passphrase: passphrase), to: home.keyFile, secret: true)
        try home.write(anchor.pem, to: home.anchorFile, secret: false)
        try home.write(cert.pem, to: home.certificateFile, secret: false)
        try home.write(enrolled.broker.password + "\n", to: home.brokerSecretFile, secret: true)
        try home.write(enrolled.registryToken + "\n", to: home.registryTokenFile, secret: true)
        if enrolled.broker.tls {
            guard let b = brokerCAPEM else { throw YizhanError(.configuration, "the broker speaks TLS: give its CA certificate with --broker-ca") }
            try home.write(b, to: home.brokerCAFile, secret: false)
        }
        var config = GatewayHome.Config(unit: code.rawValue, name: enrolled.name, registry: registry, brokerHost: enrolled.broker.host,
                                        brokerPort: enrolled.broker.port, vhost: enrolled.broker.vhost, brokerUser: enrolled.broker.user,
                                        brokerTLS: enrolled.broker.tls)
        config.chunkSize = chunkSize
        config.requireTLS = requireTLS ? true : nil
        config.brokerAlternates = brokerAlternates.isEmpty ? nil : brokerAlternates
        let store = try GatewayStore(path: home.database)
        let dir = try await client.directory()
        let d = try SignedDirectory.open(dir, anchor: anchor)
        try store.cacheDirectory(version: d.version, signed: dir)
        try home.saveConfig(config)
        return config
    }
}

extension Optional where Wrapped == String {
    func asyncOr(_ f: () async throws -> String) async throws -> String {
        if let s = self { return s }
        return try await f()
    }
}
