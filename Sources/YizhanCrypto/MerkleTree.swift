import YizhanCore

/// The Merkle tree hash of RFC 9162 §2.1 (Certificate Transparency v2) with SHA-256, so that
/// a batch of receipts can share one signature and an outside verifier can still check each
/// one with a standard algorithm: leaf = SHA-256(0x00 ‖ payload), node = SHA-256(0x01 ‖ left ‖ right),
/// a tree of n > 1 leaves splits at the largest power of two below n.
public enum MerkleTree {
    public static func leafHash(_ payload: [UInt8]) -> [UInt8] { Digest.sha256([0x00] + payload) }

    static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var b = [UInt8]()
        b.reserveCapacity(65)
        b.append(0x01); b.append(contentsOf: left); b.append(contentsOf: right)
        return Digest.sha256(b)
    }

    /// The root over `leaves` (leaf hashes) and each leaf's inclusion path, leaf end first.
    public static func build(leaves: [[UInt8]]) -> (root: [UInt8], paths: [[[UInt8]]]) {
        precondition(!leaves.isEmpty, "a tree needs at least one leaf")
        return subtree(leaves[...])
    }

    static func subtree(_ leaves: ArraySlice<[UInt8]>) -> (root: [UInt8], paths: [[[UInt8]]]) {
        let n = leaves.count
        if n == 1 { return (leaves[leaves.startIndex], [[]]) }
        var k = 1
        while k << 1 < n { k <<= 1 }
        let left = subtree(leaves.prefix(k)), right = subtree(leaves.dropFirst(k))
        return (nodeHash(left.root, right.root), left.paths.map { $0 + [right.root] } + right.paths.map { $0 + [left.root] })
    }

    /// The root that `path` leads to from leaf `index` of a tree of `size` leaves (RFC 9162
    /// §2.1.3.2), or nil when the path cannot belong to such a tree.
    public static func root(leaf: [UInt8], index: Int, size: Int, path: [[UInt8]]) -> [UInt8]? {
        guard index >= 0, index < size else { return nil }
        var fn = index, sn = size - 1, r = leaf
        for p in path {
            guard sn != 0, p.count == 32 else { return nil }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        return sn == 0 ? r : nil
    }
}
