import Foundation
import Logging

/// Exponential backoff with jitter for reconnecting.
public struct ReconnectPolicy: Sendable {
    public var initialDelay: Duration
    public var maximumDelay: Duration
    public var multiplier: Double

    public init(initialDelay: Duration = .milliseconds(200), maximumDelay: Duration = .seconds(10), multiplier: Double = 2) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.multiplier = multiplier
    }

    /// Delay before attempt `n` (0-based), with ±20 % jitter so many gateways don't stampede.
    public func delay(attempt n: Int) -> Duration {
        let base = Double(initialDelay.components.seconds) + Double(initialDelay.components.attoseconds) / 1e18
        let cap = Double(maximumDelay.components.seconds) + Double(maximumDelay.components.attoseconds) / 1e18
        let raw = min(cap, base * pow(multiplier, Double(min(n, 30))))
        return .milliseconds(Int(raw * Double.random(in: 0.8...1.2) * 1000))
    }
}

/// The one reconnection loop: connect, run `session`, and when the connection is lost
/// (broker restart, `close_all_connections`, network), back off and start a new session.
/// Returns when `session` returns normally or the task is cancelled.
public func withReconnection(
    _ configuration: AMQPConfiguration,
    policy: ReconnectPolicy = ReconnectPolicy(),
    logger: Logger,
    session: (AMQPConnection) async throws -> Void
) async throws {
    var attempt = 0
    // With several cluster nodes, each new attempt goes to the next one: a stopped node is left
    // at once, and one that refuses connections costs only a fast failure in the rotation.
    var node = 0
    while !Task.isCancelled {
        let started = ContinuousClock.now
        let target = configuration.at(node)
        do {
            let conn = try await AMQPConnection.connect(target, logger: logger)
            if attempt > 0 { logger.info("reconnected to the broker", metadata: ["broker": "\(target)", "attempts": "\(attempt)"]) }
            do {
                try await session(conn)
                await conn.close()
                return
            } catch {
                await conn.close()
                throw error
            }
        } catch let e as AMQPError where e.isConnectionLoss || e.kind == .login {
            if Task.isCancelled { return }
            if ContinuousClock.now - started > .seconds(10) { attempt = 0 }
            node += 1
            // Across the other nodes first, without waiting; back off once every node was tried.
            let d = configuration.alternates.isEmpty || node % configuration.addresses.count == 0 ? policy.delay(attempt: attempt) : .milliseconds(50)
            logger.warning("broker connection lost; retrying", metadata: ["error": "\(e)", "in": "\(d)", "next": "\(configuration.at(node).host):\(configuration.at(node).port)"])
            attempt += 1
            try? await Task.sleep(for: d)
        } catch is CancellationError {
            return
        }
    }
}
