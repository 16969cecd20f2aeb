import Foundation
import Hummingbird
import YizhanCore
import YizhanStore

extension Gateway {
    /// Refreshes the gauges from the store every few seconds (counters move as things happen).
    func metricsLoop() async throws {
        while !Task.isCancelled {
            updateGauges()
            do { try await Task.sleep(for: .seconds(5)) } catch { return }
        }
    }

    func updateGauges(now: Date = Date()) {
        guard let f = try? store.figures(now: now) else { return }
        metrics.outboxDepth.record(f.outboxDepth)
        metrics.overdue.record(f.overdue)
        metrics.incoming.record(f.incomingTransfers)
        metrics.quarantined.record(f.quarantined)
        if let at = f.directoryFetchedAt { metrics.directoryAge.record(now.timeIntervalSince(at)) }
        if let until = identity.withLock({ $0.certificate.notAfter }) { metrics.certificateExpiry.record(until.timeIntervalSince(now)) }
    }

    /// `GET /metrics` (Prometheus text format) as a service for the gateway's `ServiceGroup`.
    public func metricsApplication(host: String, port: Int, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            self.updateGauges()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: self.metrics.exposition())))
        }
        var logger = self.logger
        logger.logLevel = .warning
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "yizhan-gateway"),
                           onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
