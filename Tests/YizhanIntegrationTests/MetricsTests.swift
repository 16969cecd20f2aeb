import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import YizhanAMQP
import YizhanCore
import YizhanGateway
import YizhanMonitor
import YizhanStore

func httpGet(_ url: String) async throws -> String {
    let (data, _) = try await URLSession.shared.data(from: try #require(URL(string: url)))
    return String(decoding: data, as: UTF8.self)
}

extension BrokerTests {
    /// Gateways and the registry export Prometheus metrics: documents sent, received and rejected
    /// by reason, publish-confirm and end-to-end latency, outbox depth, retries; units by status.
    @Test func gatewaysAndRegistryExportMetrics() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "甲"), hb = try await net.enrol(b, name: "乙")
            let sa = try GatewayStore(path: ha.database)
            let ga = RunningGateway(try net.gateway(ha)), gb = RunningGateway(try net.gateway(hb))
            let pa = try freePort(), pb = try freePort(), pr = try freePort()
            let ma = BackgroundService(ga.gateway.metricsApplication(host: "127.0.0.1", port: pa))
            let mb = BackgroundService(gb.gateway.metricsApplication(host: "127.0.0.1", port: pb))
            let mr = BackgroundService(net.registry.metricsApplication(host: "127.0.0.1", port: pr))

            for i in 0..<3 {
                try sa.enqueue(.init(kind: .document, document: DocumentInfo(title: "计量 \(i)"), recipients: [.init(unit: b, role: .main)], parts: []))
            }
            try await eventually("three receipts back") { (try sa.deliveryCounts()["delivered"] ?? 0) == 3 }
            // Malformed JSON published as A straight to B's queue.
            let conn = try await AMQPConnection.connect(try net.brokerConfig(ha))
            _ = try await conn.publish(exchange: "yizhan.documents", routingKey: b.rawValue, message: AMQPMessage(
                body: Array("{oops".utf8), contentType: MessageFrame.envelopeContentType, messageID: "bad-1", userID: try ha.loadConfig().brokerUser))
            await conn.close()
            try await eventually("the bad message counted at B by its reason") {
                PrometheusText.values(try await httpGet("http://127.0.0.1:\(pb)/metrics"))["yizhan_documents_rejected_total{reason=\"malformed-json\"}"] == 1
            }
            let va = PrometheusText.values(try await httpGet("http://127.0.0.1:\(pa)/metrics"))
            let vb = PrometheusText.values(try await httpGet("http://127.0.0.1:\(pb)/metrics"))
            #expect(va["yizhan_documents_sent_total"] == 3)
            #expect(va["yizhan_publish_confirm_seconds_count"] == 3)
            #expect(va["yizhan_delivery_seconds_count"] == 3)
            #expect(va["yizhan_receipts_received_total"] == 3)
            #expect(va["yizhan_outbox_depth"] == 0)
            #expect(va["yizhan_publish_retries_total"] != nil)
            #expect((va["yizhan_certificate_expiry_seconds"] ?? 0) > 86400 * 300)
            #expect(vb["yizhan_documents_received_total"] == 3)
            #expect(vb["yizhan_quarantined_messages"] == 1)
            let vr = PrometheusText.values(try await httpGet("http://127.0.0.1:\(pr)/metrics"))
            #expect(vr["yizhan_registry_units{status=\"active\"}"] == 2)
            #expect((vr["yizhan_registry_directory_version"] ?? 0) >= 1)
            for s in [ma, mb, mr] { await s.stop() }
            await ga.stop(); await gb.stop()
        }
    }
}
