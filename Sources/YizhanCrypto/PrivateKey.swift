import COpenSSL
import Foundation

/// The signature algorithms a unit may choose: Ed25519 by default, or SM2 with SM3 (GB/T 38540).
public enum KeyAlgorithm: String, Sendable, Codable, CaseIterable {
    case ed25519, sm2
    /// The JWS `alg` for this key type; `SM2-SM3` is the private value Schemas/ documents.
    public var jwsAlg: String { self == .ed25519 ? "EdDSA" : "SM2-SM3" }
}

/// An Ed25519 or SM2 signing key. Only ever written to disk encrypted (PKCS#8, AES-256-CBC, PBKDF2).
///
/// `@unchecked Sendable`: the EVP_PKEY is never mutated after creation, and OpenSSL 3 allows
/// concurrent signing with one key as long as each call has its own EVP_MD_CTX (ours do).
public final class PrivateKey: @unchecked Sendable {
    let pkey: OpaquePointer
    let signTemplate: DigestTemplate?

    init(owning pkey: OpaquePointer) { self.pkey = pkey; signTemplate = DigestTemplate(ed25519: pkey, sign: true) }
    deinit { EVP_PKEY_free(pkey) } // EVP_PKEY_free clears the key material before freeing.

    public static func generateEd25519() throws(CryptoError) -> PrivateKey { try generate(.ed25519) }

    public static func generate(_ algorithm: KeyAlgorithm) throws(CryptoError) -> PrivateKey {
        let ctx = try OpenSSL.nonNil(EVP_PKEY_CTX_new_from_name(nil, algorithm == .ed25519 ? "ED25519" : "SM2", nil), .keyGeneration, "EVP_PKEY_CTX_new_from_name")
        defer { EVP_PKEY_CTX_free(ctx) }
        try OpenSSL.check(EVP_PKEY_keygen_init(ctx), .keyGeneration, "EVP_PKEY_keygen_init")
        var key: OpaquePointer? = nil
        try OpenSSL.check(EVP_PKEY_keygen(ctx, &key), .keyGeneration, "EVP_PKEY_keygen")
        return PrivateKey(owning: try OpenSSL.nonNil(key, .keyGeneration, "EVP_PKEY_keygen"))
    }

    public var publicKey: PublicKey {
        get throws(CryptoError) {
            let der = try PublicKey.spkiDER(of: pkey)
            return try PublicKey(spkiDER: der)
        }
    }

    /// Whether `certificate` certifies this key (compared inside OpenSSL, without encoding either).
    public func matches(_ certificate: Certificate) -> Bool {
        guard let pub = X509_get0_pubkey(certificate.x509) else { _ = OpenSSL.drainErrors(); return false }
        return EVP_PKEY_eq(pub, pkey) == 1
    }

    public var algorithm: KeyAlgorithm { EVP_PKEY_is_a(pkey, "SM2") == 1 ? .sm2 : .ed25519 }

    public func sign(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        func body(_ md: OpaquePointer) -> [UInt8]? {
            var len = 0
            guard EVP_DigestSign(md, nil, &len, message, message.count) == 1 else { return nil }
            var sig = [UInt8](repeating: 0, count: len)
            guard EVP_DigestSign(md, &sig, &len, message, message.count) == 1 else { return nil }
            return Array(sig.prefix(len))
        }
        let sig = signTemplate?.withCopy(body) ?? OpenSSL.withDigestContext(pkey, sign: true, body)
        guard let sig else { throw CryptoError(.signing, "signing failed: \(OpenSSL.drainErrors())") }
        return sig
    }

    /// PEM of the key encrypted under `passphrase`.
    public func encryptedPEM(passphrase: String) throws(CryptoError) -> String {
        var bytes = Array(passphrase.utf8)
        defer { for i in bytes.indices { bytes[i] = 0 } }
        return try encryptedPEM(passphraseBytes: bytes)
    }

    /// As `encryptedPEM(passphrase:)`, from bytes the caller zeroes (seal key-encryption keys).
    public func encryptedPEM(passphraseBytes: [UInt8]) throws(CryptoError) -> String {
        guard passphraseBytes.count >= 8, !passphraseBytes.contains(0) else { throw CryptoError(.encoding, "passphrase must be at least 8 non-zero bytes") }
        var pass = passphraseBytes.map { CChar(bitPattern: $0) } + [0]
        defer { for i in pass.indices { pass[i] = 0 } }
        let bytes = try OpenSSL.withWriteBIO { (bio) throws(CryptoError) in
            let rc = pass.withUnsafeMutableBufferPointer { p in
                PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), p.baseAddress, Int32(p.count - 1), nil, nil)
            }
            try OpenSSL.check(rc, .encoding, "PEM_write_bio_PKCS8PrivateKey")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func fromEncryptedPEM(_ pem: String, passphrase: String) throws(CryptoError) -> PrivateKey {
        var bytes = Array(passphrase.utf8)
        defer { for i in bytes.indices { bytes[i] = 0 } }
        return try fromEncryptedPEM(pem, passphraseBytes: bytes)
    }

    public static func fromEncryptedPEM(_ pem: String, passphraseBytes: [UInt8]) throws(CryptoError) -> PrivateKey {
        var pass = passphraseBytes.map { CChar(bitPattern: $0) } + [0]
        defer { for i in pass.indices { pass[i] = 0 } }
        let key: OpaquePointer? = try OpenSSL.withReadBIO(Array(pem.utf8)) { bio in
            pass.withUnsafeMutableBufferPointer { p in PEM_read_bio_PrivateKey(bio, nil, nil, p.baseAddress) }
        }
        guard let key else {
            _ = OpenSSL.drainErrors()
            throw CryptoError(.wrongPassphrase, "cannot decrypt the private key (wrong passphrase or damaged file)")
        }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 || EVP_PKEY_is_a(key, "SM2") == 1 else {
            EVP_PKEY_free(key)
            throw CryptoError(.unsupported, "only Ed25519 and SM2 private keys are supported")
        }
        return PrivateKey(owning: key)
    }
}
