import Foundation

/// Base64url without padding (RFC 7515 §2).
public enum Base64URL {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Table-driven: JWS signing inputs are the whole payload (megabytes for a large directory).
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let b = Array(bytes)
        var out = [UInt8]()
        out.reserveCapacity((b.count + 2) / 3 * 4)
        let t = alphabet
        var i = 0
        while i + 3 <= b.count {
            let v = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2])
            out.append(t[Int(v >> 18)]); out.append(t[Int((v >> 12) & 63)]); out.append(t[Int((v >> 6) & 63)]); out.append(t[Int(v & 63)])
            i += 3
        }
        if b.count - i == 1 {
            let v = UInt32(b[i]) << 16
            out.append(t[Int(v >> 18)]); out.append(t[Int((v >> 12) & 63)])
        } else if b.count - i == 2 {
            let v = UInt32(b[i]) << 16 | UInt32(b[i + 1]) << 8
            out.append(t[Int(v >> 18)]); out.append(t[Int((v >> 12) & 63)]); out.append(t[Int((v >> 6) & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        let rem = s.count % 4
        if rem == 1 { return nil }
        if rem > 0 { s += String(repeating: "=", count: 4 - rem) }
        guard let d = Data(base64Encoded: s) else { return nil }
        return Array(d)
    }
}
