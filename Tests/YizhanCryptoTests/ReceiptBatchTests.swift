import Foundation
import Testing
import YizhanCore
@testable import YizhanCrypto

/// Receipts signed in batches: the RFC 9162 tree against the Certificate Transparency vectors,
/// every inclusion proof of every tree shape, and batch-signed receipts verified one by one.
@Suite struct ReceiptBatchTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = [], u = Array(s.utf8)[...]
        while u.count >= 2 { out.append(UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) ?? 0); u = u.dropFirst(2) }
        return out
    }

    /// The eight leaves of the CT reference tree and the roots of its first 1…8 leaves.
    static let ctLeaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex)
    static let ctRoots = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                          "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                          "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4", "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
                          "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c", "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]

    @Test func treeMatchesCertificateTransparencyVectors() {
        let leaves = Self.ctLeaves.map(MerkleTree.leafHash)
        for n in 1...8 {
            #expect(Digest.hex(MerkleTree.build(leaves: Array(leaves.prefix(n))).root) == Self.ctRoots[n - 1], "size \(n)")
        }
        let paths = MerkleTree.build(leaves: leaves).paths
        #expect(paths[0].map(Digest.hex) == ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                                             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                                             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"])
        #expect(paths[5].map(Digest.hex) == ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                                             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                                             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"])
    }

    @Test func everyProofOfEveryShapeLeadsToTheRootAndNothingElseDoes() {
        for n in 1...40 {
            let leaves = (0..<n).map { MerkleTree.leafHash([UInt8(truncatingIfNeeded: $0), 7]) }
            let (root, paths) = MerkleTree.build(leaves: leaves)
            for i in 0..<n {
                #expect(MerkleTree.root(leaf: leaves[i], index: i, size: n, path: paths[i]) == root, "leaf \(i) of \(n)")
                // Another leaf, another place or a shortened path: not this root. (Another size may
                // give the same root, as RFC 9162 allows: the batch signature covers the size too.)
                #expect(MerkleTree.root(leaf: leaves[(i + 1) % n], index: i, size: n, path: paths[i]) != root || n == 1)
                if n > 1 { #expect(MerkleTree.root(leaf: leaves[i], index: (i + 1) % n, size: n, path: paths[i]) != root) }
                if !paths[i].isEmpty { #expect(MerkleTree.root(leaf: leaves[i], index: i, size: n, path: Array(paths[i].dropLast())) != root) }
            }
            #expect(MerkleTree.root(leaf: leaves[0], index: n, size: n, path: paths[0]) == nil)
        }
    }

    @Test func batchSignedReceiptsVerifyOneByOneAndRefuseTampering() throws {
        let ca = try CertificateAuthority.create(name: "Yizhan test CA")
        let key = try PrivateKey.generateEd25519()
        let b = try UnitCode.completing("11420100MB7654321"), a = try UnitCode.completing("11420100MB1234567")
        let cert = try ca.issue(unitCode: b.rawValue, unitName: "收文单位", publicKey: key.publicKey)
        let receipts = (0..<5).map { _ in
            Envelope(kind: .receipt, sender: b, senderName: "收文单位", recipients: [.init(unit: a, role: .main)], created: Timestamp.format(Date()),
                     inReplyTo: UUIDv7.make(), receipt: ReceiptInfo(status: .delivered, document: UUIDv7.make(), payloadSha256: String(repeating: "a", count: 64)))
        }
        let signed = try SignedEnvelope.signBatch(receipts, key: key, certificate: cert)
        #expect(Set(signed.map { $0.envelope.signature?.signature }).count == 1, "one signature for the batch")
        for (i, s) in signed.enumerated() {
            #expect(s.envelope.signature?.batch?.index == i)
            #expect(s.envelope.signature?.batch?.size == 5)
            let (opened, signer) = try SignedEnvelope.open(s.bytes)
            #expect(opened.envelope == s.envelope)
            #expect(signer.der == cert.der)
        }
        // Outside verifier by hand: leaf from the payload, root from the path, JWS over the root.
        guard case .object(var o) = try JSONValue.parse(signed[3].bytes), let sig = o["signature"]?.objectValue,
              let prot = sig["protected"]?.stringValue, let sv = sig["signature"]?.stringValue,
              let path = sig["batch"]?["path"]?.arrayValue?.compactMap({ $0.stringValue.flatMap { Base64URL.decode($0) } }) else {
            Issue.record("no batch signature"); return
        }
        o.removeValue(forKey: "signature")
        let root = MerkleTree.root(leaf: Digest.sha256([0] + JSONValue.object(o).canonicalBytes()), index: 3, size: 5, path: path) ?? []
        #expect(try JSONValue.parse(Base64URL.decode(prot) ?? [])["typ"] == .string("yizhan-receipts+jws"))
        let head = "{\"root\":\"\(Base64URL.encode(root))\",\"size\":5}"
        #expect(try cert.publicKey.verify(signature: Base64URL.decode(sv) ?? [], message: Array((prot + "." + Base64URL.encode(Array(head.utf8))).utf8)))

        // A receipt's content changed, a proof moved to another receipt, a wrong index: refused.
        func reopened(_ edit: (inout [String: JSONValue]) -> Void, _ i: Int = 1) throws -> YizhanError? {
            guard case .object(var x) = try JSONValue.parse(signed[i].bytes) else { return nil }
            edit(&x)
            do { _ = try SignedEnvelope.open(JSONValue.object(x).canonicalBytes()); return nil } catch { return error }
        }
        let changed = try reopened { $0["created"] = .string(Timestamp.format(Date().addingTimeInterval(60))) }
        #expect(changed?.code == .badSignature)
        let moved = try reopened { x in
            guard case .object(var s)? = x["signature"], case .object(let other)? = signed[2].json["signature"] else { return }
            s["batch"] = other["batch"]
            x["signature"] = .object(s)
        }
        #expect(moved?.code == .badSignature)
        let sized = try reopened { x in
            guard case .object(var s)? = x["signature"], case .object(var bo)? = s["batch"] else { return }
            bo["size"] = .number(6)
            s["batch"] = .object(bo)
            x["signature"] = .object(s)
        }
        #expect(sized?.code == .badSignature)
        // A batch proof on anything but a receipt is a schema violation; a batch JWS without a proof does not verify.
        let noProof = try reopened { x in
            guard case .object(var s)? = x["signature"] else { return }
            s.removeValue(forKey: "batch")
            x["signature"] = .object(s)
        }
        #expect(noProof?.code == .badSignature)
        let onDocument = try reopened { x in x["kind"] = .string("document"); x.removeValue(forKey: "receipt"); x["document"] = .object(["title": .string("t"), "type": .string("通知")]) }
        #expect(onDocument?.code == .schemaViolation)
        // Documents are never batch-signed.
        var doc = receipts[0]
        doc.kind = .document
        #expect(throws: YizhanError.self) { try SignedEnvelope.signBatch([doc], key: key, certificate: cert) }
    }
}
