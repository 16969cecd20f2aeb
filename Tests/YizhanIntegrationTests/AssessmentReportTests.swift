import Foundation
import Testing
import YizhanCore
import YizhanGateway
import YizhanMonitor
import YizhanStore

extension BrokerTests {
    /// 考核评比 over a seeded October: two units' gateway stores filled through the store's own
    /// calls (backdated), the report computed by the command line, every figure checked by hand.
    @Test func assessmentOfASeededMonth() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "甲区建设局"), hb = try await net.enrol(b, name: "乙区建设局")
            let sa = try GatewayStore(path: ha.database), sb = try GatewayStore(path: hb.database)
            func at(_ s: String) throws -> Date { try #require(Timestamp.parse(s)) }
            func send(_ s: GatewayStore, _ kind: Envelope.Kind, to: UnitCode, _ when: String, inReplyTo: String? = nil) throws -> String {
                let doc = DocumentInfo(title: "\(kind.rawValue) \(when)", type: kind == .request ? "请示" : nil, signer: kind == .request ? "局长" : nil)
                let d = GatewayStore.Draft(kind: kind, document: doc, inReplyTo: inReplyTo, recipients: [.init(unit: to, role: .main)], parts: [])
                try s.enqueue(d, now: try at(when))
                return d.id
            }
            func receive(_ s: GatewayStore, _ kind: Envelope.Kind, from: UnitCode, to: UnitCode, _ when: String, deadline: String? = nil) throws -> String {
                let e = Envelope(kind: kind, sender: from, recipients: [.init(unit: to, role: .main)], created: when,
                                 document: DocumentInfo(title: "\(kind.rawValue) \(when)"), signForBy: deadline)
                let r = GatewayStore.SignedReceipt(id: UUIDv7.make(), to: from.rawValue, receipt: ReceiptInfo(status: .delivered, document: e.id, payloadSha256: ""),
                                                   envelope: [0x7B, 0x7D], payloadSha256: String(repeating: "0", count: 64))
                _ = try s.receive(.init(envelope: e, bytes: Array("{}".utf8), payloadSha256: String(repeating: "0", count: 64), onBehalfOf: nil, parts: []),
                                  receipt: r, now: try at(when))
                return e.id
            }

            // A: six documents sent in October (one at 01:00 on 1 October in UTC+8), one on 30 September (not counted).
            for day in ["2026-10-08", "2026-10-09", "2026-10-10", "2026-10-11", "2026-10-12"] { _ = try send(sa, .document, to: b, "\(day)T02:00:00.000Z") }
            _ = try send(sa, .document, to: b, "2026-09-30T17:00:00.000Z")
            _ = try send(sa, .document, to: b, "2026-09-30T15:00:00.000Z")
            _ = try send(sa, .report, to: b, "2026-10-13T02:00:00.000Z")
            _ = try send(sa, .report, to: b, "2026-10-14T02:00:00.000Z")
            _ = try send(sa, .request, to: b, "2026-10-15T02:00:00.000Z")
            // A receives two documents with a two-hour deadline: signed for after 30 minutes, and after 3 hours.
            let d1 = try receive(sa, .document, from: b, to: a, "2026-10-20T01:00:00.000Z", deadline: "2026-10-20T03:00:00.000Z")
            let d2 = try receive(sa, .document, from: b, to: a, "2026-10-21T01:00:00.000Z", deadline: "2026-10-21T03:00:00.000Z")
            try sa.act(.signFor, on: d1, clerk: "张三", now: try at("2026-10-20T01:30:00.000Z"))
            try sa.act(.signFor, on: d2, clerk: "张三", now: try at("2026-10-21T04:00:00.000Z"))
            // A's paper: two documents sent, one report received in October; one document in November.
            for (dir, kind, date) in [("sent", "document", "2026-10-05"), ("sent", "document", "2026-10-06"), ("received", "report", "2026-10-07"),
                                      ("sent", "document", "2026-11-02")] {
                try sa.registerPaper(.init(direction: .init(rawValue: dir)!, kind: .init(rawValue: kind)!, counterpart: b.rawValue, title: "纸质 \(date)",
                                           number: nil, date: date, registeredBy: "张三"))
            }

            // B: six documents and two reports received, four documents signed for (1 to 4 minutes), one returned;
            // two documents sent; a request received and answered.
            var received: [String] = []
            for day in 8...13 { received.append(try receive(sb, .document, from: a, to: b, "2026-10-\(day)T03:00:00.000Z")) }
            for (i, id) in received.prefix(4).enumerated() {
                try sb.act(.signFor, on: id, clerk: "李四", now: try at("2026-10-\(8 + i)T03:0\(i + 1):00.000Z"))
            }
            try sb.act(.giveBack(reason: "不属本单位职责"), on: received[4], clerk: "李四", now: try at("2026-10-12T04:00:00.000Z"))
            _ = try receive(sb, .report, from: a, to: b, "2026-10-13T03:00:00.000Z")
            _ = try receive(sb, .report, from: a, to: b, "2026-10-14T03:00:00.000Z")
            let req = try receive(sb, .request, from: a, to: b, "2026-10-15T03:00:00.000Z")
            _ = try send(sb, .reply, to: a, "2026-10-16T03:00:00.000Z", inReplyTo: req)
            _ = try send(sb, .document, to: a, "2026-10-20T00:30:00.000Z")
            _ = try send(sb, .document, to: a, "2026-10-21T00:30:00.000Z")

            let out = net.dir + "/report"
            let r = try runCLI(["report", "assessment", "--period", "2026-10", "--gateway", ha.path, "--gateway", hb.path, "--out", out])
            #expect(r.status == 0, "\(r.err)")
            let csv = try String(contentsOfFile: out + "/assessment-2026-10.csv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            #expect(csv.count == 3)
            // B: exchange 8/8, reporting 2/2, requests 2/2; nine documents received (six, two reports, a request); median sign-for of 60,120,180,240 s = 150 s; one returned.
            #expect(csv[1] == ["1", b.rawValue, "乙区建设局", "1.0000", "1.0000", "1.0000", "1.0000", "yes", "9", "4", "150.0000", "", "1", "0", "0"])
            // A: exchange (6 sent + 2 received) / (8 + 2 paper) = 0.8; reporting 2 / (2 + 1) = 0.6667; requests 1/1;
            // score (0.8 + 0.6667 + 1) / 3 = 0.8222; below the 100% reporting target; median of 1800 s and 10800 s = 6300 s;
            // one of two deadlines met; one overdue.
            #expect(csv[2] == ["2", a.rawValue, "甲区建设局", "0.8000", "0.6667", "1.0000", "0.8222", "no", "2", "2", "6300.0000", "0.5000", "0", "0", "1"])
            let html = try String(contentsOfFile: out + "/assessment-2026-10.html", encoding: .utf8)
            #expect(html.contains("<svg id=\"chart\"") && html.contains("甲区建设局") && html.contains("80.0%"))
            let json = try StatusCoding.decoder.decode(Assessment.self, from: try Data(contentsOf: URL(fileURLWithPath: out + "/assessment-2026-10.json")))
            #expect(json.rows.map(\.unit) == [b.rawValue, a.rawValue])

            // One unit's figures as a file, fed back in: the same ranking.
            let unitA = try runCLI(["report", "unit", "--home", ha.path, "--period", "2026-10"])
            try unitA.out.write(toFile: net.dir + "/a.json", atomically: true, encoding: .utf8)
            let mixed = try runCLI(["report", "assessment", "--period", "2026-10", "--input", net.dir + "/a.json", "--gateway", hb.path, "--out", out, "--json"])
            #expect(try StatusCoding.decoder.decode(Assessment.self, from: Data(mixed.out.utf8)).rows == json.rows)

            try expectRefused(["report", "assessment", "--period", "2026-13", "--gateway", ha.path], says: "YYYY-MM")
            try expectRefused(["report", "assessment", "--period", "2099-01", "--gateway", ha.path], says: "has not begun")
            try expectRefused(["report", "assessment", "--period", "2026-10"], says: "at least one")
            try expectRefused(["report", "assessment", "--period", "2026-10", "--gateway", ha.path, "--gateway", ha.path], says: "appears twice")
        }
    }
}
