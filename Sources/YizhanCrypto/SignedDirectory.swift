import Foundation
import YizhanCore

/// Signing and checking the registry directory with the CA key (JWS, detached payload).
public enum SignedDirectory {
    public static func sign(_ directory: Directory, ca: CertificateAuthority) throws -> [UInt8] {
        guard case .object(var o) = directory.unsignedJSON else { throw YizhanError(.invalidArgument, "directory is not an object") }
        let payload = JSONValue.object(o).canonicalBytes()
        let sig = try JWS.sign(payload: payload, type: JWS.directoryType, key: ca.key, certificate: ca.certificate)
        o["signature"] = .object(["protected": .string(sig.protected), "signature": .string(sig.signature)])
        return JSONValue.object(o).canonicalBytes()
    }

    /// Accepts only a directory signed by exactly the pinned CA certificate.
    public static func open(_ bytes: [UInt8], anchor: Certificate) throws(YizhanError) -> Directory {
        let json = try JSONValue.parse(bytes)
        let d: Directory
        do { d = try json.decode(Directory.self) } catch { throw YizhanError(.schemaViolation, "directory does not decode: \(error)") }
        guard let sig = d.signature else { throw YizhanError(.badSignature, "directory is not signed") }
        let signer = try JWS.verify(payload: Envelope.signingPayload(of: json), signature: sig, type: JWS.directoryType)
        guard signer.der == anchor.der else { throw YizhanError(.untrustedCertificate, "directory is not signed by the pinned registry CA") }
        return d
    }
}
