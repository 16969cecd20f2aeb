import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanStore

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gateway", abstract: "Set up and run a unit's gateway.",
                                                    subcommands: [Init.self, Run.self, RosterFile.self, Import.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the unit's key, enrol with the registry and pin its CA.")
        @OptionGroup var home: HomeOption
        @Option(help: "This unit's code.") var unit: String
        @Option(help: "Registry URL, e.g. http://127.0.0.1:7700.") var registry: String
        @Option(help: "One-time enrolment token from `yizhan unit add`.") var enrol: String
        @Option(name: .customLong("ca-file"), help: "Registry CA certificate to pin (PEM), instead of fetching it.") var caFile: String?
        @Option(name: .customLong("ca-fingerprint"), help: "Expected SHA-256 of the registry CA certificate (hex).") var caFingerprint: String?
        @Option(name: .customLong("broker-ca"), help: "CA certificate (PEM) of the broker's TLS listener, when the registry announces amqps.") var brokerCA: String?
        @Flag(name: .customLong("require-tls"), help: "Refuse plain AMQP: fail now if the registry announces amqp://, and never connect without TLS.") var requireTLS = false
        @Option(name: .customLong("chunk-size"), help: "Bytes per chunk for large attachments (4096 to 16777216; default 1048576). Kept in gateway.json.") var chunkSize: Int?
        @Option(name: .customLong("broker-alternate"), help: "Another node of the broker cluster (host:port), tried when the announced one cannot be reached; repeat for each.") var brokerAlternate: [String] = []
        @Option(help: "The gateway key's algorithm: ed25519 (default) or sm2 (SM2 with SM3, GB/T 38540).") var algorithm = "ed25519"

        func run() async throws {
            guard let alg = KeyAlgorithm(rawValue: algorithm) else { throw YizhanError(.invalidArgument, "--algorithm must be ed25519 or sm2, not \(algorithm)") }
            let pem = try caFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
            let c = try await Gateway.initialize(home: GatewayHome(home.path), unit: unit, registry: registry, token: enrol,
                                                 caPEM: pem, caFingerprint: caFingerprint,
                                                 brokerCAPEM: try brokerCA.map { try String(contentsOfFile: $0, encoding: .utf8) }, chunkSize: chunkSize, requireTLS: requireTLS, algorithm: alg, brokerAlternates: brokerAlternate)
            print("gateway for \(c.unit) \(c.name) set up in \(home.path); broker user \(c.brokerUser) on \(c.brokerHost):\(c.brokerPort)/\(c.vhost)")
        }
    }

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the gateway until SIGTERM/SIGINT (graceful shutdown).")
        @OptionGroup var home: HomeOption
        @Option(help: "Serve Prometheus metrics on host:port (GET /metrics); default: metricsListen in gateway.json, else none.") var metrics: String?
        func run() async throws {
            let logger = Logger(label: "yizhan.gateway")
            // A full disk at start is waited out like one met while running, not a reason to exit.
            var attempt = 0
            var opened: Gateway?
            while opened == nil {
                do { opened = try Gateway(home: GatewayHome(home.path), logger: logger) } catch where StorageFailure.isTransient(error) {
                    let wait = StorageFailure.delay(attempt: attempt + 2)
                    attempt += 1
                    logger.error("cannot open the store (disk full or I/O error); retrying", metadata: ["error": "\(error)", "in": "\(wait)"])
                    try await Task.sleep(for: wait)
                }
            }
            guard let gw = opened else { return }
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: gw)]
            if let listen = metrics ?? gw.config.metricsListen {
                let (host, port) = try RegistryCommand.listenAddress(listen)
                services.append(.init(service: gw.metricsApplication(host: host, port: port) { p in
                    logger.info("metrics on http://\(host):\(p)/metrics")
                }))
            }
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
