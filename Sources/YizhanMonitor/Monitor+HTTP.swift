import Foundation
import Hummingbird
import YizhanCore

extension Monitor {
    /// The dashboard (`GET /`), the picture as JSON (`GET /v1/status`), the alerts (`GET /v1/alerts`).
    public func application(host: String, port: Int, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        var logger = self.logger
        logger.logLevel = .warning
        return Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "yizhan-monitor"),
                           onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    /// The routes (Schemas/monitor.openapi.yaml describes them; a test keeps the two in step).
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: .init(byteBuffer: ByteBuffer(string: Dashboard.html(self.status))))
        }
        router.get("/v1/status") { _, _ -> Response in try Self.json(self.status) }
        router.get("/v1/alerts") { _, _ -> Response in try Self.json(self.status.alerts) }
        router.get("/healthz") { _, _ -> Response in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "ok\n"))) }
        return router
    }

    static func json<T: Encodable>(_ value: T) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try StatusCoding.encoder.encode(value))))
    }
}

/// JSON with RFC 3339 times, as the rest of Yizhan writes them.
public enum StatusCoding {
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { d, enc in var c = enc.singleValueContainer(); try c.encode(Timestamp.format(d)) }
        return e
    }
    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { dec in
            let s = try dec.singleValueContainer().decode(String.self)
            guard let t = Timestamp.parse(s) else { throw DecodingError.dataCorrupted(.init(codingPath: dec.codingPath, debugDescription: "not a time: \(s)")) }
            return t
        }
        return d
    }
}

/// Server-rendered HTML, refreshed by the browser every 5 seconds; no JavaScript.
enum Dashboard {
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func html(_ s: Status) -> String {
        var h = """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
        <title>驿站 monitor</title>
        <style>
        body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;margin:1.5rem;color:#1d2733}
        h1{font-size:1.4rem;margin:0 0 .3rem} .muted{color:#667}
        table{border-collapse:collapse;width:100%;margin-top:1rem} th,td{border-bottom:1px solid #dde;padding:.35rem .5rem;text-align:left}
        th{background:#f3f5f8} td{white-space:nowrap} td.n{text-align:right;font-variant-numeric:tabular-nums}
        .ok{color:#18794e} .bad{color:#b42318;font-weight:600} .stale{background:#fff4e5;padding:.4rem .6rem;border-left:4px solid #f79009}
        ul.alerts li{margin:.2rem 0} .alert{color:#b42318}
        </style></head><body>
        <h1>驿站 Yizhan — delivery queues</h1>
        <p class="muted">as of \(Timestamp.format(s.at))</p>

        """
        if s.brokerStale {
            h += "<p class=\"stale\" id=\"broker-stale\">Broker management API unreachable (\(esc(s.brokerError ?? ""))): figures are stale, last updated \(s.lastBrokerUpdate.map(Timestamp.format) ?? "never").</p>\n"
        }
        if s.registryStale {
            h += "<p class=\"stale\" id=\"registry-stale\">Registry unreachable (\(esc(s.registryError ?? ""))): units as of \(s.lastRegistryUpdate.map(Timestamp.format) ?? "never").</p>\n"
        }
        h += "<h2 id=\"alerts-heading\">Alerts (\(s.alerts.count))</h2>\n"
        if s.alerts.isEmpty {
            h += "<p class=\"ok\" id=\"no-alerts\">No alerts: nothing is stuck.</p>\n"
        } else {
            h += "<ul class=\"alerts\">\n"
            for a in s.alerts {
                h += "<li class=\"alert\" data-kind=\"\(a.kind.rawValue)\" data-subject=\"\(esc(a.subject))\"><strong>\(a.kind.rawValue)</strong> \(esc(a.subject)): \(esc(a.message)) <span class=\"muted\">since \(Timestamp.format(a.since))</span></li>\n"
            }
            h += "</ul>\n"
        }
        h += """
        <table id="units"><thead><tr><th>Unit</th><th>Name</th><th>Status</th><th>Ready</th><th>Unacked</th><th>Consumers</th>
        <th>Oldest waiting</th><th>In/s</th><th>Out/s</th><th>Dead letters</th><th>Outbox</th><th>Overdue</th><th>State</th></tr></thead><tbody>

        """
        for u in s.units {
            let q = u.queue
            let state = u.alerts.isEmpty ? "<span class=\"ok\">OK</span>" : "<span class=\"bad\">\(u.alerts.map(esc).joined(separator: ", "))</span>"
            h += "<tr data-unit=\"\(esc(u.code))\"><td>\(esc(u.code))</td><td>\(esc(u.name))</td><td>\(esc(u.status))</td>"
            h += "<td class=\"n\">\(q.map { "\($0.ready)" } ?? "-")</td><td class=\"n\">\(q.map { "\($0.unacked)" } ?? "-")</td><td class=\"n\">\(q.map { "\($0.consumers)" } ?? "-")</td>"
            h += "<td class=\"n\">\(u.oldestWaitingSeconds.map { "\(Int($0)) s" } ?? "-")</td>"
            h += "<td class=\"n\">\(q.map { String(format: "%.1f", $0.publishRate) } ?? "-")</td><td class=\"n\">\(q.map { String(format: "%.1f", $0.deliverRate) } ?? "-")</td>"
            h += "<td class=\"n\">\(u.deadLetters)</td><td class=\"n\">\(u.gateway.map { "\(Int($0.outboxDepth))" } ?? "-")</td>"
            h += "<td class=\"n\">\(u.gateway.map { "\(Int($0.overdue))" } ?? "-")</td><td>\(state)</td></tr>\n"
        }
        h += "</tbody></table>\n</body></html>\n"
        return h
    }
}
