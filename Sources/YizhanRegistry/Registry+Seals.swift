import Foundation
import YizhanCore
import YizhanCrypto
import YizhanStore

/// The seal lifecycle (DOMAIN.md "Electronic seals") and the verification of certified prints.
extension Registry {
    static let maximumSealImage = 256 * 1024

    /// Checks the image is what its media type says (PNG signature, or an SVG document).
    static func checkSealImage(_ bytes: [UInt8], mediaType: String) throws {
        guard !bytes.isEmpty, bytes.count <= maximumSealImage else { throw YizhanError(.invalidArgument, "a seal image must be 1 byte to 256 KiB") }
        switch mediaType {
        case "image/png":
            guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw YizhanError(.invalidArgument, "the seal image is not a PNG") }
        case "image/svg+xml":
            let text = String(decoding: bytes.prefix(4096), as: UTF8.self)
            guard text.contains("<svg") else { throw YizhanError(.invalidArgument, "the seal image is not an SVG document") }
        default:
            throw YizhanError(.invalidArgument, "a seal image is image/svg+xml or image/png, not \(mediaType)")
        }
    }

    public func applySeal(unit code: String, _ a: RegistryAPI.SealApply, actor: String) throws -> RegistryStore.SealRecord {
        _ = try UnitCode(code)
        guard RegistryStore.sealReasons.contains(a.reason) else { throw YizhanError(.invalidArgument, "reason must be new, renamed, merged or damaged, not \(a.reason)") }
        guard !a.head.trimmingCharacters(in: .whitespaces).isEmpty else { throw YizhanError(.invalidArgument, "the application needs the unit head's name (head)") }
        guard let alg = KeyAlgorithm(rawValue: a.algorithm) else { throw YizhanError(.invalidArgument, "algorithm must be ed25519 or sm2, not \(a.algorithm)") }
        if ["renamed", "damaged"].contains(a.reason), a.replaces == nil {
            throw YizhanError(.invalidArgument, "a seal remade because the unit was \(a.reason) names the seal it replaces")
        }
        guard let image = Data(base64Encoded: a.image) else { throw YizhanError(.invalidArgument, "image must be base64") }
        try Self.checkSealImage(Array(image), mediaType: a.mediaType)
        return try store.applySeal(.init(unit: code, reason: a.reason, head: a.head.trimmingCharacters(in: .whitespaces), algorithm: alg.rawValue,
                                         image: Array(image), imageMediaType: a.mediaType, imageSha256: Digest.sha256Hex(Array(image)),
                                         replaces: a.replaces), by: actor)
    }

    /// Making: the unit's gateway generated the key pair and sends only the public key; the
    /// certificate names the unit's current name and binds the approved image.
    public func makeSeal(id: String, _ m: RegistryAPI.SealMake, principal: Principal) async throws -> RegistryAPI.SealMade {
        guard let rec = try store.seal(id: id) else { throw YizhanError(.notFound, "no seal \(id)") }
        guard case .unit(let code) = principal, code == rec.unit else {
            throw YizhanError(.forbidden, "a seal is made by its own unit's gateway, where its key is generated")
        }
        guard rec.state == "approved" else { throw YizhanError(.conflict, "seal \(id) is \(rec.state); only an approved seal is made") }
        let witnesses = try m.witnesses.validated()
        guard let der = Data(base64Encoded: m.publicKey) else { throw YizhanError(.invalidArgument, "publicKey must be base64 DER") }
        let key = try PublicKey(spkiDER: Array(der))
        let expected: PublicKey.KeyType = rec.algorithm == "sm2" ? .sm2 : .ed25519
        guard key.keyType == expected else { throw YizhanError(.invalidArgument, "seal \(id) was approved for \(rec.algorithm); the key is \(key.keyType.rawValue)") }
        let unit = try activeUnit(code)
        let cert = try ca.issueSeal(unitCode: code, unitName: unit.name, sealID: id, imageSHA256: rec.imageSha256, publicKey: key)
        let made = try store.makeSeal(id: id, unit: code, serial: cert.serialHex, der: cert.der, witnesses: witnesses, by: principal.actor)
        if rec.replaces != nil { try await publishDirectory() }
        logger.info("seal made", metadata: ["unit": "\(code)", "seal": "\(id)", "certificate": "\(cert.serialHex)"])
        return RegistryAPI.SealMade(seal: try JSONValue.from(made), certificate: cert.pem)
    }

    /// Destruction before witnesses: the certificate is revoked (if it was still in use) and every
    /// gateway learns it from the next directory; the unit's gateway then wipes the key.
    public func destroySeal(id: String, _ d: RegistryAPI.SealDestroy, actor: String) async throws -> RegistryStore.SealRecord {
        let witnesses = try d.witnesses.validated()
        guard !d.reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw YizhanError(.invalidArgument, "a destruction needs a reason") }
        let r = try store.destroySeal(id: id, witnesses: witnesses, reason: d.reason, by: actor)
        try await publishDirectory()
        logger.info("seal destroyed", metadata: ["seal": "\(id)"])
        return r
    }

    /// Letters people can read back from paper without confusion (no 0/O, 1/I/L).
    static let codeAlphabet = Array("23456789ABCDEFGHJKMNPQRSTUVWXYZ")

    static func newPrintCode() throws -> String {
        let bytes = try SecureRandom.bytes(12)
        let chars = bytes.map { codeAlphabet[Int($0) % codeAlphabet.count] } // 12 × log2(31) ≈ 59 bits; the tiny modulo bias is harmless here
        return stride(from: 0, to: 12, by: 4).map { String(chars[$0..<$0 + 4]) }.joined(separator: "-")
    }

    /// The verification seal (验证印章): checks a stamp independently — signature, chain to this CA,
    /// the seal's own record and its revocation at the stamp's time — and records a code for the print.
    public func certifyPrint(_ p: RegistryAPI.PrintRequest, principal: Principal) throws -> RegistryAPI.PrintVerification {
        guard case .unit = principal else { throw YizhanError(.forbidden, "a certified print is asked for by a unit's gateway") }
        let json = JSONValue.object(["id": .string(p.documentId), "sender": .string(p.sender), "document": p.document, "parts": p.parts])
        let v = try Stamping.verify(json: json, stamp: p.stamp)
        do { try CertificateVerifier(anchor: ca.certificate).verify(v.certificate, at: v.stampedAt) } catch {
            throw YizhanError(.badSeal, "the seal certificate does not chain to this registry: \(error.message)")
        }
        guard let rec = try store.seal(serial: v.certificate.serialHex), rec.id == p.stamp.seal, rec.unit == p.sender else {
            throw YizhanError(.badSeal, "seal \(p.stamp.seal) with certificate \(v.certificate.serialHex) is not in this registry's records for \(p.sender)")
        }
        guard v.stampedAt <= Date().addingTimeInterval(300) else { throw YizhanError(.badSeal, "the stamp is dated in the future (\(p.stamp.stamped))") }
        if let rev = rec.revokedAt, v.stampedAt >= rev {
            throw YizhanError(.sealRevoked, "seal \(rec.id) was revoked at \(Timestamp.format(rev)) (\(rec.revocationReason ?? "revoked")), before this stamp (\(p.stamp.stamped)); not a certified copy")
        }
        guard let title = p.document["title"]?.stringValue else { throw YizhanError(.invalidArgument, "the document has no title") }
        let record = RegistryStore.PrintRecord(code: try Self.newPrintCode(), sealID: rec.id, unit: rec.unit, unitName: v.certificate.organization ?? rec.unit,
                                               documentID: p.documentId, title: title, number: p.document["number"]?.stringValue,
                                               payloadSha256: v.payloadSha256, stampedAt: v.stampedAt, printedAt: Date(), printedBy: principal.actor)
        try store.addPrint(record)
        var out = try verification(record, seal: rec)
        if let img = try store.sealImage(id: rec.id) {
            out.image = Data(img.bytes).base64EncodedString()
            out.imageMediaType = img.mediaType
        }
        return out
    }

    /// `yizhan verify CODE` and GET /v1/prints/{code}: the record behind a code on paper.
    public func verifyPrint(code: String) throws -> RegistryAPI.PrintVerification {
        let normalised = code.uppercased().trimmingCharacters(in: .whitespaces)
        guard let p = try store.print(code: normalised), let rec = try store.seal(id: p.sealID) else {
            throw YizhanError(.notFound, "no certified print has the verification code \(code)")
        }
        return try verification(p, seal: rec)
    }

    func verification(_ p: RegistryStore.PrintRecord, seal rec: RegistryStore.SealRecord) throws -> RegistryAPI.PrintVerification {
        let verdict: String
        if let rev = rec.revokedAt {
            verdict = "valid at stamping; seal revoked since \(Timestamp.format(rev)) (\(rec.revocationReason ?? "revoked"))"
        } else {
            verdict = "valid; seal in use"
        }
        return RegistryAPI.PrintVerification(
            code: p.code, valid: true, verdict: verdict, unit: p.unit, unitName: p.unitName, sealId: rec.id, certificateSerial: rec.certificateSerial ?? "",
            algorithm: rec.algorithm, documentId: p.documentID, title: p.title, number: p.number, documentSha256: p.payloadSha256,
            stamped: Timestamp.format(p.stampedAt), printed: Timestamp.format(p.printedAt), printedBy: p.printedBy,
            revoked: rec.revokedAt.map(Timestamp.format), revocationReason: rec.revocationReason, image: nil, imageMediaType: nil)
    }
}
