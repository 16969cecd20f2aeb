import Foundation
import Hummingbird
import Logging
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanMonitor
import YizhanStore

/// Runs an HTTP service in the background until `stop`.
final class BackgroundService: @unchecked Sendable {
    // @unchecked: `task` is set once in init and only read afterwards.
    let task: Task<Void, any Error>
    init(_ app: some ApplicationProtocol) { task = Task { try await app.runService() } }
    func stop() async { task.cancel(); _ = await task.result }
}

/// Where tests keep what a person may want to look at afterwards (screenshots).
func artifactsFolder() throws -> String {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dir = repo.appendingPathComponent(".build/test-artifacts").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

func chromium() throws -> String {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] where FileManager.default.isExecutableFile(atPath: p) { return p }
    throw TestFailure("headless Chromium is not installed; run the tests with Deploy/test.sh (it installs chromium)")
}

/// Runs headless Chromium on `url`: the rendered DOM, and a screenshot at `screenshot`.
func renderInChromium(_ url: String, screenshot: String) throws -> String {
    func run(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try chromium())
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=\(NSTemporaryDirectory())yizhan-chromium-\(UUIDv7.make())"] + args + [url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestFailure("chromium exited \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }
    let dom = try run(["--dump-dom"])
    _ = try run(["--screenshot=\(screenshot)", "--window-size=1400,900"])
    return dom
}

extension BrokerTests {
    /// The monitor against the real broker, registry and gateway processes: a stopped gateway is
    /// seen as a queue without consumer (and unreachable metrics), documents pile up into a backlog,
    /// a poisoned message is dead-lettered, an overdue document shows; restarting the gateway clears
    /// what it caused. The dashboard is checked in headless Chromium and its screenshot kept.
    @Test func monitorRaisesAndClearsAlerts() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "市城建委"), hb = try await net.enrol(b, name: "江岸区建设局")
            let sa = try GatewayStore(path: ha.database)
            let portA = try freePort(), portB = try freePort()
            let pa = try startGatewayProcess(home: ha.path, metricsPort: portA)
            var pb = try startGatewayProcess(home: hb.path, metricsPort: portB)
            defer { pa.terminate(); pb.terminate() }

            // A webhook receiver, to see that alerts are posted.
            let posted = Box<[String]>([])
            let hookRouter = Router()
            hookRouter.post("/hook") { req, _ -> Response in
                let body = try await req.body.collect(upTo: 1 << 20)
                posted.mutate { $0.append(String(buffer: body)) }
                return Response(status: .noContent)
            }
            let hookPort = try freePort()
            let hook = BackgroundService(Application(router: hookRouter, configuration: .init(address: .hostname("127.0.0.1", port: hookPort))))
            defer { Task { await hook.stop() } }

            var t = Thresholds()
            t.noConsumerAfter = 1; t.backlog = 5; t.oldestAge = 3600
            var logger = Logger(label: "test.monitor")
            logger.logLevel = .error
            let monitor = try Monitor(config: .init(brokerAdmin: TestBroker.adminURL, vhost: net.vhost, registry: net.url,
                                                    gateways: [a.rawValue: "http://127.0.0.1:\(portA)/metrics", b.rawValue: "http://127.0.0.1:\(portB)/metrics"],
                                                    webhook: "http://127.0.0.1:\(hookPort)/hook", interval: .milliseconds(200), thresholds: t), logger: logger)
            let running = Task { try await monitor.run() }
            defer { running.cancel() }
            let uiPort = try freePort()
            let ui = BackgroundService(monitor.application(host: "127.0.0.1", port: uiPort))
            defer { Task { await ui.stop() } }
            func active() -> Set<String> { Set(monitor.status.alerts.map { "\($0.kind.rawValue)/\($0.subject)" }) }

            try await eventually("both gateways consuming and exporting, nothing alerting", timeout: .seconds(60)) {
                let s = monitor.status
                return s.units.filter { [a.rawValue, b.rawValue].contains($0.code) && ($0.queue?.consumers ?? 0) >= 1 && $0.gateway != nil }.count == 2
                    && s.alerts.isEmpty
            }
            #expect(monitor.status.units.first { $0.code == b.rawValue }?.name == "江岸区建设局")

            // B's gateway stops: no consumer, metrics unreachable; documents to B pile up.
            pb.terminate()
            pb.waitUntilExit()
            try await eventually("no-consumer and unreachable alerts for B") {
                active().isSuperset(of: ["no-consumer/\(b)", "gateway-unreachable/\(b)"])
            }
            for i in 0..<8 {
                try sa.enqueue(.init(kind: .document, document: DocumentInfo(title: "积压 \(i)"), recipients: [.init(unit: b, role: .main)], parts: []))
            }
            try await eventually("backlog alert for B") { active().contains("backlog/\(b)") }

            // A message redelivered past the delivery limit is dead-lettered by the broker.
            let probe = try await AMQPConnection.connect(try TestBroker.guestConfig(vhost: net.vhost))
            let stream = try await probe.consume(queue: "yizhan.unit.\(b)", prefetch: 1)
            var rejections = 0
            for try await d in stream {
                try probe.reject(d, requeue: true)
                rejections += 1
                if try await probe.declareQueue("yizhan.dead.\(b)", passive: true).messages > 0 || rejections > 200 { break }
            }
            await probe.close()
            try await eventually("dead-letter alert for B") { active().contains("dead-letters/\(b)") }
            // The probe was a consumer for a moment; the queue is consumer-less again once it left.
            try await eventually("no-consumer again after the probe left") { active().contains("no-consumer/\(b)") }

            // The dashboard, as a person sees it.
            let dom = try renderInChromium("http://127.0.0.1:\(uiPort)/", screenshot: try artifactsFolder() + "/monitor-dashboard.png")
            #expect(dom.contains("江岸区建设局") && dom.contains("市城建委"))
            #expect(dom.contains("data-kind=\"no-consumer\" data-subject=\"\(b)\""))
            #expect(dom.contains("data-kind=\"dead-letters\" data-subject=\"\(b)\""))
            let png = try Data(contentsOf: URL(fileURLWithPath: try artifactsFolder() + "/monitor-dashboard.png"))
            #expect(png.count > 2000 && Array(png.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])

            // The terminal picture from the running monitor.
            let table = try runCLI(["monitor", "status", "--monitor", "http://127.0.0.1:\(uiPort)"])
            #expect(table.status == 0, "\(table.err)")
            #expect(table.out.contains("no-consumer") && table.out.contains(b.rawValue))
            let json = try runCLI(["monitor", "status", "--monitor", "http://127.0.0.1:\(uiPort)", "--json"])
            let decoded = try StatusCoding.decoder.decode(Status.self, from: Data(json.out.utf8))
            #expect(decoded.alerts.contains { $0.kind == .noConsumer && $0.subject == b.rawValue })

            // B comes back: its queue drains; what the outage caused clears; the dead letter stays for an operator.
            pb = try startGatewayProcess(home: hb.path, metricsPort: portB)
            try await eventually("no-consumer, unreachable and backlog cleared", timeout: .seconds(60)) {
                active().isDisjoint(with: ["no-consumer/\(b)", "gateway-unreachable/\(b)", "backlog/\(b)"])
            }
            #expect(active().contains("dead-letters/\(b)"))

            // A document past its sign-for deadline shows at both ends.
            try sa.enqueue(.init(kind: .document, document: DocumentInfo(title: "限时签收"), recipients: [.init(unit: b, role: .main)], parts: [],
                                 extras: .init(signForBy: Timestamp.format(Date().addingTimeInterval(2)))))
            try await eventually("overdue alerts for A and B", timeout: .seconds(30)) { active().isSuperset(of: ["overdue/\(a)", "overdue/\(b)"]) }

            #expect(posted.value.contains { $0.contains("\"no-consumer\"") && $0.contains("\"raised\"") })
            #expect(posted.value.contains { $0.contains("\"cleared\"") && $0.contains("no-consumer") })
            running.cancel()
            pa.terminate(); pb.terminate()
            pa.waitUntilExit(); pb.waitUntilExit()
        }
    }

    /// Sources that fail: the monitor says so, marks the picture stale and keeps running.
    @Test func monitorSurvivesUnreachableSources() async throws {
        let dead = try freePort()
        var logger = Logger(label: "test.monitor")
        logger.logLevel = .error
        let monitor = try Monitor(config: .init(brokerAdmin: "http://guest:guest@127.0.0.1:\(dead)", vhost: "yizhan", registry: "http://127.0.0.1:\(dead)",
                                                gateways: ["11420100MB12345671": "http://127.0.0.1:\(dead)/metrics"], interval: .milliseconds(100)), logger: logger)
        let r = await monitor.poll()
        #expect(Set(r.raised.map(\.kind)) == [.brokerUnreachable, .registryUnreachable, .gatewayUnreachable])
        let again = await monitor.poll()
        #expect(again.raised.isEmpty && again.cleared.isEmpty)
        #expect(monitor.status.brokerStale && monitor.status.registryStale)
        // The command line says the same in one look, and exits 0 (the picture is the answer).
        let out = try runCLI(["monitor", "status", "--broker-admin", "http://guest:guest@127.0.0.1:\(dead)", "--registry", "http://127.0.0.1:\(dead)"])
        #expect(out.status == 0)
        #expect(out.out.contains("broker management API unreachable") && out.out.contains("registry unreachable"))
        let bad = try runCLI(["monitor", "status", "--gateway", "nonsense"])
        #expect(bad.status != 0 && bad.err.contains("CODE=URL"))
    }
}

/// A value shared with an HTTP handler.
final class Box<T: Sendable>: @unchecked Sendable {
    // @unchecked: every access holds the lock.
    private let lock = NSLock()
    private var v: T
    init(_ v: T) { self.v = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return v }
    func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&v); lock.unlock() }
}
