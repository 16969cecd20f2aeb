import Foundation
import Testing
import YizhanCore
import YizhanCrypto
@testable import YizhanGateway

/// Attachment bytes are copied a buffer at a time, and never more than the caller allows.
@Suite struct PartSpoolTests {
    /// A source that never ends (a log appended to faster than `doc send` reads it) is read up to
    /// the limit and no further, instead of being copied until the disk is full.
    @Test(.timeLimit(.minutes(1))) func pumpStopsAtItsLimitOnAnEndlessSource() throws {
        let input = try #require(FileHandle(forReadingAtPath: "/dev/zero"))
        defer { try? input.close() }
        let path = NSTemporaryDirectory() + "yizhan-pump-\(UUIDv7.make())"
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let output = try #require(FileHandle(forWritingAtPath: path))
        defer { try? output.close(); try? FileManager.default.removeItem(atPath: path) }
        let hash = try SHA256Stream()
        let limit = 3 * PartSpool.buffer + 5
        try PartSpool.pump(input, into: output, hashing: hash, upTo: limit, progress: { _ in })
        try output.synchronize()
        #expect(hash.count == limit)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int == limit)
    }
}
