import COpenSSL
import Foundation

/// A verification key, carried as SubjectPublicKeyInfo DER.
///
/// `@unchecked Sendable`: immutable after creation; verification uses a fresh EVP_MD_CTX per call.
public final class PublicKey: @unchecked Sendable {
    public enum KeyType: String, Sendable { case ed25519 = "Ed25519", ecP256 = "EC-P256", sm2 = "SM2", other }

    let pkey: OpaquePointer
    let verifyTemplate: DigestTemplate?

    /// SubjectPublicKeyInfo DER. Encoded on demand: OpenSSL 3 encodes keys through its provider
    /// machinery, far too slow for every message (compare keys with `sameKey(as:)`).
    public var spkiDER: [UInt8] { get throws(CryptoError) { try Self.spkiDER(of: pkey) } }

    public func sameKey(as other: PublicKey) -> Bool { EVP_PKEY_eq(pkey, other.pkey) == 1 }

    public init(spkiDER der: [UInt8]) throws(CryptoError) {
        var key: OpaquePointer? = nil
        der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            key = d2i_PUBKEY(nil, &p, buf.count)
        }
        self.pkey = try OpenSSL.nonNil(key, .decoding, "d2i_PUBKEY")
        verifyTemplate = DigestTemplate(ed25519: pkey, sign: false)
    }

    init(retaining pkey: OpaquePointer) throws(CryptoError) {
        EVP_PKEY_up_ref(pkey)
        self.pkey = pkey
        verifyTemplate = DigestTemplate(ed25519: pkey, sign: false)
    }

    deinit { EVP_PKEY_free(pkey) }

    static func spkiDER(of pkey: OpaquePointer) throws(CryptoError) -> [UInt8] {
        let n = i2d_PUBKEY(pkey, nil)
        guard n > 0 else { throw CryptoError(.encoding, "i2d_PUBKEY failed: \(OpenSSL.drainErrors())") }
        var out = [UInt8](repeating: 0, count: Int(n))
        out.withUnsafeMutableBufferPointer { buf in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            _ = i2d_PUBKEY(pkey, &p)
        }
        return out
    }

    public var keyType: KeyType {
        if EVP_PKEY_is_a(pkey, "SM2") == 1 { return .sm2 }
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_ED25519: return .ed25519
        case EVP_PKEY_EC: return .ecP256
        default: return .other
        }
    }

    /// True only for a valid signature; any OpenSSL failure counts as invalid.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        func body(_ md: OpaquePointer) -> Bool? { EVP_DigestVerify(md, signature, signature.count, message, message.count) == 1 }
        let ok = (verifyTemplate?.withCopy(body) ?? OpenSSL.withDigestContext(pkey, sign: false, body)) ?? false
        if !ok { _ = OpenSSL.drainErrors() }
        return ok
    }
}
