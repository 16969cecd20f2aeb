import Foundation
import GRDB
import YizhanCore

/// Opens a WAL-mode SQLite pool shared safely between the long-running service and the
/// command line (several processes), with a busy timeout instead of immediate failures.
enum DatabaseOpener {
    static func open(path: String, migrator: DatabaseMigrator) throws -> DatabasePool {
        var config = Configuration()
        config.busyMode = .timeout(15)
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let pool = try DatabasePool(path: path, configuration: config)
        try migrator.migrate(pool)
        return pool
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
}
