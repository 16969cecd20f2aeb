import CoreMetrics
import Foundation
import Metrics
import Prometheus
import Synchronization

/// What a gateway tells Prometheus and the monitor. Each gateway has its own collector registry
/// (not the process-wide metrics system), so gateways sharing a process keep their figures apart.
public final class GatewayMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    let sent: CoreMetrics.Counter
    let received: CoreMetrics.Counter
    let receipts: CoreMetrics.Counter
    let retries: CoreMetrics.Counter
    /// Writes to the store that failed for a while (disk full, I/O errors) and were retried.
    let storageFailures: CoreMetrics.Counter
    /// Times an idle gateway gave back its clean file pages and free heap (see `WorkingSet`).
    let memoryTrims: CoreMetrics.Counter
    let confirmLatency: CoreMetrics.Timer
    let deliveryLatency: CoreMetrics.Timer
    let outboxDepth: CoreMetrics.Gauge
    let overdue: CoreMetrics.Gauge
    let directoryAge: CoreMetrics.Gauge
    let certificateExpiry: CoreMetrics.Gauge
    let incoming: CoreMetrics.Gauge
    let quarantined: CoreMetrics.Gauge
    let rejectedByReason = Mutex<[String: CoreMetrics.Counter]>([:])

    public init() {
        var f = PrometheusMetricsFactory(registry: registry)
        f.defaultDurationHistogramBuckets = [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                             .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30), .seconds(300)]
        factory = f
        sent = CoreMetrics.Counter(label: "yizhan_documents_sent_total", factory: f)
        received = CoreMetrics.Counter(label: "yizhan_documents_received_total", factory: f)
        receipts = CoreMetrics.Counter(label: "yizhan_receipts_received_total", factory: f)
        retries = CoreMetrics.Counter(label: "yizhan_publish_retries_total", factory: f)
        storageFailures = CoreMetrics.Counter(label: "yizhan_storage_failures_total", factory: f)
        memoryTrims = CoreMetrics.Counter(label: "yizhan_idle_memory_trims_total", factory: f)
        confirmLatency = CoreMetrics.Timer(label: "yizhan_publish_confirm_seconds", factory: f)
        deliveryLatency = CoreMetrics.Timer(label: "yizhan_delivery_seconds", factory: f)
        outboxDepth = CoreMetrics.Gauge(label: "yizhan_outbox_depth", factory: f)
        overdue = CoreMetrics.Gauge(label: "yizhan_overdue_documents", factory: f)
        directoryAge = CoreMetrics.Gauge(label: "yizhan_directory_age_seconds", factory: f)
        certificateExpiry = CoreMetrics.Gauge(label: "yizhan_certificate_expiry_seconds", factory: f)
        incoming = CoreMetrics.Gauge(label: "yizhan_incoming_transfers", factory: f)
        quarantined = CoreMetrics.Gauge(label: "yizhan_quarantined_messages", factory: f)
    }

    /// A refusal at this gateway (quarantine), counted by reason code.
    func rejected(_ reason: String) {
        let c = rejectedByReason.withLock { m -> CoreMetrics.Counter in
            if let c = m[reason] { return c }
            let c = CoreMetrics.Counter(label: "yizhan_documents_rejected_total", dimensions: [("reason", reason)], factory: factory)
            m[reason] = c
            return c
        }
        c.increment()
    }

    /// The Prometheus text exposition.
    public func exposition() -> String { registry.emitToString() }
}
