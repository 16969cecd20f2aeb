/// RFC 8785 (JSON Canonicalization Scheme): sorted members by UTF-16 code units, ECMAScript
/// number formatting, minimal string escaping, no whitespace.
extension JSONValue {
    public func canonicalBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        writeCanonical(into: &out)
        return out
    }

    public func canonicalString() -> String { String(decoding: canonicalBytes(), as: UTF8.self) }

    func writeCanonical(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let d): out.append(contentsOf: Self.ecmaScriptString(d).utf8)
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (n, v) in a.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                v.writeCanonical(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (n, (k, v)) in o.sorted(by: { Self.keyPrecedes($0.key, $1.key) }).enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                Self.writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                v.writeCanonical(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// RFC 8785 orders members by their names' UTF-16 code units; for ASCII names (nearly all)
    /// that is the order of their bytes, compared without walking UTF-16.
    static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        let fast: Bool? = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y -> Bool? in
                guard !x.contains(where: { $0 >= 0x80 }), !y.contains(where: { $0 >= 0x80 }) else { return nil }
                return x.lexicographicallyPrecedes(y)
            } ?? nil
        } ?? nil
        return fast ?? a.utf16.lexicographicallyPrecedes(b.utf16)
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        // Most strings (base64url, codes, names) need no escape: copied in one go.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) {
            out.append(contentsOf: s.utf8)
            out.append(0x22)
            return
        }
        let hex = Self.hexDigits
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(0x22)
    }

    /// ECMAScript Number::toString for finite doubles, built on Swift's shortest round-trip digits.
    public static func ecmaScriptString(_ d: Double) -> String {
        if d == 0 { return "0" }
        if d < 0 { return "-" + ecmaScriptString(-d) }
        // Integers below 2^53 (sizes, indices, spec) are their own shortest digits.
        if d < 9_007_199_254_740_992, d == d.rounded(.towardZero) { return String(Int(d)) }
        // Swift prints the shortest digits that round-trip; split them into digits and exponent.
        let text = "\(d)"
        var mantissa = text
        var exp = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = String(text[..<e])
            exp = Int(text[text.index(after: e)...]) ?? 0
        }
        var intPart = mantissa
        var fracPart = ""
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = String(mantissa[..<dot])
            fracPart = String(mantissa[mantissa.index(after: dot)...])
        }
        var digits = intPart + fracPart
        // value = 0.digits × 10^n
        var n = intPart.count + exp
        while digits.hasPrefix("0") && digits.count > 1 {
            digits.removeFirst()
            n -= 1
        }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        let k = digits.count
        if k <= n && n <= 21 {
            return digits + String(repeating: "0", count: n - k)
        }
        if 0 < n && n <= 21 {
            let idx = digits.index(digits.startIndex, offsetBy: n)
            return String(digits[..<idx]) + "." + String(digits[idx...])
        }
        if -6 < n && n <= 0 {
            return "0." + String(repeating: "0", count: -n) + digits
        }
        let e = n - 1
        let sign = e < 0 ? "-" : "+"
        let first = String(digits.first!) // digits is never empty here
        let rest = String(digits.dropFirst())
        return first + (rest.isEmpty ? "" : "." + rest) + "e" + sign + String(abs(e))
    }
}

/// An object's RFC 8785 bytes without one member, and where that member goes: a signed envelope
/// is its signing payload with the signature spliced in, so it is serialised once, not twice.
public struct CanonicalSplice: Sendable {
    /// The canonical bytes without the member.
    public let payload: [UInt8]
    let key: String
    /// Byte offset where the member is inserted, and whether it comes first among the members.
    let at: Int
    let first: Bool

    /// The canonical bytes with the member set to `value`.
    public func with(_ value: JSONValue) -> [UInt8] {
        var member = [UInt8]()
        JSONValue.writeString(key, into: &member)
        member.append(UInt8(ascii: ":"))
        value.writeCanonical(into: &member)
        var out = [UInt8]()
        out.reserveCapacity(payload.count + member.count + 1)
        out.append(contentsOf: payload[..<at])
        // An empty object takes the member alone; otherwise it is separated like any member.
        let empty = payload.count == 2
        if first {
            out.append(contentsOf: member)
            if !empty { out.append(UInt8(ascii: ",")) }
        } else {
            out.append(UInt8(ascii: ","))
            out.append(contentsOf: member)
        }
        out.append(contentsOf: payload[at...])
        return out
    }
}

extension JSONValue {
    /// Serialises this object without member `key` and remembers where `key` sorts among the rest;
    /// nil for anything but an object.
    public func canonicalSplice(omitting key: String) -> CanonicalSplice? {
        guard case .object(let o) = self else { return nil }
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(1024)
        var at: Int? = nil, first = false
        var n = 0
        // Sorted, then the member skipped (no copy of the object without it).
        for (k, v) in o.sorted(by: { Self.keyPrecedes($0.key, $1.key) }) where k != key {
            if at == nil, Self.keyPrecedes(key, k) { at = out.count; first = n == 0 }
            if n > 0 { out.append(UInt8(ascii: ",")) }
            Self.writeString(k, into: &out)
            out.append(UInt8(ascii: ":"))
            v.writeCanonical(into: &out)
            n += 1
        }
        if at == nil { at = out.count; first = n == 0 }
        out.append(UInt8(ascii: "}"))
        return CanonicalSplice(payload: out, key: key, at: at ?? 1, first: first)
    }
}
