import CoreMetrics
import Foundation
import Hummingbird
import Prometheus
import Synchronization

/// The registry's figures for Prometheus: units by status, pending requests, the directory version,
/// and live certificates close to expiry. Read from the store at each scrape, on its own port.
public final class RegistryMetrics: Sendable {
    public let collectors = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    let units = Mutex<[String: CoreMetrics.Gauge]>([:])
    let pending: CoreMetrics.Gauge
    let directoryVersion: CoreMetrics.Gauge
    let expiring: CoreMetrics.Gauge

    public init() {
        factory = PrometheusMetricsFactory(registry: collectors)
        pending = CoreMetrics.Gauge(label: "yizhan_registry_pending_requests", factory: factory)
        directoryVersion = CoreMetrics.Gauge(label: "yizhan_registry_directory_version", factory: factory)
        expiring = CoreMetrics.Gauge(label: "yizhan_registry_certificates_expiring_30d", factory: factory)
    }

    func refresh(_ registry: Registry, now: Date = Date()) throws {
        var byStatus: [String: Int] = ["active": 0, "merged": 0, "deregistered": 0, "pending": 0]
        for u in try registry.store.units() { byStatus[u.status, default: 0] += 1 }
        for (status, n) in byStatus {
            let g = units.withLock { m -> CoreMetrics.Gauge in
                if let g = m[status] { return g }
                let g = CoreMetrics.Gauge(label: "yizhan_registry_units", dimensions: [("status", status)], factory: factory)
                m[status] = g
                return g
            }
            g.record(n)
        }
        pending.record(try registry.store.requests(state: "pending").count)
        directoryVersion.record(try registry.store.latestDirectory()?.version ?? 0)
        let soon = now.addingTimeInterval(30 * 86400)
        expiring.record(try registry.store.certificates().filter { $0.revokedAt == nil && $0.notAfter < soon }.count)
    }
}

extension Registry {
    /// `GET /metrics` for Prometheus, as its own service (the API port stays the API's).
    public func metricsApplication(host: String, port: Int, metrics: RegistryMetrics = RegistryMetrics(),
                                   onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            try metrics.refresh(self)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.collectors.emitToString())))
        }
        var quiet = logger
        quiet.logLevel = .warning
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "yizhan-registry-metrics"),
                           onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: quiet)
    }
}
