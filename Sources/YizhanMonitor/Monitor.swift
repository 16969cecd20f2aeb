import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import YizhanCore
import YizhanHTTP

/// `yizhan monitor serve`: looks at the broker's management API, the registry's directory and the
/// gateways' metrics every `interval`, keeps the picture and the alerts, logs each alert raised or
/// cleared, and posts it to a webhook when one is configured. Sources that fail are reported, not fatal.
public final class Monitor: Service, Sendable {
    public struct Config: Sendable {
        public var brokerAdmin: String
        public var vhost: String
        public var registry: String?
        /// Unit code → its gateway's metrics URL (http://host:port/metrics).
        public var gateways: [String: String]
        public var webhook: String?
        public var interval: Duration
        public var thresholds: Thresholds
        public init(brokerAdmin: String, vhost: String, registry: String?, gateways: [String: String] = [:], webhook: String? = nil,
                    interval: Duration = .seconds(5), thresholds: Thresholds = Thresholds()) {
            self.brokerAdmin = brokerAdmin; self.vhost = vhost; self.registry = registry; self.gateways = gateways
            self.webhook = webhook; self.interval = interval; self.thresholds = thresholds
        }
    }

    public let config: Config
    let logger: Logger
    let state: Mutex<MonitorState>
    let broker: HTTPClient

    public init(config: Config, logger: Logger = Logger(label: "yizhan.monitor")) throws {
        self.config = config
        self.logger = logger
        state = Mutex(MonitorState(thresholds: config.thresholds))
        broker = try HTTPClient(base: config.brokerAdmin)
        for (code, url) in config.gateways {
            _ = try UnitCode(code)
            guard URL(string: url)?.host != nil else { throw YizhanError(.invalidArgument, "gateway metrics URL for \(code) is not a URL: \(url)") }
        }
    }

    public var status: Status { state.withLock { $0.status } }

    public func run() async throws {
        logger.info("monitor watching", metadata: ["vhost": "\(config.vhost)", "gateways": "\(config.gateways.count)"])
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.poll()
                do { try await Task.sleep(for: self.config.interval) } catch { return }
            }
        }
    }

    /// One look, applied to the state; alerts logged and posted.
    @discardableResult
    public func poll() async -> (raised: [Alert], cleared: [Alert]) {
        let o = await observe()
        let (raised, cleared) = state.withLock { $0.apply(o) }
        for a in raised { logger.warning("ALERT \(a.kind.rawValue) \(a.subject): \(a.message)") }
        for a in cleared { logger.notice("CLEARED \(a.kind.rawValue) \(a.subject)") }
        if let hook = config.webhook, !(raised.isEmpty && cleared.isEmpty) {
            await post(hook, raised: raised, cleared: cleared)
        }
        return (raised, cleared)
    }

    public func observe() async -> Observation {
        let at = Date()
        async let queues = readQueues()
        async let units = readUnits()
        var gateways: [String: Result<GatewayFigures, MonitorError>] = [:]
        await withTaskGroup(of: (String, Result<GatewayFigures, MonitorError>).self) { g in
            for (code, url) in config.gateways {
                g.addTask { (code, await Self.readGateway(url)) }
            }
            for await (code, r) in g { gateways[code] = r }
        }
        let (q, u) = await (queues, units)
        var o = Observation(at: at, queues: nil, units: nil, gateways: gateways)
        switch q { case .success(let v): o.queues = v; case .failure(let e): o.brokerError = e.message }
        switch u { case .success(let v): o.units = v; case .failure(let e): o.registryError = e.message }
        return o
    }

    func readQueues() async -> Result<[String: QueueStats], MonitorError> {
        do {
            let r = try await broker.request("GET", "/api/queues/\(config.vhost.pathSegment)?columns=name,messages_ready,messages_unacknowledged,consumers,message_stats")
            guard r.status == 200 else { return .failure(MonitorError("HTTP \(r.status)")) }
            guard let list = try JSONValue.parseLenient(r.body).arrayValue else { return .failure(MonitorError("unexpected answer")) }
            var out: [String: QueueStats] = [:]
            for q in list {
                guard let name = q["name"]?.stringValue else { continue }
                let stats = q["message_stats"]
                out[name] = QueueStats(name: name, ready: Int(q["messages_ready"]?.numberValue ?? 0), unacked: Int(q["messages_unacknowledged"]?.numberValue ?? 0),
                                       consumers: Int(q["consumers"]?.numberValue ?? 0),
                                       publishRate: stats?["publish_details"]?["rate"]?.numberValue ?? 0,
                                       deliverRate: stats?["deliver_get_details"]?["rate"]?.numberValue ?? 0)
            }
            return .success(out)
        } catch {
            return .failure(MonitorError((error as? YizhanError)?.message ?? "\(error)"))
        }
    }

    /// Names and states from the registry's directory (public; the monitor only displays them).
    func readUnits() async -> Result<[UnitInfo], MonitorError> {
        guard let base = config.registry else { return .success([]) }
        do {
            let r = try await HTTPClient(base: base).request("GET", "/v1/directory")
            guard r.status == 200 else { return .failure(MonitorError("HTTP \(r.status)")) }
            let d = try JSONValue.parse(r.body).decode(Directory.self)
            return .success(d.units.map { UnitInfo(code: $0.code.rawValue, name: $0.name, status: $0.status.rawValue) })
        } catch {
            return .failure(MonitorError((error as? YizhanError)?.message ?? "\(error)"))
        }
    }

    static func readGateway(_ url: String) async -> Result<GatewayFigures, MonitorError> {
        do {
            guard let u = URL(string: url), let scheme = u.scheme, let host = u.host else { return .failure(MonitorError("bad URL \(url)")) }
            let r = try await HTTPClient(base: "\(scheme)://\(host)\(u.port.map { ":\($0)" } ?? "")").request("GET", u.path.isEmpty ? "/metrics" : u.path)
            guard r.status == 200 else { return .failure(MonitorError("HTTP \(r.status)")) }
            return .success(PrometheusText.figures(String(decoding: r.body, as: UTF8.self)))
        } catch {
            return .failure(MonitorError((error as? YizhanError)?.message ?? "\(error)"))
        }
    }

    func post(_ hook: String, raised: [Alert], cleared: [Alert]) async {
        do {
            let body = try JSONValue.from(["raised": raised, "cleared": cleared])
            let r = try await HTTPClient(base: hook).request("POST", "", body: body.canonicalBytes())
            if !(200..<300).contains(r.status) { logger.warning("webhook answered HTTP \(r.status)") }
        } catch {
            logger.warning("webhook failed: \((error as? YizhanError)?.message ?? "\(error)")")
        }
    }
}

/// Reads the few series the monitor needs from Prometheus text exposition.
public enum PrometheusText {
    public static func values(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let v = Double(parts[parts.count - 1]) ?? Double(parts[1]) else { continue }
            let name = String(parts[0])
            // Sum labelled series under their bare name (e.g. rejected by reason).
            let bare = name.split(separator: "{").first.map(String.init) ?? name
            out[bare, default: 0] += v
            if bare != name { out[name] = v }
        }
        return out
    }

    public static func figures(_ text: String) -> GatewayFigures {
        let v = values(text)
        return GatewayFigures(sent: v["yizhan_documents_sent_total"] ?? 0, received: v["yizhan_documents_received_total"] ?? 0,
                              outboxDepth: v["yizhan_outbox_depth"] ?? 0, overdue: v["yizhan_overdue_documents"] ?? 0,
                              directoryAgeSeconds: v["yizhan_directory_age_seconds"], certificateExpirySeconds: v["yizhan_certificate_expiry_seconds"],
                              quarantined: v["yizhan_quarantined_messages"] ?? 0)
    }
}
