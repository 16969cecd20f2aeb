import Foundation

/// Where and how to connect. Passwords stay out of `description`.
public struct AMQPConfiguration: Sendable, CustomStringConvertible {
    public struct TLS: Sendable {
        public var caCertificatePath: String
        public var clientCertificatePath: String?
        public var clientKeyPath: String?
        public var verifyHostname: Bool
        public init(caCertificatePath: String, clientCertificatePath: String? = nil, clientKeyPath: String? = nil, verifyHostname: Bool = true) {
            self.caCertificatePath = caCertificatePath
            self.clientCertificatePath = clientCertificatePath
            self.clientKeyPath = clientKeyPath
            self.verifyHostname = verifyHostname
        }
    }

    public var host: String
    public var port: Int
    public var vhost: String
    public var user: String
    public var password: String
    public var heartbeatSeconds: Int
    public var tls: TLS?
    public var connectTimeoutSeconds: Int
    /// Publisher confirms outstanding at most; further publishes wait for room.
    public var confirmWindow: Int
    /// Body bytes that deliveries not yet acked or rejected may take, across this connection's
    /// consumers, before the connection stops reading from the broker until acks make room (TCP
    /// then holds the broker back; confirms and other traffic wait too). A consumer's memory is
    /// bounded by this and one message, whatever its prefetch window and the messages' sizes.
    public var consumerBudgetBytes = 32 << 20
    /// Further nodes of the same cluster (host, port), tried in turn after `host:port` when a
    /// connection cannot be made or is lost (see `withReconnection`).
    public var alternates: [(host: String, port: Int)] = []

    /// Every address, the configured one first.
    public var addresses: [(host: String, port: Int)] { [(host, port)] + alternates }

    /// This configuration aimed at address `i` (modulo the number of addresses).
    public func at(_ i: Int) -> AMQPConfiguration {
        let all = addresses
        let a = all[((i % all.count) + all.count) % all.count]
        var c = self
        c.host = a.host
        c.port = a.port
        return c
    }

    /// Parses `host:port` (port defaulting to 5672, or 5671 with TLS).
    public static func address(_ s: String, tls: Bool) throws(AMQPError) -> (host: String, port: Int) {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty else { throw AMQPError(.invalidArgument, "a broker address is host or host:port, not \(s)") }
        guard parts.count == 2 else { return (String(parts[0]), tls ? 5671 : 5672) }
        guard let port = Int(parts[1]), (1...65535).contains(port) else { throw AMQPError(.invalidArgument, "bad port in broker address \(s)") }
        return (String(parts[0]), port)
    }

    public init(host: String = "127.0.0.1", port: Int? = nil, vhost: String = "/", user: String = "guest", password: String = "guest",
                heartbeatSeconds: Int = 30, tls: TLS? = nil, connectTimeoutSeconds: Int = 10, confirmWindow: Int = 512) {
        self.host = host
        self.port = port ?? (tls == nil ? 5672 : 5671)
        self.vhost = vhost
        self.user = user
        self.password = password
        self.heartbeatSeconds = heartbeatSeconds
        self.tls = tls
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.confirmWindow = confirmWindow
    }

    /// Parses `amqp://user:pass@host:port/vhost` or `amqps://...` (vhost percent-encoded, as RabbitMQ URIs have it).
    public init(url: String, tls: TLS? = nil) throws(AMQPError) {
        guard let c = URLComponents(string: url), let scheme = c.scheme, scheme == "amqp" || scheme == "amqps" else {
            throw AMQPError(.invalidArgument, "not an amqp:// or amqps:// URL")
        }
        if scheme == "amqps" && tls == nil { throw AMQPError(.invalidArgument, "amqps:// needs TLS settings (CA certificate)") }
        var vhost = "/"
        let path = c.percentEncodedPath
        if path.count > 1 { vhost = String(path.dropFirst()).removingPercentEncoding ?? vhost }
        self.init(host: c.host ?? "127.0.0.1", port: c.port, vhost: vhost,
                  user: c.user?.removingPercentEncoding ?? "guest", password: c.password?.removingPercentEncoding ?? "guest",
                  tls: scheme == "amqps" ? tls : nil)
    }

    public var description: String {
        "\(tls == nil ? "amqp" : "amqps")://\(user)@\(host):\(port)/\(vhost)" + (alternates.isEmpty ? "" : " (+\(alternates.map { "\($0.host):\($0.port)" }.joined(separator: ",")))")
    }
}
