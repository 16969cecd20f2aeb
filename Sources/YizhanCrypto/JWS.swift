import Foundation
import Synchronization
import YizhanCore

/// Flattened JWS (RFC 7515) with a detached payload, as the wire contract fixes it.
/// The header is `{"alg","typ","x5c"}`; the signing input is B64URL(header) "." B64URL(payload).
public enum JWS {
    public static let envelopeType = "yizhan-envelope+jws"
    public static let directoryType = "yizhan-directory+jws"
    /// A seal's stamp over a document (see `Stamp`).
    public static let sealType = "yizhan-seal+jws"
    /// Receipts signed in a batch: the JWS payload is the head of their hash tree (`treeHead`).
    public static let receiptBatchType = "yizhan-receipts+jws"

    public static func sign(payload: [UInt8], type: String, key: PrivateKey, certificate: Certificate) throws(CryptoError) -> Envelope.Signature {
        guard key.matches(certificate) else {
            throw CryptoError(.signing, "the certificate does not belong to the signing key")
        }
        let header = JSONValue.object([
            "alg": .string(key.algorithm.jwsAlg),
            "typ": .string(type),
            "x5c": .array([.string(Data(certificate.der).base64EncodedString())]),
        ]).canonicalBytes()
        let protected = Base64URL.encode(header)
        let input = Array((protected + "." + Base64URL.encode(payload)).utf8)
        return Envelope.Signature(protected: protected, signature: Base64URL.encode(try key.sign(input)))
    }

    /// One signature for many payloads (receipts under load): the signed payload is the head (root
    /// and size) of an RFC 9162 hash tree over them; each payload gets the shared JWS plus its inclusion proof.
    public static func signBatch(payloads: [[UInt8]], key: PrivateKey, certificate: Certificate) throws(CryptoError) -> [Envelope.Signature] {
        guard !payloads.isEmpty else { return [] }
        let tree = MerkleTree.build(leaves: payloads.map(MerkleTree.leafHash))
        let head = try sign(payload: treeHead(root: tree.root, size: payloads.count), type: receiptBatchType, key: key, certificate: certificate)
        return tree.paths.enumerated().map { i, path in
            Envelope.Signature(protected: head.protected, signature: head.signature,
                               batch: Envelope.BatchProof(index: i, size: payloads.count, path: path.map { Base64URL.encode($0) }))
        }
    }

    /// What a batch signature covers: the tree's root and its size, as RFC 8785 JSON
    /// `{"root":"<base64url>","size":n}` (a root alone does not fix the size of its tree).
    public static func treeHead(root: [UInt8], size: Int) -> [UInt8] {
        JSONValue.object(["root": .string(Base64URL.encode(root)), "size": .number(Double(size))]).canonicalBytes()
    }

    /// Checks the signature and returns the signer's certificate (not yet checked against any CA).
    /// `alg` and the certificate's key type must agree: no algorithm confusion. A batch proof
    /// changes what was signed (the tree's head, under its own `typ`), never what is accepted.
    public static func verify(payload: [UInt8], signature: Envelope.Signature, type: String) throws(YizhanError) -> Certificate {
        guard let headerBytes = Base64URL.decode(signature.protected), let sig = Base64URL.decode(signature.signature) else {
            throw YizhanError(.badSignature, "signature is not base64url")
        }
        var signed = payload, type = type
        if let b = signature.batch {
            guard type == envelopeType else { throw YizhanError(.badSignature, "only envelopes are signed in batches") }
            let path = b.path.compactMap { Base64URL.decode($0) }
            guard path.count == b.path.count,
                  let root = MerkleTree.root(leaf: MerkleTree.leafHash(payload), index: b.index, size: b.size, path: path) else {
                throw YizhanError(.badSignature, "batch proof does not fit a tree of \(b.size) leaves")
            }
            signed = treeHead(root: root, size: b.size)
            type = receiptBatchType
        }
        let header: JSONValue
        do { header = try JSONValue.parse(headerBytes) } catch { throw YizhanError(.badSignature, "protected header is not JSON") }
        guard let h = header.objectValue, Set(h.keys) == ["alg", "typ", "x5c"] else {
            throw YizhanError(.badSignature, "protected header must have exactly alg, typ, x5c")
        }
        guard h["typ"]?.stringValue == type else { throw YizhanError(.badSignature, "protected header typ is not \(type)") }
        guard let alg = h["alg"]?.stringValue else { throw YizhanError(.badSignature, "alg missing") }
        guard let chain = h["x5c"]?.arrayValue, chain.count == 1, let b64 = chain[0].stringValue else {
            throw YizhanError(.badSignature, "x5c must hold exactly the signer's certificate")
        }
        let (cert, key) = try parsed(b64)
        switch (alg, key.keyType) {
        case ("EdDSA", .ed25519), ("SM2-SM3", .sm2): break
        default: throw YizhanError(.badSignature, "alg \(alg) does not match a \(key.keyType.rawValue) certificate key")
        }
        let inputText = signature.protected + "." + Base64URL.encode(signed)
        // A batch's members share one signature over one root: checked once, remembered.
        let memo = signature.batch == nil ? nil : inputText + "." + signature.signature
        if let memo, verifiedBatches.withLock({ $0.contains(memo) }) { return cert }
        guard key.verify(signature: sig, message: Array(inputText.utf8)) else {
            throw YizhanError(.badSignature, signature.batch == nil ? "signature does not verify" : "batch signature does not verify (or the proof leads to another root)")
        }
        if let memo {
            verifiedBatches.withLock { v in
                if v.count >= 4096 { v.removeAll(keepingCapacity: true) }
                v.insert(memo)
            }
        }
        return cert
    }

    /// Signing inputs of batches whose signature verified (the input names the signer's certificate and the root).
    static let verifiedBatches = Mutex<Set<String>>([])

    /// Certificates seen in x5c, parsed once: a network has a few hundred signers, and each
    /// message names one of them again. Bounded; cleared whole when full.
    static let certificates = Mutex<[String: (Certificate, PublicKey)]>([:])

    static func parsed(_ b64: String) throws(YizhanError) -> (Certificate, PublicKey) {
        if let hit = certificates.withLock({ $0[b64] }) { return hit }
        guard let der = Data(base64Encoded: b64) else { throw YizhanError(.badSignature, "x5c must hold exactly the signer's certificate") }
        let entry: (Certificate, PublicKey)
        do {
            let cert = try Certificate(der: Array(der))
            entry = (cert, try cert.publicKey)
        } catch { throw YizhanError(.badSignature, "x5c certificate does not parse") }
        certificates.withLock { c in
            if c.count >= 4096 { c.removeAll(keepingCapacity: true) }
            c[b64] = entry
        }
        return entry
    }
}
