import Foundation

// `Codable` straight to and from `JSONValue`, without text in between: every signed envelope
// is built from a model and every received one is read into a model, and going through
// Foundation's JSONEncoder/JSONDecoder meant printing and parsing the same JSON twice per
// message. The rules are JSONEncoder's defaults, except that dates are RFC 3339 UTC strings
// (`Timestamp`), as everywhere in Yizhan: integers must be whole and in range, no type is
// coerced into another, `Data` is base64, URLs are their absolute strings.

// MARK: encoding

/// A value under construction: containers hand out child nodes and the tree is folded at the end.
final class JSONEncodingNode {
    var value: JSONValue = .null
    var object: [String: JSONEncodingNode]?
    var array: [JSONEncodingNode]?

    func resolved() -> JSONValue {
        if let object { return .object(object.mapValues { $0.resolved() }) }
        if let array { return .array(array.map { $0.resolved() }) }
        return value
    }
}

struct JSONValueEncoder: Encoder {
    let node: JSONEncodingNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.object == nil { node.object = [:] }
        return KeyedEncodingContainer(Keyed<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if node.array == nil { node.array = [] }
        return Unkeyed(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(node: node, codingPath: codingPath) }

    /// Primitives become values here; anything else encodes itself into `node`.
    static func encode<T: Encodable>(_ value: T, into node: JSONEncodingNode, path: [any CodingKey]) throws {
        // Type identity first (cheap), the cast only once it is known to succeed.
        let t = T.self
        if t == String.self, let v = value as? String { node.value = .string(v) }
        else if t == Bool.self, let v = value as? Bool { node.value = .bool(v) }
        else if t == Int.self, let v = value as? Int { node.value = .number(Double(v)) }
        else if t == JSONValue.self, let v = value as? JSONValue { node.value = v }
        else if t == Date.self, let v = value as? Date { node.value = .string(Timestamp.format(v)) }
        else if t == Double.self, let v = value as? Double { node.value = try number(v, path) }
        else if t == Data.self, let v = value as? Data { node.value = .string(v.base64EncodedString()) }
        else if t == URL.self, let v = value as? URL { node.value = .string(v.absoluteString) }
        else if t == Float.self, let v = value as? Float { node.value = try number(Double(v), path) }
        else if t == Int64.self, let v = value as? Int64 { node.value = .number(Double(v)) }
        else if t == Int32.self, let v = value as? Int32 { node.value = .number(Double(v)) }
        else if t == UInt64.self, let v = value as? UInt64 { node.value = .number(Double(v)) }
        else if t == UInt32.self, let v = value as? UInt32 { node.value = .number(Double(v)) }
        else if t == UInt16.self, let v = value as? UInt16 { node.value = .number(Double(v)) }
        else if t == UInt8.self, let v = value as? UInt8 { node.value = .number(Double(v)) }
        else if t == UInt.self, let v = value as? UInt { node.value = .number(Double(v)) }
        else { try value.encode(to: JSONValueEncoder(node: node, codingPath: path)) }
    }

    static func number(_ d: Double, _ path: [any CodingKey]) throws -> JSONValue {
        guard d.isFinite else {
            throw EncodingError.invalidValue(d, .init(codingPath: path, debugDescription: "JSON has no \(d)"))
        }
        return .number(d)
    }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: JSONEncodingNode
        let codingPath: [any CodingKey]

        func child(_ key: Key) -> JSONEncodingNode {
            let c = JSONEncodingNode()
            node.object?[key.stringValue] = c
            return c
        }
        mutating func encodeNil(forKey key: Key) throws { child(key).value = .null }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try JSONValueEncoder.encode(value, into: child(key), path: codingPath + [key])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            JSONValueEncoder(node: child(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            JSONValueEncoder(node: child(key), codingPath: codingPath + [key]).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder {
            let c = JSONEncodingNode()
            node.object?["super"] = c
            return JSONValueEncoder(node: c, codingPath: codingPath)
        }
        mutating func superEncoder(forKey key: Key) -> any Encoder { JSONValueEncoder(node: child(key), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let node: JSONEncodingNode
        let codingPath: [any CodingKey]
        var count: Int { node.array?.count ?? 0 }

        func next() -> JSONEncodingNode {
            let c = JSONEncodingNode()
            node.array?.append(c)
            return c
        }
        mutating func encodeNil() throws { next().value = .null }
        mutating func encode<T: Encodable>(_ value: T) throws {
            try JSONValueEncoder.encode(value, into: next(), path: codingPath + [IndexKey(count)])
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            JSONValueEncoder(node: next(), codingPath: codingPath + [IndexKey(count)]).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            JSONValueEncoder(node: next(), codingPath: codingPath + [IndexKey(count)]).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { JSONValueEncoder(node: next(), codingPath: codingPath + [IndexKey(count)]) }
    }

    struct Single: SingleValueEncodingContainer {
        let node: JSONEncodingNode
        let codingPath: [any CodingKey]
        mutating func encodeNil() throws { node.value = .null }
        mutating func encode<T: Encodable>(_ value: T) throws { try JSONValueEncoder.encode(value, into: node, path: codingPath) }
    }
}

struct IndexKey: CodingKey {
    let intValue: Int?
    let stringValue: String
    init(_ i: Int) { intValue = i; stringValue = "Index \(i)" }
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { self.init(intValue) }
}

// MARK: decoding

struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(Self.describe(value))"))
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let o) = value else { throw mismatch("an object") }
        return KeyedDecodingContainer(Keyed<Key>(object: o, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let a) = value else { throw mismatch("an array") }
        return Unkeyed(array: a, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(decoder: self) }

    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, path: [any CodingKey]) throws -> T {
        let d = JSONValueDecoder(value: value, codingPath: path)
        if type == JSONValue.self, let v = value as? T { return v }
        if type == String.self, let v = try d.string() as? T { return v }
        if type == Bool.self { guard case .bool(let b) = value, let v = b as? T else { throw d.mismatch("a boolean") }; return v }
        if type == Date.self {
            let s = try d.string()
            guard let date = Timestamp.parse(s), let v = date as? T else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not an RFC 3339 time: \(s)"))
            }
            return v
        }
        if type == Data.self {
            guard let data = Data(base64Encoded: try d.string()), let v = data as? T else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not base64"))
            }
            return v
        }
        if type == URL.self {
            guard let url = URL(string: try d.string()), let v = url as? T else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "not a URL"))
            }
            return v
        }
        if type == Double.self, let v = try d.number() as? T { return v }
        if type == Float.self, let v = Float(try d.number()) as? T { return v }
        if type == Int.self, let v = try d.integer(Int.self) as? T { return v }
        if type == Int64.self, let v = try d.integer(Int64.self) as? T { return v }
        if type == Int32.self, let v = try d.integer(Int32.self) as? T { return v }
        if type == UInt64.self, let v = try d.integer(UInt64.self) as? T { return v }
        if type == UInt32.self, let v = try d.integer(UInt32.self) as? T { return v }
        if type == UInt16.self, let v = try d.integer(UInt16.self) as? T { return v }
        if type == UInt8.self, let v = try d.integer(UInt8.self) as? T { return v }
        if type == UInt.self, let v = try d.integer(UInt.self) as? T { return v }
        return try T(from: d)
    }

    func string() throws -> String {
        guard case .string(let s) = value else { throw mismatch("a string") }
        return s
    }

    func number() throws -> Double {
        guard case .number(let n) = value else { throw mismatch("a number") }
        return n
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let n = try number()
        guard n == n.rounded(.towardZero), let i = I(exactly: n) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(n) does not fit \(I.self)"))
        }
        return i
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let object: [String: JSONValue]
        let codingPath: [any CodingKey]
        var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }

        func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

        func value(_ key: Key) throws -> JSONValue {
            guard let v = object[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no member \"\(key.stringValue)\""))
            }
            return v
        }

        func decodeNil(forKey key: Key) throws -> Bool { try value(key) == .null }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let v = try value(key)
            if v == .null && type != JSONValue.self {
                throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "member \"\(key.stringValue)\" is null"))
            }
            return try JSONValueDecoder.decode(type, from: v, path: codingPath + [key])
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            guard let v = object[key.stringValue], v != .null else { return nil }
            return try JSONValueDecoder.decode(type, from: v, path: codingPath + [key])
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try JSONValueDecoder(value: value(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try JSONValueDecoder(value: value(key), codingPath: codingPath + [key]).unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { JSONValueDecoder(value: object["super"] ?? .null, codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> any Decoder { JSONValueDecoder(value: object[key.stringValue] ?? .null, codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let array: [JSONValue]
        let codingPath: [any CodingKey]
        var currentIndex = 0
        var count: Int? { array.count }
        var isAtEnd: Bool { currentIndex >= array.count }

        init(array: [JSONValue], codingPath: [any CodingKey]) { self.array = array; self.codingPath = codingPath }

        mutating func next<T>(_ type: T.Type) throws -> (JSONValue, [any CodingKey]) {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [IndexKey(currentIndex)], debugDescription: "array has no more elements"))
            }
            defer { currentIndex += 1 }
            return (array[currentIndex], codingPath + [IndexKey(currentIndex)])
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd else { throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "array has no more elements")) }
            if array[currentIndex] == .null { currentIndex += 1; return true }
            return false
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let (v, path) = try next(type)
            if v == .null && type != JSONValue.self {
                throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "element is null"))
            }
            return try JSONValueDecoder.decode(type, from: v, path: path)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            let (v, path) = try next(type)
            return try JSONValueDecoder(value: v, codingPath: path).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let (v, path) = try next([JSONValue].self)
            return try JSONValueDecoder(value: v, codingPath: path).unkeyedContainer()
        }
        mutating func superDecoder() throws -> any Decoder {
            let (v, path) = try next(JSONValue.self)
            return JSONValueDecoder(value: v, codingPath: path)
        }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: JSONValueDecoder
        var codingPath: [any CodingKey] { decoder.codingPath }
        func decodeNil() -> Bool { decoder.value == .null }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if decoder.value == .null && type != JSONValue.self {
                throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "value is null"))
            }
            return try JSONValueDecoder.decode(type, from: decoder.value, path: codingPath)
        }
    }
}
