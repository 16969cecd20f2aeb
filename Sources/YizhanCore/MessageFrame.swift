/// The framed wire form: the envelope followed by its part bytes, so every byte of an
/// attachment travels in the same broker message as the signed digest that covers it.
///
/// Layout: `YZF1`, u32 big-endian envelope length, envelope JSON, then per part a u64
/// big-endian length and the bytes, in the order of `parts`.
public enum MessageFrame {
    public static let envelopeContentType = "application/vnd.yizhan.envelope+json"
    public static let framedContentType = "application/vnd.yizhan.envelope+framed"
    static let magic: [UInt8] = Array("YZF1".utf8)

    public static func encode(envelope: [UInt8], parts: [[UInt8]]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(envelope.count + parts.reduce(0) { $0 + $1.count + 8 } + 8)
        appendBE(UInt64(envelope.count), bytes: 4, to: &out)
        out.append(contentsOf: envelope)
        for p in parts {
            appendBE(UInt64(p.count), bytes: 8, to: &out)
            out.append(contentsOf: p)
        }
        return out
    }

    public static func decode(_ data: [UInt8]) throws(YizhanError) -> (envelope: [UInt8], parts: [[UInt8]]) {
        guard data.count >= 8, Array(data[0..<4]) == magic else { throw YizhanError(.malformedFrame, "not a Yizhan frame") }
        var i = 4
        let n = Int(readBE(data, at: i, bytes: 4))
        i += 4
        guard n <= data.count - i else { throw YizhanError(.malformedFrame, "envelope length exceeds message") }
        let env = Array(data[i..<i + n])
        i += n
        var parts: [[UInt8]] = []
        while i < data.count {
            guard data.count - i >= 8 else { throw YizhanError(.malformedFrame, "truncated part header") }
            let len = readBE(data, at: i, bytes: 8)
            i += 8
            guard len <= UInt64(data.count - i) else { throw YizhanError(.malformedFrame, "part length exceeds message") }
            parts.append(Array(data[i..<i + Int(len)]))
            i += Int(len)
        }
        return (env, parts)
    }

    static func appendBE(_ v: UInt64, bytes: Int, to out: inout [UInt8]) {
        for k in (0..<bytes).reversed() { out.append(UInt8((v >> (8 * UInt64(k))) & 0xFF)) }
    }

    static func readBE(_ d: [UInt8], at i: Int, bytes: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<bytes { v = v << 8 | UInt64(d[i + k]) }
        return v
    }
}
