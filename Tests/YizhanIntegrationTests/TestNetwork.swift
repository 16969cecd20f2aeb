import Foundation
import Logging
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The broker the test command started. Tests fail loudly (never skip) when it is missing.
enum TestBroker {
    static var amqpURL: String { ProcessInfo.processInfo.environment["YIZHAN_TEST_BROKER"] ?? "amqp://guest:guest@127.0.0.1:5672" }
    static var adminURL: String { ProcessInfo.processInfo.environment["YIZHAN_TEST_BROKER_ADMIN"] ?? "http://guest:guest@127.0.0.1:15672" }

    static var tlsCA: String { ProcessInfo.processInfo.environment["YIZHAN_TEST_TLS_CA"] ?? "/etc/rabbitmq/yizhan-tls/ca.pem" }

    static func admin() throws -> BrokerAdmin { try BrokerAdmin(url: adminURL) }

    /// Fails (never skips) when the broker is missing; waits up to 30 s for one that is restarting.
    static func requireRunning() async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            do {
                _ = try await admin().overview()
                return
            } catch {
                if ContinuousClock.now > deadline {
                    throw TestFailure("RabbitMQ management API not reachable at \(adminURL) (\(error)); run the tests with Deploy/test.sh")
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    static func guestConfig(vhost: String, heartbeat: Int = 30) throws -> AMQPConfiguration {
        var c = try AMQPConfiguration(url: amqpURL)
        c.vhost = vhost
        c.heartbeatSeconds = heartbeat
        return c
    }

    /// Runs rabbitmqctl (the tests run as root, as CI does) and returns what it printed.
    @discardableResult
    static func rabbitmqctl(_ args: String...) throws -> String {
        let p = Process(), out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/rabbitmqctl")
        p.arguments = args
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestFailure("rabbitmqctl \(args.joined(separator: " ")) exited \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }
}

extension TestBroker {
    /// A queue's ready and unacknowledged messages as the broker counts them now (not the
    /// management API's periodic statistics).
    static func queueCounts(vhost: String, queue: String) throws -> (ready: Int, unacked: Int)? {
        let listing = try rabbitmqctl("list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged", "--no-table-headers", "--quiet")
        for line in listing.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            if f.count == 3, f[0] == queue, let r = Int(f[1]), let u = Int(f[2]) { return (r, u) }
        }
        return nil
    }
}

/// Waits for a condition with a deadline; fails with `what` when it never holds.
func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TestFailure("timed out after \(timeout) waiting for: \(what)")
}

/// A fresh unit code no other test uses (broker users are per node, not per vhost).
func randomUnitCode() throws -> UnitCode {
    var rng = SystemRandomNumberGenerator()
    let tail = (0..<9).map { _ in UnitCode.alphabet[Int.random(in: 0..<UnitCode.alphabet.count, using: &rng)] }
    return try UnitCode.completing("11420100" + String(tail))
}

/// A registry with its own vhost and temporary folder, served in-process on a free port.
final class TestNetwork: @unchecked Sendable {
    // @unchecked: mutated only by the single test that owns it, sequentially.
    let dir: String
    let vhost: String
    let registry: Registry
    let url: String
    let admin: RegistryClient
    var serverTask: Task<Void, any Error>?
    var users: [String] = []

    /// `tls`: gateways reach the broker over amqps://localhost:5671 with the local broker CA.
    static func start(tls: Bool = false) async throws -> TestNetwork {
        try await TestBroker.requireRunning()
        let dir = NSTemporaryDirectory() + "yizhan-test-" + UUIDv7.make()
        let vhost = "yizhan-test-" + UUIDv7.make().suffix(12)
        let home = RegistryHome(dir + "/registry")
        let token = try await Registry.initialize(home: home, config: .init(name: "Test Registry CA", vhost: vhost, amqpHost: tls ? "localhost" : "127.0.0.1",
                                                                                  amqpPort: tls ? 5671 : 5672, amqpTLS: tls, listen: "127.0.0.1:0"),
                                                  brokerAdminURL: TestBroker.adminURL)
        var logger = Logger(label: "test.registry")
        logger.logLevel = .warning
        let registry = try Registry.open(home: home, logger: logger)
        let port = PortBox()
        let app = registry.application(host: "127.0.0.1", port: 0) { p in port.set(p) }
        let scheduler = RegistryScheduler(registry: registry, interval: .milliseconds(100))
        let task = Task {
            try await withThrowingTaskGroup(of: Void.self) { g in
                g.addTask { try await app.run() }
                g.addTask { try await scheduler.run() }
                try await g.next()
                g.cancelAll()
            }
        }
        try await eventually("registry listening", timeout: .seconds(20)) { port.get() != nil }
        let url = "http://127.0.0.1:\(port.get() ?? 0)"
        let net = TestNetwork(dir: dir, vhost: vhost, registry: registry, url: url, admin: RegistryClient(base: url, adminToken: token))
        net.serverTask = task
        return net
    }

    /// Runs `body` on a fresh network and always removes it (vhost, users, files) before returning,
    /// so quorum queues do not pile up on the shared broker across runs.
    static func with(tls: Bool = false, _ body: (TestNetwork) async throws -> Void) async throws {
        let net = try await start(tls: tls)
        do { try await body(net) } catch {
            await net.shutdown()
            throw error
        }
        await net.shutdown()
    }

    init(dir: String, vhost: String, registry: Registry, url: String, admin: RegistryClient) {
        self.dir = dir; self.vhost = vhost; self.registry = registry; self.url = url; self.admin = admin
    }

    /// Adds, provisions and enrols a unit; returns its gateway home (gateway not started).
    func enrol(_ code: UnitCode, name: String, algorithm: KeyAlgorithm = .ed25519) async throws -> GatewayHome {
        let added = try await admin.addUnit(.init(code: code.rawValue, name: name))
        users.append(added.brokerUser)
        let home = GatewayHome(dir + "/" + code.rawValue)
        let brokerCA = registry.config.amqpTLS ? try String(contentsOfFile: TestBroker.tlsCA, encoding: .utf8) : nil
        _ = try await Gateway.initialize(home: home, unit: code.rawValue, registry: url, token: added.enrolmentToken, caPEM: registry.ca.certificate.pem,
                                         brokerCAPEM: brokerCA, algorithm: algorithm)
        return home
    }

    func gateway(_ home: GatewayHome) throws -> Gateway {
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .error
        return try Gateway(home: home, logger: logger, reconnectPolicy: ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(1)))
    }

    /// The unit's broker connection settings, as its gateway uses them.
    func brokerConfig(_ home: GatewayHome) throws -> AMQPConfiguration {
        let c = try home.loadConfig()
        return AMQPConfiguration(host: c.brokerHost, port: c.brokerPort, vhost: c.vhost, user: c.brokerUser,
                                 password: try home.read(home.brokerSecretFile).trimmingCharacters(in: .whitespacesAndNewlines),
                                 tls: c.brokerTLS ? .init(caCertificatePath: home.brokerCAFile) : nil)
    }

    func key(_ home: GatewayHome) throws -> (PrivateKey, Certificate) {
        (try PrivateKey.fromEncryptedPEM(try home.read(home.keyFile), passphrase: try home.passphrase(create: false)),
         try Certificate(pem: try home.read(home.certificateFile)))
    }

    /// Files a lifecycle request and approves it, as two administrators' steps.
    @discardableResult
    func approve(_ l: RegistryAPI.LifecycleRequest) async throws -> JSONValue {
        let r = try await admin.post("/v1/requests", try JSONValue.from(l))
        let id = try #require(r["id"]?.stringValue)
        return try await admin.post("/v1/requests/\(id)/approve", JSONValue.object([:]))
    }

    func unitStatus(_ code: UnitCode) throws -> String? { try registry.store.unit(code: code.rawValue)?.status }

    func shutdown() async {
        serverTask?.cancel()
        _ = await serverTask?.result
        if let admin = try? TestBroker.admin() {
            try? await admin.deleteVhost(vhost)
            for u in users { try? await admin.deleteUser(u) }
        }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

final class PortBox: @unchecked Sendable {
    // @unchecked: every access goes through the lock.
    let lock = NSLock()
    var port: Int?
    func set(_ p: Int) { lock.lock(); port = p; lock.unlock() }
    func get() -> Int? { lock.lock(); defer { lock.unlock() }; return port }
}

/// A gateway running in this process, stoppable like a service.
struct RunningGateway {
    let gateway: Gateway
    let task: Task<Void, any Error>

    init(_ g: Gateway) {
        gateway = g
        task = Task { try await g.run() }
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
