import Foundation
import Logging
import YizhanCore
import YizhanCrypto
import YizhanStore

/// The registry directory as this gateway knows it: verified against the pinned CA, kept in
/// SQLite so the gateway works on its cached copy while the registry is down.
public actor DirectoryCache {
    let store: GatewayStore
    let anchor: Certificate
    let client: RegistryClient
    let logger: Logger
    let staleAfter: TimeInterval
    public private(set) var current: Directory?
    var fetchedAt: Date?
    var lastAttempt: Date = .distantPast
    /// Whether the last attempt reached the registry: a verdict that depends on the directory
    /// ("not addressed", "unknown sender") is only final on a copy known to be current.
    public private(set) var lastRefreshSucceeded = false

    public init(store: GatewayStore, anchor: Certificate, client: RegistryClient, staleAfter: TimeInterval, logger: Logger) throws {
        self.store = store
        self.anchor = anchor
        self.client = client
        self.logger = logger
        self.staleAfter = staleAfter
        if let cached = try store.cachedDirectory() {
            current = try SignedDirectory.open(cached.signed, anchor: anchor)
            fetchedAt = cached.fetchedAt
        }
    }

    /// Fetches the registry's directory; keeps the cached one on failure (a warning, not an outage).
    @discardableResult
    public func refresh(minimumInterval: TimeInterval = 0) async -> Directory? {
        let now = Date()
        guard now.timeIntervalSince(lastAttempt) >= minimumInterval else { return current }
        lastAttempt = now
        do {
            let bytes = try await client.directory()
            let d = try SignedDirectory.open(bytes, anchor: anchor)
            if let cur = current, d.version < cur.version {
                logger.warning("registry served an older directory; keeping the newer cached one", metadata: ["served": "\(d.version)", "cached": "\(cur.version)"])
                return current
            }
            try store.cacheDirectory(version: d.version, signed: bytes)
            current = d
            fetchedAt = now
            lastRefreshSucceeded = true
        } catch {
            lastRefreshSucceeded = false
            let age = fetchedAt.map { Int(now.timeIntervalSince($0)) }
            if let age, Double(age) > staleAfter {
                logger.error("directory is STALE: registry unreachable and cached copy is old", metadata: ["error": "\(error)", "ageSeconds": "\(age)"])
            } else {
                logger.warning("directory refresh failed; using cached copy", metadata: ["error": "\(error)", "ageSeconds": "\(age.map(String.init) ?? "none")"])
            }
        }
        return current
    }
}
