import COpenSSL
import Foundation
import YizhanCore
import Synchronization

/// The one place that turns OpenSSL status codes and error queues into Swift errors.
public struct CryptoError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case keyGeneration, signing, verification, encoding, decoding, wrongPassphrase
        case certificateIssue, certificateInvalid, random, kdf, unsupported
    }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "crypto \(code.rawValue): \(message)" }
}

enum OpenSSL {
    /// Drains the thread's OpenSSL error queue into one line.
    static func drainErrors() -> String {
        var parts: [String] = []
        while true {
            let e = ERR_get_error()
            if e == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(e, &buf, buf.count)
            parts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.isEmpty ? "no OpenSSL detail" : parts.joined(separator: "; ")
    }

    static func check(_ rc: Int32, _ code: CryptoError.Code, _ what: String) throws(CryptoError) {
        guard rc == 1 else { throw CryptoError(code, "\(what) failed: \(drainErrors())") }
    }

    static func nonNil<T>(_ p: T?, _ code: CryptoError.Code, _ what: String) throws(CryptoError) -> T {
        guard let p else { throw CryptoError(code, "\(what) failed: \(drainErrors())") }
        return p
    }

    /// Reads everything written to a memory BIO.
    static func bioBytes(_ bio: OpaquePointer) -> [UInt8] {
        var ptr: UnsafeMutablePointer<CChar>? = nil
        let n = yz_bio_mem_data(bio, &ptr)
        guard n > 0, let ptr else { return [] }
        return ptr.withMemoryRebound(to: UInt8.self, capacity: n) { Array(UnsafeBufferPointer(start: $0, count: n)) }
    }

    /// Runs `body` with a read-only memory BIO over `bytes`.
    static func withReadBIO<R>(_ bytes: [UInt8], _ body: (OpaquePointer) throws(CryptoError) -> R) throws(CryptoError) -> R {
        let result: Result<R, CryptoError> = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                return .failure(CryptoError(.decoding, "BIO_new_mem_buf failed"))
            }
            defer { BIO_free(bio) }
            do throws(CryptoError) { return .success(try body(bio)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func withWriteBIO(_ body: (OpaquePointer) throws(CryptoError) -> Void) throws(CryptoError) -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw CryptoError(.encoding, "BIO_new failed") }
        defer { BIO_free(bio) }
        try body(bio)
        return bioBytes(bio)
    }

    static func randomBytes(_ n: Int) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        guard RAND_bytes(&out, Int32(n)) == 1 else { throw CryptoError(.random, "RAND_bytes failed: \(drainErrors())") }
        return out
    }

    /// SHA-256 fetched from the provider once: `EVP_sha256()` makes OpenSSL 3 look the algorithm
    /// up again on every call, and every message is hashed several times.
    /// `nonisolated(unsafe)`: a fetched EVP_MD is immutable and may be used from any thread.
    nonisolated(unsafe) static let sha256Method: OpaquePointer? = EVP_MD_fetch(nil, "SHA2-256", nil)

    static func sha256(_ data: some ContiguousBytes) -> [UInt8] {
        var md = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        _ = data.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &md, &len, sha256Method ?? EVP_sha256(), nil)
        }
        return md
    }

    static func scrypt(password: [UInt8], salt: [UInt8], n: UInt64, r: UInt64, p: UInt64, length: Int) throws(CryptoError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let rc = password.withUnsafeBufferPointer { pw in
            salt.withUnsafeBufferPointer { s in
                pw.withMemoryRebound(to: CChar.self) { pwc in
                    EVP_PBE_scrypt(pwc.baseAddress, pwc.count, s.baseAddress, s.count, n, r, p, 256 * 1024 * 1024, &out, length)
                }
            }
        }
        guard rc == 1 else { throw CryptoError(.kdf, "scrypt failed: \(drainErrors())") }
        return out
    }

    static func asn1TimeToDate(_ t: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let t else { return nil }
        var tm = tm()
        guard ASN1_TIME_to_tm(t, &tm) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&tm)))
    }
}

/// An EVP digest context, owned and freed here; nothing above sees the pointer.
final class DigestContext {
    private let ctx: OpaquePointer

    init() throws(CryptoError) {
        ctx = try OpenSSL.nonNil(EVP_MD_CTX_new(), .unsupported, "EVP_MD_CTX_new")
        try OpenSSL.check(EVP_DigestInit_ex(ctx, OpenSSL.sha256Method ?? EVP_sha256(), nil), .unsupported, "EVP_DigestInit_ex")
    }

    func update(_ data: UnsafeRawBufferPointer) {
        guard data.count > 0 else { return }
        _ = EVP_DigestUpdate(ctx, data.baseAddress, data.count)
    }

    func finish() -> [UInt8] {
        var md = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        _ = EVP_DigestFinal_ex(ctx, &md, &len)
        return md
    }

    deinit { EVP_MD_CTX_free(ctx) }
}

extension OpenSSL {
    /// AES-256-GCM: returns nonce (12) ‖ ciphertext ‖ tag (16).
    static func aeadSeal(key: [UInt8], plaintext: [UInt8], aad: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard key.count == 32 else { throw CryptoError(.encoding, "AES-256-GCM needs a 32-byte key") }
        let nonce = try randomBytes(12)
        let ctx = try nonNil(EVP_CIPHER_CTX_new(), .encoding, "EVP_CIPHER_CTX_new")
        defer { EVP_CIPHER_CTX_free(ctx) }
        try check(EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce), .encoding, "EVP_EncryptInit_ex")
        var len: Int32 = 0
        if !aad.isEmpty { try check(EVP_EncryptUpdate(ctx, nil, &len, aad, Int32(aad.count)), .encoding, "EVP_EncryptUpdate (aad)") }
        var out = [UInt8](repeating: 0, count: plaintext.count + 16)
        try check(EVP_EncryptUpdate(ctx, &out, &len, plaintext, Int32(plaintext.count)), .encoding, "EVP_EncryptUpdate")
        var total = Int(len)
        try out.withUnsafeMutableBufferPointer { (b) throws(CryptoError) in
            try check(EVP_EncryptFinal_ex(ctx, b.baseAddress.map { $0 + total }, &len), .encoding, "EVP_EncryptFinal_ex")
        }
        total += Int(len)
        var tag = [UInt8](repeating: 0, count: 16)
        try check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, &tag), .encoding, "GCM tag")
        return nonce + out.prefix(total) + tag
    }

    /// Opens what `aeadSeal` made; nil when the key is wrong or the bytes were changed.
    static func aeadOpen(key: [UInt8], sealed: [UInt8], aad: [UInt8]) -> [UInt8]? {
        guard key.count == 32, sealed.count >= 28, let ctx = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(ctx) }
        let nonce = Array(sealed.prefix(12)), tag = Array(sealed.suffix(16)), body = Array(sealed.dropFirst(12).dropLast(16))
        guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1 else { _ = drainErrors(); return nil }
        var len: Int32 = 0
        if !aad.isEmpty { guard EVP_DecryptUpdate(ctx, nil, &len, aad, Int32(aad.count)) == 1 else { _ = drainErrors(); return nil } }
        var out = [UInt8](repeating: 0, count: body.count + 16)
        guard EVP_DecryptUpdate(ctx, &out, &len, body, Int32(body.count)) == 1 else { _ = drainErrors(); return nil }
        let total = Int(len)
        var t = tag
        guard EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, &t) == 1 else { _ = drainErrors(); return nil }
        let ok = out.withUnsafeMutableBufferPointer { b in EVP_DecryptFinal_ex(ctx, b.baseAddress.map { $0 + total }, &len) == 1 }
        guard ok else {
            _ = drainErrors()
            for i in out.indices { out[i] = 0 }
            return nil
        }
        return Array(out.prefix(total))
    }

    static func sm3(_ data: [UInt8]) -> [UInt8] {
        var md = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        _ = EVP_Digest(data, data.count, &md, &len, EVP_sm3(), nil)
        return md
    }

    /// The distinguishing identifier GM/T 0009 fixes as the default for SM2 signatures
    /// ("1234567812345678"); OpenSSL 3 uses an empty one unless told, so every SM2 call sets it.
    static let sm2ID: [UInt8] = Array("1234567812345678".utf8)

    /// Runs `body` with a digest-sign or digest-verify context for `pkey`: Ed25519 takes no
    /// digest; SM2 takes SM3 and the GM/T default ID, set on a key context the caller must free.
    static func withDigestContext<R>(_ pkey: OpaquePointer, sign: Bool, _ body: (OpaquePointer) -> R?) -> R? {
        guard let md = EVP_MD_CTX_new() else { return nil }
        var keep: OpaquePointer? = nil
        defer {
            EVP_MD_CTX_free(md)
            if let keep { EVP_PKEY_CTX_free(keep) }
        }
        if EVP_PKEY_is_a(pkey, "SM2") == 1 {
            guard let pc = EVP_PKEY_CTX_new(pkey, nil) else { return nil }
            keep = pc
            guard EVP_PKEY_CTX_set1_id(pc, sm2ID, Int32(sm2ID.count)) == 1 else { return nil }
            EVP_MD_CTX_set_pkey_ctx(md, pc)
            let ok = sign ? EVP_DigestSignInit(md, nil, EVP_sm3(), nil, pkey) : EVP_DigestVerifyInit(md, nil, EVP_sm3(), nil, pkey)
            guard ok == 1 else { return nil }
        } else {
            let ok = sign ? EVP_DigestSignInit(md, nil, nil, nil, pkey) : EVP_DigestVerifyInit(md, nil, nil, nil, pkey)
            guard ok == 1 else { return nil }
        }
        return body(md)
    }
}

/// An initialised Ed25519 digest-sign or digest-verify context kept as a template: each operation
/// works on a copy (`EVP_MD_CTX_copy_ex` duplicates the provider's context), so the signature
/// algorithm is fetched and the key bound once per key instead of once per message.
///
/// `@unchecked Sendable`: the template is written only in `init` and from then on only copied,
/// under `lock`; each operation signs or verifies with its own copy.
final class DigestTemplate: @unchecked Sendable {
    let template: OpaquePointer
    let lock = Mutex(())

    init?(ed25519 pkey: OpaquePointer, sign: Bool) {
        guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519, let md = EVP_MD_CTX_new() else { return nil }
        let ok = sign ? EVP_DigestSignInit(md, nil, nil, nil, pkey) : EVP_DigestVerifyInit(md, nil, nil, nil, pkey)
        guard ok == 1 else {
            EVP_MD_CTX_free(md)
            _ = OpenSSL.drainErrors()
            return nil
        }
        template = md
    }

    deinit { EVP_MD_CTX_free(template) }

    /// nil when the copy fails (the caller then takes the long way).
    func withCopy<R>(_ body: (OpaquePointer) -> R?) -> R? {
        guard let md = EVP_MD_CTX_new() else { return nil }
        defer { EVP_MD_CTX_free(md) }
        guard lock.withLock({ _ in EVP_MD_CTX_copy_ex(md, template) }) == 1 else {
            _ = OpenSSL.drainErrors()
            return nil
        }
        return body(md)
    }
}
