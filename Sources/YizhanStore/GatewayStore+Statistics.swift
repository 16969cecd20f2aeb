import Foundation
import GRDB
import YizhanCore

extension GatewayStore {
    /// This unit's figures for one month (see `UnitStatistics`). Electronic items count once per
    /// document (not per recipient); paper registrations by their date, in UTC+8.
    public func statistics(period: String, unit: String, name: String, now: Date = Date()) throws -> UnitStatistics {
        let (start, end) = try UnitStatistics.period(period, now: now)
        return try writer.read { db in
            var s = UnitStatistics(unit: unit, name: name, period: period)
            let range: [DatabaseValueConvertible] = [start.storeTime, end.storeTime]
            func count(_ sql: String, _ args: [DatabaseValueConvertible]) throws -> Int { try Int.fetchOne(db, sql: sql, arguments: StatementArguments(args)) ?? 0 }
            func electronic(_ kinds: [String]) throws -> Int {
                let list = kinds.map { "'\($0)'" }.joined(separator: ",")
                return try count("SELECT COUNT(*) FROM outbox WHERE kind IN (\(list)) AND created_at >= ? AND created_at < ?", range)
                    + count("SELECT COUNT(*) FROM inbox WHERE kind IN (\(list)) AND received_at >= ? AND received_at < ?", range)
            }
            let month = String(period)
            func paper(_ kind: String) throws -> Int { try count("SELECT COUNT(*) FROM paper WHERE kind = ? AND substr(date, 1, 7) = ?", [kind, month]) }
            s.exchange = .init(electronic: try electronic(["document", "notice"]), paper: try paper("document"))
            s.reporting = .init(electronic: try electronic(["report"]), paper: try paper("report"))
            s.requests = .init(electronic: try electronic(["request", "reply"]), paper: try paper("request"))

            let rows = try Row.fetchAll(db, sql: """
                SELECT received_at, state, handled_at, sign_for_by FROM inbox
                WHERE kind IN ('document','report','request','reply','notice') AND received_at >= ? AND received_at < ?
                """, arguments: StatementArguments(range))
            s.received = rows.count
            for r in rows {
                let receivedAt: Double = r["received_at"], state: String = r["state"]
                let handled: Double? = r["handled_at"], deadline: Double? = r["sign_for_by"]
                if state == "signed-for", let h = handled {
                    s.signedFor += 1
                    s.signForSeconds.append(max(0, h - receivedAt))
                }
                if state == "returned" { s.returned += 1 }
                if let d = deadline {
                    s.withDeadline += 1
                    if state == "signed-for", let h = handled, h <= d { s.signedInTime += 1 }
                    else if let h = handled, h > d { s.overdue += 1 }
                    else if handled == nil, d < now.storeTime { s.overdue += 1 }
                }
            }
            s.signForSeconds.sort()
            s.returnedByOthers = try count("""
                SELECT COUNT(*) FROM deliveries d JOIN outbox o ON o.id = d.document_id
                WHERE d.state = 'returned' AND o.created_at >= ? AND o.created_at < ?
                """, range)
            return s
        }
    }
}

extension GatewayStore {
    /// Stores many drafts in one transaction (benchmarks and bulk imports); each is checked as `enqueue` checks it.
    public func enqueueMany(_ drafts: [Draft], now: Date = Date()) throws {
        for d in drafts {
            guard !d.recipients.isEmpty else { throw YizhanError(.invalidArgument, "a document needs at least one recipient") }
            try d.document?.validate()
        }
        try writeQueueing { db in
            for d in drafts {
                try Self.checkLinks(db, d)
                try Self.insertDraft(db, d, now: now)
            }
        }
    }

    /// Seconds from storing to the delivered receipt, per delivered copy of a document stored since `since`.
    /// Copies in the delivered state (receipts never get there: nothing acknowledges a receipt),
    /// counted on the state index without touching the table, for pollers.
    public func deliveredCount() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'") ?? 0 }
    }

    public func deliveryLatencies(since: Date) throws -> [Double] {
        try writer.read { db in
            try Double.fetchAll(db, sql: """
                SELECT d.delivered_at - o.created_at FROM deliveries d JOIN outbox o ON o.id = d.document_id
                WHERE o.kind != 'receipt' AND d.delivered_at IS NOT NULL AND o.created_at >= ?
                """, arguments: [since.storeTime])
        }
    }
}

extension GatewayStore {
    /// When each stage of a sent document's round trip happened, from the sender's store: stored,
    /// signed, confirmed by the broker, receipt back. Documents stored since `since`, delivered ones only.
    public struct SentStages: Sendable {
        public var id: String
        public var stored: Double, signed: Double, published: Double, delivered: Double
    }

    public func sentStages(since: Date) throws -> [SentStages] {
        try writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT o.id, o.created_at,
                       (SELECT MIN(t.at) FROM trail t WHERE t.document_id = o.id AND t.event = 'signed') AS signed,
                       d.published_at, d.delivered_at
                FROM outbox o JOIN deliveries d ON d.document_id = o.id
                WHERE o.kind != 'receipt' AND d.delivered_at IS NOT NULL AND d.published_at IS NOT NULL AND o.created_at >= ?
                """, arguments: [since.storeTime]).compactMap { r in
                guard let signed = r["signed"] as Double? else { return nil }
                return SentStages(id: r["id"], stored: r["created_at"], signed: signed, published: r["published_at"], delivered: r["delivered_at"])
            }
        }
    }

    /// When each of `ids` was stored in this (receiving) store's inbox and when the broker confirmed
    /// its receipt, by document id.
    public func receivedStages(_ ids: [String]) throws -> [String: (received: Double, receiptConfirmed: Double)] {
        try writer.read { db in
            var out: [String: (received: Double, receiptConfirmed: Double)] = [:]
            try Database.inSlices(ids) { marks, arguments in
                for r in try Row.fetchAll(db, sql: """
                    SELECT i.id, i.received_at, d.published_at FROM inbox i JOIN deliveries d ON d.document_id = i.receipt_id
                    WHERE i.id IN (\(marks)) AND d.published_at IS NOT NULL
                    """, arguments: arguments) {
                    out[r["id"]] = (r["received_at"], r["published_at"])
                }
            }
            return out
        }
    }

    /// The size of one signed document envelope in the outbox (for sizing benchmark baselines).
    public func envelopeSizeSample() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT length(envelope) FROM outbox WHERE kind = 'document' AND envelope IS NOT NULL LIMIT 1") ?? 0 }
    }
}
