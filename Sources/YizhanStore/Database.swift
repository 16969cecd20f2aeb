import Foundation
import GRDB
import YizhanCore

/// Opens a WAL-mode SQLite pool shared safely between the long-running service and the
/// command line (several processes), waiting for each other's writes instead of failing.
///
/// Every commit waits for the disk (`synchronous = FULL`): a gateway acks a broker message, and
/// `doc send` tells a clerk "queued", only after a commit, so that commit has to survive a power
/// cut or a kernel crash, not just the process dying. (With `NORMAL`, WAL commits reach the disk
/// only at the next checkpoint; a power cut could take back a document already acked to the
/// broker, and nothing would ever send it again.) Writes whose loss only repeats work use
/// `relaxedWrite`.
///
/// SQLite's temporary files stay in memory (`temp_store = MEMORY`): a send round stores each
/// handed-over draft in a savepoint of its own, and the savepoints' journal outgrew SQLite's
/// 64 KiB in-memory allowance, so a busy sender created, wrote and deleted a file in `/var/tmp`
/// some 64 times a second (document pages in a shared folder, and kernel work on every round).
/// Nothing in them is needed after a crash: the write-ahead log is what recovers.
enum DatabaseOpener {
    static func open(path: String, migrator: DatabaseMigrator) throws -> DatabasePool {
        var config = Configuration()
        config.busyMode = .callback(busy)
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA temp_store = MEMORY") }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let pool = try DatabasePool(path: path, configuration: config)
        // Set on the one writer connection after the pool made it (a pool sets NORMAL when it opens WAL).
        try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
        try migrator.migrate(pool)
        return pool
    }
}

extension DatabaseOpener {
    /// Waits out another process's write (`doc send` committing beside the running gateway) in
    /// small steps. SQLite's own timeout sleeps 1, 2, 5, 10, 15… ms between tries, so a gateway that
    /// meets a clerk's commit of a fraction of a millisecond could sleep ten times longer than the
    /// commit took, and every document behind it would wait too. 0.1 ms steps for the first 20 ms,
    /// then 1 ms steps; gives up (SQLITE_BUSY) after about 15 s, as the timeout did.
    static let busy: Database.BusyCallback = { tries in
        guard let pause = busyPause(afterTries: tries) else { return false }
        usleep(pause)
        return true
    }

    /// Microseconds to sleep before the next try; nil: give up.
    static func busyPause(afterTries n: Int) -> UInt32? {
        n < 200 ? 100 : n < 200 + 15_000 ? 1000 : nil
    }
}

extension Date {
    /// Seconds since 1970 with millisecond precision: sortable and exact in SQLite REAL.
    var storeTime: Double { (timeIntervalSince1970 * 1000).rounded() / 1000 }
}

extension Database {
    /// Runs one statement from the connection's statement cache: the hot paths (receive, receipt,
    /// publish bookkeeping, trail) run the same SQL thousands of times.
    func run(_ sql: String, arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    /// Runs `body` over `ids` in slices of 500 (under SQLite's limit on bound parameters), with
    /// the slice's `?,?,…` placeholders for an `IN (…)` list and its arguments.
    static func inSlices(_ ids: [String], _ body: (_ marks: String, _ arguments: StatementArguments) throws -> Void) rethrows {
        for start in stride(from: 0, to: ids.count, by: 500) {
            let slice = Array(ids[start..<min(ids.count, start + 500)])
            try body(Array(repeating: "?", count: slice.count).joined(separator: ","), StatementArguments(slice))
        }
    }
}

extension DatabaseWriter {
    /// One transaction committed without waiting for the disk, for bookkeeping whose loss in a power
    /// cut only repeats work: a copy published again (the receiver knows it by its id and answers
    /// with the receipt it already has). Never for anything a broker
    /// message is acked on or a person is told is stored. A later durable commit carries these
    /// pages to the disk with its own (the WAL is written in order).
    func relaxedWrite(_ updates: (Database) throws -> Void) throws {
        try writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            do {
                try db.inTransaction(.immediate) {
                    try updates(db)
                    return .commit
                }
            } catch {
                try db.execute(sql: "PRAGMA synchronous = FULL")
                throw error
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
    }
}
