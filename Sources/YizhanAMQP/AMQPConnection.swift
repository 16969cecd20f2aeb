import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An AMQP connection whose rabbitmq-c state is owned by one dedicated thread.
///
/// Callers enqueue commands (publish, consume, ack, ...) and are answered through
/// continuations; the thread interleaves them with reading frames, so heartbeats are
/// serviced while idle and publisher confirms stream in while more publishes go out.
public final class AMQPConnection: Sendable {
    public typealias Deliveries = AsyncThrowingStream<AMQPDelivery, any Error>

    enum Command: Sendable {
        case publish(exchange: String, routingKey: String, mandatory: Bool, message: AMQPMessage, PublishToken)
        case consume(queue: String, prefetch: UInt16, CheckedContinuation<Void, any Error>, ConsumerSink)
        case cancelConsumer(channel: UInt16)
        case ack(channel: UInt16, tag: UInt64)
        case reject(channel: UInt16, tag: UInt64, requeue: Bool)
        case declareQueue(name: String, durable: Bool, passive: Bool, CheckedContinuation<QueueInfo, any Error>)
        case deleteQueue(name: String, CheckedContinuation<Void, any Error>)
        case close(CheckedContinuation<Void, Never>)
    }

    /// Where a consumer's deliveries go: one at a time, or in the groups that arrive together.
    enum ConsumerSink: Sendable {
        case single(Deliveries.Continuation)
        case batches(DeliveryBatches.Sink)

        func finish(throwing e: any Error) {
            switch self {
            case .single(let c): c.finish(throwing: e)
            case .batches(let s): s.finish(throwing: e)
            }
        }
    }

    public struct QueueInfo: Sendable { public var messages: Int; public var consumers: Int }

    struct Shared {
        var commands: [Command] = []
        /// A wake-up byte is on its way and the thread has not taken the commands yet: a burst of
        /// publishes or acks costs one write to the pipe, not one each.
        var woken = false
        var failure: AMQPError?
    }

    static let nextID = Atomic<UInt64>(1)

    /// What the connection and its owner thread share. The thread holds this, not the connection,
    /// so a connection dropped without `close()` is noticed (its weak reference goes nil) and shut.
    final class State: Sendable {
        let shared = Mutex(Shared())
        let wakeRead: Int32
        let wakeWrite: Int32
        init(wakeRead: Int32, wakeWrite: Int32) { self.wakeRead = wakeRead; self.wakeWrite = wakeWrite }
        deinit {
            Glibc.close(wakeRead)
            Glibc.close(wakeWrite)
        }
    }

    public let id: UInt64
    public let configuration: AMQPConfiguration
    let state: State
    var wakeWrite: Int32 { state.wakeWrite }

    init(configuration: AMQPConfiguration, wakeRead: Int32, wakeWrite: Int32) {
        self.id = Self.nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        self.configuration = configuration
        self.state = State(wakeRead: wakeRead, wakeWrite: wakeWrite)
    }

    deinit {
        // Dropped without close(): the owner thread sees its weak reference gone at its next turn.
        var b: UInt8 = 1
        _ = write(state.wakeWrite, &b, 1)
    }

    /// Opens the connection (and a confirm-mode publishing channel) on a new owner thread.
    public static func connect(_ configuration: AMQPConfiguration, logger: Logger = Logger(label: "yizhan.amqp")) async throws -> AMQPConnection {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw AMQPError(.connect, "cannot create wake-up pipe") }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let conn = AMQPConnection(configuration: configuration, wakeRead: fds[0], wakeWrite: fds[1])
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            let worker = ConnectionWorker(connection: conn, logger: logger)
            let thread = Thread { worker.run(ready: ready) }
            thread.name = "yizhan-amqp-\(conn.id)"
            thread.start()
        }
        return conn
    }

    /// The error that closed the connection, if it is closed.
    public var failure: AMQPError? { state.shared.withLock { $0.failure } }
    public var isOpen: Bool { failure == nil }

    func enqueue(_ c: Command) throws(AMQPError) {
        try enqueue([c])
    }

    func enqueue(_ cs: [Command]) throws(AMQPError) {
        let (err, needWake): (AMQPError?, Bool) = state.shared.withLock { s in
            if let f = s.failure { return (f, false) }
            s.commands.append(contentsOf: cs)
            defer { s.woken = true }
            return (nil, !s.woken)
        }
        if let err { throw err }
        if needWake { wake() }
    }

    func wake() {
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    /// Publishes and waits for the broker's confirm. Many publishes may be in flight at once,
    /// up to `confirmWindow`; each caller waits only for its own.
    public func publish(exchange: String, routingKey: String, mandatory: Bool = true, message: AMQPMessage) async throws -> PublishOutcome {
        if mandatory && message.messageID == nil {
            throw AMQPError(.invalidArgument, "mandatory publishes need a message_id to match returns")
        }
        return try await withCheckedThrowingContinuation { c in
            do { try enqueue(.publish(exchange: exchange, routingKey: routingKey, mandatory: mandatory, message: message, .continuation(c))) } catch { c.resume(throwing: error) }
        }
    }

    /// Publishes without waiting: `then` gets the broker's answer (or the connection's failure) on
    /// the connection's thread, so it must only hand the outcome on. Under the same confirm window
    /// as `publish`. Called at once, on the caller's thread, when the connection is already gone.
    public func publish(exchange: String, routingKey: String, mandatory: Bool = true, message: AMQPMessage,
                        then: @escaping @Sendable (Result<PublishOutcome, AMQPError>) -> Void) {
        if mandatory && message.messageID == nil {
            return then(.failure(AMQPError(.invalidArgument, "mandatory publishes need a message_id to match returns")))
        }
        do { try enqueue(.publish(exchange: exchange, routingKey: routingKey, mandatory: mandatory, message: message, .callback(then))) } catch { then(.failure(error)) }
    }

    /// Starts a consumer with manual acks. The sequence fails when the connection is lost.
    public func consume(queue: String, prefetch: UInt16 = 50) async throws -> Deliveries {
        let (stream, continuation) = Deliveries.makeStream()
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            do { try enqueue(.consume(queue: queue, prefetch: prefetch, c, .single(continuation))) } catch { c.resume(throwing: error) }
        }
        return stream
    }

    /// Starts a consumer with manual acks whose deliveries come in groups (everything that arrived
    /// since the last step), so the application can verify them side by side and store them in one
    /// transaction. The sequence fails when the connection is lost.
    public func consumeBatches(queue: String, prefetch: UInt16 = 50) async throws -> DeliveryBatches {
        let sink = DeliveryBatches.Sink()
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            do { try enqueue(.consume(queue: queue, prefetch: prefetch, c, .batches(sink))) } catch { c.resume(throwing: error) }
        }
        return DeliveryBatches(sink: sink)
    }

    public func ack(_ d: AMQPDelivery) throws {
        guard d.connectionID == id else { throw AMQPError(.closed, "delivery came on another connection; it will be redelivered") }
        try enqueue(.ack(channel: d.channel, tag: d.deliveryTag))
    }

    /// Acks several deliveries with one hand-over to the connection's thread.
    public func ack(_ ds: [AMQPDelivery]) throws {
        guard !ds.isEmpty else { return }
        guard ds.allSatisfy({ $0.connectionID == id }) else { throw AMQPError(.closed, "delivery came on another connection; it will be redelivered") }
        try enqueue(ds.map { .ack(channel: $0.channel, tag: $0.deliveryTag) })
    }

    public func reject(_ d: AMQPDelivery, requeue: Bool) throws {
        guard d.connectionID == id else { throw AMQPError(.closed, "delivery came on another connection; it will be redelivered") }
        try enqueue(.reject(channel: d.channel, tag: d.deliveryTag, requeue: requeue))
    }

    /// Declares (or, passive, checks) a queue on a short-lived channel; broker refusals are
    /// `channelClosed` errors with the broker's reply code and leave the connection usable.
    public func declareQueue(_ name: String, durable: Bool = true, passive: Bool = false) async throws -> QueueInfo {
        try await withCheckedThrowingContinuation { c in
            do { try enqueue(.declareQueue(name: name, durable: durable, passive: passive, c)) } catch { c.resume(throwing: error) }
        }
    }

    public func deleteQueue(_ name: String) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            do { try enqueue(.deleteQueue(name: name, c)) } catch { c.resume(throwing: error) }
        }
    }

    /// Closes the connection; outstanding publishes fail, consumers finish with an error.
    public func close() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            do { try enqueue(.close(c)) } catch { c.resume() }
        }
    }
}
