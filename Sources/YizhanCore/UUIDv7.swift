import Foundation

/// UUIDv7 (RFC 9562): time-ordered, so ids sort by creation and index well.
public enum UUIDv7 {
    public static func make(at date: Date = Date()) -> String {
        let ms = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var b = [UInt8](repeating: 0, count: 16)
        for n in 0..<6 { b[n] = UInt8((ms >> (8 * (5 - UInt64(n)))) & 0xFF) }
        var rng = SystemRandomNumberGenerator()
        for n in 6..<16 { b[n] = UInt8.random(in: 0...255, using: &rng) }
        b[6] = 0x70 | (b[6] & 0x0F)
        b[8] = 0x80 | (b[8] & 0x3F)
        let hex = b.map { String(format: "%02x", $0) }.joined()
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    public static func isValid(_ s: String) -> Bool {
        let c = Array(s)
        guard c.count == 36, c[8] == "-", c[13] == "-", c[18] == "-", c[23] == "-", c[14] == "7" else { return false }
        guard "89ab".contains(c[19]) else { return false }
        return c.enumerated().allSatisfy { i, ch in [8, 13, 18, 23].contains(i) || "0123456789abcdef".contains(ch) }
    }
}
