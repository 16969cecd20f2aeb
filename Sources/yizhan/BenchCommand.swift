import ArgumentParser
import Foundation
import Synchronization
import Logging
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanRegistry
import YizhanStore

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmarks (figures, never pass/fail).", subcommands: [DocumentsBench.self, RegistryBench.self, AttachmentBench.self, FaultBench.self])
}

/// The registry at scale: directory build and signature time with N units, event fan-out to
/// M gateways' queues (with the raw-broker fan-out measured in the same run), and memory.
struct RegistryBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "registry", abstract: "Directory build/sign time, event fan-out and memory with many units.")
    @Option var units = 10_000
    @Option var gateways = 50
    @Option var rounds = 5
    @Option(name: .customLong("broker-admin")) var brokerAdmin = "http://guest:guest@127.0.0.1:15672"
    @Option var broker = "amqp://guest:guest@127.0.0.1:5672"

    static func memory() -> (rss: Int, peak: Int) {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func kb(_ key: String) -> Int {
            s.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { Int($0.split(separator: " ").dropFirst().first { !$0.isEmpty }.map(String.init) ?? "") } ?? 0
        }
        return (kb("VmRSS:"), kb("VmHWM:"))
    }

    static func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

    static func summary(_ xs: [Double]) -> String {
        let s = xs.sorted()
        return String(format: "median %.1f ms, min %.1f, max %.1f (n=%d)", s[s.count / 2], s.first ?? 0, s.last ?? 0, s.count)
    }

    func run() async throws {
        let dir = NSTemporaryDirectory() + "yizhan-bench-" + UUIDv7.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ContinuousClock()
        let vhost = "yizhan-bench-" + UUIDv7.make().suffix(8)
        let home = RegistryHome(dir)
        _ = try await Registry.initialize(home: home, config: .init(name: "Bench CA", vhost: vhost, amqpHost: "127.0.0.1", amqpPort: 5672, listen: "127.0.0.1:0"),
                                          brokerAdminURL: nil)
        let registry = try Registry.open(home: home, logger: Logger(label: "bench"))
        print("yizhan bench registry: \(units) units, \(gateways) gateway queues, \(rounds) rounds")
        let m0 = Self.memory()

        // Seed: one Ed25519 key and certificate per unit, as enrolment would make them.
        let t0 = clock.now
        var seeds: [(code: String, name: String, brokerUser: String)] = []
        var certs: [RegistryStore.CertificateRecord] = []
        var used = Set<String>()
        var rng = SystemRandomNumberGenerator()
        while seeds.count < units {
            let tail = (0..<9).map { _ in UnitCode.alphabet[Int.random(in: 0..<UnitCode.alphabet.count, using: &rng)] }
            let code = try UnitCode.completing("11420100" + String(tail)).rawValue
            guard used.insert(code).inserted else { continue }
            let name = "武汉市第\(seeds.count + 1)单位"
            let key = try PrivateKey.generateEd25519()
            let c = try registry.ca.issue(unitCode: code, unitName: name, publicKey: key.publicKey)
            seeds.append((code, name, BrokerTopology.brokerUser(code)))
            certs.append(.init(serial: c.serialHex, code: code, fingerprint: c.fingerprint, der: c.der, notBefore: c.notBefore ?? Date(), notAfter: c.notAfter ?? Date()))
        }
        try registry.store.bulkLoad(units: seeds, certificates: certs, actor: "bench")
        print(String(format: "  seeded %d units with certificates in %.1f s", units, Self.ms(clock.now - t0) / 1000))

        // Directory: read the store, build, canonicalise, sign, store. Then verify as a gateway would.
        var build: [Double] = [], verify: [Double] = []
        var size = 0
        for _ in 0..<rounds {
            let b0 = clock.now
            try registry.buildDirectory()
            build.append(Self.ms(clock.now - b0))
            let signed = try registry.directoryBytes()
            size = signed.count
            let v0 = clock.now
            let d = try SignedDirectory.open(signed, anchor: registry.ca.certificate)
            verify.append(Self.ms(clock.now - v0))
            guard d.units.count == units else { throw YizhanError(.remote, "directory has \(d.units.count) units") }
        }
        print("  directory build + sign + store: \(Self.summary(build))   [target: under 1000 ms]")
        print("  directory verify + decode (gateway side): \(Self.summary(verify))")
        print(String(format: "  directory size: %.1f MiB", Double(size) / 1_048_576))
        let m1 = Self.memory()
        print("  registry memory: RSS \(m1.rss / 1024) MiB now, peak \(m1.peak / 1024) MiB (was \(m0.rss / 1024) MiB before seeding)")

        // Event fan-out to the gateways' queues: through the management API as the registry
        // publishes, and raw over AMQP for comparison, both into the same fanout exchange.
        let admin = try BrokerAdmin(url: brokerAdmin)
        try await admin.putVhost(vhost)
        defer { Task { try? await admin.deleteVhost(vhost) } }
        let adminUser = URLComponents(string: brokerAdmin)?.user ?? "guest"
        try await admin.putPermissions(vhost: vhost, user: adminUser, configure: ".*", write: ".*", read: ".*")
        try await admin.putExchange(vhost: vhost, name: BrokerTopology.registryExchange, type: "fanout")
        for i in 0..<gateways {
            try await admin.putQueue(vhost: vhost, name: "yizhan.events.\(i)", arguments: ["x-queue-type": .string("quorum")])
            try await admin.bind(vhost: vhost, exchange: BrokerTopology.registryExchange, queue: "yizhan.events.\(i)", routingKey: "")
        }
        var config = try AMQPConfiguration(url: broker)
        config.vhost = vhost
        // A vhost made a moment ago can refuse the first login while the node settles.
        var connection: AMQPConnection?
        for attempt in 1...5 {
            do { connection = try await AMQPConnection.connect(config); break } catch where attempt < 5 {
                try await Task.sleep(for: .seconds(1))
            }
        }
        guard let conn = connection else { throw YizhanError(.remote, "cannot connect to \(config)") }
        let arrivals = ArrivalCounter()
        let consumers = Task {
            try await withThrowingTaskGroup(of: Void.self) { g in
                for i in 0..<gateways {
                    let stream = try await conn.consume(queue: "yizhan.events.\(i)", prefetch: 10)
                    g.addTask {
                        for try await d in stream {
                            try conn.ack(d)
                            arrivals.add()
                        }
                    }
                }
                try await g.waitForAll()
            }
        }
        for i in 0..<gateways {
            while try await conn.declareQueue("yizhan.events.\(i)", passive: true).consumers < 1 { try await Task.sleep(for: .milliseconds(10)) }
        }
        let topology = BrokerTopology(vhost: vhost, admin: admin)
        var viaAPI: [Double] = [], raw: [Double] = []
        for round in 0..<(rounds * 2) {
            let target = arrivals.count + gateways
            let p0 = clock.now
            if round % 2 == 0 {
                try await topology.publishEvent(.object(["type": .string("directory"), "version": .number(Double(round))]))
            } else {
                _ = try await conn.publish(exchange: BrokerTopology.registryExchange, routingKey: "", mandatory: false,
                                           message: AMQPMessage(body: Array(#"{"type":"directory"}"#.utf8), messageID: "e\(round)"))
            }
            while arrivals.count < target {
                guard clock.now - p0 < .seconds(30) else { throw YizhanError(.remote, "fan-out did not complete in 30 s") }
                try await Task.sleep(for: .microseconds(200))
            }
            (round % 2 == 0 ? { viaAPI.append(Self.ms(clock.now - p0)) } : { raw.append(Self.ms(clock.now - p0)) })()
        }
        consumers.cancel()
        await conn.close()
        print("  event fan-out to \(gateways) queues, registry path (management API publish): \(Self.summary(viaAPI))")
        print("  event fan-out to \(gateways) queues, raw AMQP publish with confirm (baseline): \(Self.summary(raw))")
        print(String(format: "  ratio registry/raw (median): %.2f", (viaAPI.sorted()[viaAPI.count / 2]) / max(0.001, raw.sorted()[raw.count / 2])))
    }
}

/// A value the benchmark's tasks share (a `Mutex` itself cannot be captured by escaping closures).
final class Shared<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout sending Value) throws -> sending R) rethrows -> R { try mutex.withLock(body) }
}

/// Arrivals counted from several tasks.
typealias ArrivalCounter = Shared<Int>

extension Shared where Value == Int {
    convenience init() { self.init(0) }
    func add() { withLock { $0 += 1 } }
    var count: Int { withLock { $0 } }
}

/// A raw baseline's message body: an Ed25519 signature over the payload, then the payload.
enum SignedFrame {
    static func make(_ payload: [UInt8], key: PrivateKey) throws -> [UInt8] { try key.sign(payload) + payload }

    /// The payload, when the signature over it verifies.
    static func open(_ body: [UInt8], key: PublicKey) -> ArraySlice<UInt8>? {
        guard body.count >= 64, key.verify(signature: Array(body.prefix(64)), message: Array(body.dropFirst(64))) else { return nil }
        return body.dropFirst(64)
    }
}
