import Foundation
import GRDB
import Testing
import YizhanCore
@testable import YizhanStore

/// Two writers on one file (the running gateway and `doc send`): the one that finds the file
/// locked waits in small steps and then writes, never failing while the other is busy.
@Suite struct BusyWaitTests {
    @Test func pausesStartSmallAndLastFifteenSecondsInAll() {
        #expect(DatabaseOpener.busyPause(afterTries: 0) == 100, "first pause 0.1 ms, not SQLite's 1 ms")
        var total: UInt64 = 0, tries = 0
        while let p = DatabaseOpener.busyPause(afterTries: tries) { total += UInt64(p); tries += 1 }
        #expect(total >= 15_000_000, "gives up only after 15 s: \(total) µs")
        #expect(tries > 200 && DatabaseOpener.busyPause(afterTries: tries) == nil)
    }

    @Test func aSecondWriterWaitsForTheFirstAndThenWrites() async throws {
        let path = NSTemporaryDirectory() + "yizhan-busy-\(UUIDv7.make()).sqlite"
        let gateway = try GatewayStore(path: path), clerk = try GatewayStore(path: path)
        let b = try UnitCode.completing("11420100MB7654321")
        func draft() -> GatewayStore.Draft {
            GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "t"), recipients: [.init(unit: b, role: .main)], parts: [])
        }
        let held = draft(), waiting = draft()
        let locked = AsyncStream<Void>.makeStream()
        // The clerk's pool holds the write lock (an open immediate transaction) for a while.
        let holder = Task.detached {
            try clerk.writer.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    locked.continuation.yield()
                    Thread.sleep(forTimeInterval: 0.3)
                    try GatewayStore.insertDraft(db, held, now: Date())
                    return .commit
                }
            }
        }
        for await _ in locked.stream { break }
        // Meanwhile the gateway's pool writes: it waits for the lock instead of failing with SQLITE_BUSY.
        try gateway.enqueue(waiting)
        try await holder.value
        #expect(Set(try gateway.unsigned().map(\.id)) == [held.id, waiting.id])
    }
}
