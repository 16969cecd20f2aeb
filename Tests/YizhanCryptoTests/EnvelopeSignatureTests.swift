import Foundation
import Testing
import YizhanCore
@testable import YizhanCrypto

@Suite struct EnvelopeSignatureTests {
    let ca: CertificateAuthority
    let key: PrivateKey
    let cert: Certificate
    let signed: SignedEnvelope

    init() throws {
        ca = try CertificateAuthority.create(name: "Yizhan test CA")
        key = try PrivateKey.generateEd25519()
        let a = try UnitCode.completing("11420100MB1234567"), b = try UnitCode.completing("11420100MB7654321")
        cert = try ca.issue(unitCode: a.rawValue, unitName: "市建委", publicKey: key.publicKey)
        let env = Envelope(kind: .document, sender: a, senderName: "市建委", recipients: [.init(unit: b, role: .main)],
                           created: Timestamp.format(Date()), document: DocumentInfo(title: "测试", number: "武建〔2026〕1号", type: "通知"),
                           parts: [.init(name: "a.txt", mediaType: "text/plain", size: 5, sha256: Digest.sha256Hex(Array("hello".utf8)))])
        signed = try SignedEnvelope.sign(env, key: key, certificate: cert)
    }

    @Test func signedEnvelopeOpens() throws {
        let (opened, signer) = try SignedEnvelope.open(signed.bytes)
        #expect(opened.envelope == signed.envelope)
        #expect(signer.der == cert.der)
    }

    /// An outside verifier needs only RFC 7515, RFC 8785 and the certificate: rebuild the
    /// signing input by hand from the wire bytes and check it with the certificate's key.
    @Test func independentVerificationFromWireBytes() throws {
        guard case .object(var o) = try JSONValue.parse(signed.bytes), let sig = o["signature"]?.objectValue,
              let prot = sig["protected"]?.stringValue, let s = sig["signature"]?.stringValue else {
            Issue.record("no signature"); return
        }
        o.removeValue(forKey: "signature")
        let payload = JSONValue.object(o).canonicalBytes()
        let header = try JSONValue.parse(Base64URL.decode(prot) ?? [])
        #expect(header["alg"] == .string("EdDSA"))
        #expect(header["typ"] == .string("yizhan-envelope+jws"))
        let der = Data(base64Encoded: header["x5c"]?.arrayValue?.first?.stringValue ?? "") ?? Data()
        let input = Array((prot + "." + Base64URL.encode(payload)).utf8)
        #expect(try Certificate(der: Array(der)).publicKey.verify(signature: Base64URL.decode(s) ?? [], message: input))
    }

    /// Every single-field change to a signed envelope must break the signature.
    @Test func everySingleFieldChangeIsRejected() throws {
        guard case .object(let base) = signed.json else { Issue.record("not an object"); return }
        let c = try UnitCode.completing("12420100MA4K0000X").rawValue
        var mutations: [(String, [String: JSONValue])] = []
        func with(_ k: String, _ v: JSONValue) { var o = base; o[k] = v; mutations.append((k, o)) }
        with("id", .string(UUIDv7.make()))
        with("kind", .string("report"))
        with("sender", .string(c))
        with("senderName", .string("别的单位"))
        with("recipients", .array([.object(["unit": .string(c), "role": .string("main")])]))
        with("created", .string(Timestamp.format(Date().addingTimeInterval(1))))
        with("inReplyTo", .string(UUIDv7.make()))
        with("document", .object(["title": .string("改过的标题"), "number": .string("武建〔2026〕1号"), "type": .string("通知")]))
        with("parts", .array([.object(["name": .string("a.txt"), "mediaType": .string("text/plain"), "size": .number(6),
                                       "sha256": .string(Digest.sha256Hex(Array("hello".utf8)))])]))
        for (field, o) in mutations {
            let bytes = JSONValue.object(o).canonicalBytes()
            do {
                _ = try SignedEnvelope.open(bytes)
                Issue.record("change to \(field) accepted")
            } catch {
                #expect(error.code == .badSignature, "\(field): \(error)")
            }
        }
    }

    @Test func algorithmConfusionIsRefused() throws {
        guard case .object(var o) = signed.json, let sig = o["signature"]?.objectValue, let prot = sig["protected"]?.stringValue,
              case .object(var h) = try JSONValue.parse(Base64URL.decode(prot) ?? []) else { Issue.record("shape"); return }
        h["alg"] = .string("ES256")
        let newProt = Base64URL.encode(JSONValue.object(h).canonicalBytes())
        o["signature"] = .object(["protected": .string(newProt), "signature": sig["signature"]!])
        do {
            _ = try SignedEnvelope.open(JSONValue.object(o).canonicalBytes())
            Issue.record("alg ES256 with an Ed25519 key accepted")
        } catch {
            #expect(error.message.contains("does not match"))
        }
    }
}
