import Foundation

/// A parsed JSON value. Signatures are computed over this, not over re-encoded Swift structs,
/// so every member a sender put in the envelope is covered.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var numberValue: Double? { if case .number(let n) = self { return n } else { return nil } }

    /// Parses strict JSON (RFC 8259): no trailing data, no duplicate member names.
    public static func parse(_ data: some Collection<UInt8>) throws(YizhanError) -> JSONValue {
        var p = JSONParser(bytes: Array(data))
        return try p.parseDocument()
    }

    public static func parse(_ text: String) throws(YizhanError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses JSON from a trusted service that repeats member names (RabbitMQ 3.10's management
    /// API does, e.g. "online" in a quorum queue): the last one wins. Never for signed input.
    public static func parseLenient(_ data: some Collection<UInt8>) throws(YizhanError) -> JSONValue {
        var p = JSONParser(bytes: Array(data))
        p.allowDuplicates = true
        return try p.parseDocument()
    }

    /// Converts an `Encodable` into a JSON value directly (JSONValue+Coder.swift).
    /// Dates travel as RFC 3339 UTC strings, everywhere the API or a file carries one.
    public static func from<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = JSONEncodingNode()
        try JSONValueEncoder.encode(value, into: root, path: [])
        return root.resolved()
    }

    /// Reads a `Decodable` straight from this value (JSONValue+Coder.swift).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONValueDecoder.decode(type, from: self, path: [])
    }
}

struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    var depth = 0
    var allowDuplicates = false

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ why: String) -> YizhanError {
        YizhanError(.malformedJSON, "\(why) at byte \(i)")
    }

    mutating func parseDocument() throws(YizhanError) -> JSONValue {
        skipWS()
        let v = try parseValue()
        skipWS()
        guard i == bytes.count else { throw fail("trailing data") }
        return v
    }

    mutating func skipWS() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func parseValue() throws(YizhanError) -> JSONValue {
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try parseNumber()
        }
    }

    mutating func literal(_ word: String) throws(YizhanError) {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("bad literal") }
        i += w.count
    }

    mutating func parseObject() throws(YizhanError) -> JSONValue {
        depth += 1
        guard depth < 64 else { throw fail("nesting too deep") }
        defer { depth -= 1 }
        i += 1
        var out: [String: JSONValue] = [:]
        skipWS()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
        while true {
            skipWS()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected member name") }
            let key = try parseString()
            skipWS()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipWS()
            let v = try parseValue()
            guard out[key] == nil || allowDuplicates else { throw fail("duplicate member \"\(key)\"") }
            out[key] = v
            skipWS()
            guard i < bytes.count else { throw fail("unterminated object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(out) }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func parseArray() throws(YizhanError) -> JSONValue {
        depth += 1
        guard depth < 64 else { throw fail("nesting too deep") }
        defer { depth -= 1 }
        i += 1
        var out: [JSONValue] = []
        skipWS()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
        while true {
            skipWS()
            out.append(try parseValue())
            skipWS()
            guard i < bytes.count else { throw fail("unterminated array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(out) }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func hex4() throws(YizhanError) -> UInt16 {
        guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
        var v: UInt16 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt16
            switch c {
            case 0x30...0x39: d = UInt16(c - 0x30)
            case 0x41...0x46: d = UInt16(c - 0x41 + 10)
            case 0x61...0x66: d = UInt16(c - 0x61 + 10)
            default: throw fail("bad hex digit")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    mutating func parseString() throws(YizhanError) -> String {
        i += 1
        // Most strings have no escape: validated and made from the input bytes in one go.
        let start = i
        while i < bytes.count, bytes[i] >= 0x20, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") { i += 1 }
        if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
            i += 1
            guard let s = String(validating: bytes[start..<i - 1], as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
            return s
        }
        var out = Array(bytes[start..<i])
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw fail("control character in string") }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let u = try hex4()
                    var scalar: UInt32
                    if (0xD800...0xDBFF).contains(u) {
                        guard i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw fail("lone high surrogate")
                        }
                        i += 2
                        let lo = try hex4()
                        guard (0xDC00...0xDFFF).contains(lo) else { throw fail("bad low surrogate") }
                        scalar = 0x10000 + ((UInt32(u) - 0xD800) << 10) + (UInt32(lo) - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(u) {
                        throw fail("lone low surrogate")
                    } else {
                        scalar = UInt32(u)
                    }
                    guard let us = Unicode.Scalar(scalar) else { throw fail("bad scalar") }
                    out.append(contentsOf: Array(String(Character(us)).utf8))
                default: throw fail("bad escape")
                }
                continue
            }
            out.append(c)
            i += 1
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
        return s
    }

    mutating func parseNumber() throws(YizhanError) -> JSONValue {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("unexpected character") }
        if bytes[i] == 0x30 { i += 1 } else { while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 } }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("bad fraction") }
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, (0x30...0x39).contains(bytes[i]) else { throw fail("bad exponent") }
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        }
        guard let d = Double(String(decoding: bytes[start..<i], as: UTF8.self)), d.isFinite else {
            throw fail("number out of range")
        }
        return .number(d)
    }
}
