import Foundation
import GRDB
import Testing
import YizhanCore
@testable import YizhanStore

/// The gateway's gauges count what is open, from partial indexes, on a database migrated from
/// before those indexes existed as well as on a new one.
@Suite struct GaugeTests {
    let b: UnitCode, c: UnitCode

    init() throws {
        b = try UnitCode.completing("11420100MB7654321")
        c = try UnitCode.completing("12420100MA4K0000X")
    }

    @Test func gaugesCountOpenCopiesOnlyAfterTheMigrationAndAfter() throws {
        let path = NSTemporaryDirectory() + "yizhan-gauges-\(UUIDv7.make()).sqlite"
        let past = Date().addingTimeInterval(-3600), now = Date()
        // A store as it was before `v7-open-copies`: a document asking to be signed for an hour ago,
        // published to two units; a receipt this unit sent, published (its final state); a received
        // document still waiting to be signed for.
        do {
            let q = try DatabaseQueue(path: path)
            try GatewayStore.migrator.migrate(q, upTo: "v6-outbox-part-files")
            try q.write { db in
                try db.execute(sql: "INSERT INTO outbox (id, kind, created_at, sign_for_by, envelope, payload_sha256) VALUES ('d1', 'document', 1, ?, x'00', 'h')",
                               arguments: [past.timeIntervalSince1970])
                try db.execute(sql: "INSERT INTO outbox (id, kind, created_at, envelope, payload_sha256) VALUES ('r1', 'receipt', 1, x'00', 'h')")
                for (doc, to) in [("d1", b.rawValue), ("d1", c.rawValue), ("r1", b.rawValue)] {
                    try db.execute(sql: "INSERT INTO deliveries (document_id, recipient, role, state, next_attempt_at) VALUES (?, ?, 'main', 'published', 1)", arguments: [doc, to])
                }
                try db.execute(sql: """
                    INSERT INTO inbox (id, sender, kind, created, received_at, envelope, payload_sha256, receipt_id, sign_for_by)
                    VALUES ('i1', ?, 'document', '2026-01-01T00:00:00Z', 1, x'00', 'h', 'r1', ?)
                    """, arguments: [b.rawValue, past.timeIntervalSince1970])
            }
        }
        let store = try GatewayStore(path: path)
        var f = try store.figures(now: now)
        #expect(f.outboxDepth == 2, "the document's two copies; the receipt's copy is not open")
        #expect(f.overdue == 3, "two copies not signed for by their deadline, one received document not signed for")

        // Written by today's code: a receipt copy queued by a quarantine, a document without a deadline.
        let receipt = ReceiptInfo(status: .rejected, document: "x", payloadSha256: "", reason: "bad-signature", detail: "x")
        try store.quarantine(.init(reason: "bad-signature", detail: "x", messageID: nil, userID: nil, routingKey: nil, contentType: nil, claimedSender: c.rawValue, body: [1]),
                             receipt: .init(id: UUIDv7.make(), to: c.rawValue, receipt: receipt, envelope: [1], payloadSha256: "h"))
        try store.enqueue(.init(kind: .document, document: DocumentInfo(title: "t"), recipients: [.init(unit: b, role: .main)], parts: []))
        try store.enqueue(.init(kind: .document, document: DocumentInfo(title: "t"), recipients: [.init(unit: c, role: .main)], parts: [],
                                extras: .init(signForBy: Timestamp.format(past))))
        f = try store.figures(now: now)
        #expect(f.outboxDepth == 4 && f.overdue == 4 && f.quarantined == 1)

        // Signed for at one unit: that copy is neither open nor overdue any more.
        try store.applyReceipt(id: UUIDv7.make(), from: b.rawValue, receipt: ReceiptInfo(status: .signedFor, document: "d1", payloadSha256: "h", clerk: "王芳"), envelope: [1])
        f = try store.figures(now: now)
        #expect(f.outboxDepth == 3 && f.overdue == 3)

        // Every count reads its partial index, never the tables.
        let plans = try store.writer.read { db in
            try [GatewayStore.gaugeSQL.openCopies, GatewayStore.gaugeSQL.overdueCopies, GatewayStore.gaugeSQL.overdueInbox].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: sql.contains("?") ? [now.timeIntervalSince1970] : []).map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        #expect(plans[0].contains("deliveries_open"), "\(plans[0])")
        #expect(plans[1].contains("deliveries_awaiting_sign_for"), "\(plans[1])")
        #expect(plans[2].contains("inbox_awaiting_sign_for"), "\(plans[2])")
    }
}
