import Foundation
import Synchronization
import YizhanCore

/// Flattened JWS (RFC 7515) with a detached payload, as the wire contract fixes it.
/// The header is `{"alg","typ","x5c"}`; the signing input is B64URL(header) "." B64URL(payload).
public enum JWS {
    public static let envelopeType = "yizhan-envelope+jws"
    public static let directoryType = "yizhan-directory+jws"
    /// A seal's stamp over a document (see `Stamp`).
    public static let sealType = "yizhan-seal+jws"

    public static func sign(payload: [UInt8], type: String, key: PrivateKey, certificate: Certificate) throws(CryptoError) -> Envelope.Signature {
        guard key.matches(certificate) else {
            throw CryptoError(.signing, "the certificate does not belong to the signing key")
        }
        let header = JSONValue.object([
            "alg": .string(key.algorithm.jwsAlg),
            "typ": .string(type),
            "x5c": .array([.string(Data(certificate.der).base64EncodedString())]),
        ]).canonicalBytes()
        let protected = Base64URL.encode(header)
        let input = Array((protected + "." + Base64URL.encode(payload)).utf8)
        return Envelope.Signature(protected: protected, signature: Base64URL.encode(try key.sign(input)))
    }

    /// Checks the signature and returns the signer's certificate (not yet checked against any CA).
    /// `alg` and the certificate's key type must agree: no algorithm confusion.
    public static func verify(payload: [UInt8], signature: Envelope.Signature, type: String) throws(YizhanError) -> Certificate {
        guard let headerBytes = Base64URL.decode(signature.protected), let sig = Base64URL.decode(signature.signature) else {
            throw YizhanError(.badSignature, "signature is not base64url")
        }
        let header: JSONValue
        do { header = try JSONValue.parse(headerBytes) } catch { throw YizhanError(.badSignature, "protected header is not JSON") }
        guard let h = header.objectValue, Set(h.keys) == ["alg", "typ", "x5c"] else {
            throw YizhanError(.badSignature, "protected header must have exactly alg, typ, x5c")
        }
        guard h["typ"]?.stringValue == type else { throw YizhanError(.badSignature, "protected header typ is not \(type)") }
        guard let alg = h["alg"]?.stringValue else { throw YizhanError(.badSignature, "alg missing") }
        guard let chain = h["x5c"]?.arrayValue, chain.count == 1, let b64 = chain[0].stringValue else {
            throw YizhanError(.badSignature, "x5c must hold exactly the signer's certificate")
        }
        let (cert, key) = try parsed(b64)
        switch (alg, key.keyType) {
        case ("EdDSA", .ed25519), ("SM2-SM3", .sm2): break
        default: throw YizhanError(.badSignature, "alg \(alg) does not match a \(key.keyType.rawValue) certificate key")
        }
        let input = Array((signature.protected + "." + Base64URL.encode(payload)).utf8)
        guard key.verify(signature: sig, message: input) else { throw YizhanError(.badSignature, "signature does not verify") }
        return cert
    }

    /// Certificates seen in x5c, parsed once: a network has a few hundred signers, and each
    /// message names one of them again. Bounded; cleared whole when full.
    static let certificates = Mutex<[String: (Certificate, PublicKey)]>([:])

    static func parsed(_ b64: String) throws(YizhanError) -> (Certificate, PublicKey) {
        if let hit = certificates.withLock({ $0[b64] }) { return hit }
        guard let der = Data(base64Encoded: b64) else { throw YizhanError(.badSignature, "x5c must hold exactly the signer's certificate") }
        let entry: (Certificate, PublicKey)
        do {
            let cert = try Certificate(der: Array(der))
            entry = (cert, try cert.publicKey)
        } catch { throw YizhanError(.badSignature, "x5c certificate does not parse") }
        certificates.withLock { c in
            if c.count >= 4096 { c.removeAll(keepingCapacity: true) }
            c[b64] = entry
        }
        return entry
    }
}
