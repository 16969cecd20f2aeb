import COpenSSL
import YizhanCore

/// scrypt password hashes in a self-describing text form: `scrypt$N$r$p$salt$hash` (base64url).
public enum PasswordHash {
    public static func make(_ password: String, n: UInt64 = 1 << 15, r: UInt64 = 8, p: UInt64 = 1) throws(CryptoError) -> String {
        let salt = try OpenSSL.randomBytes(16)
        var pw = Array(password.utf8)
        defer { for i in pw.indices { pw[i] = 0 } }
        let h = try OpenSSL.scrypt(password: pw, salt: salt, n: n, r: r, p: p, length: 32)
        return "scrypt$\(n)$\(r)$\(p)$\(Base64URL.encode(salt))$\(Base64URL.encode(h))"
    }

    /// Constant-time comparison of a candidate against a stored hash.
    public static func verify(_ password: String, against stored: String) -> Bool {
        let f = stored.split(separator: "$").map(String.init)
        guard f.count == 6, f[0] == "scrypt", let n = UInt64(f[1]), let r = UInt64(f[2]), let p = UInt64(f[3]),
              n <= 1 << 20, r <= 32, p <= 16,
              let salt = Base64URL.decode(f[4]), let expected = Base64URL.decode(f[5]) else { return false }
        var pw = Array(password.utf8)
        defer { for i in pw.indices { pw[i] = 0 } }
        guard let h = try? OpenSSL.scrypt(password: pw, salt: salt, n: n, r: r, p: p, length: expected.count) else { return false }
        return h.withUnsafeBytes { a in expected.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 } }
    }

}
