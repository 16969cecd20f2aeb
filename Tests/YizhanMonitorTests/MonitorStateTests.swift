import Foundation
import Testing
import YizhanCore
@testable import YizhanMonitor

/// The alert rules as a pure value: each kind raised by its cause and cleared when it goes.
@Suite struct MonitorStateTests {
    let a = "11420100MB12345671", b = "11420102MB7654321T"
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func thresholds() -> Thresholds {
        var t = Thresholds()
        t.noConsumerAfter = 60; t.backlog = 10; t.oldestAge = 300; t.directoryStaleAfter = 3600; t.certificateWarning = 30 * 86400
        return t
    }

    func queues(_ readyB: Int, consumersB: Int, dead: Int = 0) -> [String: QueueStats] {
        ["yizhan.unit.\(a)": QueueStats(name: "yizhan.unit.\(a)", ready: 0, unacked: 0, consumers: 1),
         "yizhan.unit.\(b)": QueueStats(name: "yizhan.unit.\(b)", ready: readyB, unacked: 0, consumers: consumersB),
         "yizhan.dead.\(b)": QueueStats(name: "yizhan.dead.\(b)", ready: dead, unacked: 0, consumers: 0)]
    }

    var units: [UnitInfo] { [UnitInfo(code: a, name: "甲", status: "active"), UnitInfo(code: b, name: "乙", status: "active")] }

    @Test func noConsumerNeedsItsDurationAndClears() {
        var s = MonitorState(thresholds: thresholds())
        #expect(s.apply(Observation(at: t0, queues: queues(0, consumersB: 0), units: units)).raised.isEmpty)
        #expect(s.apply(Observation(at: t0 + 59, queues: queues(0, consumersB: 0), units: units)).raised.isEmpty)
        let r = s.apply(Observation(at: t0 + 61, queues: queues(0, consumersB: 0), units: units))
        #expect(r.raised.map(\.key) == ["no-consumer/\(b)"])
        let c = s.apply(Observation(at: t0 + 62, queues: queues(0, consumersB: 1), units: units))
        #expect(c.cleared.map(\.key) == ["no-consumer/\(b)"])
        #expect(s.active.isEmpty)
    }

    @Test func backlogOldestAndDeadLetters() {
        var s = MonitorState(thresholds: thresholds())
        _ = s.apply(Observation(at: t0, queues: queues(0, consumersB: 1), units: units))
        let r = s.apply(Observation(at: t0 + 10, queues: queues(11, consumersB: 1, dead: 1), units: units))
        #expect(Set(r.raised.map(\.key)) == ["backlog/\(b)", "dead-letters/\(b)"])
        // Still not empty 301 s after it was last seen empty.
        let o = s.apply(Observation(at: t0 + 301, queues: queues(3, consumersB: 1, dead: 1), units: units))
        #expect(o.raised.map(\.key) == ["oldest-message/\(b)"])
        #expect(o.cleared.map(\.key) == ["backlog/\(b)"])
        #expect(s.status.units.first { $0.code == b }?.oldestWaitingSeconds == 301)
        let e = s.apply(Observation(at: t0 + 302, queues: queues(0, consumersB: 1), units: units))
        #expect(Set(e.cleared.map(\.key)) == ["oldest-message/\(b)", "dead-letters/\(b)"])
    }

    @Test func gatewayFiguresRaiseOverdueStaleDirectoryAndExpiringCertificates() {
        var s = MonitorState(thresholds: thresholds())
        let bad = GatewayFigures(overdue: 2, directoryAgeSeconds: 7200, certificateExpirySeconds: 5 * 86400)
        let r = s.apply(Observation(at: t0, queues: queues(0, consumersB: 1), units: units,
                                    gateways: [a: .success(bad), b: .failure(MonitorError("connection refused"))]))
        #expect(Set(r.raised.map(\.key)) == ["overdue/\(a)", "directory-stale/\(a)", "certificate-expiring/\(a)", "gateway-unreachable/\(b)"])
        let c = s.apply(Observation(at: t0 + 5, queues: queues(0, consumersB: 1), units: units,
                                    gateways: [a: .success(GatewayFigures(directoryAgeSeconds: 10, certificateExpirySeconds: 300 * 86400)), b: .success(GatewayFigures())]))
        #expect(c.cleared.count == 4)
        #expect(s.active.isEmpty)
    }

    @Test func unreachableSourcesKeepTheLastPictureMarkedStale() {
        var s = MonitorState(thresholds: thresholds())
        _ = s.apply(Observation(at: t0, queues: queues(4, consumersB: 1), units: units))
        let r = s.apply(Observation(at: t0 + 5, queues: nil, brokerError: "HTTP 503", units: nil, registryError: "connection refused"))
        #expect(Set(r.raised.map(\.key)) == ["broker-unreachable/broker", "registry-unreachable/registry"])
        let st = s.status
        #expect(st.brokerStale && st.registryStale)
        #expect(st.lastBrokerUpdate == t0)
        #expect(st.units.first { $0.code == b }?.queue?.ready == 4)
        #expect(st.units.first { $0.code == b }?.name == "乙")
        let back = s.apply(Observation(at: t0 + 10, queues: queues(0, consumersB: 1), units: units))
        #expect(back.cleared.count == 2)
        #expect(!s.status.brokerStale)
    }

    @Test func prometheusTextIsRead() {
        let text = """
        # TYPE yizhan_outbox_depth gauge
        yizhan_outbox_depth 3.0
        yizhan_overdue_documents 1
        yizhan_documents_rejected_total{reason="part-mismatch"} 2
        yizhan_documents_rejected_total{reason="wrong-user-id"} 1
        yizhan_directory_age_seconds 12.5
        """
        let v = PrometheusText.values(text)
        #expect(v["yizhan_documents_rejected_total"] == 3)
        let f = PrometheusText.figures(text)
        #expect(f.outboxDepth == 3 && f.overdue == 1 && f.directoryAgeSeconds == 12.5 && f.certificateExpirySeconds == nil)
    }
}

@Suite struct AssessmentTests {
    @Test func sharesScoresAndRankingByHand() throws {
        // A: exchange 8 electronic + 2 paper = 80%; reporting 5 + 0 = 100%; requests 3 + 1 = 75%.
        let a = UnitStatistics(unit: "11420100MB12345671", name: "甲", period: "2026-10", exchange: .init(electronic: 8, paper: 2),
                               reporting: .init(electronic: 5, paper: 0), requests: .init(electronic: 3, paper: 1),
                               received: 6, signedFor: 4, signForSeconds: [60, 120, 600, 30], withDeadline: 4, signedInTime: 3, returned: 1, overdue: 1)
        // B: exchange 9 + 1 = 90%; no reports; requests 4 + 0 = 100%.
        let b = UnitStatistics(unit: "11420102MB7654321T", name: "乙", period: "2026-10", exchange: .init(electronic: 9, paper: 1),
                               requests: .init(electronic: 4, paper: 0), received: 2, signedFor: 2, signForSeconds: [10, 20], withDeadline: 0)
        let r = try Assessment.compute(period: "2026-10", [a, b])
        #expect(r.rows.map(\.unit) == [b.unit, a.unit])
        let ra = try #require(r.rows.last), rb = try #require(r.rows.first)
        #expect(abs((ra.score ?? 0) - (0.8 + 1.0 + 0.75) / 3) < 1e-9)
        #expect(abs((rb.score ?? 0) - 0.95) < 1e-9)
        #expect(rb.reporting == nil)
        #expect(ra.meetsTargets == false && rb.meetsTargets == true)
        #expect(ra.medianSignForSeconds == 90)
        #expect(ra.withinDeadline == 0.75)
        #expect(r.csv().split(separator: "\n")[1].hasPrefix("1,11420102MB7654321T,乙,0.9000,,1.0000,0.9500,yes,2,2,15.0000,,0,0,0"))
        #expect(r.html().contains("<svg id=\"chart\""))
        #expect(throws: YizhanError.self) { try Assessment.compute(period: "2026-11", [a]) }
        #expect(throws: YizhanError.self) { try Assessment.compute(period: "2026-10", [a, a]) }
    }

    @Test func periodsAreMonths() throws {
        let now = Date(timeIntervalSince1970: 1_796_000_000) // 2026-11
        #expect(throws: Never.self) { _ = try UnitStatistics.period("2026-10", now: now) }
        for bad in ["2026-13", "2026-1", "26-10", "2026/10", "abcd-ef", "2027-01", "1900-01"] {
            #expect(throws: YizhanError.self, "\(bad)") { _ = try UnitStatistics.period(bad, now: now) }
        }
    }
}
