import Logging

extension Gateway {
    /// Gives back the pages start-up and the last burst of work left resident (see `WorkingSet`),
    /// unless that was done less than a minute ago. True when it was done now. About 4 ms of
    /// reading `/proc`, then the pages the gateway uses next fault in again.
    func releaseIdleMemory(minimumInterval: Duration = .seconds(60)) -> Bool {
        let now = ContinuousClock.now
        let due = lastTrim.withLock { last in
            if let l = last, now - l < minimumInterval { return false }
            last = now
            return true
        }
        guard due else { return false }
        let r = WorkingSet.trim()
        metrics.memoryTrims.increment()
        logger.debug("idle: released clean file pages", metadata: [
            "regions": "\(r.regions)", "releasedKiB": "\(r.releasedKiB)", "refused": "\(r.refused)", "heapReturned": "\(r.heapReturned)",
        ])
        return true
    }
}
