import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanStore

/// A unit's gateway: signs and publishes what `doc send` stored, receives and verifies what is
/// addressed to the unit, and keeps every recipient's state. A `Service` for a `ServiceGroup`.
public final class Gateway: Service, Sendable {
    public let home: GatewayHome
    public let config: GatewayHome.Config
    /// `config.unit`, parsed once: every receipt and signing round names it as the sender.
    let unitCode: UnitCode
    public let store: GatewayStore
    public let directory: DirectoryCache
    let key: PrivateKey
    /// The signing certificate and the unit's current name; replaced after a rename.
    let identity: Mutex<Identity>
    let verifier: InboundVerifier
    let registry: RegistryClient
    let anchor: Certificate
    let amqp: AMQPConfiguration
    let logger: Logger
    let doorbell = Doorbell()
    /// Whether this gateway hears knocks (see `Knock`); without them it never waits long.
    let listening = Atomic<Bool>(false)
    /// Set while an idle send loop looks at its outbox and waits: only then does a knock ring the bell.
    let idleLooking = Atomic<Bool>(false)
    /// Wakes the chunked-transfer loop when a large document has been signed.
    let transferBell = Doorbell()
    /// Drafts handed over by `doc send` (see `HandOver`), waiting for the send loop's next look (or,
    /// without a broker session, the intake loop's).
    let handedOver = Mutex<[Handed]>([])
    /// Wakes the intake loop when a draft has been handed over while no send loop runs.
    let intakeBell = Doorbell()
    /// Whether a send loop runs (a broker session is up): it takes handed-over drafts itself.
    let sending = Atomic<Bool>(false)
    /// Prompt publishes (see `publishPromptly`) the broker has not answered yet.
    let promptInFlight = Atomic<Int>(0)
    /// Their outcomes, waiting for the record loop, and its bell.
    let promptOutcomes = Mutex<[PromptOutcome]>([])
    let promptBell = Doorbell()
    /// Bytes per chunk for parts sent in chunks, and chunks in flight at once.
    public var chunkSize: Int { config.chunkSize ?? TransferInfo.defaultChunk }
    let chunkWindow = 8
    public let metrics = GatewayMetrics()
    let reconnectPolicy: ReconnectPolicy

    /// How long an idle send loop waits for a knock before it looks at the outbox anyway (what a
    /// store written without knocking, or a retry coming due, waits at most).
    let idleLook: Duration
    /// How long nothing is sent or received before the gateway gives back its idle memory (see
    /// `WorkingSet`); nil never does. From `idleTrimSeconds` in gateway.json unless given.
    let trimAfter: Duration?
    /// When the gateway last gave back its idle memory: a trim costs some 30 ms of faults once work
    /// resumes, so a gateway that gets a document every few seconds does it at most once a minute.
    let lastTrim = Mutex<ContinuousClock.Instant?>(nil)

    public init(home: GatewayHome, logger: Logger = Logger(label: "yizhan.gateway"), reconnectPolicy: ReconnectPolicy = ReconnectPolicy(),
                idleLook: Duration = .milliseconds(250), trimAfter: Duration? = nil) throws {
        self.home = home
        self.idleLook = idleLook
        config = try home.loadConfig()
        self.trimAfter = try trimAfter ?? Self.idleTrim(config)
        unitCode = try UnitCode(config.unit)
        if config.requireTLS == true, !config.brokerTLS {
            throw YizhanError(.configuration, "gateway.json requires TLS but names a plain AMQP broker (\(config.brokerHost):\(config.brokerPort)); refusing to connect")
        }
        var l = logger
        l[metadataKey: "unit"] = "\(config.unit)"
        self.logger = l
        let anchor = try Certificate(pem: try home.read(home.anchorFile))
        self.anchor = anchor
        let certificate = try Certificate(pem: try home.read(home.certificateFile))
        identity = Mutex(Identity(certificate: certificate, name: config.name))
        let token = try? home.read(home.registryTokenFile).trimmingCharacters(in: .whitespacesAndNewlines)
        registry = RegistryClient(base: config.registry, adminToken: token)
        key = try PrivateKey.fromEncryptedPEM(try home.read(home.keyFile), passphrase: try home.passphrase(create: false))
        store = try GatewayStore(path: home.database)
        directory = try DirectoryCache(store: store, anchor: anchor, client: RegistryClient(base: config.registry),
                                       staleAfter: TimeInterval(config.staleAfter), logger: l)
        verifier = InboundVerifier(me: config.unit, anchor: CertificateVerifier(anchor: anchor))
        let password = try home.read(home.brokerSecretFile).trimmingCharacters(in: .whitespacesAndNewlines)
        let cfg = config
        var amqp = AMQPConfiguration(host: cfg.brokerHost, port: config.brokerPort, vhost: config.vhost, user: config.brokerUser,
                                 password: password, heartbeatSeconds: 20,
                                 tls: config.brokerTLS ? .init(caCertificatePath: home.brokerCAFile) : nil)
        amqp.alternates = try (cfg.brokerAlternates ?? []).map { a throws(AMQPError) in try AMQPConfiguration.address(a, tls: cfg.brokerTLS) }
        self.amqp = amqp
        self.reconnectPolicy = reconnectPolicy
    }

    public var unit: String { config.unit }

    public func run() async throws {
        logger.info("gateway starting", metadata: ["broker": "\(amqp)", "registry": "\(config.registry)"])
        await directory.refresh()
        try await follow(await directory.current)
        var listener: Knock.Listener?
        do {
            listener = try Knock.Listener(database: home.database) { [self] in
                if idleLooking.load(ordering: .sequentiallyConsistent) { doorbell.ring() }
            }
        } catch {
            logger.notice("knocks not heard; the outbox is looked at every 10 ms even when idle", metadata: ["reason": "\(error)"])
        }
        listening.store(listener != nil, ordering: .relaxed)
        defer { listener?.stop() }
        var intake: HandOver.Listener?
        do {
            intake = try HandOver.Listener(database: home.database) { [self] s, r in received(s, r) }
        } catch {
            logger.notice("documents are not handed over; `doc send` stores them itself", metadata: ["reason": "\(error)"])
        }
        defer { intake?.stop() }
        try await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { g in
                g.addTask { try await self.directoryLoop() }
                g.addTask { try await self.metricsLoop() }
                g.addTask { await self.checkpointLoop() }
                g.addTask { await self.intakeLoop() }
                g.addTask { await self.recordLoop() }
                g.addTask {
                    // Storage failing where no loop holds its work (a read on a full disk, say) ends the
                    // session like a lost connection: unacked messages go back to the queue, and a
                    // new session starts once the store answers again. The process keeps running.
                    var attempt = 0
                    while !Task.isCancelled {
                        do {
                            try await withReconnection(self.amqp, policy: self.reconnectPolicy, logger: self.logger) { conn in
                                try await self.session(conn)
                            }
                            return
                        } catch where StorageFailure.isTransient(error) {
                            let wait = StorageFailure.delay(attempt: attempt + 2)
                            attempt += 1
                            self.metrics.storageFailures.increment()
                            self.logger.error("storage failed (disk full or I/O error); the session restarts", metadata: ["error": "\(error)", "in": "\(wait)"])
                            try await Task.sleep(for: wait)
                        }
                    }
                }
                try await g.next()
                g.cancelAll()
            }
        }
        logger.info("gateway stopped")
    }

    func directoryLoop() async throws {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(config.directoryRefresh)) } catch { return }
            await directory.refresh()
            try await follow(await directory.current)
        }
    }

    /// One broker connection's worth of work; throws when the connection is lost.
    func session(_ conn: AMQPConnection) async throws {
        // The prefetch window is also the largest group verified side by side and stored in one
        // transaction: a wide window makes groups (and so commits, receipt batches and acks) fewer
        // under load; 32 against 256 cost about a fifth more CPU per document in both gateways.
        // Memory is bounded in bytes by the connection (`consumerBudgetBytes`), not by the window.
        // Copies leased to prompt publishes of an earlier session (or process) that never came back.
        try store.releaseLeases()
        let deliveries = try await conn.consumeBatches(queue: "yizhan.unit.\(config.unit)", prefetch: 256)
        let events = try await conn.consume(queue: "yizhan.events.\(config.unit)", prefetch: 16)
        logger.info("connected", metadata: ["queue": "yizhan.unit.\(config.unit)"])
        try await withThrowingTaskGroup(of: Void.self) { g in
            g.addTask { try await self.receiveLoop(conn, deliveries) }
            g.addTask { try await self.eventLoop(conn, events) }
            g.addTask { try await self.sendLoop(conn) }
            g.addTask { try await self.transferLoop(conn) }
            try await g.next()
            g.cancelAll()
        }
    }
}
