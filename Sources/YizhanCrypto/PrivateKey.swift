import COpenSSL
import Foundation

/// An Ed25519 signing key. Only ever written to disk encrypted (PKCS#8, AES-256-CBC, PBKDF2).
///
/// `@unchecked Sendable`: the EVP_PKEY is never mutated after creation, and OpenSSL 3 allows
/// concurrent signing with one key as long as each call has its own EVP_MD_CTX (ours do).
public final class PrivateKey: @unchecked Sendable {
    let pkey: OpaquePointer

    init(owning pkey: OpaquePointer) { self.pkey = pkey }
    deinit { EVP_PKEY_free(pkey) } // EVP_PKEY_free clears the key material before freeing.

    public static func generateEd25519() throws(CryptoError) -> PrivateKey {
        let ctx = try OpenSSL.nonNil(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil), .keyGeneration, "EVP_PKEY_CTX_new_id")
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

    public func sign(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        let md = try OpenSSL.nonNil(EVP_MD_CTX_new(), .signing, "EVP_MD_CTX_new")
        defer { EVP_MD_CTX_free(md) }
        try OpenSSL.check(EVP_DigestSignInit(md, nil, nil, nil, pkey), .signing, "EVP_DigestSignInit")
        var len = 0
        try OpenSSL.check(EVP_DigestSign(md, nil, &len, message, message.count), .signing, "EVP_DigestSign (size)")
        var sig = [UInt8](repeating: 0, count: len)
        try OpenSSL.check(EVP_DigestSign(md, &sig, &len, message, message.count), .signing, "EVP_DigestSign")
        return Array(sig.prefix(len))
    }

    /// PEM of the key encrypted under `passphrase`.
    public func encryptedPEM(passphrase: String) throws(CryptoError) -> String {
        guard passphrase.utf8.count >= 8 else { throw CryptoError(.encoding, "passphrase must be at least 8 bytes") }
        var pass = Array(passphrase.utf8CString)
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
        var pass = Array(passphrase.utf8CString)
        defer { for i in pass.indices { pass[i] = 0 } }
        let key: OpaquePointer? = try OpenSSL.withReadBIO(Array(pem.utf8)) { bio in
            pass.withUnsafeMutableBufferPointer { p in PEM_read_bio_PrivateKey(bio, nil, nil, p.baseAddress) }
        }
        guard let key else {
            _ = OpenSSL.drainErrors()
            throw CryptoError(.wrongPassphrase, "cannot decrypt the private key (wrong passphrase or damaged file)")
        }
        guard EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 else {
            EVP_PKEY_free(key)
            throw CryptoError(.unsupported, "only Ed25519 private keys are supported")
        }
        return PrivateKey(owning: key)
    }
}
