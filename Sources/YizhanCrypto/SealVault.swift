import Foundation
import YizhanCore

/// Dual custody of a seal's private key (DOMAIN.md: "its carrier and its password are held by two
/// or more people separately"). The key is PKCS#8-encrypted under a random key-encryption key
/// (KEK); the KEK is split with `SecretSharing` into one share per custodian, and each share is
/// sealed (AES-256-GCM) under a key derived with scrypt from that custodian's own password. Any
/// `threshold` custodians (at least 2) unlock it; one alone cannot. Secrets are zeroed after use.
public enum SealVault {
    public struct Custodian: Codable, Sendable, Equatable {
        public var name: String
        public var x: Int
        public var salt: String
        /// nonce ‖ sealed share ‖ tag, base64url.
        public var wrapped: String
    }

    /// What the gateway stores for a seal: nothing in it unlocks the key without two passwords.
    public struct Sealed: Codable, Sendable, Equatable {
        public var sealID: String
        public var encryptedKey: String
        public var threshold: Int
        /// SHA-256 over a fixed label and the KEK: tells "shares that do not fit" from a wrong key.
        public var kekCheck: String
        public var custodians: [Custodian]
        /// The next unused share point: a replaced custodian's point is never handed out again.
        public var nextX: Int
    }

    /// A custodian's name and password, as bytes the caller zeroes.
    public struct Secret: Sendable {
        public var name: String
        public var password: [UInt8]
        public init(name: String, password: [UInt8]) { self.name = name; self.password = password }
        public mutating func wipe() { for i in password.indices { password[i] = 0 } }
    }

    public struct Unlocked {
        public let key: PrivateKey
        /// The custodians whose secrets unlocked it, in the order given.
        public let custodians: [String]
    }

    /// scrypt cost for custodian passwords (N = 2^15, r = 8, p = 1: about 32 MiB and tens of ms per custodian).
    static let scryptN: UInt64 = 1 << 15

    static func checkValue(_ kek: [UInt8]) -> String { Digest.sha256Hex(Array("yizhan-seal-kek-check".utf8) + kek) }

    static func aad(_ sealID: String, _ c: String, _ x: Int) -> [UInt8] { Array("yizhan-seal-share|\(sealID)|\(c)|\(x)".utf8) }

    static func wrap(_ share: SecretSharing.Share, sealID: String, secret: Secret) throws -> Custodian {
        let salt = try OpenSSL.randomBytes(16)
        var k = try OpenSSL.scrypt(password: secret.password, salt: salt, n: scryptN, r: 8, p: 1, length: 32)
        defer { for i in k.indices { k[i] = 0 } }
        let sealed = try OpenSSL.aeadSeal(key: k, plaintext: share.y, aad: aad(sealID, secret.name, Int(share.x)))
        return Custodian(name: secret.name, x: Int(share.x), salt: Base64URL.encode(salt), wrapped: Base64URL.encode(sealed))
    }

    static func validate(_ custodians: [Secret], threshold: Int) throws {
        let names = custodians.map { $0.name.trimmingCharacters(in: .whitespaces) }
        guard !names.contains(where: \.isEmpty) else { throw YizhanError(.invalidArgument, "every custodian needs a name") }
        guard Set(names).count == names.count else { throw YizhanError(.invalidArgument, "a custodian is named twice: one person holds one share") }
        guard threshold >= 2 else { throw YizhanError(.invalidArgument, "the threshold must be at least 2 (dual custody)") }
        guard custodians.count >= threshold else { throw YizhanError(.invalidArgument, "\(custodians.count) custodian(s) cannot meet a threshold of \(threshold)") }
        for c in custodians where c.password.count < 8 {
            throw YizhanError(.invalidArgument, "the password of custodian \(c.name) is shorter than 8 bytes")
        }
    }

    /// Locks `key` for `custodians`; the key is never written in the clear.
    public static func create(sealID: String, key: PrivateKey, custodians: [Secret], threshold: Int) throws -> Sealed {
        try validate(custodians, threshold: threshold)
        var kek = try OpenSSL.randomBytes(32)
        defer { for i in kek.indices { kek[i] = 0 } }
        var pass = Array(Base64URL.encode(kek).utf8)
        defer { for i in pass.indices { pass[i] = 0 } }
        let pem = try key.encryptedPEM(passphraseBytes: pass)
        var shares = try SecretSharing.split(kek, threshold: threshold, xs: (1...custodians.count).map { UInt8($0) }) { n in try OpenSSL.randomBytes(n) }
        defer { for i in shares.indices { shares[i].wipe() } }
        let wrapped = try zip(shares, custodians).map { try wrap($0, sealID: sealID, secret: $1) }
        return Sealed(sealID: sealID, encryptedKey: pem, threshold: threshold, kekCheck: checkValue(kek), custodians: wrapped, nextX: custodians.count + 1)
    }

    /// The shares of the custodians in `secrets`; refuses fewer than the threshold before any work.
    static func shares(_ sealed: Sealed, _ secrets: [Secret]) throws -> [SecretSharing.Share] {
        let distinct = Set(secrets.map(\.name))
        guard distinct.count == secrets.count else { throw YizhanError(.invalidArgument, "a custodian is named twice") }
        guard secrets.count >= sealed.threshold else {
            throw YizhanError(.forbidden, "seal \(sealed.sealID) needs secrets from \(sealed.threshold) custodians; \(secrets.count) given (dual custody: no one unlocks a seal alone)")
        }
        var out: [SecretSharing.Share] = []
        for s in secrets {
            guard let c = sealed.custodians.first(where: { $0.name == s.name }) else {
                throw YizhanError(.forbidden, "\(s.name) is not a custodian of seal \(sealed.sealID)")
            }
            guard let salt = Base64URL.decode(c.salt), let wrapped = Base64URL.decode(c.wrapped), (1...255).contains(c.x) else {
                throw YizhanError(.invalidDocument, "the stored share of \(c.name) is damaged")
            }
            var k = try OpenSSL.scrypt(password: s.password, salt: salt, n: scryptN, r: 8, p: 1, length: 32)
            defer { for i in k.indices { k[i] = 0 } }
            guard let y = OpenSSL.aeadOpen(key: k, sealed: wrapped, aad: aad(sealed.sealID, c.name, c.x)) else {
                throw YizhanError(.forbidden, "the password of custodian \(c.name) is not accepted")
            }
            out.append(.init(x: UInt8(c.x), y: y))
        }
        return out
    }

    static func kek(_ sealed: Sealed, _ secrets: [Secret]) throws -> [UInt8] {
        var parts = try shares(sealed, secrets)
        defer { for i in parts.indices { parts[i].wipe() } }
        var kek = try SecretSharing.combine(parts)
        guard checkValue(kek) == sealed.kekCheck else {
            for i in kek.indices { kek[i] = 0 }
            throw YizhanError(.forbidden, "the custodians' shares of seal \(sealed.sealID) do not fit together")
        }
        return kek
    }

    /// Unlocks the key with at least `threshold` custodians' secrets.
    public static func unlock(_ sealed: Sealed, secrets: [Secret]) throws -> Unlocked {
        var k = try kek(sealed, secrets)
        defer { for i in k.indices { k[i] = 0 } }
        var pass = Array(Base64URL.encode(k).utf8)
        defer { for i in pass.indices { pass[i] = 0 } }
        let key: PrivateKey
        do { key = try PrivateKey.fromEncryptedPEM(sealed.encryptedKey, passphraseBytes: pass) } catch {
            throw YizhanError(.invalidDocument, "the seal's stored key does not open with its own key-encryption key (damaged)")
        }
        return Unlocked(key: key, custodians: secrets.map(\.name))
    }

    /// Replaces custodians: `secrets` (at least the threshold) re-form the shares' polynomial, which
    /// gives each newcomer a share of its own; the removed custodians' shares are deleted. The key
    /// and the KEK stay as they are, so the key is never decrypted for this.
    public static func replace(_ sealed: Sealed, secrets: [Secret], remove: [String], add: [Secret]) throws -> Sealed {
        for r in remove where !sealed.custodians.contains(where: { $0.name == r }) {
            throw YizhanError(.invalidArgument, "\(r) is not a custodian of seal \(sealed.sealID)")
        }
        let staying = sealed.custodians.filter { !remove.contains($0.name) }
        for a in add where staying.contains(where: { $0.name == a.name }) {
            throw YizhanError(.invalidArgument, "\(a.name) already holds a share of seal \(sealed.sealID)")
        }
        try validate(staying.map { Secret(name: $0.name, password: Array(repeating: 1, count: 8)) } + add, threshold: sealed.threshold)
        var parts = try shares(sealed, secrets)
        defer { for i in parts.indices { parts[i].wipe() } }
        var kek = try SecretSharing.combine(parts)
        defer { for i in kek.indices { kek[i] = 0 } }
        guard checkValue(kek) == sealed.kekCheck else { throw YizhanError(.forbidden, "the custodians' shares of seal \(sealed.sealID) do not fit together") }
        guard sealed.nextX + add.count <= 255 else { throw YizhanError(.conflict, "seal \(sealed.sealID) has no share points left; remake it") }
        var out = sealed
        out.custodians = staying
        for (i, a) in add.enumerated() {
            let x = UInt8(sealed.nextX + i)
            var y = try SecretSharing.interpolate(parts, at: x)
            defer { for j in y.indices { y[j] = 0 } }
            out.custodians.append(try wrap(.init(x: x, y: y), sealID: sealed.sealID, secret: a))
        }
        out.nextX = sealed.nextX + add.count
        return out
    }
}
