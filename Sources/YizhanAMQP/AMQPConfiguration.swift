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

    public init(host: String = "127.0.0.1", port: Int? = nil, vhost: String = "/", user: String = "guest", password: String = "guest",
                heartbeatSeconds: Int = 30, tls: TLS? = nil, connectTimeoutSeconds: Int = 10, confirmWindow: Int = 256) {
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
        "\(tls == nil ? "amqp" : "amqps")://\(user)@\(host):\(port)/\(vhost)"
    }
}
