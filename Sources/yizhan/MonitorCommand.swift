import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import YizhanCore
import YizhanHTTP
import YizhanMonitor

struct MonitorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "monitor", abstract: "Watch the delivery queues (operators).",
                                                    subcommands: [Serve.self, StatusCommand.self])

    struct Options: ParsableArguments {
        @Option(name: .customLong("broker-admin"), help: "RabbitMQ management API; a user with the monitoring tag is enough.") var brokerAdmin = "http://guest:guest@127.0.0.1:15672"
        @Option(help: "The network's vhost.") var vhost = "yizhan"
        @Option(help: "Registry URL, for unit names and states.") var registry: String?
        @Option(help: "A gateway's metrics endpoint, CODE=http://host:port/metrics; repeat per gateway.") var gateway: [String] = []
        @Option(help: "POST raised and cleared alerts (JSON) to this URL.") var webhook: String?
        @Option(help: "Seconds between looks.") var interval = 5.0
        @Option(name: .customLong("no-consumer-after"), help: "Seconds a unit queue may go without a consumer.") var noConsumerAfter = 120.0
        @Option(help: "Messages waiting in a unit queue before it is a backlog.") var backlog = 100
        @Option(name: .customLong("oldest-age"), help: "Seconds the oldest waiting message may wait.") var oldestAge = 600.0
        @Option(name: .customLong("directory-stale-after"), help: "Seconds before a gateway's directory copy is stale.") var directoryStaleAfter = 3600.0
        @Option(name: .customLong("certificate-warning-days"), help: "Warn this many days before a certificate expires.") var certificateWarningDays = 30.0

        func config() throws -> Monitor.Config {
            guard interval > 0, noConsumerAfter >= 0, backlog >= 0, oldestAge >= 0 else { throw YizhanError(.invalidArgument, "intervals and thresholds must not be negative") }
            var gateways: [String: String] = [:]
            for g in gateway {
                let p = g.split(separator: "=", maxSplits: 1).map(String.init)
                guard p.count == 2 else { throw YizhanError(.invalidArgument, "--gateway must be CODE=URL, not \(g)") }
                gateways[try UnitCode(p[0]).rawValue] = p[1]
            }
            var t = Thresholds()
            t.noConsumerAfter = noConsumerAfter; t.backlog = backlog; t.oldestAge = oldestAge
            t.directoryStaleAfter = directoryStaleAfter; t.certificateWarning = certificateWarningDays * 86400
            return .init(brokerAdmin: brokerAdmin, vhost: vhost, registry: registry, gateways: gateways, webhook: webhook,
                         interval: .milliseconds(Int(interval * 1000)), thresholds: t)
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the monitor: alerts in the log, on /v1/alerts and to a webhook; the dashboard on /.")
        @OptionGroup var options: Options
        @Option(help: "host:port for the dashboard and the JSON endpoints.") var listen = "127.0.0.1:7800"
        func run() async throws {
            let logger = Logger(label: "yizhan.monitor")
            let monitor = try Monitor(config: try options.config(), logger: logger)
            let (host, port) = try RegistryCommand.listenAddress(listen)
            let app = monitor.application(host: host, port: port) { p in logger.info("dashboard on http://\(host):\(p)/") }
            let group = ServiceGroup(configuration: .init(services: [.init(service: monitor), .init(service: app)],
                                                          gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }

    struct StatusCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "The monitor's picture as a table (or --json): from a running monitor, or one look now.")
        @OptionGroup var options: Options
        @Option(help: "A running monitor's URL (its history makes duration alerts exact).") var monitor: String?
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let status: Status
            if let m = monitor {
                let r = try await HTTPClient(base: m).request("GET", "/v1/status")
                guard r.status == 200 else { throw YizhanError(.remote, "monitor answered HTTP \(r.status)") }
                status = try StatusCoding.decoder.decode(Status.self, from: Data(r.body))
            } else {
                // One look: a queue without a consumer is reported at once.
                var c = try options.config()
                c.thresholds.noConsumerAfter = 0
                let mon = try Monitor(config: c, logger: Logger(label: "yizhan.monitor"))
                await mon.poll()
                status = mon.status
            }
            if json {
                print(String(decoding: try StatusCoding.encoder.encode(status), as: UTF8.self))
                return
            }
            print("as of \(Timestamp.format(status.at))")
            if status.brokerStale { print("! broker management API unreachable (\(status.brokerError ?? "")); figures are stale") }
            if status.registryStale { print("! registry unreachable (\(status.registryError ?? "")); units are stale") }
            let head = ["unit", "name", "status", "ready", "unacked", "consumers", "oldest", "dead", "outbox", "overdue", "alerts"]
            let widths = [20, 26, 13, 7, 8, 10, 8, 6, 7, 8, 0]
            print(zip(head, widths).map { Output.pad($0.0, $0.1) }.joined())
            for u in status.units {
                let q = u.queue
                var cells: [String] = [u.code, u.name, u.status]
                cells.append(q.map { String($0.ready) } ?? "-")
                cells.append(q.map { String($0.unacked) } ?? "-")
                cells.append(q.map { String($0.consumers) } ?? "-")
                cells.append(u.oldestWaitingSeconds.map { "\(Int($0))s" } ?? "-")
                cells.append(String(u.deadLetters))
                cells.append(u.gateway.map { String(Int($0.outboxDepth)) } ?? "-")
                cells.append(u.gateway.map { String(Int($0.overdue)) } ?? "-")
                cells.append(u.alerts.isEmpty ? "ok" : u.alerts.joined(separator: ","))
                var line = ""
                for (c, w) in zip(cells, widths) { line += w == 0 ? c : Output.pad(c, w) }
                print(line)
            }
            print(status.alerts.isEmpty ? "no alerts" : "alerts:")
            for a in status.alerts { print("  \(a.kind.rawValue)  \(a.subject)  \(a.message)  (since \(Timestamp.format(a.since)))") }
        }
    }
}
