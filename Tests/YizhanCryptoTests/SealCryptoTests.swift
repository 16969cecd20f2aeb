import Foundation
import Testing
import YizhanCore
@testable import YizhanCrypto

/// The national algorithms (SM2 with SM3) against the published vectors, seal certificates,
/// secret sharing and the dual-custody vault, without a broker.
@Suite struct SealCryptoTests {
    func hex(_ s: String) -> [UInt8] { Base16.decode(s.replacingOccurrences(of: " ", with: "")) ?? [] }

    /// GB/T 32905 (GM/T 0004) appendix A: "abc" and "abcd" × 16.
    @Test func sm3StandardVectors() {
        #expect(Digest.sm3Hex(Array("abc".utf8)) == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
        #expect(Digest.sm3Hex(Array(String(repeating: "abcd", count: 16).utf8)) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
    }

    /// GB/T 32918.5 (GM/T 0003.5) signature example on the recommended curve: message
    /// "message digest", ID 1234567812345678. Z_A and e are recomputed with SM3 from the standard's
    /// inputs; OpenSSL then verifies the standard's (r, s) under the standard's public key, and a
    /// changed message or s is refused.
    @Test func sm2StandardSignatureVector() throws {
        let x = "09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020"
        let y = "CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13"
        let a = "FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF 00000000 FFFFFFFF FFFFFFFC"
        let b = "28E9FA9E 9D9F5E34 4D5A9E4B CF6509A7 F39789F5 15AB8F92 DDBCBD41 4D940E93"
        let gx = "32C4AE2C 1F198119 5F990446 6A39C994 8FE30BBF F2660BE1 715A4589 334C74C7"
        let gy = "BC3736A2 F4F6779C 59BDCEE3 6B692153 D0A9877C C62A4740 02DF32E5 2139F0A0"
        let id = Array("1234567812345678".utf8)
        let za = OpenSSL.sm3([0x00, 0x80] + id + hex(a) + hex(b) + hex(gx) + hex(gy) + hex(x) + hex(y))
        #expect(Digest.hex(za) == "b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3")
        let message = Array("message digest".utf8)
        #expect(Digest.hex(OpenSSL.sm3(za + message)) == "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640")

        let spki = hex("3059301306072a8648ce3d020106082a811ccf5501822d03420004") + hex(x) + hex(y)
        let pub = try PublicKey(spkiDER: spki)
        #expect(pub.keyType == .sm2)
        func integer(_ h: String) -> [UInt8] { var v = hex(h); if v[0] & 0x80 != 0 { v.insert(0, at: 0) }; return [0x02, UInt8(v.count)] + v }
        let r = "F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3"
        let s = "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA"
        let body = integer(r) + integer(s)
        let der = [0x30, UInt8(body.count)] + body
        #expect(pub.verify(signature: der, message: message))
        #expect(!pub.verify(signature: der, message: Array("message digesT".utf8)))
        let s2 = "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AB"
        let bad = integer(r) + integer(s2)
        #expect(!pub.verify(signature: [0x30, UInt8(bad.count)] + bad, message: message))
    }

    @Test func sm2KeysSignAndCertify() throws {
        let key = try PrivateKey.generate(.sm2)
        #expect(key.algorithm == .sm2)
        let msg = Array("关于开展安全检查的通知".utf8)
        let sig = try key.sign(msg)
        #expect(try key.publicKey.verify(signature: sig, message: msg))
        #expect(try !key.publicKey.verify(signature: sig, message: msg + [1]))
        // Encrypted at rest and back.
        let pem = try key.encryptedPEM(passphrase: "correct horse battery")
        let back = try PrivateKey.fromEncryptedPEM(pem, passphrase: "correct horse battery")
        #expect(try back.publicKey.verify(signature: try back.sign(msg), message: msg))
        // An Ed25519 CA certifies an SM2 unit key; the certificate's key is SM2 and JWS says SM2-SM3.
        let ca = try CertificateAuthority.create(name: "CA")
        let cert = try ca.issue(unitCode: "11420100MB1234567X", unitName: "甲", publicKey: try key.publicKey)
        try CertificateVerifier(anchor: ca.certificate).verify(cert)
        #expect(try cert.publicKey.keyType == .sm2)
        let jws = try JWS.sign(payload: msg, type: JWS.envelopeType, key: key, certificate: cert)
        let header = try JSONValue.parse(Base64URL.decode(jws.protected) ?? [])
        #expect(header["alg"]?.stringValue == "SM2-SM3")
        #expect(try JWS.verify(payload: msg, signature: jws, type: JWS.envelopeType).der == cert.der)
        // Algorithm confusion: an SM2 signature under an EdDSA header is refused.
        let edHeader = JSONValue.object(["alg": .string("EdDSA"), "typ": .string(JWS.envelopeType),
                                         "x5c": .array([.string(Data(cert.der).base64EncodedString())])]).canonicalBytes()
        let forged = Envelope.Signature(protected: Base64URL.encode(edHeader), signature: jws.signature)
        #expect(throws: YizhanError.self) { try JWS.verify(payload: msg, signature: forged, type: JWS.envelopeType) }
    }

    @Test func sealCertificateCarriesProfileAndImageDigest() throws {
        let ca = try CertificateAuthority.create(name: "CA")
        let key = try PrivateKey.generate(.ed25519)
        let image = Digest.sha256Hex(Array("<svg/>".utf8))
        let seal = try ca.issueSeal(unitCode: "11420100MB1234567X", unitName: "甲局", sealID: "seal-1", imageSHA256: image, publicKey: try key.publicKey)
        try CertificateVerifier(anchor: ca.certificate).verify(seal)
        #expect(seal.isSeal)
        #expect(seal.sealID == "seal-1")
        #expect(seal.sealImageSHA256 == image)
        #expect(seal.organization == "甲局")
        let unit = try ca.issue(unitCode: "11420100MB1234567X", unitName: "甲局", publicKey: try key.publicKey)
        #expect(!unit.isSeal)
        #expect(unit.sealImageSHA256 == nil)
    }

    @Test func anyTwoOfThreeSharesAndNoFewer() throws {
        let secret = try SecureRandom.bytes(32)
        let shares = try SecretSharing.split(secret, threshold: 2, xs: [1, 2, 3]) { try SecureRandom.bytes($0) }
        for (i, j) in [(0, 1), (0, 2), (1, 2)] { #expect(try SecretSharing.combine([shares[i], shares[j]]) == secret) }
        #expect(try SecretSharing.combine(shares) == secret)
        #expect(throws: YizhanError.self) { try SecretSharing.combine([shares[0]]) }
        // A new point on the same polynomial combines with an old share.
        let four = SecretSharing.Share(x: 4, y: try SecretSharing.interpolate([shares[0], shares[2]], at: 4))
        #expect(try SecretSharing.combine([four, shares[1]]) == secret)
        // 3-of-5: two shares give something else.
        let five = try SecretSharing.split(secret, threshold: 3, xs: [1, 2, 3, 4, 5]) { try SecureRandom.bytes($0) }
        #expect(try SecretSharing.combine([five[0], five[3], five[4]]) == secret)
        #expect(try SecretSharing.combine([five[0], five[1]]) != secret)
        #expect(throws: YizhanError.self) { try SecretSharing.split(secret, threshold: 1, xs: [1, 2]) { try SecureRandom.bytes($0) } }
    }

    func secret(_ name: String, _ pw: String) -> SealVault.Secret { .init(name: name, password: Array(pw.utf8)) }

    @Test func vaultNeedsTwoCustodiansAndSurvivesReplacement() throws {
        let key = try PrivateKey.generate(.sm2)
        let sealed = try SealVault.create(sealID: "s1", key: key, custodians: [secret("张三", "zhang-pass-1"), secret("李四", "li-pass-22"), secret("王五", "wang-pass-333")], threshold: 2)
        #expect(!sealed.encryptedKey.contains("BEGIN PRIVATE KEY"))
        let u = try SealVault.unlock(sealed, secrets: [secret("王五", "wang-pass-333"), secret("张三", "zhang-pass-1")])
        #expect(u.custodians == ["王五", "张三"])
        #expect(try u.key.publicKey.sameKey(as: try key.publicKey))
        func refused(_ s: [SealVault.Secret], _ says: String) {
            do { _ = try SealVault.unlock(sealed, secrets: s); Issue.record("unlocked with \(s.map(\.name))") } catch let e as YizhanError {
                #expect(e.message.contains(says), "\(e.message)")
                for p in s { #expect(!e.message.contains(String(decoding: p.password, as: UTF8.self)), "no password in \(e.message)") }
            } catch { Issue.record("\(error)") }
        }
        refused([secret("张三", "zhang-pass-1")], "needs secrets from 2 custodians; 1 given")
        refused([secret("张三", "zhang-pass-1"), secret("李四", "wrong-password")], "password of custodian 李四 is not accepted")
        refused([secret("张三", "zhang-pass-1"), secret("赵六", "zhao-pass-44")], "赵六 is not a custodian")
        refused([secret("张三", "zhang-pass-1"), secret("张三", "zhang-pass-1")], "named twice")
        // A stored share moved to another custodian's slot does not open (bound by the AAD).
        var swapped = sealed
        swapped.custodians[1].wrapped = sealed.custodians[2].wrapped
        #expect(throws: YizhanError.self) { try SealVault.unlock(swapped, secrets: [secret("张三", "zhang-pass-1"), secret("李四", "wang-pass-333")]) }

        // 王五 leaves, 赵六 joins; 张三 and 李四 authorise it. The key itself is untouched.
        let replaced = try SealVault.replace(sealed, secrets: [secret("张三", "zhang-pass-1"), secret("李四", "li-pass-22")],
                                             remove: ["王五"], add: [secret("赵六", "zhao-pass-44")])
        #expect(replaced.encryptedKey == sealed.encryptedKey)
        #expect(replaced.custodians.map(\.name) == ["张三", "李四", "赵六"])
        #expect(replaced.custodians.last?.x == 4)
        let u2 = try SealVault.unlock(replaced, secrets: [secret("赵六", "zhao-pass-44"), secret("李四", "li-pass-22")])
        #expect(try u2.key.publicKey.sameKey(as: try key.publicKey))
        #expect(throws: YizhanError.self) { try SealVault.unlock(replaced, secrets: [secret("王五", "wang-pass-333"), secret("张三", "zhang-pass-1")]) }
        #expect(throws: YizhanError.self) {
            try SealVault.replace(sealed, secrets: [secret("张三", "zhang-pass-1")], remove: [], add: [secret("赵六", "zhao-pass-44")])
        }
    }

    @Test func stampCoversDocumentAndParts() throws {
        let ca = try CertificateAuthority.create(name: "CA")
        let key = try PrivateKey.generate(.sm2)
        let sender = try UnitCode.completing("11420100MB1234567")
        let seal = try ca.issueSeal(unitCode: sender.rawValue, unitName: "甲局", sealID: "seal-9", imageSHA256: Digest.sha256Hex([1]), publicKey: try key.publicKey)
        let doc = DocumentInfo(title: "关于盖章的通知", number: "甲〔2026〕1号", type: "通知")
        let parts = [Envelope.Part(name: "正文.txt", mediaType: "text/plain", size: 3, sha256: Digest.sha256Hex([1, 2, 3]))]
        var e = Envelope(kind: .document, sender: sender, recipients: [.init(unit: try UnitCode.completing("11420100MB7654321"), role: .main)],
                         created: Timestamp.format(Date()), document: doc, parts: parts)
        e.stamp = try Stamping.stamp(id: e.id, sender: sender.rawValue, document: doc, parts: parts, sealID: "seal-9", key: key, certificate: seal)
        let json = try JSONValue.from(e)
        let v = try Stamping.verify(json: json, stamp: try #require(e.stamp))
        #expect(v.certificate.der == seal.der)
        var changed = e
        changed.document?.title = "关于盖章的通知（改）"
        #expect(throws: YizhanError.self) { try Stamping.verify(json: try JSONValue.from(changed), stamp: try #require(e.stamp)) }
        changed = e
        changed.parts[0].sha256 = Digest.sha256Hex([9])
        #expect(throws: YizhanError.self) { try Stamping.verify(json: try JSONValue.from(changed), stamp: try #require(e.stamp)) }
        // Another unit's seal cannot stamp for this sender.
        #expect(throws: YizhanError.self) {
            try Stamping.stamp(id: e.id, sender: try UnitCode.completing("11420100MB7654321").rawValue, document: doc, parts: parts, sealID: "seal-9", key: key, certificate: seal)
        }
    }
}
