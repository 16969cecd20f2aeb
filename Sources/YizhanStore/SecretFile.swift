import Foundation
import YizhanCore

/// Reading and writing small files, with owner-only permissions for secrets.
public enum SecretFile {
    public static func write(_ text: String, to path: String, secret: Bool) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) { try fm.removeItem(atPath: path) }
        guard fm.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: secret ? 0o600 : 0o644]) else {
            throw YizhanError(.configuration, "cannot write \(path)")
        }
    }

    public static func read(_ path: String) throws -> String {
        guard let d = FileManager.default.contents(atPath: path) else { throw YizhanError(.configuration, "cannot read \(path)") }
        return String(decoding: d, as: UTF8.self)
    }

    /// The passphrase that unlocks a home's private key: `$YIZHAN_PASSPHRASE`, else the home's
    /// `passphrase` file (0600). `create` makes a random one when neither exists.
    public static func passphrase(file: String, create: Bool) throws -> String {
        if let env = ProcessInfo.processInfo.environment["YIZHAN_PASSPHRASE"], !env.isEmpty { return env }
        if FileManager.default.fileExists(atPath: file) {
            return try read(file).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard create else { throw YizhanError(.configuration, "no passphrase: set YIZHAN_PASSPHRASE or provide \(file)") }
        var bytes = [UInt8](repeating: 0, count: 24)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        let p = Base64URL.encode(bytes)
        try write(p + "\n", to: file, secret: true)
        return p
    }
}
