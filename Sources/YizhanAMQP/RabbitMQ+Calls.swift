import CRabbitMQ
import Foundation

/// The only file that calls rabbitmq-c. It owns the connection state and turns status codes
/// and RPC replies into `AMQPError`. Not thread-safe by design: one `ConnectionWorker` thread
/// owns each handle.
final class RabbitMQHandle {
    let state: amqp_connection_state_t
    private var closed = false

    init() throws(AMQPError) {
        guard let s = amqp_new_connection() else { throw AMQPError(.connect, "amqp_new_connection failed") }
        state = s
    }

    deinit {
        if !closed { _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS) }
        amqp_destroy_connection(state)
    }

    static func statusText(_ rc: Int32) -> String { String(cString: amqp_error_string2(rc)) }

    func open(_ config: AMQPConfiguration) throws(AMQPError) {
        let socket: OpaquePointer
        if let tls = config.tls {
            guard let s = amqp_ssl_socket_new(state) else { throw AMQPError(.tls, "cannot create TLS socket") }
            var rc = amqp_ssl_socket_set_cacert(s, tls.caCertificatePath)
            guard rc == 0 else { throw AMQPError(.tls, "CA certificate \(tls.caCertificatePath): \(Self.statusText(rc))") }
            if let cert = tls.clientCertificatePath, let key = tls.clientKeyPath {
                rc = amqp_ssl_socket_set_key(s, cert, key)
                guard rc == 0 else { throw AMQPError(.tls, "client certificate: \(Self.statusText(rc))") }
            }
            amqp_ssl_socket_set_verify_peer(s, 1)
            amqp_ssl_socket_set_verify_hostname(s, tls.verifyHostname ? 1 : 0)
            socket = s
        } else {
            guard let s = amqp_tcp_socket_new(state) else { throw AMQPError(.connect, "cannot create TCP socket") }
            socket = s
        }
        let rc = yz_socket_open(socket, config.host, Int32(config.port), config.connectTimeoutSeconds)
        guard rc == AMQP_STATUS_OK.rawValue else {
            closed = true
            throw AMQPError(config.tls == nil ? .connect : .tls, "\(config.host):\(config.port): \(Self.statusText(rc))")
        }
        let reply = yz_amqp_login_plain(state, config.vhost, 131072, Int32(config.heartbeatSeconds), config.user, config.password)
        if reply.reply_type != AMQP_RESPONSE_NORMAL {
            closed = true
            let e = Self.error(from: reply, kind: .login)
            // A refused login surfaces as a closed socket; say so plainly, without the password.
            throw AMQPError(.login, replyCode: e.replyCode, "login as \(config.user) on vhost \(config.vhost) refused: \(e.message)")
        }
    }

    static func error(from reply: amqp_rpc_reply_t, kind: AMQPError.Kind) -> AMQPError {
        switch reply.reply_type {
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return AMQPError(kind == .login ? .login : .socket, statusText(reply.library_error))
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == yz_method_connection_close(), let p = reply.reply.decoded {
                let c = p.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return AMQPError(.connectionClosed, replyCode: Int(c.reply_code), string(c.reply_text))
            }
            if reply.reply.id == yz_method_channel_close(), let p = reply.reply.decoded {
                let c = p.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return AMQPError(.channelClosed, replyCode: Int(c.reply_code), string(c.reply_text))
            }
            return AMQPError(.protocolError, "unexpected server method \(reply.reply.id)")
        default:
            return AMQPError(.protocolError, "missing RPC reply")
        }
    }

    static func string(_ b: amqp_bytes_t) -> String {
        guard b.len > 0, let p = b.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: b.len), as: UTF8.self)
    }

    static func bytes(_ b: amqp_bytes_t) -> [UInt8] {
        guard b.len > 0, let p = b.bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: b.len))
    }

    /// Checks the reply of the last synchronous call. A server error closes the channel or
    /// connection; we answer close-ok so the broker's state and ours agree.
    func checkRPC(channel: UInt16) throws(AMQPError) {
        let reply = amqp_get_rpc_reply(state)
        guard reply.reply_type != AMQP_RESPONSE_NORMAL else { return }
        let e = Self.error(from: reply, kind: .protocolError)
        if e.kind == .channelClosed { _ = yz_send_channel_close_ok(state, channel) }
        if e.kind == .connectionClosed { _ = yz_send_connection_close_ok(state); closed = true }
        throw e
    }

    func openChannel(_ ch: UInt16) throws(AMQPError) {
        _ = amqp_channel_open(state, ch)
        try checkRPC(channel: ch)
    }

    func closeChannel(_ ch: UInt16) {
        _ = amqp_channel_close(state, ch, AMQP_REPLY_SUCCESS)
    }

    func confirmSelect(_ ch: UInt16) throws(AMQPError) {
        _ = amqp_confirm_select(state, ch)
        try checkRPC(channel: ch)
    }

    func qos(_ ch: UInt16, prefetch: UInt16) throws(AMQPError) {
        _ = amqp_basic_qos(state, ch, 0, prefetch, 0)
        try checkRPC(channel: ch)
    }

    func consume(_ ch: UInt16, queue: String) throws(AMQPError) -> String {
        var q = Array(queue.utf8)
        let ok: UnsafeMutablePointer<amqp_basic_consume_ok_t>? = q.withUnsafeMutableBytes { qb in
            amqp_basic_consume(state, ch, amqp_bytes_t(len: qb.count, bytes: qb.baseAddress), amqp_bytes_t(len: 0, bytes: nil),
                               0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
        }
        try checkRPC(channel: ch)
        return ok.map { Self.string($0.pointee.consumer_tag) } ?? ""
    }

    func declareQueue(_ ch: UInt16, name: String, durable: Bool, passive: Bool) throws(AMQPError) -> (messages: UInt32, consumers: UInt32) {
        var q = Array(name.utf8)
        let ok: UnsafeMutablePointer<amqp_queue_declare_ok_t>? = q.withUnsafeMutableBytes { qb in
            amqp_queue_declare(state, ch, amqp_bytes_t(len: qb.count, bytes: qb.baseAddress), passive ? 1 : 0, durable ? 1 : 0, 0, 0,
                               amqp_table_t(num_entries: 0, entries: nil))
        }
        try checkRPC(channel: ch)
        return ok.map { ($0.pointee.message_count, $0.pointee.consumer_count) } ?? (0, 0)
    }

    func deleteQueue(_ ch: UInt16, name: String) throws(AMQPError) {
        var q = Array(name.utf8)
        _ = q.withUnsafeMutableBytes { qb in
            amqp_queue_delete(state, ch, amqp_bytes_t(len: qb.count, bytes: qb.baseAddress), 0, 0)
        }
        try checkRPC(channel: ch)
    }

    func publish(_ ch: UInt16, exchange: String, routingKey: String, mandatory: Bool, message: AMQPMessage) throws(AMQPError) {
        var ex = Array(exchange.utf8), rk = Array(routingKey.utf8), body = message.body
        var ct = Array((message.contentType ?? "").utf8), mid = Array((message.messageID ?? "").utf8)
        var uid = Array((message.userID ?? "").utf8), ty = Array((message.type ?? "").utf8)
        let rc: Int32 = ex.withUnsafeMutableBytes { exb in rk.withUnsafeMutableBytes { rkb in body.withUnsafeMutableBytes { bb in
            ct.withUnsafeMutableBytes { ctb in mid.withUnsafeMutableBytes { midb in uid.withUnsafeMutableBytes { uidb in ty.withUnsafeMutableBytes { tyb in
                var props = amqp_basic_properties_t()
                var flags: amqp_flags_t = yz_flag_delivery_mode()
                props.delivery_mode = message.persistent ? 2 : 1
                if message.contentType != nil { flags |= yz_flag_content_type(); props.content_type = amqp_bytes_t(len: ctb.count, bytes: ctb.baseAddress) }
                if message.messageID != nil { flags |= yz_flag_message_id(); props.message_id = amqp_bytes_t(len: midb.count, bytes: midb.baseAddress) }
                if message.userID != nil { flags |= yz_flag_user_id(); props.user_id = amqp_bytes_t(len: uidb.count, bytes: uidb.baseAddress) }
                if message.type != nil { flags |= yz_flag_type(); props.type = amqp_bytes_t(len: tyb.count, bytes: tyb.baseAddress) }
                if let ts = message.timestamp { flags |= yz_flag_timestamp(); props.timestamp = ts }
                props._flags = flags
                return amqp_basic_publish(state, ch, amqp_bytes_t(len: exb.count, bytes: exb.baseAddress), amqp_bytes_t(len: rkb.count, bytes: rkb.baseAddress),
                                          mandatory ? 1 : 0, 0, &props, amqp_bytes_t(len: bb.count, bytes: bb.baseAddress))
            } } } }
        } } }
        guard rc == AMQP_STATUS_OK.rawValue else { throw AMQPError(.socket, "publish: \(Self.statusText(rc))") }
    }

    func ack(_ ch: UInt16, tag: UInt64, multiple: Bool) throws(AMQPError) {
        let rc = amqp_basic_ack(state, ch, tag, multiple ? 1 : 0)
        guard rc == AMQP_STATUS_OK.rawValue else { throw AMQPError(.socket, "ack: \(Self.statusText(rc))") }
    }

    func nack(_ ch: UInt16, tag: UInt64, requeue: Bool) throws(AMQPError) {
        let rc = amqp_basic_nack(state, ch, tag, 0, requeue ? 1 : 0)
        guard rc == AMQP_STATUS_OK.rawValue else { throw AMQPError(.socket, "nack: \(Self.statusText(rc))") }
    }

    func sendHeartbeat() throws(AMQPError) {
        let rc = yz_send_heartbeat(state)
        guard rc == AMQP_STATUS_OK.rawValue else { closed = true; throw AMQPError(.socket, "heartbeat: \(Self.statusText(rc))") }
    }

    var socketFD: Int32 { amqp_get_sockfd(state) }
    var hasBufferedInput: Bool { amqp_data_in_buffer(state) != 0 || amqp_frames_enqueued(state) != 0 }

    /// What one incoming frame means to the worker.
    enum Event {
        case none
        case ack(channel: UInt16, tag: UInt64, multiple: Bool)
        case nack(channel: UInt16, tag: UInt64, multiple: Bool)
        case returned(channel: UInt16, code: Int, text: String, routingKey: String, messageID: String?)
        case delivery(AMQPDelivery)
        case consumerCancelled(channel: UInt16)
        case channelClosed(channel: UInt16, AMQPError)
    }

    /// Reads at most one frame, waiting up to `timeoutMicros`. Throws when the connection is gone.
    func nextEvent(timeoutMicros: Int, connectionID: UInt64) throws(AMQPError) -> Event {
        amqp_maybe_release_buffers(state)
        var frame = amqp_frame_t()
        let rc = yz_wait_frame(state, &frame, timeoutMicros)
        if rc == AMQP_STATUS_TIMEOUT.rawValue { return .none }
        guard rc == AMQP_STATUS_OK.rawValue else {
            closed = true
            if rc == AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue { throw AMQPError(.heartbeatTimeout, "no traffic from the broker within two heartbeats") }
            throw AMQPError(.socket, Self.statusText(rc))
        }
        guard Int32(frame.frame_type) == yz_frame_method() else { return .none }
        let ch = frame.channel
        let id = frame.payload.method.id
        guard let decoded = frame.payload.method.decoded else { return .none }
        switch id {
        case yz_method_basic_ack():
            let m = decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(channel: ch, tag: m.delivery_tag, multiple: m.multiple != 0)
        case yz_method_basic_nack():
            let m = decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(channel: ch, tag: m.delivery_tag, multiple: m.multiple != 0)
        case yz_method_basic_return():
            let m = decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let code = Int(m.reply_code), text = Self.string(m.reply_text), rk = Self.string(m.routing_key)
            var msg = amqp_message_t()
            let r = amqp_read_message(state, ch, &msg, 0)
            guard r.reply_type == AMQP_RESPONSE_NORMAL else { closed = true; throw Self.error(from: r, kind: .socket) }
            defer { amqp_destroy_message(&msg) }
            let mid = (msg.properties._flags & yz_flag_message_id()) != 0 ? Self.string(msg.properties.message_id) : nil
            return .returned(channel: ch, code: code, text: text, routingKey: rk, messageID: mid)
        case yz_method_basic_deliver():
            let m = decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = m.delivery_tag, redelivered = m.redelivered != 0
            let exchange = Self.string(m.exchange), rk = Self.string(m.routing_key)
            var msg = amqp_message_t()
            let r = amqp_read_message(state, ch, &msg, 0)
            guard r.reply_type == AMQP_RESPONSE_NORMAL else { closed = true; throw Self.error(from: r, kind: .socket) }
            defer { amqp_destroy_message(&msg) }
            let p = msg.properties
            func opt(_ flag: amqp_flags_t, _ b: amqp_bytes_t) -> String? { (p._flags & flag) != 0 ? Self.string(b) : nil }
            return .delivery(AMQPDelivery(
                body: Self.bytes(msg.body), contentType: opt(yz_flag_content_type(), p.content_type),
                messageID: opt(yz_flag_message_id(), p.message_id), userID: opt(yz_flag_user_id(), p.user_id),
                type: opt(yz_flag_type(), p.type), exchange: exchange, routingKey: rk, redelivered: redelivered,
                deliveryTag: tag, channel: ch, connectionID: connectionID))
        case yz_method_basic_cancel():
            return .consumerCancelled(channel: ch)
        case yz_method_channel_close():
            let m = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let e = AMQPError(.channelClosed, replyCode: Int(m.reply_code), Self.string(m.reply_text))
            _ = yz_send_channel_close_ok(state, ch)
            return .channelClosed(channel: ch, e)
        case yz_method_connection_close():
            let m = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            _ = yz_send_connection_close_ok(state)
            closed = true
            throw AMQPError(.connectionClosed, replyCode: Int(m.reply_code), Self.string(m.reply_text))
        default:
            return .none
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
    }
}
