/// A message to publish. `persistent` maps to delivery_mode 2.
public struct AMQPMessage: Sendable {
    public var body: [UInt8]
    public var contentType: String?
    public var messageID: String?
    public var userID: String?
    public var type: String?
    public var timestamp: UInt64?
    public var persistent: Bool

    public init(body: [UInt8], contentType: String? = nil, messageID: String? = nil, userID: String? = nil,
                type: String? = nil, timestamp: UInt64? = nil, persistent: Bool = true) {
        self.body = body; self.contentType = contentType; self.messageID = messageID; self.userID = userID
        self.type = type; self.timestamp = timestamp; self.persistent = persistent
    }
}

/// What the broker said about one publish.
public enum PublishOutcome: Sendable, Equatable {
    /// Routed and confirmed (basic.ack).
    case confirmed
    /// Unroutable with `mandatory` (basic.return), then confirmed.
    case returned(replyCode: Int, replyText: String)
    /// The broker could not take responsibility (basic.nack).
    case nacked
}

/// Who waits for a publish's outcome: a suspended task, or a callback run on the connection's
/// thread (so a caller with many copies in flight needs no task per copy; it must return quickly).
enum PublishToken: Sendable {
    case continuation(CheckedContinuation<PublishOutcome, any Error>)
    case callback(@Sendable (Result<PublishOutcome, AMQPError>) -> Void)

    func resolve(_ r: Result<PublishOutcome, AMQPError>) {
        switch self {
        case .continuation(let c): c.resume(with: r.mapError { $0 as any Error })
        case .callback(let f): f(r)
        }
    }
}

/// One message handed to a consumer. Acknowledge it through the connection that delivered it.
public struct AMQPDelivery: Sendable {
    public var body: [UInt8]
    public var contentType: String?
    public var messageID: String?
    public var userID: String?
    public var type: String?
    public var exchange: String
    public var routingKey: String
    public var redelivered: Bool
    public var deliveryTag: UInt64
    public var channel: UInt16
    /// Which connection of a reconnecting client delivered it; an ack on another is meaningless.
    public var connectionID: UInt64
}
