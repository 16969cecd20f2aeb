import Foundation
import YizhanCore

/// An envelope with its signature as it travels: the exact bytes, the parsed JSON and the model.
public struct SignedEnvelope: Sendable {
    public let bytes: [UInt8]
    public let envelope: Envelope
    public let json: JSONValue
    /// SHA-256 (hex) of the signing payload, computed once from the payload that was signed or verified.
    public let payloadSha256: String

    /// Signs `envelope` (its `signature` is replaced) and serialises it canonically. The model is
    /// encoded once; the signature is added to that JSON value rather than encoding again.
    public static func sign(_ envelope: Envelope, key: PrivateKey, certificate: Certificate) throws -> SignedEnvelope {
        let u = try Unsigned(envelope)
        return u.signed(try JWS.sign(payload: u.splice.payload, type: JWS.envelopeType, key: key, certificate: certificate))
    }

    /// Signs many receipts with one signature (`JWS.signBatch`); each comes out with its own
    /// inclusion proof and verifies on its own. A receipt alone gets an ordinary signature.
    public static func signBatch(_ envelopes: [Envelope], key: PrivateKey, certificate: Certificate) throws -> [SignedEnvelope] {
        guard envelopes.allSatisfy({ $0.kind == .receipt }) else { throw YizhanError(.invalidArgument, "only receipts are signed in batches") }
        if envelopes.count == 1 { return [try sign(envelopes[0], key: key, certificate: certificate)] }
        let unsigned = try envelopes.map(Unsigned.init)
        let signatures = try JWS.signBatch(payloads: unsigned.map(\.splice.payload), key: key, certificate: certificate)
        return zip(unsigned, signatures).map { $0.signed($1) }
    }

    /// An envelope encoded once without its signature: the object and its canonical payload.
    struct Unsigned {
        var envelope: Envelope
        var object: [String: JSONValue]
        var splice: CanonicalSplice

        init(_ envelope: Envelope) throws {
            var e = envelope
            e.signature = nil
            let o = e.jsonObject
            guard let splice = JSONValue.object(o).canonicalSplice(omitting: "signature") else {
                throw YizhanError(.invalidArgument, "envelope is not an object")
            }
            self.envelope = e; object = o; self.splice = splice
        }

        /// The signature spliced into the canonical bytes and set in the model and the JSON.
        func signed(_ sig: Envelope.Signature) -> SignedEnvelope {
            var e = envelope, o = object
            e.signature = sig
            let so = sig.jsonValue
            o["signature"] = so
            return SignedEnvelope(bytes: splice.with(so), envelope: e, json: .object(o), payloadSha256: Digest.sha256Hex(splice.payload))
        }
    }

    init(bytes: [UInt8], envelope: Envelope, json: JSONValue, payloadSha256: String) {
        self.bytes = bytes; self.envelope = envelope; self.json = json; self.payloadSha256 = payloadSha256
    }

    /// Parses, validates against the schema, and checks the signature. Trust in the certificate
    /// (chain, revocation, unit) is the caller's next step.
    public static func open(_ bytes: [UInt8]) throws(YizhanError) -> (SignedEnvelope, Certificate) {
        let (env, json) = try Envelope.parse(bytes)
        guard let sig = env.signature else { throw YizhanError(.schemaViolation, "envelope has no signature") }
        let payload = Envelope.signingPayload(of: json)
        let cert = try JWS.verify(payload: payload, signature: sig, type: JWS.envelopeType)
        return (SignedEnvelope(bytes: bytes, envelope: env, json: json, payloadSha256: Digest.sha256Hex(payload)), cert)
    }
}
