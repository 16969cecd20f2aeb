import Foundation
import YizhanCore
import YizhanCrypto
import YizhanStore

/// Moves attachment bytes between people's files and the gateway's store without ever holding a
/// part whole in memory: a fixed buffer is read, hashed and written at a time.
public enum PartSpool {
    static let buffer = 1 << 20

    /// Copies `source` into `destination` while hashing it. The file must not change while it is
    /// read (size and modification time are compared before and after, and the bytes read must
    /// be the size seen at the start); otherwise the copy is removed and nothing is stored.
    public static func ingest(_ source: String, to destination: String, progress: (Int) -> Void = { _ in }) throws -> (size: Int, sha256: String) {
        let before = try stat(source)
        guard let input = FileHandle(forReadingAtPath: source) else { throw YizhanError(.invalidArgument, "cannot read \(source)") }
        defer { try? input.close() }
        try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: destination, contents: nil, attributes: [.posixPermissions: 0o600]),
              let output = FileHandle(forWritingAtPath: destination) else { throw YizhanError(.configuration, "cannot write \(destination)") }
        do {
            defer { try? output.close() }
            let hash = try SHA256Stream()
            // One byte past the size seen at the start is enough to know the file grew: a file
            // appended to faster than it is read would otherwise be copied until the disk is full.
            try pump(input, into: output, hashing: hash, upTo: before.size + 1, progress: progress)
            try output.synchronize()
            let after = try stat(source)
            guard after == before, hash.count == before.size else {
                throw YizhanError(.invalidArgument, "\(source) changed while it was being read (\(before.size) bytes before, \(after.size) after, \(hash.count) read); nothing was stored, send it again once it is final")
            }
            return (hash.count, hash.finishHex())
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw error
        }
    }

    /// Reads a small file whole (inline parts are at most one chunk), refusing one that changes
    /// meanwhile or since the caller saw it `expected` bytes long. Never more than one byte past
    /// `expected` is read, so a file that grew in between is not read whole into memory.
    public static func readSmall(_ path: String, expected: Int) throws -> [UInt8] {
        let before = try stat(path)
        guard let input = FileHandle(forReadingAtPath: path) else { throw YizhanError(.invalidArgument, "cannot read \(path)") }
        defer { try? input.close() }
        let d = try input.read(upToCount: expected + 1) ?? Data()
        let after = try stat(path)
        guard before == after, before.size == expected, d.count == expected else {
            throw YizhanError(.invalidArgument, "\(path) changed while it was being read; nothing was stored, send it again once it is final")
        }
        return Array(d)
    }

    /// Copies `input` to `output` a buffer at a time, hashing what passes, up to `limit` bytes in all.
    static func pump(_ input: FileHandle, into output: FileHandle, hashing hash: SHA256Stream, upTo limit: Int, progress: (Int) -> Void) throws {
        while hash.count < limit {
            let d = try input.read(upToCount: min(buffer, limit - hash.count)) ?? Data()
            if d.isEmpty { break }
            d.withUnsafeBytes { hash.update($0) }
            try output.write(contentsOf: d)
            progress(hash.count)
        }
    }

    struct FileState: Equatable { var size: Int; var modified: Date? }

    static func stat(_ path: String) throws -> FileState {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path) else { throw YizhanError(.invalidArgument, "cannot read \(path)") }
        guard (a[.type] as? FileAttributeType) == .typeRegular else { throw YizhanError(.invalidArgument, "\(path) is not a regular file") }
        return FileState(size: (a[.size] as? Int) ?? -1, modified: a[.modificationDate] as? Date)
    }

    /// Writes a stored part to `destination`, checking it against the signed size and SHA-256 on
    /// the way; a part that does not match is removed again and reported, never left as if good.
    public static func export(_ source: GatewayStore.PartSource, part: Envelope.Part, to destination: String, progress: (Int) -> Void = { _ in }) throws {
        guard FileManager.default.createFile(atPath: destination, contents: nil, attributes: [.posixPermissions: 0o644]),
              let output = FileHandle(forWritingAtPath: destination) else { throw YizhanError(.invalidArgument, "cannot write \(destination)") }
        do {
            defer { try? output.close() }
            let hash = try SHA256Stream()
            switch source {
            case .bytes(let b):
                hash.update(b)
                try output.write(contentsOf: Data(b))
                progress(b.count)
            case .file(let f):
                guard let input = FileHandle(forReadingAtPath: f) else { throw YizhanError(.notFound, "the stored file of \(part.name) is missing (\(f))") }
                defer { try? input.close() }
                try pump(input, into: output, hashing: hash, upTo: part.size + 1, progress: progress)
            }
            guard hash.count == part.size, hash.finishHex() == part.sha256 else {
                throw YizhanError(.partMismatch, "stored bytes of \(part.name) do not match the signed size and SHA-256; not written")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: destination)
            throw error
        }
    }

    /// A file name safe to create inside the output folder: no folders, no leading dots.
    public static func safeName(_ name: String, index: Int) -> String {
        var n = name.split(whereSeparator: { $0 == "/" || $0 == "\\" || $0 == "\0" }).last.map(String.init) ?? ""
        while n.hasPrefix(".") { n.removeFirst() }
        return n.isEmpty ? "part-\(index)" : n
    }
}
