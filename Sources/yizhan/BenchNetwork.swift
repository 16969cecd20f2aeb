import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import YizhanAMQP
import YizhanCore
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// A throw-away network for benchmarks: an in-process registry serving its API on a free port,
/// units enrolled through it, their gateways run as separate processes (so that each one's CPU
/// time and memory are its own), and everything removed afterwards (vhost, users, folder).
final class BenchNetwork: Service {
    let dir: String
    let vhost: String
    let brokerAdmin: String
    let broker: String
    let registry: Registry
    let listening = Listening()
    let body: @Sendable (BenchNetwork) async throws -> Void
    let failure = Mutex<(any Error)?>(nil)
    let users = Mutex<[String]>([])

    init(dir: String, vhost: String, brokerAdmin: String, broker: String, registry: Registry, body: @escaping @Sendable (BenchNetwork) async throws -> Void) {
        self.dir = dir; self.vhost = vhost; self.brokerAdmin = brokerAdmin; self.broker = broker; self.registry = registry; self.body = body
    }

    static func run(dir: String?, brokerAdmin: String, broker: String, amqpPort: Int = 5672, _ body: @escaping @Sendable (BenchNetwork) async throws -> Void) async throws {
        let folder = dir ?? (NSTemporaryDirectory() + "yizhan-bench-" + UUIDv7.make())
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "yizhan.bench")
        logger.logLevel = .warning
        let vhost = "yizhan-bench-" + UUIDv7.make().suffix(8)
        let regHome = RegistryHome(folder + "/registry")
        _ = try await Registry.initialize(home: regHome, config: .init(name: "Bench CA", vhost: vhost, amqpHost: "127.0.0.1", amqpPort: amqpPort, listen: "127.0.0.1:0"),
                                          brokerAdminURL: brokerAdmin)
        let registry = try Registry.open(home: regHome, logger: logger)
        let net = BenchNetwork(dir: folder, vhost: vhost, brokerAdmin: brokerAdmin, broker: broker, registry: registry, body: body)
        let app = registry.application(host: "127.0.0.1", port: 0) { p in net.listening.set(p) }
        let group = ServiceGroup(configuration: .init(services: [
            .init(service: app),
            .init(service: net, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        let admin = try BrokerAdmin(url: brokerAdmin)
        try? await admin.deleteVhost(vhost)
        for u in net.users.withLock({ $0 }) { try? await admin.deleteUser(u) }
        if dir == nil { try? FileManager.default.removeItem(atPath: folder) }
        if let e = net.failure.withLock({ $0 }) { throw e }
    }

    func run() async throws {
        do { try await body(self) } catch { failure.withLock { $0 = error } }
    }

    /// Adds and enrols units named `prefix` (17 characters; the check character is computed).
    func enrol(_ units: [(prefix: String, name: String)], brokerAlternates: [String] = []) async throws -> [GatewayHome] {
        let port = try await listening.wait()
        let url = "http://127.0.0.1:\(port)"
        let admin = RegistryClient(base: url, adminToken: try SecretFile.read(registry.home.adminTokenFile).trimmingCharacters(in: .whitespacesAndNewlines))
        var homes: [GatewayHome] = []
        for (prefix, name) in units {
            let code = try UnitCode.completing(prefix).rawValue
            let added = try await admin.addUnit(.init(code: code, name: name))
            users.withLock { $0.append(added.brokerUser) }
            let h = GatewayHome(dir + "/" + code)
            _ = try await Gateway.initialize(home: h, unit: code, registry: url, token: added.enrolmentToken, caPEM: registry.ca.certificate.pem,
                                             brokerAlternates: brokerAlternates)
            homes.append(h)
        }
        return homes
    }

    /// Starts `yizhan gateway run` for each home and waits until each consumes its queue.
    func startGateways(_ homes: [GatewayHome]) async throws -> [GatewayProcess] {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        var out: [GatewayProcess] = []
        for h in homes {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["gateway", "run", "--home", h.path]
            var env = ProcessInfo.processInfo.environment
            env["YIZHAN_LOG_LEVEL"] = "error"
            p.environment = env
            try p.run()
            out.append(GatewayProcess(p))
        }
        let conn = try await guestConnection()
        defer { Task { await conn.close() } }
        let deadline = ContinuousClock.now + .seconds(60)
        for h in homes {
            let q = "yizhan.unit.\(try h.loadConfig().unit)"
            while try await conn.declareQueue(q, passive: true).consumers < 1 {
                guard ContinuousClock.now < deadline else { throw YizhanError(.remote, "gateway for \(q) did not connect") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        return out
    }

    /// The administrator's own connection to the bench vhost (for baselines and checks).
    func guestConnection() async throws -> AMQPConnection {
        var c = try AMQPConfiguration(url: broker)
        c.vhost = vhost
        try await BrokerAdmin(url: brokerAdmin).putPermissions(vhost: vhost, user: c.user, configure: ".*", write: ".*", read: ".*")
        return try await AMQPConnection.connect(c)
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
}

/// A gateway process of a benchmark; stopped when dropped.
final class GatewayProcess: @unchecked Sendable {
    // @unchecked: Process is used from one task at a time (start, sample, stop).
    let process: Process
    init(_ p: Process) { process = p }
    var pid: Int32 { process.processIdentifier }

    /// (VmRSS, VmHWM) in KiB.
    var memory: (rss: Int, peak: Int) {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        func kb(_ key: String) -> Int {
            s.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int($0.split(separator: " ").dropFirst().first { !$0.isEmpty }.map(String.init) ?? "") } ?? 0
        }
        return (kb("VmRSS:"), kb("VmHWM:"))
    }

    /// What the resident set is made of, in KiB: pages only this process holds (anonymous and
    /// private file pages) and its proportional share of pages shared with other processes.
    var composition: (privateKiB: Int, pss: Int, shared: Int) {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8) else { return (0, 0, 0) }
        func kb(_ key: String) -> Int {
            s.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int($0.split(separator: " ").dropFirst().first { !$0.isEmpty }.map(String.init) ?? "") } ?? 0
        }
        let own = kb("Private_Clean:") + kb("Private_Dirty:")
        return (own, kb("Pss:"), kb("Rss:") - own)
    }

    /// User + system CPU seconds so far.
    var cpuSeconds: Double { Self.cpuSeconds(of: pid) }

    /// What runs beside the gateways on the same cores, from now on: the local broker (when it is
    /// watched, after the gateways in `watched`) and this process. Read by the latency runs and by
    /// the raw round trip, so that the broker's share of either can be set side by side.
    struct Beside {
        let pids: [Int32]
        let start: [Double]

        init(watched: [Int32], gateways: Int) {
            pids = Array(watched.dropFirst(gateways)) + [getpid()]
            start = pids.map(GatewayProcess.cpuSeconds(of:))
        }

        /// "the local broker N %, " (empty without a watched broker) and this process's share of a
        /// core over `seconds`.
        func shares(over seconds: Double) -> (broker: String, this: Double) {
            let used = zip(pids.map(GatewayProcess.cpuSeconds(of:)), start).map { $0 - $1 }
            return (used.count > 1 ? String(format: "the local broker %.0f %%, ", 100 * used[0] / seconds) : "",
                    100 * (used.last ?? 0) / seconds)
        }
    }

    /// User + system CPU seconds of any process so far (0 once it is gone).
    static func cpuSeconds(of pid: Int32) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = s.lastIndex(of: ")") else { return 0 }
        let fields = s[s.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let u = Double(fields[11]), let k = Double(fields[12]) else { return 0 }
        return (u + k) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { process.terminate() } }
}
