import Foundation
import YizhanCore

/// 考核评比: per unit, the share handled electronically in each of the three kinds of business
/// against the policy's targets, sign-for timeliness, returns and overdue documents; ranked.
///
/// Score: the mean of the unit's three electronic shares, counting only kinds it handled at all
/// (a unit with no requests in the month is not marked down for them). Ties go to the better
/// share signed for within deadline, then to the unit code.
public struct Assessment: Codable, Sendable, Equatable {
    public static let targets = (exchange: 0.8, reporting: 1.0, requests: 0.8)

    public struct Row: Codable, Sendable, Equatable {
        public var rank: Int
        public var unit: String
        public var name: String
        public var exchange: Double?
        public var reporting: Double?
        public var requests: Double?
        public var score: Double?
        public var meetsTargets: Bool
        public var received: Int
        public var signedFor: Int
        public var medianSignForSeconds: Double?
        public var withinDeadline: Double?
        public var returned: Int
        public var returnedByOthers: Int
        public var overdue: Int
        public var counts: String
    }

    public var period: String
    public var rows: [Row]

    public static func median(_ xs: [Double]) -> Double? {
        guard !xs.isEmpty else { return nil }
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    public static func compute(period: String, _ units: [UnitStatistics]) throws -> Assessment {
        for u in units where u.period != period {
            throw YizhanError(.invalidArgument, "figures of \(u.unit) are for \(u.period), not \(period)")
        }
        var seen = Set<String>()
        for u in units where !seen.insert(u.unit).inserted { throw YizhanError(.invalidArgument, "unit \(u.unit) appears twice") }
        var rows = units.map { u -> Row in
            let shares = [u.exchange.rate, u.reporting.rate, u.requests.rate].compactMap { $0 }
            let meets = [(u.exchange.rate, targets.exchange), (u.reporting.rate, targets.reporting), (u.requests.rate, targets.requests)]
                .allSatisfy { r, t in r.map { $0 >= t - 1e-9 } ?? true }
            return Row(rank: 0, unit: u.unit, name: u.name, exchange: u.exchange.rate, reporting: u.reporting.rate, requests: u.requests.rate,
                       score: shares.isEmpty ? nil : shares.reduce(0, +) / Double(shares.count), meetsTargets: meets,
                       received: u.received, signedFor: u.signedFor, medianSignForSeconds: median(u.signForSeconds),
                       withinDeadline: u.withDeadline == 0 ? nil : Double(u.signedInTime) / Double(u.withDeadline),
                       returned: u.returned, returnedByOthers: u.returnedByOthers, overdue: u.overdue,
                       counts: "exchange \(u.exchange.electronic)+\(u.exchange.paper) paper; reporting \(u.reporting.electronic)+\(u.reporting.paper); requests \(u.requests.electronic)+\(u.requests.paper)")
        }
        rows.sort { a, b in
            if (a.score ?? -1) != (b.score ?? -1) { return (a.score ?? -1) > (b.score ?? -1) }
            if (a.withinDeadline ?? -1) != (b.withinDeadline ?? -1) { return (a.withinDeadline ?? -1) > (b.withinDeadline ?? -1) }
            return a.unit < b.unit
        }
        for i in rows.indices { rows[i].rank = i + 1 }
        return Assessment(period: period, rows: rows)
    }

    static func pct(_ v: Double?) -> String { v.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a" }

    public func csv() -> String {
        func q(_ s: String) -> String { s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"\(s.replacingOccurrences(of: "\"", with: "\"\""))\"" : s }
        var out = "rank,unit,name,exchange_share,reporting_share,requests_share,score,meets_targets,received,signed_for,median_sign_for_seconds,within_deadline,returned,returned_by_others,overdue\n"
        func num(_ v: Double?) -> String { v.map { String(format: "%.4f", $0) } ?? "" }
        for r in rows {
            out += [String(r.rank), r.unit, q(r.name), num(r.exchange), num(r.reporting), num(r.requests), num(r.score), r.meetsTargets ? "yes" : "no",
                    String(r.received), String(r.signedFor), num(r.medianSignForSeconds), num(r.withinDeadline), String(r.returned),
                    String(r.returnedByOthers), String(r.overdue)].joined(separator: ",") + "\n"
        }
        return out
    }

    /// A printable page: the ranking table and a bar chart of each unit's three shares against the targets.
    public func html() -> String {
        let esc = Dashboard.esc
        var h = """
        <!doctype html>
        <html lang="zh-CN"><head><meta charset="utf-8"><title>电子政务考核评比 \(esc(period))</title>
        <style>
        body{font-family:"Noto Sans CJK SC",system-ui,sans-serif;margin:2rem;color:#111} h1{font-size:1.5rem}
        table{border-collapse:collapse;width:100%;font-size:.9rem} th,td{border:1px solid #999;padding:.3rem .4rem} td.n{text-align:right}
        .no{color:#b42318} @media print{body{margin:1cm}}
        </style></head><body>
        <h1>电子政务考核评比 — \(esc(period))</h1>
        <p>Targets (first year): 公文交换 \(Self.pct(Self.targets.exchange)), 信息报送 \(Self.pct(Self.targets.reporting)), 请示办理 \(Self.pct(Self.targets.requests)) handled electronically.</p>
        <table id="ranking"><thead><tr><th>名次</th><th>单位</th><th>代码</th><th>公文交换</th><th>信息报送</th><th>请示办理</th><th>综合</th><th>达标</th>
        <th>签收中位时间</th><th>按时签收</th><th>退回</th><th>被退回</th><th>逾期</th></tr></thead><tbody>

        """
        for r in rows {
            h += "<tr><td class=\"n\">\(r.rank)</td><td>\(esc(r.name))</td><td>\(esc(r.unit))</td><td class=\"n\">\(Self.pct(r.exchange))</td>"
            h += "<td class=\"n\">\(Self.pct(r.reporting))</td><td class=\"n\">\(Self.pct(r.requests))</td><td class=\"n\">\(Self.pct(r.score))</td>"
            h += "<td\(r.meetsTargets ? "" : " class=\"no\"")>\(r.meetsTargets ? "是" : "否")</td>"
            h += "<td class=\"n\">\(r.medianSignForSeconds.map { String(format: "%.0f s", $0) } ?? "-")</td><td class=\"n\">\(Self.pct(r.withinDeadline))</td>"
            h += "<td class=\"n\">\(r.returned)</td><td class=\"n\">\(r.returnedByOthers)</td><td class=\"n\">\(r.overdue)</td></tr>\n"
        }
        h += "</tbody></table>\n"
        // Bar chart: three bars per unit, a dashed line at each target.
        let barH = 12, gap = 6, group = 3 * barH + 2 * gap + 18, left = 220, width = 420
        let height = max(1, rows.count) * group + 30
        h += "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(left + width + 80)\" height=\(height) role=\"img\" aria-label=\"electronic shares per unit\">\n"
        let colours = ["#2e6fd8", "#18794e", "#c4651a"]
        let labels = ["公文交换", "信息报送", "请示办理"]
        let targets = [Self.targets.exchange, Self.targets.reporting, Self.targets.requests]
        for (i, r) in rows.enumerated() {
            let y0 = 20 + i * group
            h += "<text x=\"0\" y=\"\(y0 + barH)\" font-size=\"12\">\(r.rank). \(esc(r.name))</text>\n"
            for (k, v) in [r.exchange, r.reporting, r.requests].enumerated() {
                let y = y0 + k * (barH + gap)
                let w = Int((v ?? 0) * Double(width))
                h += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(w)\" height=\"\(barH)\" fill=\"\(colours[k])\"><title>\(labels[k]) \(Self.pct(v))</title></rect>\n"
                h += "<text x=\"\(left + w + 4)\" y=\"\(y + barH - 2)\" font-size=\"10\">\(labels[k]) \(Self.pct(v))</text>\n"
                let tx = left + Int(targets[k] * Double(width))
                h += "<line x1=\"\(tx)\" y1=\"\(y - 1)\" x2=\"\(tx)\" y2=\"\(y + barH + 1)\" stroke=\"#111\" stroke-dasharray=\"2,2\"/>\n"
            }
        }
        h += "</svg>\n<p>Each unit's figures are counted by its own gateway: electronic items once per document, paper items from its paper registrations.</p>\n</body></html>\n"
        return h
    }
}
