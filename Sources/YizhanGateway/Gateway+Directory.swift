import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto

/// What the gateway signs with, and whether the registry still lets it.
struct Identity: Sendable {
    var certificate: Certificate
    var name: String
    var revoked = false
}

extension Gateway {
    /// Registry events (`yizhan.events.<code>`): each one means "fetch the directory now".
    func eventLoop(_ conn: AMQPConnection, _ events: AMQPConnection.Deliveries) async throws {
        for try await ev in events {
            await directory.refresh()
            try conn.ack(ev)
            try await follow(await directory.current)
        }
        throw AMQPError(.connectionClosed, "event consumer ended")
    }

    /// Applies what a directory says about this unit: a retired unit's gateway stops; after a
    /// rename the new name is used and the reissued certificate fetched and installed.
    func follow(_ d: Directory?) async throws {
        guard let d, let me = d.entry(config.unit) else { return }
        // A revoked seal's key is wiped first, also when the unit itself has just been retired.
        await SealKeeper.wipeRevoked(store: store, directory: d, registry: registry, logger: logger)
        switch me.status {
        case .merged:
            throw YizhanError(.retired, "unit \(config.unit) has been merged into \(me.successor?.rawValue ?? "?"); this gateway stops. Documents addressed to it now go to its successor.")
        case .deregistered:
            throw YizhanError(.retired, "unit \(config.unit) has been deregistered\(me.successor.map { "; its documents go to \($0.rawValue)" } ?? ""); this gateway stops.")
        case .active:
            break
        }
        let current = identity.withLock { $0 }
        let revoked = d.revocation(serial: current.certificate.serialHex) != nil
        if current.name != me.name || revoked {
            identity.withLock { $0.name = me.name; $0.revoked = revoked }
        }
        guard revoked else { return }
        do {
            let pem = try await registry.certificatePEM(unit: config.unit)
            let cert = try Certificate(pem: pem)
            try CertificateVerifier(anchor: anchor).verify(cert)
            guard cert.commonName == config.unit, try cert.publicKey.spkiDER == key.publicKey.spkiDER, d.revocation(serial: cert.serialHex) == nil else {
                throw YizhanError(.untrustedCertificate, "the registry's certificate for \(config.unit) does not fit this key")
            }
            try home.write(cert.pem, to: home.certificateFile, secret: false)
            identity.withLock { $0 = Identity(certificate: cert, name: me.name, revoked: false) }
            logger.info("installed the reissued certificate", metadata: ["serial": "\(cert.serialHex)", "name": "\(me.name)"])
        } catch {
            logger.warning("certificate revoked; replacement not installed yet", metadata: ["error": "\(error)"])
        }
    }
}

extension Gateway {
    /// The certificate new envelopes are signed with.
    public var signingCertificate: Certificate { identity.withLock { $0.certificate } }
    /// True while the certificate is revoked and no replacement is installed.
    public var signingPaused: Bool { identity.withLock { $0.revoked } }
}
