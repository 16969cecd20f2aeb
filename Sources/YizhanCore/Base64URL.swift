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

    static let reverse: [UInt8] = {
        var r = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { r[Int(c)] = UInt8(i) }
        return r
    }()

    /// Whether `decode` would accept `text`, without decoding it.
    public static func isValid(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { u -> Bool in
            let n = u.count
            if n % 4 == 1 { return false }
            let r = reverse
            for c in u where r[Int(c)] == 0xFF { return false }
            // The last character's unused low bits must be zero.
            switch n % 4 {
            case 2: return r[Int(u[n - 1])] & 0x0F == 0
            case 3: return r[Int(u[n - 1])] & 0x03 == 0
            default: return true
            }
        }
    }

    /// Table-driven too: every received envelope decodes its certificate and signature. Refuses
    /// padding, characters outside the alphabet, an impossible length and non-zero trailing bits.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { u -> [UInt8]? in
            let n = u.count
            if n % 4 == 1 { return nil }
            var out = [UInt8]()
            out.reserveCapacity(n / 4 * 3 + 2)
            let r = reverse
            var i = 0
            while i + 4 <= n {
                let a = r[Int(u[i])], b = r[Int(u[i + 1])], c = r[Int(u[i + 2])], d = r[Int(u[i + 3])]
                if (a | b | c | d) == 0xFF { return nil }
                let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                out.append(UInt8(v >> 16)); out.append(UInt8((v >> 8) & 0xFF)); out.append(UInt8(v & 0xFF))
                i += 4
            }
            switch n - i {
            case 2:
                let a = r[Int(u[i])], b = r[Int(u[i + 1])]
                if (a | b) == 0xFF || b & 0x0F != 0 { return nil }
                out.append(a << 2 | b >> 4)
            case 3:
                let a = r[Int(u[i])], b = r[Int(u[i + 1])], c = r[Int(u[i + 2])]
                if (a | b | c) == 0xFF || c & 0x03 != 0 { return nil }
                let v = UInt32(a) << 12 | UInt32(b) << 6 | UInt32(c)
                out.append(UInt8(v >> 10)); out.append(UInt8((v >> 2) & 0xFF))
            default: break
            }
            return out
        }
    }
}

/// Lower- or upper-case hex.
public enum Base16 {
    public static func decode(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = v(u[i]), let l = v(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
