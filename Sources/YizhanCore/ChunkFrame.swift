/// One chunk of a part sent in a chunked transfer (see `TransferInfo`). The chunk's own SHA-256
/// lets the receiver refuse a damaged chunk at once; the whole part is still checked against the
/// signed digest in the envelope before the document is shown.
///
/// Layout: `YZC1`, u16 BE length + document id (UTF-8), u32 BE part index, u32 BE chunk index,
/// 32 bytes SHA-256 of the data, then the data.
public struct ChunkFrame: Sendable, Equatable {
    public static let contentType = "application/vnd.yizhan.chunk"
    static let magic: [UInt8] = Array("YZC1".utf8)

    public var document: String
    public var part: Int
    public var index: Int
    public var sha256: [UInt8]
    public var data: [UInt8]

    public init(document: String, part: Int, index: Int, sha256: [UInt8], data: [UInt8]) {
        self.document = document; self.part = part; self.index = index; self.sha256 = sha256; self.data = data
    }

    /// The AMQP message id of a chunk: unique per chunk, so the broker's view names it.
    public var messageID: String { "\(document)/\(part)/\(index)" }

    public func encoded() -> [UInt8] {
        let id = Array(document.utf8)
        var out = Self.magic
        out.reserveCapacity(4 + 2 + id.count + 8 + 32 + data.count)
        MessageFrame.appendBE(UInt64(id.count), bytes: 2, to: &out)
        out.append(contentsOf: id)
        MessageFrame.appendBE(UInt64(part), bytes: 4, to: &out)
        MessageFrame.appendBE(UInt64(index), bytes: 4, to: &out)
        out.append(contentsOf: sha256)
        out.append(contentsOf: data)
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws(YizhanError) -> ChunkFrame {
        guard bytes.count >= 6, Array(bytes[0..<4]) == magic else { throw YizhanError(.malformedFrame, "not a Yizhan chunk") }
        let n = Int(MessageFrame.readBE(bytes, at: 4, bytes: 2))
        guard n > 0, n <= 64, bytes.count >= 6 + n + 8 + 32 else { throw YizhanError(.malformedFrame, "truncated chunk header") }
        let id = String(decoding: bytes[6..<6 + n], as: UTF8.self)
        guard UUIDv7.isValid(id) else { throw YizhanError(.malformedFrame, "chunk names no valid document id") }
        let part = Int(MessageFrame.readBE(bytes, at: 6 + n, bytes: 4))
        let index = Int(MessageFrame.readBE(bytes, at: 10 + n, bytes: 4))
        let digest = Array(bytes[(14 + n)..<(46 + n)])
        return ChunkFrame(document: id, part: part, index: index, sha256: digest, data: Array(bytes[(46 + n)...]))
    }
}
