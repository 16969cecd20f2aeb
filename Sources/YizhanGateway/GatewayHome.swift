import Foundation
import YizhanCore
import YizhanStore

/// Files under a gateway's `--home`: config, the pinned registry CA, the unit's certificate,
/// its private key (encrypted), the broker password (0600) and the SQLite store.
public struct GatewayHome: Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public var configFile: String { path + "/gateway.json" }
    public var keyFile: String { path + "/unit-key.pem" }
    public var certificateFile: String { path + "/unit.pem" }
    public var anchorFile: String { path + "/registry-ca.pem" }
    public var brokerSecretFile: String { path + "/broker.secret" }
    public var brokerCAFile: String { path + "/broker-ca.pem" }
    public var registryTokenFile: String { path + "/registry.token" }
    public var passphraseFile: String { path + "/passphrase" }
    public var database: String { path + "/gateway.sqlite" }

    public struct Config: Codable, Sendable {
        public var unit: String
        public var name: String
        public var registry: String
        public var brokerHost: String
        public var brokerPort: Int
        public var vhost: String
        public var brokerUser: String
        /// amqps: the broker's certificate is verified against `broker-ca.pem` in the home.
        public var brokerTLS: Bool
        /// Seconds between directory refreshes; a cached copy older than `staleAfter` is a loud warning.
        public var directoryRefresh: Int
        public var staleAfter: Int
        /// Parts larger than this (in total) travel as chunk messages of this size; default 1 MiB.
        public var chunkSize: Int?
        /// host:port for the Prometheus endpoint (GET /metrics); none when absent.
        public var metricsListen: String?
        /// Refuse plain AMQP: the gateway will not start unless the broker connection uses TLS.
        public var requireTLS: Bool?
        /// Other nodes of a broker cluster ("host:port"), tried in turn when the first cannot be reached.
        public var brokerAlternates: [String]?
        /// Seconds without a document in or out before the gateway gives back its idle memory (see
        /// `WorkingSet`): 2 when absent, 0 never.
        public var idleTrimSeconds: Int?
        public init(unit: String, name: String, registry: String, brokerHost: String, brokerPort: Int, vhost: String, brokerUser: String,
                    brokerTLS: Bool = false, directoryRefresh: Int = 60, staleAfter: Int = 3600) {
            self.unit = unit; self.name = name; self.registry = registry; self.brokerHost = brokerHost; self.brokerPort = brokerPort
            self.vhost = vhost; self.brokerUser = brokerUser; self.brokerTLS = brokerTLS; self.directoryRefresh = directoryRefresh; self.staleAfter = staleAfter
        }
    }

    public func loadConfig() throws -> Config {
        guard let d = FileManager.default.contents(atPath: configFile) else {
            throw YizhanError(.configuration, "no gateway in \(path) (run yizhan gateway init)")
        }
        return try JSONValue.parse(Array(d)).decode(Config.self)
    }

    public func saveConfig(_ config: Config) throws {
        try write(String(decoding: try JSONValue.from(config).canonicalBytes(), as: UTF8.self) + "\n", to: configFile, secret: false)
    }

    public func read(_ file: String) throws -> String { try SecretFile.read(file) }

    public func write(_ text: String, to file: String, secret: Bool) throws { try SecretFile.write(text, to: file, secret: secret) }

    /// `$YIZHAN_PASSPHRASE`, else the home's 0600 `passphrase` file (made at init when absent).
    public func passphrase(create: Bool) throws -> String { try SecretFile.passphrase(file: passphraseFile, create: create) }
}
