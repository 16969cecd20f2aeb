/// Which deliveries on one consumer channel are still unsettled, so that acks handed over together
/// go out as few `basic.ack` frames as possible (a pure value, tested without a broker).
///
/// A gateway acks a whole group of deliveries once the group is stored. One ack per delivery cost a
/// frame, a `send` and a loopback TCP segment each, on both sides of the socket. When the acked
/// tags are exactly the oldest unsettled deliveries on the channel, one ack with `multiple` set
/// covers them all; anything acked out of order goes out on its own, as before. Delivery tags on a
/// channel only grow, so the unsettled ones are kept in the order they arrived.
public struct ConsumerAcks: Sendable {
    /// An ack to send: `tag` alone, or (`multiple`) every unsettled delivery up to `tag`.
    public struct Frame: Sendable, Equatable {
        public var tag: UInt64
        public var multiple: Bool
        public init(tag: UInt64, multiple: Bool) { self.tag = tag; self.multiple = multiple }
    }

    /// Unsettled deliveries in arrival order, with their body sizes.
    var unsettled: [(tag: UInt64, bytes: Int)] = []

    /// Body bytes of the unsettled deliveries: what the consumer holds in memory or has yet to
    /// handle, which bounds how much more the connection reads (`AMQPConfiguration.consumerBudgetBytes`).
    public private(set) var bytes = 0

    public init() {}

    public var count: Int { unsettled.count }

    public mutating func delivered(_ tag: UInt64, bytes size: Int = 0) {
        unsettled.append((tag, size))
        bytes += size
    }

    /// A delivery rejected (or nacked) on its own: no longer ours to ack.
    public mutating func rejected(_ tag: UInt64) {
        if let i = unsettled.firstIndex(where: { $0.tag == tag }) { bytes -= unsettled.remove(at: i).bytes }
    }

    /// The frames that ack `tags`, which are settled from then on. A tag not among the unsettled
    /// ones (say, acked twice) is sent alone, so the broker's answer stays what it would have been.
    public mutating func ack(_ tags: [UInt64]) -> [Frame] {
        guard !tags.isEmpty else { return [] }
        let acked = Set(tags)
        // The longest run of oldest unsettled deliveries that are all being acked.
        var run = 0
        while run < unsettled.count, acked.contains(unsettled[run].tag) { run += 1 }
        var frames: [Frame] = []
        var covered = Set<UInt64>()
        if run > 0 {
            frames.append(Frame(tag: unsettled[run - 1].tag, multiple: run > 1))
            covered = Set(unsettled[..<run].map(\.tag))
        }
        for t in tags.sorted() where covered.insert(t).inserted {
            frames.append(Frame(tag: t, multiple: false))
        }
        var released = 0
        unsettled.removeAll { u in
            guard acked.contains(u.tag) else { return false }
            released += u.bytes
            return true
        }
        bytes -= released
        return frames
    }
}
