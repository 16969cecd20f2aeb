import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The owner thread's state: the rabbitmq-c handle, confirm bookkeeping and consumers.
///
/// `@unchecked Sendable`: the worker is handed to its thread once and from then on touched
/// only by that thread; other threads reach it solely through `AMQPConnection.State.shared`.
final class ConnectionWorker: @unchecked Sendable {
    struct PendingPublish {
        var exchange: String
        var routingKey: String
        var mandatory: Bool
        var message: AMQPMessage
        var token: PublishToken
    }

    /// Weak: the application owns the connection; when it lets go without closing, the thread closes.
    weak var owner: AMQPConnection?
    let state: AMQPConnection.State
    let configuration: AMQPConfiguration
    let connectionID: UInt64
    let logger: Logger
    var handle: RabbitMQHandle?
    var confirms = PublisherConfirms<PublishToken>()
    var publishChannel: UInt16 = 1
    var publishChannelOpen = false
    var nextChannel: UInt16 = 2
    var waiting: [PendingPublish] = []
    var consumers: [UInt16: AMQPConnection.ConsumerSink] = [:]
    /// Deliveries for batch consumers, handed over after each read of the socket.
    var pendingBatches: [UInt16: [AMQPDelivery]] = [:]
    /// Unsettled deliveries per consumer channel, and the acks handed over but not yet sent.
    var acks: [UInt16: ConsumerAcks] = [:]
    var pendingAcks: [UInt16: [UInt64]] = [:]
    var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// When the thread last sent a heartbeat of its own (only while it is not reading, see `holding`).
    var lastHeartbeat = ContinuousClock.now

    init(connection: AMQPConnection, logger: Logger) {
        self.owner = connection
        self.state = connection.state
        self.configuration = connection.configuration
        self.connectionID = connection.id
        self.logger = logger
    }

    func run(ready: CheckedContinuation<Void, any Error>) {
        do {
            let h = try RabbitMQHandle()
            try h.open(configuration)
            handle = h
            try openPublishChannel()
        } catch {
            let e = error
            state.shared.withLock { $0.failure = e }
            handle = nil
            ready.resume(throwing: e)
            return
        }
        ready.resume()
        loop()
    }

    func openPublishChannel() throws(AMQPError) {
        guard let h = handle else { throw AMQPError(.closed, "connection closed") }
        try h.openChannel(publishChannel)
        try h.confirmSelect(publishChannel)
        publishChannelOpen = true
    }

    func allocateChannel() -> UInt16 {
        let ch = nextChannel
        nextChannel = nextChannel == UInt16.max ? 2 : nextChannel + 1
        if nextChannel == publishChannel { nextChannel += 1 }
        return ch
    }

    func loop() {
        var closing = false
        while !closing {
            if owner == nil {
                logger.debug("amqp connection dropped without close; closing it")
                break
            }
            let commands = state.shared.withLock { s -> [AMQPConnection.Command] in
                let c = s.commands
                s.commands.removeAll(keepingCapacity: true)
                s.woken = false
                return c
            }
            do {
                for c in commands {
                    // Acks in a row go out together; anything else keeps its place after them.
                    if case .ack = c {} else { try sendAcks() }
                    if try handle(c) { closing = true }
                }
                try sendAcks()
                if closing { break }
                try flushPublishes()
                guard let h = handle else { break }
                if holding {
                    // The consumers hold their budget: read nothing (the socket fills and TCP holds
                    // the broker back) until acks make room; keep the connection alive meanwhile.
                    if commands.isEmpty { waitForInput(socket: nil) }
                    drainWake()
                    try heartbeatWhileHolding(h)
                    continue
                }
                if commands.isEmpty && !h.hasBufferedInput { waitForInput(socket: h.socketFD) }
                drainWake()
                var n = 0
                while n < 512, !holding {
                    let ev = try h.nextEvent(timeoutMicros: 0, connectionID: connectionID)
                    if case .none = ev { if !h.hasBufferedInput { break } } else { try process(ev) }
                    n += 1
                }
                flushBatches()
            } catch {
                let e = error
                logger.warning("amqp connection lost", metadata: ["error": "\(e)", "connection": "\(configuration)"])
                fail(e)
                return
            }
        }
        handle?.close()
        fail(AMQPError(.closed, "connection closed by the application"))
    }

    func flushBatches() {
        guard !pendingBatches.isEmpty else { return }
        for (ch, ds) in pendingBatches {
            if case .batches(let s)? = consumers[ch] { s.append(ds) }
        }
        pendingBatches.removeAll(keepingCapacity: true)
    }

    /// Waits for the broker (unless `socket` is nil) or a command. Wakes at least every 200 ms so
    /// that heartbeats go out on an idle connection.
    func waitForInput(socket: Int32?) {
        var fds = [pollfd(fd: state.wakeRead, events: Int16(POLLIN), revents: 0)]
        if let socket { fds.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        _ = poll(&fds, nfds_t(fds.count), 200)
    }

    /// Deliveries not yet acked or rejected take this many body bytes or more: stop reading.
    /// The prefetch window bounds messages, not bytes; this bounds the bytes a consumer can be
    /// made to hold (a window of 16 MiB chunks would be 4 GiB), whatever the window.
    var holding: Bool {
        var bytes = 0
        for a in acks.values { bytes += a.bytes }
        return bytes >= configuration.consumerBudgetBytes
    }

    /// rabbitmq-c sends heartbeats only while it reads; while the thread holds off reading, it
    /// sends them itself, at twice the negotiated rate.
    func heartbeatWhileHolding(_ h: RabbitMQHandle) throws(AMQPError) {
        guard configuration.heartbeatSeconds > 0 else { return }
        let now = ContinuousClock.now
        guard now - lastHeartbeat >= .milliseconds(configuration.heartbeatSeconds * 500) else { return }
        try h.sendHeartbeat()
        lastHeartbeat = now
    }

    func drainWake() {
        var buf = [UInt8](repeating: 0, count: 64)
        while read(state.wakeRead, &buf, buf.count) > 0 {}
    }

    /// Returns true when the command asks to close.
    func handle(_ c: AMQPConnection.Command) throws(AMQPError) -> Bool {
        guard let h = handle else { throw AMQPError(.closed, "connection closed") }
        switch c {
        case .publish(let ex, let rk, let mandatory, let msg, let cont):
            waiting.append(PendingPublish(exchange: ex, routingKey: rk, mandatory: mandatory, message: msg, token: cont))
        case .consume(let queue, let prefetch, let ready, let stream):
            let ch = allocateChannel()
            do {
                try h.openChannel(ch)
                try h.qos(ch, prefetch: prefetch)
                _ = try h.consume(ch, queue: queue)
                consumers[ch] = stream
                let cancel: @Sendable () -> Void = { [weak owner] in try? owner?.enqueue(.cancelConsumer(channel: ch)) }
                switch stream {
                case .single(let c): c.onTermination = { _ in cancel() }
                case .batches(let s): s.setOnCancel(cancel)
                }
                ready.resume()
            } catch {
                if error.kind != .channelClosed { throw error }
                ready.resume(throwing: error)
            }
        case .cancelConsumer(let ch):
            pendingBatches.removeValue(forKey: ch)
            acks.removeValue(forKey: ch)
            if consumers.removeValue(forKey: ch) != nil { h.closeChannel(ch) }
        case .ack(let ch, let tag):
            if consumers[ch] != nil { pendingAcks[ch, default: []].append(tag) }
        case .reject(let ch, let tag, let requeue):
            if consumers[ch] != nil {
                acks[ch]?.rejected(tag)
                try h.nack(ch, tag: tag, requeue: requeue)
            }
        case .declareQueue(let name, let durable, let passive, let cont):
            let ch = allocateChannel()
            do {
                try h.openChannel(ch)
                let r = try h.declareQueue(ch, name: name, durable: durable, passive: passive)
                h.closeChannel(ch)
                cont.resume(returning: .init(messages: Int(r.messages), consumers: Int(r.consumers)))
            } catch {
                if error.kind != .channelClosed { cont.resume(throwing: error); throw error }
                cont.resume(throwing: error)
            }
        case .deleteQueue(let name, let cont):
            let ch = allocateChannel()
            do {
                try h.openChannel(ch)
                try h.deleteQueue(ch, name: name)
                h.closeChannel(ch)
                cont.resume()
            } catch {
                if error.kind != .channelClosed { cont.resume(throwing: error); throw error }
                cont.resume(throwing: error)
            }
        case .close(let cont):
            closeWaiters.append(cont)
            return true
        }
        return false
    }

    /// Sends the acks handed over since the last call, as few frames as `ConsumerAcks` allows.
    func sendAcks() throws(AMQPError) {
        guard !pendingAcks.isEmpty, let h = handle else { return }
        let pending = pendingAcks
        pendingAcks.removeAll(keepingCapacity: true)
        for (ch, tags) in pending where consumers[ch] != nil {
            for f in acks[ch, default: ConsumerAcks()].ack(tags) { try h.ack(ch, tag: f.tag, multiple: f.multiple) }
        }
    }

    func flushPublishes() throws(AMQPError) {
        guard !waiting.isEmpty, let h = handle else { return }
        if !publishChannelOpen {
            publishChannel = allocateChannel()
            try openPublishChannel()
        }
        let window = max(1, configuration.confirmWindow)
        var sent = 0
        while confirms.outstanding < window, sent < waiting.count {
            let p = waiting[sent]
            try h.publish(publishChannel, exchange: p.exchange, routingKey: p.routingKey, mandatory: p.mandatory, message: p.message)
            _ = confirms.published(messageID: p.message.messageID, routingKey: p.routingKey, token: p.token)
            sent += 1
        }
        waiting.removeFirst(sent)
    }

    func process(_ ev: RabbitMQHandle.Event) throws(AMQPError) {
        switch ev {
        case .none: break
        case .ack(let ch, let tag, let multiple):
            guard ch == publishChannel else { return }
            for (c, outcome) in confirms.ack(deliveryTag: tag, multiple: multiple) { c.resolve(.success(outcome)) }
        case .nack(let ch, let tag, let multiple):
            guard ch == publishChannel else { return }
            for (c, outcome) in confirms.nack(deliveryTag: tag, multiple: multiple) { c.resolve(.success(outcome)) }
        case .returned(let ch, let code, let text, let rk, let mid):
            guard ch == publishChannel else { return }
            confirms.returnReceived(messageID: mid, routingKey: rk, replyCode: code, replyText: text)
        case .delivery(let d):
            switch consumers[d.channel] {
            case .single(let c)?:
                acks[d.channel, default: ConsumerAcks()].delivered(d.deliveryTag, bytes: d.body.count)
                c.yield(d)
            case .batches?:
                acks[d.channel, default: ConsumerAcks()].delivered(d.deliveryTag, bytes: d.body.count)
                pendingBatches[d.channel, default: []].append(d)
            case nil: break
            }
        case .consumerCancelled(let ch):
            acks.removeValue(forKey: ch)
            consumers.removeValue(forKey: ch)?.finish(throwing: AMQPError(.channelClosed, "the broker cancelled the consumer (queue deleted?)"))
        case .channelClosed(let ch, let e):
            if ch == publishChannel {
                publishChannelOpen = false
                logger.warning("publishing channel closed by the broker", metadata: ["error": "\(e)"])
                for c in confirms.failAll() { c.resolve(.failure(e)) }
            } else if let c = consumers.removeValue(forKey: ch) {
                acks.removeValue(forKey: ch)
                c.finish(throwing: e)
            }
        }
    }

    func fail(_ e: AMQPError) {
        let queued = state.shared.withLock { s -> [AMQPConnection.Command] in
            if s.failure == nil { s.failure = e }
            let c = s.commands
            s.commands.removeAll()
            return c
        }
        for c in confirms.failAll() { c.resolve(.failure(e)) }
        for p in waiting { p.token.resolve(.failure(e)) }
        waiting.removeAll()
        pendingBatches.removeAll()
        acks.removeAll()
        pendingAcks.removeAll()
        for (_, c) in consumers { c.finish(throwing: e) }
        consumers.removeAll()
        for c in queued {
            switch c {
            case .publish(_, _, _, _, let k): k.resolve(.failure(e))
            case .consume(_, _, let k, let s): k.resume(throwing: e); s.finish(throwing: e)
            case .declareQueue(_, _, _, let k): k.resume(throwing: e)
            case .deleteQueue(_, let k): k.resume(throwing: e)
            case .close(let k): k.resume()
            case .ack, .reject, .cancelConsumer: break
            }
        }
        for w in closeWaiters { w.resume() }
        closeWaiters.removeAll()
        handle = nil
    }
}
