import Foundation
import GRDB
import Testing
import YizhanCore
@testable import YizhanStore

/// SQLite's temporary files (savepoint journals, sorts) are kept in memory on every connection of
/// both stores: on disk they put document pages in `/var/tmp` and cost a busy sender a file created,
/// written and deleted on most send rounds (the fourteenth round in YizhanGateway.docc/PerformanceRounds.md).
@Suite struct TemporaryStorageTests {
    /// `PRAGMA temp_store` answers 2 for MEMORY (0 default, 1 FILE).
    static func tempStore(_ w: any DatabaseWriter) throws -> (writer: Int?, reader: Int?) {
        (try w.write { try Int.fetchOne($0, sql: "PRAGMA temp_store") },
         try w.read { try Int.fetchOne($0, sql: "PRAGMA temp_store") })
    }

    @Test func everyConnectionOfBothStoresKeepsTemporaryFilesInMemory() throws {
        let dir = NSTemporaryDirectory() + "yizhan-temp-store-\(UUIDv7.make())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gateway = try GatewayStore(path: dir + "/gateway.sqlite")
        let registry = try RegistryStore(path: dir + "/registry.sqlite", digest: { _ in "" })
        for (name, w) in [("gateway", gateway.writer), ("registry", registry.writer)] {
            let t = try Self.tempStore(w)
            #expect(t.writer == 2 && t.reader == 2, "\(name): writer \(String(describing: t.writer)), reader \(String(describing: t.reader))")
        }
    }

    /// A round of handed-over drafts large enough that their savepoints' journal passes SQLite's
    /// 64 KiB in-memory allowance still stores every draft, each in a savepoint of its own, and one
    /// refused draft (a reused id) takes none of the others with it.
    @Test func aLargeRoundOfSavepointsStoresEveryDraft() throws {
        let dir = NSTemporaryDirectory() + "yizhan-temp-store-\(UUIDv7.make())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try GatewayStore(path: dir + "/gateway.sqlite")
        let b = try UnitCode.completing("11420100MB7654321")
        let body = [UInt8](repeating: 0x61, count: 16 * 1024)
        func draft(id: String = UUIDv7.make()) -> GatewayStore.Draft {
            GatewayStore.Draft(id: id, kind: .document, document: DocumentInfo(title: "t"), recipients: [.init(unit: b, role: .main)],
                               parts: [.init(name: "a.txt", mediaType: "text/plain", data: body, sha256: String(repeating: "ab", count: 32))])
        }
        let drafts = (0..<40).map { _ in draft() }
        let again = draft(id: drafts[7].id)
        let items = (drafts + [again]).map { GatewayStore.HandedOver(submission: HandOver.Submission(draft: $0), receivedAt: Date()) }
        let stored = try store.storeHandedOver(items)
        #expect(stored.refusals.prefix(40).allSatisfy { $0 == nil })
        #expect(stored.refusals.last??.code == .conflict)
        let count = try store.writer.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM outbox") }
        #expect(count == 40)
    }
}
