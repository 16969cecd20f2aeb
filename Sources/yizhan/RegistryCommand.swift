import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import YizhanCore
import YizhanRegistry

struct RegistryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry", abstract: "Run and inspect the central registry.",
                                                    subcommands: [Init.self, Serve.self, CA.self, AuditCommand.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the registry store, its CA key (encrypted) and an administrator token.")
        @OptionGroup var home: HomeOption
        @Option(help: "Registry (and CA) name.") var name = "Yizhan Registry CA"
        @Option(help: "Broker address given to gateways, amqp://host:port/vhost or amqps://... (no credentials).") var broker = "amqp://127.0.0.1:5672/yizhan"
        @Option(name: .customLong("broker-admin"), help: "RabbitMQ management API with admin credentials, e.g. http://guest:guest@127.0.0.1:15672.")
        var brokerAdmin: String?
        @Option(help: "HTTP listen address for `registry serve`.") var listen = "127.0.0.1:7700"

        func run() async throws {
            let config = try RegistryCommand.config(name: name, broker: broker, listen: listen)
            let token = try await Registry.initialize(home: RegistryHome(home.path), config: config, brokerAdminURL: brokerAdmin)
            print("registry created in \(home.path)")
            print("administrator token (also in \(RegistryHome(home.path).adminTokenFile), mode 0600): \(token)")
            if brokerAdmin == nil { print("warning: no --broker-admin given; units cannot be provisioned until one is configured") }
        }
    }

    static func config(name: String, broker: String, listen: String) throws -> RegistryHome.Config {
        guard let c = URLComponents(string: broker), c.scheme == "amqp" || c.scheme == "amqps", c.user == nil else {
            throw YizhanError(.invalidArgument, "--broker must be amqp://host:port/vhost without credentials")
        }
        let vhost = c.path.count > 1 ? String(c.path.dropFirst()) : "yizhan"
        _ = try listenAddress(listen)
        let tls = c.scheme == "amqps"
        return RegistryHome.Config(name: name, vhost: vhost, amqpHost: c.host ?? "127.0.0.1", amqpPort: c.port ?? (tls ? 5671 : 5672), amqpTLS: tls, listen: listen)
    }

    static func listenAddress(_ s: String) throws -> (String, Int) {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else {
            throw YizhanError(.invalidArgument, "listen address must be host:port, got \(s)")
        }
        return (String(s[..<colon]), port)
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the registry HTTP API until SIGTERM/SIGINT.")
        @OptionGroup var home: HomeOption
        @Option(help: "HTTP listen address (default: the one given at init).") var listen: String?
        @Option(help: "Serve Prometheus metrics on host:port (GET /metrics).") var metrics: String?

        func run() async throws {
            let logger = Logger(label: "yizhan.registry")
            let registry = try Registry.open(home: RegistryHome(home.path), logger: logger)
            let (host, port) = try listenAddress(listen ?? registry.config.listen)
            let app = registry.application(host: host, port: port) { p in logger.info("registry listening", metadata: ["address": "http://\(host):\(p)"]) }
            var services: [any Service] = [app, RegistryScheduler(registry: registry)]
            if let m = metrics {
                let (mh, mp) = try listenAddress(m)
                services.append(registry.metricsApplication(host: mh, port: mp) { p in logger.info("metrics on http://\(mh):\(p)/metrics") })
            }
            let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }

    struct CA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ca", abstract: "Print the registry CA certificate (PEM).")
        @OptionGroup var home: HomeOption
        func run() async throws {
            let h = RegistryHome(home.path)
            guard FileManager.default.fileExists(atPath: h.caCertificateFile) else { throw YizhanError(.configuration, "no registry in \(home.path)") }
            print(try String(contentsOfFile: h.caCertificateFile, encoding: .utf8), terminator: "")
        }
    }
}
