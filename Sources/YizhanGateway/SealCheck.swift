import Foundation
import YizhanCore
import YizhanCrypto

/// What a stamp is worth here and now: checked against the pinned registry CA at the time of
/// stamping, and against the directory's revocations (a seal revoked after the stamp leaves the
/// stamp valid; one revoked before it, or for key compromise, makes it worthless).
public enum SealStatus: Sendable {
    case valid(StampInfo)
    /// Valid when stamped; the seal was revoked (destroyed, superseded, …) afterwards.
    case revokedSince(StampInfo, at: String, reason: String)
    case invalid(code: YizhanError.Code, reason: String)

    public var summary: String {
        switch self {
        case .valid(let i): return "valid — stamped by \(i.unitName) (\(i.unit)) with seal \(i.sealID) at \(i.stamped)"
        case .revokedSince(let i, let at, let reason):
            return "valid at stamping (\(i.stamped), seal \(i.sealID) of \(i.unitName)); seal revoked since \(at) (\(reason))"
        case .invalid(let code, let reason): return "\(code == .sealRevoked ? "revoked" : "invalid"): \(reason)"
        }
    }

    public var info: StampInfo? {
        switch self {
        case .valid(let i), .revokedSince(let i, _, _): return i
        case .invalid: return nil
        }
    }
}

public struct StampInfo: Sendable {
    public var unit: String
    public var unitName: String
    public var sealID: String
    public var certificateSerial: String
    public var algorithm: String
    public var stamped: String
    /// SHA-256 of the stamped payload: the document digest a print shows.
    public var documentSha256: String
    public var imageSha256: String?
    public var certificate: Certificate
}

public enum SealCheck {
    /// Clock skew tolerated between a stamp and the envelope that carries it.
    static let skew: TimeInterval = 300

    public static func evaluate(json: JSONValue, envelope e: Envelope, anchor: CertificateVerifier, directory: Directory?) -> SealStatus {
        guard let stamp = e.stamp else { return .invalid(code: .badSeal, reason: "the document is not stamped") }
        let v: Stamping.Verified
        do { v = try Stamping.verify(json: json, stamp: stamp) } catch { return .invalid(code: .badSeal, reason: error.message) }
        do { try anchor.verify(v.certificate, at: v.stampedAt) } catch {
            return .invalid(code: .badSeal, reason: "the seal certificate does not chain to the registry CA at the stamp's time: \(error.message)")
        }
        if let created = Timestamp.parse(e.created), v.stampedAt > created.addingTimeInterval(skew) {
            return .invalid(code: .badSeal, reason: "stamped at \(stamp.stamped), after the envelope was made (\(e.created))")
        }
        let info = StampInfo(unit: e.sender.rawValue, unitName: v.certificate.organization ?? e.sender.rawValue, sealID: stamp.seal,
                             certificateSerial: v.certificate.serialHex,
                             algorithm: (try? v.certificate.publicKey.keyType.rawValue) ?? "?", stamped: stamp.stamped,
                             documentSha256: v.payloadSha256, imageSha256: v.certificate.sealImageSHA256, certificate: v.certificate)
        guard let dir = directory else { return .valid(info) }
        if let rev = dir.revocation(serial: v.certificate.serialHex) {
            if rev.refuses(signedAt: v.stampedAt) {
                return .invalid(code: .sealRevoked, reason: "seal \(stamp.seal) was revoked at \(rev.at) (\(rev.reason)); the stamp of \(stamp.stamped) is not valid")
            }
            return .revokedSince(info, at: rev.at, reason: rev.reason)
        }
        return .valid(info)
    }
}
