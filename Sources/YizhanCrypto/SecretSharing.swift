import YizhanCore

/// Shamir's threshold scheme over GF(2^8) (the AES field, polynomial x^8+x^4+x^3+x+1), byte by
/// byte: any `threshold` shares give the secret back; fewer give every secret equally likely.
/// Used for a seal's key-encryption key, so no single custodian can unlock the seal.
public enum SecretSharing {
    public struct Share: Sendable, Equatable {
        /// The share's point, 1…255 (never 0: f(0) is the secret).
        public var x: UInt8
        public var y: [UInt8]
        public init(x: UInt8, y: [UInt8]) { self.x = x; self.y = y }

        /// Zeroes the share's bytes (a share is as sensitive as its part of the secret).
        public mutating func wipe() { for i in y.indices { y[i] = 0 } }
    }

    static func mul(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a, b = b, p: UInt8 = 0
        for _ in 0..<8 {
            if b & 1 != 0 { p ^= a }
            let hi = a & 0x80
            a <<= 1
            if hi != 0 { a ^= 0x1B }
            b >>= 1
        }
        return p
    }

    /// a^254 = a^-1 in GF(2^8) (a ≠ 0).
    static func inverse(_ a: UInt8) -> UInt8 {
        var result: UInt8 = 1, base = a, e = 254
        while e > 0 {
            if e & 1 != 0 { result = mul(result, base) }
            base = mul(base, base)
            e >>= 1
        }
        return result
    }

    /// Splits `secret` into one share per point in `xs`; `random(n)` supplies coefficient bytes.
    public static func split(_ secret: [UInt8], threshold: Int, xs: [UInt8], random: (Int) throws -> [UInt8]) throws -> [Share] {
        guard threshold >= 2 else { throw YizhanError(.invalidArgument, "a threshold below 2 would let one custodian unlock alone") }
        guard xs.count >= threshold else { throw YizhanError(.invalidArgument, "\(xs.count) custodian(s) cannot meet a threshold of \(threshold)") }
        guard Set(xs).count == xs.count, !xs.contains(0) else { throw YizhanError(.invalidArgument, "share points must be distinct and non-zero") }
        var coefficients = try random(secret.count * (threshold - 1))
        defer { for i in coefficients.indices { coefficients[i] = 0 } }
        guard coefficients.count == secret.count * (threshold - 1) else { throw YizhanError(.invalidArgument, "not enough random bytes") }
        return xs.map { x in
            var y = [UInt8](repeating: 0, count: secret.count)
            for i in secret.indices {
                // Horner: f(x) = s + a1 x + … + a(k-1) x^(k-1)
                var acc: UInt8 = 0
                for j in stride(from: threshold - 2, through: 0, by: -1) {
                    acc = mul(acc, x) ^ coefficients[i * (threshold - 1) + j]
                }
                y[i] = mul(acc, x) ^ secret[i]
            }
            return Share(x: x, y: y)
        }
    }

    /// Lagrange interpolation at 0. The caller checks the result (shares of different secrets
    /// or too few shares give a wrong value, not an error).
    public static func combine(_ shares: [Share]) throws -> [UInt8] { try interpolate(shares, at: 0) }

    /// The polynomial through `shares`, evaluated at `x`: at 0 the secret; elsewhere a new share
    /// on the same polynomial (a new custodian joins without the secret being formed anywhere but here).
    public static func interpolate(_ shares: [Share], at x: UInt8) throws -> [UInt8] {
        guard shares.count >= 2 else { throw YizhanError(.invalidArgument, "at least two shares are needed") }
        guard Set(shares.map(\.x)).count == shares.count, !shares.contains(where: { $0.x == 0 }) else {
            throw YizhanError(.invalidArgument, "shares must have distinct non-zero points")
        }
        let n = shares[0].y.count
        guard shares.allSatisfy({ $0.y.count == n }) else { throw YizhanError(.invalidArgument, "shares differ in length") }
        var secret = [UInt8](repeating: 0, count: n)
        for (j, sj) in shares.enumerated() {
            // l_j(x) = Π_{m≠j} (x − x_m) / (x_j − x_m); subtraction is XOR in GF(2^8).
            var num: UInt8 = 1, den: UInt8 = 1
            for (m, sm) in shares.enumerated() where m != j {
                num = mul(num, x ^ sm.x)
                den = mul(den, sm.x ^ sj.x)
            }
            let l = mul(num, inverse(den))
            for i in 0..<n { secret[i] ^= mul(sj.y[i], l) }
        }
        return secret
    }
}
