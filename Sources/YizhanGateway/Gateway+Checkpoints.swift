import YizhanStore

extension Gateway {
    /// Copies the store's write-ahead log into the database file four times a second, on a
    /// connection and thread of its own, so that no send round or received group pays for it
    /// (see `GatewayStore.checkpointer()`). A failing copy (disk full) is logged once and tried
    /// again; nothing depends on it but the log's length, and the gateway keeps running.
    func checkpointLoop(every interval: Duration = .milliseconds(250)) async {
        var checkpointer: Checkpointer?
        var failing = false
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            do {
                if checkpointer == nil { checkpointer = try store.checkpointer() }
                try await checkpointer?.run()
                if failing { logger.notice("the store's log is copied into the database again") }
                failing = false
            } catch {
                if !failing { logger.warning("cannot copy the store's log into the database; retrying", metadata: ["error": "\(error)"]) }
                failing = true
            }
        }
    }
}
