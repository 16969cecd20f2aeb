import Foundation
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanStore

/// Runs the real `yizhan` binary; returns its exit status, stdout and stderr.
@discardableResult
func runCLI(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try yizhanBinary())
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

/// A command that must fail with one clear line on stderr.
func expectRefused(_ args: [String], says: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try runCLI(args)
    #expect(r.status != 0, "\(args) succeeded", sourceLocation: sourceLocation)
    #expect(r.err.split(separator: "\n").count == 1, "\(r.err)", sourceLocation: sourceLocation)
    #expect(r.err.contains(says), "\(args): \(r.err)", sourceLocation: sourceLocation)
}

func delivery(_ store: GatewayStore, _ id: String, _ unit: UnitCode) throws -> GatewayStore.DeliveryStatus? {
    try store.outboxEntry(id: id)?.deliveries.first { $0.recipient == unit.rawValue }
}

/// Runs in-process gateways for the homes around `body` and always stops them.
func withGateways(_ net: TestNetwork, _ homes: [GatewayHome], _ body: () async throws -> Void) async throws {
    let gs = try homes.map { RunningGateway(try net.gateway($0)) }
    do { try await body() } catch {
        for g in gs { await g.stop() }
        throw error
    }
    for g in gs { await g.stop() }
}

extension BrokerTests {
    /// 签收 and 退回 on both sides: B signs for, C returns with a reason, A sees both with the
    /// clerk and the time, and sends C a corrected version that C sees linked to the first.
    @Test func signForReturnAndCorrectedVersion() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode(), c = try randomUnitCode()
            let ha = try await net.enrol(a, name: "市政府办公室"), hb = try await net.enrol(b, name: "市教育局"), hc = try await net.enrol(c, name: "市卫健委")
            let sa = try GatewayStore(path: ha.database), sb = try GatewayStore(path: hb.database), sc = try GatewayStore(path: hc.database)
            try await withGateways(net, [ha, hb, hc]) {

                let sent = try runCLI(["doc", "send", "--home", ha.path, "--to", "\(b),\(c)", "--title", "关于做好冬季安全生产工作的通知", "--type", "通知",
                                       "--number", "市政办〔2026〕31号", "--urgency", "特急"])
                #expect(sent.status == 0, "\(sent.err)")
                let id = sent.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("both delivered") { try [b, c].allSatisfy { try delivery(sa, id, $0)?.state == "delivered" } }
                // 特急 carries a sign-for deadline four hours out, on both sides.
                let deadline = try #require(try sa.outboxEntry(id: id)?.signForBy)
                #expect(abs(deadline.timeIntervalSinceNow - 4 * 3600) < 120)
                #expect(try sb.inboxEntry(id: id)?.signForBy == deadline)

                // Bad input first: nothing changes.
                try expectRefused(["doc", "return", "--home", hc.path, id, "--by", "李四"], says: "needs a reason")
                try expectRefused(["doc", "sign-for", "--home", hb.path, UUIDv7.make(), "--by", "张三"], says: "not addressed to this unit")
                try expectRefused(["doc", "sign-for", "--home", ha.path, id, "--by", "张三"], says: "not addressed to this unit")
                try expectRefused(["doc", "send", "--home", ha.path, "--to", "\(b)", "--title", "更正", "--corrects", id], says: "was not returned")
                #expect(try sb.inboxEntry(id: id)?.state == "received")

                #expect(try runCLI(["doc", "sign-for", "--home", hb.path, id, "--by", "张三"]).status == 0)
                try expectRefused(["doc", "sign-for", "--home", hb.path, id, "--by", "张三"], says: "already signed-for")
                #expect(try runCLI(["doc", "return", "--home", hc.path, id, "--by", "李四", "--reason", "主送单位有误，应送市医保局"]).status == 0)

                try await eventually("A sees B signed for and C returned") {
                    try delivery(sa, id, b)?.state == "signed-for" && delivery(sa, id, c)?.state == "returned"
                }
                let db = try #require(try delivery(sa, id, b)), dc = try #require(try delivery(sa, id, c))
                #expect(db.handledBy == "张三" && db.handledAt != nil)
                #expect(dc.handledBy == "李四" && dc.reason == "主送单位有误，应送市医保局")
                #expect(try sb.inboxEntry(id: id)?.state == "signed-for")
                #expect(try sc.inboxEntry(id: id)?.returnReason == "主送单位有误，应送市医保局")
                // The receipts are signed envelopes from the recipients, stored at A.
                #expect(Set(try sa.receipts(documentID: id).map(\.status)) == ["delivered", "signed-for", "returned"])

                // The corrected version, linked to the first.
                let fixed = try runCLI(["doc", "send", "--home", ha.path, "--to", "\(c)", "--title", "关于做好冬季安全生产工作的通知（更正）", "--corrects", id])
                #expect(fixed.status == 0, "\(fixed.err)")
                let fid = fixed.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("C has the corrected version") { try sc.inboxEntry(id: fid) != nil }
                #expect(try sc.inboxEntry(id: fid)?.supersedes == id)
                #expect(try sc.inboxEntry(id: id)?.supersededBy == fid)
                #expect(try sa.trail(documentID: id).contains { $0.event == "corrected" })
                // Filters: A's returned copies, C's returned inbox.
                let returned = try runCLI(["doc", "list", "--home", ha.path, "--state", "returned"])
                #expect(returned.out.contains(id) && !returned.out.split(separator: "\n").contains { $0.hasPrefix(fid) })
                #expect(try schemaErrors(try emittedEnvelopes([sa, sb, sc])).compactMap { $0 }.isEmpty)
            let cin = try runCLI(["doc", "list", "--home", hc.path, "--inbox", "--state", "returned"])
                #expect(cin.out.contains(id) && !cin.out.split(separator: "\n").contains { $0.hasPrefix(fid) })
            }
        }
    }

    /// 催办: a document past its sign-for deadline is listed overdue at the sender, chased, and the
    /// recipient sees the chase; signing for clears the overdue mark on both sides.
    @Test func overdueDocumentIsChased() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "发文单位"), hb = try await net.enrol(b, name: "收文单位")
            let sa = try GatewayStore(path: ha.database), sb = try GatewayStore(path: hb.database)
            try await withGateways(net, [ha, hb]) {

                let deadline = Timestamp.format(Date().addingTimeInterval(3))
                let sent = try runCLI(["doc", "send", "--home", ha.path, "--to", "\(b)", "--title", "加急件", "--urgency", "加急", "--sign-for-by", deadline])
                #expect(sent.status == 0, "\(sent.err)")
                let id = sent.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("delivered") { try delivery(sa, id, b)?.state == "delivered" }
                #expect(try runCLI(["doc", "list", "--home", ha.path, "--overdue"]).out.contains(id) == false)
                try await eventually("overdue at the sender once the deadline passed", timeout: .seconds(20)) { try delivery(sa, id, b)?.overdue == true }
                #expect(try runCLI(["doc", "list", "--home", ha.path, "--overdue"]).out.contains(id))
                #expect(try sb.inboxEntry(id: id)?.overdue == true)

                let chase = try runCLI(["doc", "chase", "--home", ha.path, id, "--message", "请今日内签收"])
                #expect(chase.status == 0, "\(chase.err)")
                try await eventually("B sees the chase") { try sb.inboxEntry(id: id)?.chases == 1 }
                #expect(try sb.inboxEntry(id: id)?.lastChaseMessage == "请今日内签收")
                #expect(try delivery(sa, id, b)?.chases == 1)
                #expect(try sb.trail(documentID: id).contains { $0.event == "chased" })

                #expect(try runCLI(["doc", "sign-for", "--home", hb.path, id, "--by", "王五"]).status == 0)
                try await eventually("signed for at A") { try delivery(sa, id, b)?.state == "signed-for" }
                #expect(try delivery(sa, id, b)?.overdue == false)
                #expect(try sb.inboxEntry(id: id)?.overdue == false)
                // Nobody left to chase.
                try expectRefused(["doc", "chase", "--home", ha.path, id], says: "nothing to chase")
                try expectRefused(["doc", "chase", "--home", ha.path, UUIDv7.make()], says: "no document")
            #expect(try schemaErrors(try emittedEnvelopes([sa, sb])).compactMap { $0 }.isEmpty)
            }
        }
    }

    /// 信息报送: two reports to a collecting unit, one adopted and one not; the reporter sees each outcome.
    @Test func informationReportsAreAdoptedOrNot() async throws {
        try await TestNetwork.with { net in
            let collector = try randomUnitCode(), reporter = try randomUnitCode()
            let hc = try await net.enrol(collector, name: "市委办公室信息科"), hr = try await net.enrol(reporter, name: "区政府办公室")
            let sc = try GatewayStore(path: hc.database), sr = try GatewayStore(path: hr.database)
            try await withGateways(net, [hc, hr]) {

                var ids: [String] = []
                for t in ["区防汛工作进展情况", "区重点项目建设动态"] {
                    let r = try runCLI(["doc", "report", "--home", hr.path, "--to", "\(collector)", "--title", t])
                    #expect(r.status == 0, "\(r.err)")
                    ids.append(r.out.trimmingCharacters(in: .whitespacesAndNewlines))
                }
                try await eventually("both reports arrived") { try ids.allSatisfy { try sc.inboxEntry(id: $0)?.kind == "report" } }
                #expect(try runCLI(["doc", "adopt", "--home", hc.path, ids[0], "--by", "赵六", "--note", "编入第12期信息专报"]).status == 0)
                #expect(try runCLI(["doc", "adopt", "--home", hc.path, ids[1], "--by", "赵六", "--not", "--note", "内容已另行报送"]).status == 0)
                try expectRefused(["doc", "adopt", "--home", hc.path, ids[0], "--by", "赵六"], says: "already marked adopted")

                try await eventually("the reporter sees both outcomes") {
                    try delivery(sr, ids[0], collector)?.outcome == "adopted" && delivery(sr, ids[1], collector)?.outcome == "not-adopted"
                }
                #expect(try delivery(sr, ids[0], collector)?.outcomeNote == "编入第12期信息专报")
                #expect(try sc.inboxEntry(id: ids[1])?.outcome == "not-adopted")
                let listed = try runCLI(["doc", "list", "--home", hr.path, "--kind", "report"])
                #expect(listed.out.contains("(adopted)") && listed.out.contains("(not-adopted)"))

                // Only a report is adopted.
                let d = try runCLI(["doc", "send", "--home", hr.path, "--to", "\(collector)", "--title", "普通公文"])
                let did = d.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("document arrived") { try sc.inboxEntry(id: did) != nil }
                try expectRefused(["doc", "adopt", "--home", hc.path, did, "--by", "赵六"], says: "only an information report")
            #expect(try schemaErrors(try emittedEnvelopes([sc, sr])).compactMap { $0 }.isEmpty)
            }
        }
    }

    /// 请示/批复: the reply is linked to its request; the requester lists pending requests and the
    /// replies received. A reply to an unknown request is refused at sending, and on receipt.
    @Test func requestAndLinkedReply() async throws {
        try await TestNetwork.with { net in
            let lower = try randomUnitCode(), upper = try randomUnitCode()
            let hl = try await net.enrol(lower, name: "区住建局"), hu = try await net.enrol(upper, name: "市住建委")
            let sl = try GatewayStore(path: hl.database), su = try GatewayStore(path: hu.database)
            try await withGateways(net, [hl, hu]) {

                try expectRefused(["doc", "send", "--home", hl.path, "--kind", "request", "--to", "\(upper)", "--title", "关于追加预算的请示"], says: "needs its signer")
                let r1 = try runCLI(["doc", "send", "--home", hl.path, "--kind", "request", "--to", "\(upper)", "--title", "关于追加预算的请示", "--signer", "陈局长"])
                let r2 = try runCLI(["doc", "send", "--home", hl.path, "--kind", "request", "--to", "\(upper)", "--title", "关于调整编制的请示", "--signer", "陈局长"])
                let req1 = r1.out.trimmingCharacters(in: .whitespacesAndNewlines), req2 = r2.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("requests arrived") { try su.inboxEntry(id: req1) != nil && su.inboxEntry(id: req2) != nil }
                #expect(try su.inboxEntry(id: req1)?.type == "请示")

                try expectRefused(["doc", "reply", "--home", hu.path, "--to", UUIDv7.make(), "--title", "批复"], says: "no request")
                let rep = try runCLI(["doc", "reply", "--home", hu.path, "--to", req1, "--title", "关于同意追加预算的批复", "--number", "市住建〔2026〕8号"])
                #expect(rep.status == 0, "\(rep.err)")
                let rid = rep.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("the reply is linked at the requester") { try sl.outboxEntry(id: req1)?.replies == [rid] }
                #expect(try sl.inboxEntry(id: rid)?.inReplyTo == req1)
                #expect(try sl.inboxEntry(id: rid)?.type == "批复")
                let pending = try runCLI(["doc", "requests", "--home", hl.path, "--pending"])
                #expect(pending.out.contains(req2) && !pending.out.contains(req1))
                let all = try runCLI(["doc", "requests", "--home", hl.path])
                #expect(all.out.contains("reply \(rid)"))

                // On receipt: a signed reply from the upper unit to a request that does not exist.
                let (key, cert) = try net.key(hu)
                let forged = Envelope(kind: .reply, sender: upper, recipients: [.init(unit: lower, role: .main)], created: Timestamp.format(Date()),
                                      inReplyTo: UUIDv7.make(), document: DocumentInfo(title: "无头批复", type: "批复"))
                let conn = try await AMQPConnection.connect(try net.brokerConfig(hu))
                let out = try await conn.publish(exchange: "yizhan.documents", routingKey: lower.rawValue, message: AMQPMessage(
                    body: try SignedEnvelope.sign(forged, key: key, certificate: cert).bytes, contentType: MessageFrame.envelopeContentType,
                    messageID: forged.id, userID: try hu.loadConfig().brokerUser))
                #expect(out == .confirmed)
                await conn.close()
                try await eventually("quarantined at the requester") { try sl.quarantined().contains { $0.messageID == forged.id } }
                #expect(try sl.quarantined().first { $0.messageID == forged.id }?.reason == "unknown-document")
                #expect(try sl.inboxEntry(id: forged.id) == nil)
                try await eventually("the replier is told") { try su.receipts(documentID: forged.id).first?.status == "rejected" }
            #expect(try schemaErrors(try emittedEnvelopes([sl, su])).compactMap { $0 }.isEmpty)
            }
        }
    }

    /// 会议通知 with 参会回执 collected per invited unit.
    @Test func meetingNoticeCollectsAttendance() async throws {
        try await TestNetwork.with { net in
            let host = try randomUnitCode(), b = try randomUnitCode(), c = try randomUnitCode()
            let hh = try await net.enrol(host, name: "市政府办公室"), hb = try await net.enrol(b, name: "市财政局"), hc = try await net.enrol(c, name: "市审计局")
            let sh = try GatewayStore(path: hh.database), sb = try GatewayStore(path: hb.database), sc = try GatewayStore(path: hc.database)
            try await withGateways(net, [hh, hb, hc]) {

                let start = Timestamp.format(Date().addingTimeInterval(86400))
                let n = try runCLI(["doc", "notice", "--home", hh.path, "--to", "\(b),\(c)", "--title", "关于召开年度预算审查会议的通知",
                                    "--meeting-start", start, "--place", "市政府1号会议室", "--reply-by", Timestamp.format(Date().addingTimeInterval(3600))])
                #expect(n.status == 0, "\(n.err)")
                let nid = n.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("both invited units have the notice") { try sb.inboxEntry(id: nid) != nil && sc.inboxEntry(id: nid) != nil }
                #expect(try sb.inboxEntry(id: nid)?.extras?.meeting?.place == "市政府1号会议室")

                #expect(try runCLI(["doc", "attend", "--home", hb.path, nid, "--attending", "yes", "--attendee", "周局长", "--attendee", "吴科长"]).status == 0)
                try await eventually("B's reply collected") { try sh.attendance(noticeID: nid).first { $0.unit == b.rawValue }?.replied == true }
                var list = try sh.attendance(noticeID: nid)
                #expect(list.first { $0.unit == b.rawValue }?.attendees == ["周局长", "吴科长"])
                #expect(list.first { $0.unit == c.rawValue }?.replied == false)

                try expectRefused(["doc", "attend", "--home", hc.path, nid, "--attending", "yes"], says: "name who attends")
                try expectRefused(["doc", "attend", "--home", hc.path, UUIDv7.make(), "--attending", "no"], says: "no meeting notice")
                #expect(try runCLI(["doc", "attend", "--home", hc.path, nid, "--attending", "no", "--note", "另有会议"]).status == 0)
                try await eventually("C's reply collected") { try sh.attendance(noticeID: nid).allSatisfy(\.replied) }
                list = try sh.attendance(noticeID: nid)
                #expect(list.first { $0.unit == c.rawValue }?.attending == false)
                #expect(list.first { $0.unit == c.rawValue }?.note == "另有会议")
                let shown = try runCLI(["doc", "attendance", "--home", hh.path, nid])
                #expect(shown.out.contains("attending: 周局长、吴科长") && shown.out.contains("not attending"))
            let emitted = try emittedEnvelopes([sh, sb, sc])
            #expect(emitted.count >= 7)
            #expect(try schemaErrors(emitted).compactMap { $0 }.isEmpty)
            }
        }
    }

    /// Command-line bad input on a real gateway home: each one line, non-zero, nothing stored.
    @Test func documentCommandsRefuseBadInput() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "甲"), _ = try await net.enrol(b, name: "乙")
            let sa = try GatewayStore(path: ha.database)
            let base = ["doc", "send", "--home", ha.path, "--to", "\(b)", "--title", "标题"]
            try expectRefused(base + ["--number", "武建〔07〕242号"], says: "year")
            try expectRefused(base + ["--number", "武建〔2007〕0242号"], says: "leading zero")
            try expectRefused(base + ["--type", "便函"], says: "not one of")
            try expectRefused(base + ["--type", "报告"], says: "needs its signer")
            try expectRefused(base + ["--classification", "机密"], says: "classified")
            try expectRefused(base + ["--sign-for-by", "tomorrow"], says: "RFC 3339")
            try expectRefused(base + ["--kind", "receipt"], says: "--kind must be")
            try expectRefused(["doc", "list", "--home", ha.path, "--kind", "memo"], says: "--kind must be")
            try expectRefused(["doc", "fetch", "--home", ha.path, UUIDv7.make(), "--out", net.dir + "/out"], says: "no document")
            try expectRefused(["doc", "paper", "add", "--home", ha.path, "--direction", "sent", "--kind", "document", "--counterpart", "\(b)",
                               "--title", "纸质件", "--date", "2026-13-01", "--by", "甲"], says: "YYYY-MM-DD")
            #expect(try sa.outbox().isEmpty)
            #expect(try sa.paperRecords().isEmpty)
            // Paper registrations that are good are kept and listed by month.
            #expect(try runCLI(["doc", "paper", "add", "--home", ha.path, "--direction", "received", "--kind", "request", "--counterpart", "\(b)",
                                "--title", "纸质请示", "--number", "乙〔2026〕3号", "--date", "2026-11-12", "--by", "甲"]).status == 0)
            #expect(try sa.paperRecords(month: "2026-11").map(\.title) == ["纸质请示"])
            #expect(try sa.paperRecords(month: "2026-10").isEmpty)
        }
    }
}
