import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanStore

/// The receiving checks of DESIGN.md, in order: schema; signature; certificate chain to the
/// registry CA; not revoked; certificate's unit = sender; broker user_id = the sender's broker
/// user; this unit among the recipients (or successor of one); every part's size and digest.
struct InboundVerifier: Sendable {
    let me: String
    let anchor: CertificateVerifier
    /// Chains already checked against the anchor, by certificate fingerprint, with their validity
    /// period (rechecked every time); revocation is the directory's, asked on every message.
    let checked = ChainCache()

    struct Accepted: Sendable {
        var signed: SignedEnvelope
        var parts: [[UInt8]]
        var onBehalfOf: String?
    }

    struct Rejected: Error, Sendable {
        var code: YizhanError.Code
        var detail: String
        /// Set once the certificate proved who sent it: only then is a rejected receipt sent.
        var identified: SignedEnvelope?
        var claimedSender: String?
        /// The verdict rests on a directory that could not be refreshed: try again later.
        var retryLater = false
    }

    /// `directory` is asked again (refreshed) when the sender is not in it yet; `confirmed`
    /// says whether the last refresh reached the registry.
    func verify(_ d: AMQPDelivery, directory: (_ refresh: Bool) async -> Directory?, confirmed: () async -> Bool) async -> Result<Accepted, Rejected> {
        // Envelope bytes and part bytes.
        var envelopeBytes = d.body
        var parts: [[UInt8]] = []
        if d.contentType == MessageFrame.framedContentType {
            do { (envelopeBytes, parts) = try MessageFrame.decode(d.body) } catch {
                return .failure(Rejected(code: error.code, detail: error.message, identified: nil, claimedSender: nil))
            }
        } else if d.contentType != MessageFrame.envelopeContentType {
            return .failure(Rejected(code: .schemaViolation, detail: "content_type \(d.contentType ?? "none") is not a Yizhan envelope", identified: nil, claimedSender: nil))
        }
        guard envelopeBytes.count <= ReceiveLimits.envelope else {
            return .failure(Rejected(code: .oversize, detail: "envelope of \(envelopeBytes.count) bytes exceeds \(ReceiveLimits.envelope)", identified: nil, claimedSender: nil))
        }
        // 1–2. Schema, then signature.
        let signed: SignedEnvelope, cert: Certificate
        do { (signed, cert) = try SignedEnvelope.open(envelopeBytes) } catch {
            let claimed = (try? JSONValue.parse(envelopeBytes))?["sender"]?.stringValue
            return .failure(Rejected(code: error.code, detail: error.message, identified: nil, claimedSender: claimed))
        }
        let e = signed.envelope
        let sender = e.sender.rawValue
        let declared = e.parts.reduce(0) { $0 + $1.size }
        guard declared <= ReceiveLimits.documentBytes else {
            return .failure(Rejected(code: .oversize, detail: "parts declare \(declared) bytes, more than the \(ReceiveLimits.documentBytes) a document may carry", identified: signed, claimedSender: sender))
        }
        // 3. Chain to the pinned registry CA, validity period, key usage; a seal never signs envelopes.
        guard !cert.isSeal else {
            return .failure(Rejected(code: .untrustedCertificate, detail: "a seal certificate cannot sign envelopes (it only stamps documents)", identified: nil, claimedSender: sender))
        }
        if !checked.isValid(cert) {
            do { try anchor.verify(cert) } catch {
                return .failure(Rejected(code: .untrustedCertificate, detail: error.message, identified: nil, claimedSender: sender))
            }
            checked.remember(cert)
        }
        // 4. Not revoked (per the directory, refreshed when the sender is unknown).
        var dir = await directory(false)
        if dir?.entry(sender) == nil { dir = await directory(true) }
        guard let dir else {
            return .failure(Rejected(code: .unknownSender, detail: "no registry directory available", identified: nil, claimedSender: sender))
        }
        // A certificate retired in an orderly way (rename, merger, deregistration) still covers what
        // it signed before; one revoked for any other reason covers nothing.
        if let rev = dir.revocation(serial: cert.serialHex), rev.refuses(signedAt: Timestamp.parse(e.created)) {
            return .failure(Rejected(code: .revokedCertificate, detail: "certificate \(cert.serialHex) is revoked since \(rev.at) (\(rev.reason))", identified: nil, claimedSender: sender))
        }
        // 5. The certificate speaks for the sender it claims.
        guard cert.commonName == sender else {
            return .failure(Rejected(code: .senderMismatch, detail: "certificate is for \(cert.commonName ?? "?"), envelope says \(sender)", identified: nil, claimedSender: sender))
        }
        guard let entry = dir.entry(sender) else {
            return .failure(Rejected(code: .unknownSender, detail: "unit \(sender) is not in directory version \(dir.version)", identified: nil, claimedSender: sender,
                                     retryLater: !(await confirmed())))
        }
        // 6. The broker vouches for the publisher: user_id must be the sender's broker user.
        guard d.userID == entry.brokerUser else {
            return .failure(Rejected(code: .wrongUserID, detail: "user_id \(d.userID ?? "none") is not \(sender)'s broker user \(entry.brokerUser)", identified: signed, claimedSender: sender))
        }
        // 7. Addressed to this unit, or to a unit this one succeeds.
        var onBehalfOf: String? = nil
        if !e.recipients.contains(where: { $0.unit.rawValue == me }) {
            func successorOf(_ d: Directory) -> String? {
                e.recipients.first(where: { d.chainOfSuccessors(from: $0.unit.rawValue).contains(me) })?.unit.rawValue
            }
            // A merger may be seconds old: look at a fresh directory before refusing.
            var found = successorOf(dir)
            if found == nil, let fresh = await directory(true) { found = successorOf(fresh) }
            guard let found else {
                return .failure(Rejected(code: .notAddressed, detail: "\(me) is not among the recipients", identified: signed, claimedSender: sender,
                                         retryLater: !(await confirmed())))
            }
            onBehalfOf = found
        }
        // 7½. A stamp must verify: the seal of the sender, made while the seal was valid.
        if e.stamp != nil {
            if case .invalid(let code, let reason) = SealCheck.evaluate(json: signed.json, envelope: e, anchor: anchor, directory: dir) {
                return .failure(Rejected(code: code, detail: reason, identified: signed, claimedSender: sender))
            }
        }
        // 8. Every part present with the signed size and digest; chunked parts follow the envelope
        // and are checked chunk by chunk, then whole, before the document is shown.
        if e.transfer != nil {
            guard parts.isEmpty, d.contentType == MessageFrame.envelopeContentType else {
                return .failure(Rejected(code: .partMismatch, detail: "a chunked transfer's envelope travels alone", identified: signed, claimedSender: sender))
            }
            return .success(Accepted(signed: signed, parts: [], onBehalfOf: onBehalfOf))
        }
        guard parts.count == e.parts.count else {
            return .failure(Rejected(code: .partMismatch, detail: "envelope lists \(e.parts.count) part(s), message carries \(parts.count)", identified: signed, claimedSender: sender))
        }
        for (i, (p, bytes)) in zip(e.parts, parts).enumerated() {
            guard p.size == bytes.count, Digest.sha256Hex(bytes) == p.sha256 else {
                return .failure(Rejected(code: .partMismatch, detail: "part \(i) (\(p.name)) does not match its signed size and SHA-256", identified: signed, claimedSender: sender))
            }
        }
        return .success(Accepted(signed: signed, parts: parts, onBehalfOf: onBehalfOf))
    }
}
