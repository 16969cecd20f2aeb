/// Typed AMQP failures. `replyCode` is the broker's (403 access refused, 404 not found,
/// 406 precondition failed, 320 connection forced, ...); `status` is rabbitmq-c's.
public struct AMQPError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case connect, login, socket, connectionClosed, channelClosed, heartbeatTimeout, protocolError, closed, invalidArgument, tls
    }
    public let kind: Kind
    public let replyCode: Int
    public let message: String

    public init(_ kind: Kind, replyCode: Int = 0, _ message: String) {
        self.kind = kind; self.replyCode = replyCode; self.message = message
    }

    public var description: String {
        replyCode != 0 ? "amqp \(kind.rawValue) (\(replyCode)): \(message)" : "amqp \(kind.rawValue): \(message)"
    }

    /// True when the error means "the connection is gone": reconnecting may help.
    public var isConnectionLoss: Bool {
        switch kind {
        case .socket, .connectionClosed, .heartbeatTimeout, .closed, .protocolError, .connect: return true
        default: return false
        }
    }
}
