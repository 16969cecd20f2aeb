import Foundation
import GRDB
import Testing
import YizhanCore
@testable import YizhanStore

/// The running gateway's checkpoints keep the write-ahead log bounded while commits never stop.
@Suite struct CheckpointTests {
    @Test(.timeLimit(.minutes(2)))
    func theLogStaysBoundedUnderContinuousCommits() async throws {
        let path = NSTemporaryDirectory() + "yizhan-checkpoints-\(UUIDv7.make()).sqlite"
        let store = try GatewayStore(path: path)
        let limit = 512 << 10
        let checkpointer = try store.checkpointer(restartAfter: limit)
        let to = try UnitCode.completing("11420100MB7654321")
        let part = [UInt8](repeating: 7, count: 8 << 10)
        @Sendable func draft() -> GatewayStore.Draft {
            GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "t"), recipients: [.init(unit: to, role: .main)],
                               parts: [.init(name: "a.pdf", mediaType: "application/pdf", data: part, sha256: String(repeating: "ab", count: 32))])
        }
        let count = 3000
        func size(_ p: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0 }
        func logSize() -> Int { size(path + "-wal") }

        // Commits back to back (as a busy receiver makes them) with a checkpoint running beside
        // every ten of them: counted in commits, not in time, so a loaded machine changes nothing.
        var largest = 0
        for _ in 0..<(count / 10) {
            async let copying: Void = checkpointer.run()
            for _ in 0..<10 { try store.enqueue(draft()) }
            try await copying
            largest = max(largest, logSize())
        }
        let copied = size(path)
        #expect(copied > 40 * limit, "the database file holds \(copied) bytes copied through the log, many times the limit")
        // The log starts over near the limit: it passes it by what the writer adds between two
        // checks, never by the whole run's writing.
        #expect(largest < 16 * limit, "largest log \(largest) bytes against a limit of \(limit)")
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + "-wal")
        try? FileManager.default.removeItem(atPath: path + "-shm")
    }
}
