/// Publisher-confirm bookkeeping for one channel, as a pure value (tested without a broker).
///
/// Sequence numbers start at 1 after confirm.select. RabbitMQ sends basic.return for an
/// unroutable mandatory message before that message's basic.ack, so a return marks the
/// (message id, routing key) pair and the next ack for it becomes `.returned`.
public struct PublisherConfirms<Token>: Sendable where Token: Sendable {
    struct Pending: Sendable {
        var key: String
        var token: Token
    }

    public private(set) var nextSequence: UInt64 = 1
    var pending: [UInt64: Pending] = [:]
    var returned: [String: [(Int, String)]] = [:]

    public init() {}

    public var outstanding: Int { pending.count }

    static func key(messageID: String?, routingKey: String) -> String { (messageID ?? "") + "\u{0}" + routingKey }

    /// Records a publish and returns its sequence number.
    public mutating func published(messageID: String?, routingKey: String, token: Token) -> UInt64 {
        let seq = nextSequence
        nextSequence += 1
        pending[seq] = Pending(key: Self.key(messageID: messageID, routingKey: routingKey), token: token)
        return seq
    }

    public mutating func returnReceived(messageID: String?, routingKey: String, replyCode: Int, replyText: String) {
        let k = Self.key(messageID: messageID, routingKey: routingKey)
        var list = returned[k] ?? []
        list.append((replyCode, replyText))
        returned[k] = list
    }

    /// Applies basic.ack; returns the resolved tokens in sequence order.
    public mutating func ack(deliveryTag: UInt64, multiple: Bool) -> [(Token, PublishOutcome)] {
        var out: [(Token, PublishOutcome)] = []
        for (key, token) in take(deliveryTag: deliveryTag, multiple: multiple) {
            if var list = returned[key], !list.isEmpty {
                let (code, text) = list.removeFirst()
                returned[key] = list.isEmpty ? nil : list
                out.append((token, .returned(replyCode: code, replyText: text)))
            } else {
                out.append((token, .confirmed))
            }
        }
        return out
    }

    public mutating func nack(deliveryTag: UInt64, multiple: Bool) -> [(Token, PublishOutcome)] {
        take(deliveryTag: deliveryTag, multiple: multiple).map { ($0.1, .nacked) }
    }

    /// The channel or connection is gone: every outstanding publish is unknown and must fail.
    public mutating func failAll() -> [Token] {
        let tokens = pending.keys.sorted().compactMap { pending[$0]?.token }
        pending.removeAll()
        returned.removeAll()
        nextSequence = 1
        return tokens
    }

    mutating func take(deliveryTag: UInt64, multiple: Bool) -> [(String, Token)] {
        let tags: [UInt64] = multiple ? pending.keys.filter { $0 <= deliveryTag }.sorted() : (pending[deliveryTag] == nil ? [] : [deliveryTag])
        var out: [(String, Token)] = []
        for t in tags {
            guard let p = pending.removeValue(forKey: t) else { continue }
            out.append((p.key, p.token))
        }
        return out
    }
}
