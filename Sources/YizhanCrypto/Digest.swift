import COpenSSL
import YizhanCore

/// SHA-256 over OpenSSL, as lower-case hex or raw bytes.
public enum Digest {
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { OpenSSL.sha256(bytes) }
    public static func sha256Hex(_ bytes: [UInt8]) -> String { hex(OpenSSL.sha256(bytes)) }
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Random secrets (tokens, broker passwords) from OpenSSL's CSPRNG.
public enum SecureRandom {
    public static func bytes(_ n: Int) throws(CryptoError) -> [UInt8] { try OpenSSL.randomBytes(n) }
    /// A URL-safe token with `n` bytes of entropy.
    public static func token(bytes n: Int = 24) throws(CryptoError) -> String {
        var b = try OpenSSL.randomBytes(n)
        defer { for i in b.indices { b[i] = 0 } }
        return Base64URL.encode(b)
    }
}

