import Foundation
import Testing
import YizhanCore
@testable import YizhanCrypto

@Suite struct CryptoTests {
    let unitA: UnitCode
    let unitB: UnitCode

    init() throws {
        unitA = try UnitCode.completing("11420100MB1234567")
        unitB = try UnitCode.completing("11420100MB7654321")
    }

    @Test func ed25519SignVerifyRoundTrip() throws {
        let key = try PrivateKey.generateEd25519()
        let msg = Array("驿站".utf8)
        let sig = try key.sign(msg)
        #expect(sig.count == 64)
        let pub = try key.publicKey
        #expect(pub.keyType == .ed25519)
        #expect(pub.verify(signature: sig, message: msg))
        #expect(!pub.verify(signature: sig, message: msg + [0]))
        var bad = sig; bad[0] ^= 1
        #expect(!pub.verify(signature: bad, message: msg))
    }

    @Test func encryptedKeyFileNeedsThePassphrase() throws {
        let key = try PrivateKey.generateEd25519()
        let pem = try key.encryptedPEM(passphrase: "correct horse battery")
        #expect(pem.contains("BEGIN ENCRYPTED PRIVATE KEY"))
        #expect(!pem.contains("BEGIN PRIVATE KEY"))
        let back = try PrivateKey.fromEncryptedPEM(pem, passphrase: "correct horse battery")
        #expect(try back.publicKey.spkiDER == key.publicKey.spkiDER)
        #expect(throws: CryptoError.self) { try PrivateKey.fromEncryptedPEM(pem, passphrase: "wrong passphrase") }
    }

    @Test func certificateChainsToItsCAOnly() throws {
        let ca = try CertificateAuthority.create(name: "Yizhan test CA")
        let other = try CertificateAuthority.create(name: "Another CA")
        let key = try PrivateKey.generateEd25519()
        let cert = try ca.issue(unitCode: unitA.rawValue, unitName: "武汉市城乡建设委员会", publicKey: key.publicKey)
        #expect(cert.commonName == unitA.rawValue)
        #expect(cert.organization == "武汉市城乡建设委员会")
        #expect(cert.allowsDigitalSignature)
        try CertificateVerifier(anchor: ca.certificate).verify(cert)
        #expect(throws: CryptoError.self) { try CertificateVerifier(anchor: other.certificate).verify(cert) }
        let forged = try other.issue(unitCode: unitA.rawValue, unitName: "x", publicKey: key.publicKey)
        #expect(throws: CryptoError.self) { try CertificateVerifier(anchor: ca.certificate).verify(forged) }
        // DER and PEM round trips keep the certificate identical.
        #expect(try Certificate(pem: cert.pem).der == cert.der)
    }

    @Test func expiredAndNotYetValidCertificatesAreRejected() throws {
        let ca = try CertificateAuthority.create(name: "Yizhan test CA")
        let key = try PrivateKey.generateEd25519()
        let now = Date()
        let expired = try ca.issue(unitCode: unitA.rawValue, unitName: "u", publicKey: key.publicKey,
                                   notBefore: now.addingTimeInterval(-86400 * 10), notAfter: now.addingTimeInterval(-86400))
        do {
            try CertificateVerifier(anchor: ca.certificate).verify(expired)
            Issue.record("expired certificate accepted")
        } catch { #expect(error.message.contains("expired")) }
        let future = try ca.issue(unitCode: unitA.rawValue, unitName: "u", publicKey: key.publicKey,
                                  notBefore: now.addingTimeInterval(86400), notAfter: now.addingTimeInterval(86400 * 10))
        #expect(throws: CryptoError.self) { try CertificateVerifier(anchor: ca.certificate).verify(future) }
    }

    @Test func caCertificateCannotSignAsAUnit() throws {
        let ca = try CertificateAuthority.create(name: "Yizhan test CA")
        let otherKey = try PrivateKey.generateEd25519()
        #expect(throws: CryptoError.self) {
            _ = try JWS.sign(payload: [1], type: JWS.envelopeType, key: otherKey, certificate: ca.certificate)
        }
    }

    @Test func passwordHashesVerifyOnlyTheirPassword() throws {
        let h = try PasswordHash.make("initial-Passw0rd", n: 1 << 10)
        #expect(h.hasPrefix("scrypt$1024$8$1$"))
        #expect(!h.contains("initial-Passw0rd"))
        #expect(PasswordHash.verify("initial-Passw0rd", against: h))
        #expect(!PasswordHash.verify("initial-Passw0rd!", against: h))
        #expect(!PasswordHash.verify("x", against: "garbage"))
    }

    @Test func sha256MatchesKnownVector() {
        #expect(Digest.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// A token goes on a command line (`--enrol TOKEN`): it never starts with "-", which would make
    /// it an option (before, one in 64 did; among 4,000 that is all but certain), and otherwise
    /// keeps the whole base64url alphabet.
    @Test func tokensNeverLookLikeOptions() throws {
        let tokens = try (0..<4000).map { _ in try SecureRandom.token(bytes: 6) }
        #expect(tokens.allSatisfy { $0.count == 8 && !$0.hasPrefix("-") })
        #expect(tokens.contains { $0.dropFirst().contains("-") } && tokens.contains { $0.hasPrefix("_") })
        #expect(Set(tokens).count == tokens.count)
    }
}
