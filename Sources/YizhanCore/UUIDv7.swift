import Foundation

/// UUIDv7 (RFC 9562): time-ordered, so ids sort by creation and index well. Made and checked on
/// bytes: every message carries several, and every receipt is given a new one.
public enum UUIDv7 {
    static let digits = Array("0123456789abcdef".utf8)

    public static func make(at date: Date = Date()) -> String {
        let ms = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var rng = SystemRandomNumberGenerator()
        let r1 = rng.next(), r2 = rng.next()
        var b = [UInt8](repeating: 0, count: 16)
        for n in 0..<6 { b[n] = UInt8((ms >> (8 * (5 - UInt64(n)))) & 0xFF) }
        for n in 6..<8 { b[n] = UInt8(truncatingIfNeeded: r1 >> (8 * UInt64(n))) }
        for n in 8..<16 { b[n] = UInt8(truncatingIfNeeded: r2 >> (8 * UInt64(n - 8))) }
        b[6] = 0x70 | (b[6] & 0x0F)
        b[8] = 0x80 | (b[8] & 0x3F)
        return String(unsafeUninitializedCapacity: 36) { out in
            var o = 0
            for (i, byte) in b.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { out[o] = UInt8(ascii: "-"); o += 1 }
                out[o] = digits[Int(byte >> 4)]; out[o + 1] = digits[Int(byte & 0x0F)]; o += 2
            }
            return o
        }
    }

    public static func isValid(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { u in
            guard u.count == 36, u[14] == UInt8(ascii: "7") else { return false }
            for (i, c) in u.enumerated() {
                if i == 8 || i == 13 || i == 18 || i == 23 {
                    guard c == UInt8(ascii: "-") else { return false }
                } else {
                    guard (0x30...0x39).contains(c) || (0x61...0x66).contains(c) else { return false }
                }
            }
            return [UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "a"), UInt8(ascii: "b")].contains(u[19])
        }
    }
}
