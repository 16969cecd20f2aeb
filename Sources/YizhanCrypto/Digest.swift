import COpenSSL
import Foundation
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
    /// A URL-safe token from `n` random bytes. It never starts with "-": pasted after `--enrol` or
    /// `--token` it would otherwise be read as an option (one token in 64 was). Drawn again in that
    /// case, so every other token is as likely as before (a 64th of a bit less entropy in all).
    public static func token(bytes n: Int = 24) throws(CryptoError) -> String {
        while true {
            var b = try OpenSSL.randomBytes(n)
            defer { for i in b.indices { b[i] = 0 } }
            let t = Base64URL.encode(b)
            if !t.hasPrefix("-") { return t }
        }
    }
}


/// SHA-256 over data that arrives piece by piece (files streamed in chunks, never held whole).
public final class SHA256Stream {
    private let context: DigestContext
    public private(set) var count = 0

    public init() throws(CryptoError) { context = try DigestContext() }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { context.update($0) }; count += bytes.count }
    public func update(_ bytes: UnsafeRawBufferPointer) { context.update(bytes); count += bytes.count }

    public func finishHex() -> String { Digest.hex(context.finish()) }
}

extension Digest {
    /// Streams a file through SHA-256 in `bufferSize` reads; returns the hex digest and the byte count.
    public static func sha256Hex(fileAt path: String, bufferSize: Int = 1 << 20, progress: ((Int) -> Void)? = nil) throws -> (sha256: String, size: Int) {
        guard let h = FileHandle(forReadingAtPath: path) else { throw YizhanError(.notFound, "cannot read \(path)") }
        defer { try? h.close() }
        let s = try SHA256Stream()
        while true {
            let d = try h.read(upToCount: bufferSize) ?? Data()
            if d.isEmpty { break }
            d.withUnsafeBytes { s.update($0) }
            progress?(s.count)
        }
        return (s.finishHex(), s.count)
    }
}
