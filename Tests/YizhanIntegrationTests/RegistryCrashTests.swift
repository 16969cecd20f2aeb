import Foundation
import Logging
import Synchronization
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore
#if canImport(Glibc)
import Glibc
#endif

/// Ports this test process has handed out: never handed out twice.
private let handedOutPorts = Mutex<Set<Int>>([])

/// A TCP port nobody listens on right now, below the kernel's ephemeral range (32768 and up by
/// default, `ip_local_port_range`): a port from that range, picked by binding to port 0, could be
/// taken as the local end of some outgoing connection before the process meant to listen on it
/// had started (a gateway process failed its metrics bind that way, "Address already in use").
func freePort() throws -> Int {
    let lowestEphemeral = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
        .flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } } ?? 32768
    let range = 20000..<max(20001, min(lowestEphemeral, 32768))
    for _ in 0..<200 {
        let port = Int.random(in: range)
        guard handedOutPorts.withLock({ $0.insert(port).inserted }) else { continue }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let ok = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if ok { return port }
    }
    throw TestFailure("no free port below the ephemeral range")
}

extension BrokerTests {
    /// The registry process dies between a merger's store transaction and its broker steps; on
    /// restart it completes the merger: routing, the waiting document, the old unit's user.
    @Test func registryKilledMidMergerCompletesOnRestart() async throws {
        try await TestBroker.requireRunning()
        let dir = NSTemporaryDirectory() + "yizhan-crash-" + UUIDv7.make()
        let vhost = "yizhan-crash-" + UUIDv7.make().suffix(12)
        let port = try freePort()
        let home = RegistryHome(dir + "/registry")
        let token = try await Registry.initialize(home: home, config: .init(name: "Crash Test CA", vhost: vhost, amqpHost: "127.0.0.1", amqpPort: 5672, listen: "127.0.0.1:\(port)"),
                                                  brokerAdminURL: TestBroker.adminURL)
        let url = "http://127.0.0.1:\(port)"
        func serve(fault: String?) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: try yizhanBinary())
            p.arguments = ["registry", "serve", "--home", home.path]
            var env = ProcessInfo.processInfo.environment
            env["YIZHAN_LOG_LEVEL"] = ProcessInfo.processInfo.environment["YZ_TEST_REGISTRY_LOG"] ?? "error"
            if let fault { env["YIZHAN_FAULT"] = fault } else { env.removeValue(forKey: "YIZHAN_FAULT") }
            p.environment = env
            try p.run()
            return p
        }
        var registry = try serve(fault: "exit-before-broker-steps")
        let admin = RegistryClient(base: url, adminToken: token)
        try await eventually("registry up") { (try? await RegistryClient(base: url).caPEM()) != nil }
        let s = try randomUnitCode(), a = try randomUnitCode(), b = try randomUnitCode()
        var users: [String] = []
        var homes: [UnitCode: GatewayHome] = [:]
        let ca = try Certificate(pem: try SecretFile.read(home.caCertificateFile)).pem
        for (code, name) in [(s, "发文单位"), (a, "甲"), (b, "乙")] {
            let added = try await admin.addUnit(.init(code: code.rawValue, name: name))
            users.append(added.brokerUser)
            let gh = GatewayHome(dir + "/" + code.rawValue)
            _ = try await Gateway.initialize(home: gh, unit: code.rawValue, registry: url, token: added.enrolmentToken, caPEM: ca)
            homes[code] = gh
        }
        func cleanup() async {
            registry.terminate()
            registry.waitUntilExit()
            if let ba = try? TestBroker.admin() {
                try? await ba.deleteVhost(vhost)
                for u in users { try? await ba.deleteUser(u) }
            }
            try? FileManager.default.removeItem(atPath: dir)
        }
        do {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let gs = RunningGateway(try Gateway(home: homes[s]!, logger: logger)) // homes was filled just above
        let gb = RunningGateway(try Gateway(home: homes[b]!, logger: logger))
        let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "合并时在途"), recipients: [.init(unit: a, role: .main)], parts: [])
        try gs.gateway.store.enqueue(draft)
        try await eventually("waiting in A's queue") { try gs.gateway.store.outboxEntry(id: draft.id)?.deliveries.first?.state == "published" }

        let req = try await admin.post("/v1/requests", try JSONValue.from(RegistryAPI.LifecycleRequest(kind: "merge", units: [a.rawValue], into: b.rawValue)))
        let id = try #require(req["id"]?.stringValue)
        await #expect(throws: (any Error).self) { _ = try await admin.post("/v1/requests/\(id)/approve", JSONValue.object([:])) }
        registry.waitUntilExit()
        #expect(registry.terminationStatus == 70, "the registry died at the fault point")
        let store = try RegistryStore(path: home.database, digest: Digest.sha256Hex)
        #expect(try store.request(id: id)?.state == "applied")
        #expect(try store.unit(code: a.rawValue)?.status == "merged")
        // The broker side was not done yet: A's user can still log in.
        let stillA = try await AMQPConnection.connect(AMQPConfiguration(host: "127.0.0.1", vhost: vhost, user: "unit.\(a.rawValue)",
                                                                       password: try homes[a]!.read(homes[a]!.brokerSecretFile).trimmingCharacters(in: .whitespacesAndNewlines)))
        await stillA.close()

        registry = try serve(fault: nil)
        do {
            try await eventually("the waiting document reached B after the restart", timeout: .seconds(60)) {
                try gs.gateway.store.outboxEntry(id: draft.id)?.deliveries.first?.deliveredBy == b.rawValue
            }
        } catch {
            // Say where it stuck: the sender's view, the successor's quarantine, the broker's queues.
            let q = try await TestBroker.admin().http.request("GET", "/api/queues/\(vhost)")
            throw TestFailure("\(error); sender: \(String(describing: try gs.gateway.store.outboxEntry(id: draft.id)?.deliveries)); B quarantine: \(try gb.gateway.store.quarantined().map(\.detail)); queues: \(String(decoding: q.body.prefix(1500), as: UTF8.self))")
        }
        try await eventually("A's broker user disabled") {
            do {
                let c = try await AMQPConnection.connect(AMQPConfiguration(host: "127.0.0.1", vhost: vhost, user: "unit.\(a.rawValue)",
                                                                         password: try homes[a]!.read(homes[a]!.brokerSecretFile).trimmingCharacters(in: .whitespacesAndNewlines)))
                await c.close()
                return false
            } catch { return true }
        }
        #expect(try store.verifyAudit().isEmpty)
        #expect(try gb.gateway.store.inbox().filter { $0.id == draft.id }.count == 1)
        await gs.stop(); await gb.stop()
        } catch {
            await cleanup()
            throw error
        }
        await cleanup()
    }
}
