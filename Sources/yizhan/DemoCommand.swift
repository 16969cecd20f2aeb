import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// `yizhan demo`: a registry and two units under one folder, a signed document with an
/// attachment sent from the commission to a district bureau, and the trail it leaves.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "Set up a registry and two units, exchange a signed document, print the trail.")

    @Option(help: "Folder for DIR/registry and DIR/<unit code> (default: a new temporary folder).") var home: String?
    @Option(name: .customLong("broker-admin"), help: "RabbitMQ management API with admin credentials.") var brokerAdmin = "http://guest:guest@127.0.0.1:15672"
    @Option(help: "Broker address for the demo network (its own vhost).") var broker = "amqp://127.0.0.1:5672/yizhan-demo"
    @Option(help: "Registry HTTP listen address.") var listen = "127.0.0.1:7700"

    static let units: [(prefix: String, name: String)] = [("11420100MB1234567", "武汉市城乡建设委员会"), ("11420102MB7654321", "武汉市江岸区建设局")]

    /// A round red seal with the unit's name, as SVG.
    static func sealImage(_ name: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200"><circle cx="100" cy="100" r="90" fill="none" stroke="#c00" stroke-width="7"/>
        <text x="100" y="62" text-anchor="middle" fill="#c00" font-size="15">\(name)</text><text x="100" y="122" text-anchor="middle" fill="#c00" font-size="54">★</text>
        <text x="100" y="160" text-anchor="middle" fill="#c00" font-size="13">公文专用章</text></svg>
        """
    }

    func run() async throws {
        let dir = (home.map { ($0 as NSString).expandingTildeInPath }) ?? (NSTemporaryDirectory() + "yizhan-demo-" + UUIDv7.make().prefix(13).replacingOccurrences(of: "-", with: ""))
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var logger = Logger(label: "yizhan.demo")
        logger.logLevel = .warning
        let regHome = RegistryHome(dir + "/registry")
        let fresh = !FileManager.default.fileExists(atPath: regHome.configFile)
        let config = try RegistryCommand.config(name: "Yizhan Demo Registry CA", broker: broker, listen: listen)
        if fresh {
            // The demo owns its vhost: start it clean so queues hold nothing from earlier demos.
            try await BrokerAdmin(url: brokerAdmin).deleteVhost(config.vhost)
            _ = try await Registry.initialize(home: regHome, config: config, brokerAdminURL: brokerAdmin)
        }
        let registry = try Registry.open(home: regHome, logger: logger)
        let (host, port) = try RegistryCommand.listenAddress(registry.config.listen)
        let listening = Listening()
        let app = registry.application(host: host, port: port) { p in listening.set(p) }
        let runner = DemoRunner(dir: dir, registry: registry, listening: listening, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [
            .init(service: app),
            .init(service: runner, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        if let e = runner.failure.withLock({ $0 }) { throw e }
    }
}

/// The bound port, once the HTTP server is up.
final class Listening: Sendable {
    let port = Mutex<Int?>(nil)
    func set(_ p: Int) { port.withLock { $0 = p } }
    func wait() async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let p = port.withLock({ $0 }) { return p }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw YizhanError(.configuration, "the registry did not start listening")
    }
}

final class DemoRunner: Service {
    let dir: String
    let registry: Registry
    let listening: Listening
    let logger: Logger
    let failure = Mutex<(any Error)?>(nil)

    init(dir: String, registry: Registry, listening: Listening, logger: Logger) {
        self.dir = dir; self.registry = registry; self.listening = listening; self.logger = logger
    }

    func run() async throws {
        do { try await demo() } catch {
            failure.withLock { $0 = error }
        }
    }

    func demo() async throws {
        let port = try await listening.wait()
        let url = "http://127.0.0.1:\(port)"
        let token = try SecretFile.read(registry.home.adminTokenFile).trimmingCharacters(in: .whitespacesAndNewlines)
        let admin = RegistryClient(base: url, adminToken: token)
        print("Yizhan demo in \(dir)")
        print("  registry  \(url)  (\(registry.home.path))")
        var gateways: [Gateway] = []
        for u in DemoCommand.units {
            let code = try UnitCode.completing(u.prefix).rawValue
            let gh = GatewayHome(dir + "/" + code)
            if !FileManager.default.fileExists(atPath: gh.configFile) {
                let added = try await admin.addUnit(.init(code: code, name: u.name))
                _ = try await Gateway.initialize(home: gh, unit: code, registry: url, token: added.enrolmentToken, caPEM: registry.ca.certificate.pem)
            }
            gateways.append(try Gateway(home: gh, logger: logger))
            print("  unit      \(code)  \(u.name)  (\(gh.path))")
        }
        let (a, b) = (gateways[0], gateways[1])
        try await withThrowingTaskGroup(of: Void.self) { g in
            for gw in gateways { g.addTask { try await gw.run() } }
            g.addTask {
                try await self.exchange(from: a, to: b, admin: admin)
                throw CancellationError()
            }
            do { while try await g.next() != nil {} } catch is CancellationError {}
            g.cancelAll()
        }
    }

    func exchange(from a: Gateway, to b: Gateway, admin: RegistryClient) async throws {
        let text = "检查要点：\n1. 深基坑支护\n2. 高支模\n3. 起重机械\n"
        let attachment = dir + "/检查要点.txt"
        try SecretFile.write(text, to: attachment, secret: false)
        let bytes = Array(text.utf8)
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        var draft = GatewayStore.Draft(kind: .document,
                                       document: DocumentInfo(title: "关于开展\(year)年建筑工地安全检查的通知", number: "武建〔\(year)〕12号", type: "通知"),
                                       recipients: [.init(unit: try UnitCode(b.unit), role: .main)],
                                       parts: [.init(name: "检查要点.txt", mediaType: "text/plain; charset=utf-8", data: bytes, sha256: Digest.sha256Hex(bytes))])
        // The sender's seal: applied for, approved, made before witnesses (once per demo home), then
        // two of its three custodians unlock it to stamp the document.
        let keeper = try SealKeeper(home: a.home)
        var custodians = [("张三", "demo-pass-zhang"), ("李四", "demo-pass-li"), ("王五", "demo-pass-wang")].map { SealVault.Secret(name: $0.0, password: Array($0.1.utf8)) }
        defer { for i in custodians.indices { custodians[i].wipe() } }
        if try !keeper.store.seals().contains(where: { $0.state == "in-use" }) {
            let image = dir + "/seal.svg"
            try SecretFile.write(DemoCommand.sealImage(a.config.name), to: image, secret: false)
            let applied = try await keeper.apply(reason: "new", head: "周局长", algorithm: .ed25519, imagePath: image, replaces: nil)
            let id = applied["id"]?.stringValue ?? ""
            _ = try await admin.post("/v1/seals/\(id)/approve", .object([:]))
            let cert = try await keeper.make(sealID: id, custodians: custodians, threshold: 2,
                                             witnesses: .init(leadership: "赵组长", centre: "钱主任", unit: "孙科长"))
            print("\nseal \(id) made for \(cert.organization ?? "") before 赵组长 (领导小组), 钱主任 (信息中心), 孙科长 (单位); custodians 张三、李四、王五, any two unlock it")
        }
        let parts = draft.parts.map { Envelope.Part(name: $0.name, mediaType: $0.mediaType, size: $0.data.count, sha256: $0.sha256) }
        let (stamp, stampRecord) = try await keeper.stamp(sealID: nil, secrets: [custodians[0], custodians[2]], id: draft.id,
                                                          document: draft.document ?? DocumentInfo(title: ""), parts: parts)
        draft.extras.stamp = stamp
        let started = Date()
        try a.store.enqueue(draft, stamped: stampRecord)
        print("\nsent \(draft.id)  “\(draft.document?.title ?? "")” \(draft.document?.number ?? "") with attachment 检查要点.txt (\(bytes.count) bytes), stamped with seal \(stamp.seal) (unlocked by 张三、王五)")
        let deadline = Date().addingTimeInterval(60)
        while true {
            let state = try a.store.outboxEntry(id: draft.id)?.deliveries.first?.state
            if state == "delivered" || state == "rejected" { break }
            guard Date() < deadline else { throw YizhanError(.remote, "no receipt within 60 s (state: \(state ?? "none")); is the broker running?") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let deliveredIn = Date().timeIntervalSince(started)
        // The recipient's clerk signs for it (签收); the signed receipt travels back.
        if try a.store.outboxEntry(id: draft.id)?.deliveries.first?.state == "delivered" {
            try b.store.act(.signFor, on: draft.id, clerk: "王芳")
            while try a.store.outboxEntry(id: draft.id)?.deliveries.first?.state != "signed-for" {
                guard Date() < deadline else { throw YizhanError(.remote, "the sign-for receipt did not come back within 60 s") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        print("\ntrail at the sender, \(a.config.name):")
        for t in try a.store.trail(documentID: draft.id) {
            print("  \(Output.time(t.at))  \(Output.pad(t.event, 11))\(t.unit.map { "\($0)  " } ?? "")\(t.detail ?? "")")
        }
        print("\ntrail at the recipient, \(b.config.name):")
        for t in try b.store.trail(documentID: draft.id) {
            print("  \(Output.time(t.at))  \(Output.pad(t.event, 11))\(t.unit.map { "from \($0)  " } ?? "")\(t.detail ?? "")")
        }
        if let i = try b.store.inboxEntry(id: draft.id), let p = i.parts.first {
            let stored = try b.store.inboxPart(documentID: draft.id, index: 0) ?? []
            print("  inbox: “\(i.title ?? "")” from \(i.senderName ?? i.sender); \(p.name) \(p.size) bytes, sha256 \(p.sha256.prefix(16))…, stored bytes match: \(Digest.sha256Hex(stored) == p.sha256)")
        }
        if let status = try SealKeeper.sealStatus(store: b.store, anchor: try Certificate(pem: try b.home.read(b.home.anchorFile)), id: draft.id) { print("  seal at the recipient: \(status.summary)") }
        // The recipient prints a certified copy; the code on it checks out at the registry.
        let copy = dir + "/certified-copy-\(draft.id).html"
        let printed = try await SealKeeper(home: b.home).certifiedPrint(id: draft.id)
        try SecretFile.write(printed.html, to: copy, secret: false)
        let check = try await RegistryClient(base: a.config.registry).get("/v1/prints/\(printed.verification.code)")
        print("\ncertified copy: \(copy)\n  verification code \(printed.verification.code): \(check["verdict"]?.stringValue ?? "?") (yizhan verify \(printed.verification.code) --registry \(a.config.registry))")
        let d = try a.store.outboxEntry(id: draft.id)?.deliveries.first
        print("\nresult: delivered in \(String(format: "%.2f", deliveredIn)) s, then \(d?.state ?? "?")\(d?.handledBy.map { " by \($0)" } ?? ""); signed envelope: yizhan doc export --home \(a.home.path) \(draft.id)")
    }
}
