import Foundation
import YizhanCore

/// An envelope with its signature as it travels: the exact bytes, the parsed JSON and the model.
public struct SignedEnvelope: Sendable {
    public let bytes: [UInt8]
    public let envelope: Envelope
    public let json: JSONValue

    /// Signs `envelope` (its `signature` is replaced) and serialises it canonically.
    public static func sign(_ envelope: Envelope, key: PrivateKey, certificate: Certificate) throws -> SignedEnvelope {
        var e = envelope
        e.signature = nil
        let unsigned = try JSONValue.from(e)
        let payload = Envelope.signingPayload(of: unsigned)
        let sig = try JWS.sign(payload: payload, type: JWS.envelopeType, key: key, certificate: certificate)
        e.signature = sig
        let json = try JSONValue.from(e)
        return SignedEnvelope(bytes: json.canonicalBytes(), envelope: e, json: json)
    }

    public init(bytes: [UInt8], envelope: Envelope, json: JSONValue) {
        self.bytes = bytes; self.envelope = envelope; self.json = json
    }

    /// Parses, validates against the schema, and checks the signature. Trust in the certificate
    /// (chain, revocation, unit) is the caller's next step.
    public static func open(_ bytes: [UInt8]) throws(YizhanError) -> (SignedEnvelope, Certificate) {
        let (env, json) = try Envelope.parse(bytes)
        guard let sig = env.signature else { throw YizhanError(.schemaViolation, "envelope has no signature") }
        let cert = try JWS.verify(payload: Envelope.signingPayload(of: json), signature: sig, type: JWS.envelopeType)
        return (SignedEnvelope(bytes: bytes, envelope: env, json: json), cert)
    }

    public var payloadSha256: String { Digest.sha256Hex(Envelope.signingPayload(of: json)) }
}
