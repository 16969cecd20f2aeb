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
    public func checkpointer() throws -> Checkpointer {
        try writer.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
        return try Checkpointer(path: path)
    }
}

/// A connection that only copies the write-ahead log into the database file.
public struct Checkpointer: Sendable {
    let connection: DatabaseQueue

    init(path: String) throws {
        var config = Configuration()
        config.label = "checkpoints"
        connection = try DatabaseQueue(path: path, configuration: config)
    }

    /// Copies what it can without waiting for a reader or a writer (a passive checkpoint), on the
    /// connection's own queue.
    public func run() async throws {
        try await connection.writeWithoutTransaction { _ = try $0.checkpoint(.passive) }
    }
}
