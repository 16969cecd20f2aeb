import Foundation
import YizhanCore

/// Stamping with a seal (签名印章) and checking a stamp's signature. Trust in the seal certificate
/// (chain, profile, unit, revocation at the stamp's time) is `SealCheck`'s, in the gateway.
public enum Stamping {
    /// Stamps a document about to be sent: `document` and `parts` exactly as the envelope will carry them.
    public static func stamp(id: String, sender: String, document: DocumentInfo, parts: [Envelope.Part], sealID: String,
                             key: PrivateKey, certificate: Certificate, at time: Date = Date()) throws -> Envelope.Stamp {
        guard certificate.isSeal, certificate.sealID == sealID else { throw YizhanError(.badSeal, "certificate is not the certificate of seal \(sealID)") }
        guard certificate.commonName == sender else { throw YizhanError(.badSeal, "seal \(sealID) belongs to unit \(certificate.commonName ?? "?"), not \(sender)") }
        let stamped = Timestamp.format(time)
        let payload = Envelope.stampPayload(id: id, sender: sender, seal: sealID, stamped: stamped,
                                            document: try JSONValue.from(document), parts: try JSONValue.from(parts))
        let sig = try JWS.sign(payload: payload, type: JWS.sealType, key: key, certificate: certificate)
        return Envelope.Stamp(seal: sealID, stamped: stamped, protected: sig.protected, signature: sig.signature)
    }

    public struct Verified: Sendable {
        public let certificate: Certificate
        public let stampedAt: Date
        /// The canonical payload that was stamped, and its SHA-256 (hex): the document digest a print shows.
        public let payload: [UInt8]
        public let payloadSha256: String
    }

    /// The payload a stamp in `envelope` (its raw JSON) covers.
    public static func payload(of json: JSONValue, stamp: Envelope.Stamp) throws(YizhanError) -> [UInt8] {
        guard let id = json["id"]?.stringValue, let sender = json["sender"]?.stringValue, let document = json["document"], let parts = json["parts"] else {
            throw YizhanError(.badSeal, "a stamped envelope needs id, sender, document and parts")
        }
        return Envelope.stampPayload(id: id, sender: sender, seal: stamp.seal, stamped: stamp.stamped, document: document, parts: parts)
    }

    /// Checks the stamp's signature against the seal certificate it carries, and that the
    /// certificate is a seal of the sender with the seal id the stamp names.
    public static func verify(json: JSONValue, stamp: Envelope.Stamp) throws(YizhanError) -> Verified {
        guard let at = Timestamp.parse(stamp.stamped) else { throw YizhanError(.badSeal, "stamp time \(stamp.stamped) is not RFC 3339") }
        let payload = try payload(of: json, stamp: stamp)
        let cert: Certificate
        do { cert = try JWS.verify(payload: payload, signature: .init(protected: stamp.protected, signature: stamp.signature), type: JWS.sealType) } catch {
            throw YizhanError(.badSeal, "stamp: \(error.message)")
        }
        guard cert.isSeal else { throw YizhanError(.badSeal, "the stamp's certificate is not a seal certificate") }
        guard cert.sealID == stamp.seal else { throw YizhanError(.badSeal, "the stamp names seal \(stamp.seal), its certificate is seal \(cert.sealID ?? "?")") }
        guard cert.commonName == json["sender"]?.stringValue else {
            throw YizhanError(.badSeal, "the seal belongs to unit \(cert.commonName ?? "?"), the document comes from \(json["sender"]?.stringValue ?? "?")")
        }
        return Verified(certificate: cert, stampedAt: at, payload: payload, payloadSha256: Digest.sha256Hex(payload))
    }
}

extension Digest {
    /// SM3 (GB/T 32905), hex.
    public static func sm3Hex(_ bytes: [UInt8]) -> String { hex(OpenSSL.sm3(bytes)) }
}
