import Foundation
import YizhanCore

/// Files under a registry's `--home`. Secrets are written 0600; keys only ever encrypted.
public struct RegistryHome: Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public var configFile: String { path + "/registry.json" }
    public var brokerAdminFile: String { path + "/broker-admin.secret" }
    public var database: String { path + "/registry.sqlite" }
    public var caKeyFile: String { path + "/ca-key.pem" }
    public var caCertificateFile: String { path + "/ca.pem" }
    public var passphraseFile: String { path + "/passphrase" }
    public var adminTokenFile: String { path + "/admin.token" }

    public struct Config: Codable, Sendable {
        /// Shown as the CA's name and in logs.
        public var name: String
        public var vhost: String
        /// Where gateways reach the broker (sent to them at enrolment).
        public var amqpHost: String
        public var amqpPort: Int
        public var amqpTLS: Bool
        public var listen: String
        public var enrolmentTokenHours: Int
        public init(name: String, vhost: String, amqpHost: String, amqpPort: Int, amqpTLS: Bool = false, listen: String, enrolmentTokenHours: Int = 72) {
            self.name = name; self.vhost = vhost; self.amqpHost = amqpHost; self.amqpPort = amqpPort; self.amqpTLS = amqpTLS
            self.listen = listen; self.enrolmentTokenHours = enrolmentTokenHours
        }
    }
}

