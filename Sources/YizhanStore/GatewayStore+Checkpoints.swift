import GRDB

extension GatewayStore {
    /// Takes the write-ahead log's checkpoints off this store's write path.
    ///
    /// SQLite copies the log back into the database file from inside whichever commit takes the
    /// log past 1,000 pages: that commit then also writes and syncs the database file, and every
    /// document queued behind it waits (a send round, a receiver's group). The running gateway
    /// turns that off for its own writer and copies the log from a connection of its own, on a
    /// thread of its own, with `Checkpointer/run()`. Other processes (`doc send`) keep SQLite's
    /// automatic checkpoints, so the log stays bounded while no gateway runs.
    ///
    /// `restartAfter` bounds the log while one does (see `Checkpointer/run()`); the writer also
    /// trims the log file back to that length when the log starts over.
    public func checkpointer(restartAfter bytes: Int = Checkpointer.defaultRestartBytes) throws -> Checkpointer {
        let pageSize = try writer.writeWithoutTransaction { db -> Int in
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            try db.execute(sql: "PRAGMA journal_size_limit = \(bytes)")
            return try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
        }
        return try Checkpointer(path: path, writer: writer, restartPages: max(1, bytes / max(1, pageSize)))
    }
}

/// A connection that only copies the write-ahead log into the database file.
public struct Checkpointer: Sendable {
    /// 64 MiB: at a thousand documents a second a receiver's log reaches it every few seconds.
    public static let defaultRestartBytes = 64 << 20

    let connection: DatabaseQueue
    /// The store's own writer: only a checkpoint between its commits lets the log start over.
    let writer: any DatabaseWriter
    let restartPages: Int

    init(path: String, writer: any DatabaseWriter, restartPages: Int) throws {
        var config = Configuration()
        config.label = "checkpoints"
        connection = try DatabaseQueue(path: path, configuration: config)
        self.writer = writer
        self.restartPages = restartPages
    }

    /// Copies what it can without waiting for a reader or a writer (a passive checkpoint), on the
    /// connection's own queue. Once the log is longer than `restartPages`, it copies the little
    /// written since then from the writer's own connection, between two of its commits, so that the
    /// next commit starts the log over.
    ///
    /// A checkpoint beside a busy writer never lets the log start over: the log starts over only at
    /// a commit that begins when every page of it is already copied, and the writer adds pages while
    /// the copy runs. A receiver's log measured 314 MB after 30,000 documents that way. Waiting for
    /// the writer's lock from here (a restarting checkpoint) does not help either: a writer that
    /// commits back to back takes the lock again before the waiting side looks.
    ///
    /// A checkpoint that meets the writer halfway through updating the log's index gives up with
    /// SQLITE_BUSY instead of waiting: that copy is simply left to the next call.
    public func run() async throws {
        do {
            let (logPages, _) = try await connection.writeWithoutTransaction { try $0.checkpoint(.passive) }
            guard logPages > restartPages else { return }
            try await writer.writeWithoutTransaction { _ = try $0.checkpoint(.passive) }
        } catch let e as DatabaseError where e.resultCode == .SQLITE_BUSY {
            return
        }
    }
}
