/// A unit's Unified Social Credit Code (GB 32100-2015). Names change; the code does not.
public struct UnitCode: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public static let alphabet: [Character] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
    static let weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

    public let rawValue: String

    public init(_ text: String) throws(YizhanError) {
        // Every envelope names two or more units: a valid code is checked on its bytes, and
        // anything else goes the long way round, which says what is wrong with it.
        if !Self.isValidASCII(text), let problem = Self.problem(with: text) { throw problem }
        rawValue = text
    }

    /// What is wrong with `text` as a unit code, character by character; nil when nothing is.
    static func problem(with text: String) -> YizhanError? {
        let chars = Array(text)
        guard chars.count == 18 else {
            return YizhanError(.invalidUnitCode, "unit code must have 18 characters, got \(chars.count)")
        }
        var values: [Int] = []
        for (i, c) in chars.enumerated() {
            guard let v = Self.alphabet.firstIndex(of: c) else {
                return YizhanError(.invalidUnitCode, "unit code has '\(c)' at position \(i + 1), not in 0-9A-Y less I O Z S V")
            }
            values.append(v)
        }
        let expected = Self.checkCharacter(forFirst17: values.prefix(17))
        guard chars[17] == expected else {
            return YizhanError(.invalidUnitCode, "unit code \(text) has check character \(chars[17]), expected \(expected)")
        }
        return nil
    }

    /// Alphabet index of each ASCII byte, 0xFF where it is not in the alphabet.
    static let indexOfByte: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { if let a = c.asciiValue { t[Int(a)] = UInt8(i) } }
        return t
    }()

    static func isValidASCII(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { u in
            guard u.count == 18 else { return false }
            let t = indexOfByte
            var sum = 0
            for i in 0..<17 {
                let v = t[Int(u[i])]
                guard v != 0xFF else { return false }
                sum += Int(v) * weights[i]
            }
            let last = t[Int(u[17])]
            return last != 0xFF && Int(last) == (31 - sum % 31) % 31
        }
    }

    /// Computes the 18th character for 17 leading alphabet indices.
    static func checkCharacter(forFirst17 values: ArraySlice<Int>) -> Character {
        var sum = 0
        for (v, w) in zip(values, weights) { sum += v * w }
        let c = (31 - sum % 31) % 31
        return alphabet[c]
    }

    /// Completes a 17-character prefix with its check character (for tests and the demo).
    public static func completing(_ prefix: String) throws(YizhanError) -> UnitCode {
        var values: [Int] = []
        for c in prefix {
            guard let v = alphabet.firstIndex(of: c) else { throw YizhanError(.invalidUnitCode, "bad character '\(c)'") }
            values.append(v)
        }
        guard values.count == 17 else { throw YizhanError(.invalidUnitCode, "prefix must have 17 characters") }
        return try UnitCode(prefix + String(checkCharacter(forFirst17: values[...])))
    }

    public var description: String { rawValue }
    public static func < (a: UnitCode, b: UnitCode) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        self = try UnitCode(s)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
