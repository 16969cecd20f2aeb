import Logging
import YizhanCore

extension Gateway {
    /// The quiet spell after which a gateway trims, from gateway.json: 2 s when absent, never at 0.
    static func idleTrim(_ config: GatewayHome.Config) throws(YizhanError) -> Duration? {
        switch config.idleTrimSeconds {
        case nil: return .seconds(2)
        case 0?: return nil
        case let s? where s > 0: return .seconds(s)
        case let s?: throw YizhanError(.configuration, "gateway.json: idleTrimSeconds is \(s); use 0 (never) or a number of seconds")
        }
    }

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
