import COpenSSL
import Foundation
import YizhanCore

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

    static func sha256(_ data: some ContiguousBytes) -> [UInt8] {
        var md = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 0
        _ = data.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &md, &len, EVP_sha256(), nil)
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
        try OpenSSL.check(EVP_DigestInit_ex(ctx, EVP_sha256(), nil), .unsupported, "EVP_DigestInit_ex")
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
