import Foundation
import GRDB
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

extension BrokerTests {
    func send(_ store: GatewayStore, to: UnitCode, title: String) throws -> String {
        let d = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: title), recipients: [.init(unit: to, role: .main)], parts: [])
        try store.enqueue(d)
        return d.id
    }

    /// A merger of two units into a third: what waited in the first one's queue ends in the
    /// successor's inbox exactly once, the sender sees "delivered to B (successor of A)", the
    /// second one's running gateway stops, and later sends to either reach the successor.
    @Test func mergerMovesWaitingDocumentsAndStopsTheOldGateway() async throws {
        try await TestNetwork.with { net in
        let s = try randomUnitCode(), a = try randomUnitCode(), d = try randomUnitCode(), b = try randomUnitCode()
        let hs = try await net.enrol(s, name: "发文单位"), ha = try await net.enrol(a, name: "甲局"), hd = try await net.enrol(d, name: "丁局")
        let hb = try await net.enrol(b, name: "乙局（合并后）")
        let gs = RunningGateway(try net.gateway(hs)), gb = RunningGateway(try net.gateway(hb)), gd = RunningGateway(try net.gateway(hd))
        // A's gateway is down: the document waits in A's queue.
        let waiting = try send(gs.gateway.store, to: a, title: "合并前发给甲局")
        try await eventually("published to A's queue") { try gs.gateway.store.outboxEntry(id: waiting)?.deliveries.first?.state == "published" }
        let certA = try #require(try net.registry.store.certificates(code: a.rawValue).first)

        try await net.approve(.init(kind: "merge", units: [a.rawValue, d.rawValue], into: b.rawValue, reason: "机构改革"))
        #expect(try net.unitStatus(a) == "merged" && net.unitStatus(d) == "merged")

        try await eventually("the waiting document delivered to B as A's successor") {
            try gs.gateway.store.outboxEntry(id: waiting)?.deliveries.first?.state == "delivered"
        }
        let delivery = try #require(try gs.gateway.store.outboxEntry(id: waiting)?.deliveries.first)
        #expect(delivery.recipient == a.rawValue && delivery.deliveredBy == b.rawValue)
        #expect(try gs.gateway.store.trail(documentID: waiting).last?.detail?.contains("successor of \(a.rawValue)") == true)
        let inboxB = try gb.gateway.store.inbox()
        #expect(inboxB.filter { $0.id == waiting }.count == 1 && inboxB.first { $0.id == waiting }?.onBehalfOf == a.rawValue)
        // The running gateway of D stops with a clear message.
        let stopped = await gd.task.result
        guard case .failure(let e as YizhanError) = stopped else { Issue.record("D's gateway did not stop: \(stopped)"); return }
        #expect(e.code == .retired && e.message.contains("merged into \(b.rawValue)"))
        // A's certificate is revoked; its broker user can no longer log in.
        #expect(try net.registry.store.certificates(code: a.rawValue).first { $0.serial == certA.serial }?.revokedAt != nil)
        await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(try net.brokerConfig(ha)) }
        // Later sends to A or D reach B.
        let later = try send(gs.gateway.store, to: d, title: "合并后发给丁局")
        try await eventually("a later document to D delivered to B") { try gs.gateway.store.outboxEntry(id: later)?.deliveries.first?.deliveredBy == b.rawValue }
        #expect(try gb.gateway.store.inbox().count == 2)
        // A's gateway, started now, stops at once with the same clear message.
        let ga = RunningGateway(try net.gateway(ha))
        guard case .failure(let ea as YizhanError) = await ga.task.result else { Issue.record("A's gateway kept running"); return }
        #expect(ea.code == .retired)
        await gs.stop(); await gb.stop()
        }
    }

    /// Deregistration with transfer: waiting documents go to C, later sends to A are refused at
    /// the sender with the reason, and C takes over A's records.
    @Test func deregistrationRefusesLaterSendsAndTransfersRecords() async throws {
        try await TestNetwork.with { net in
        let s = try randomUnitCode(), a = try randomUnitCode(), c = try randomUnitCode()
        let hs = try await net.enrol(s, name: "发文单位"), ha = try await net.enrol(a, name: "被撤销单位"), hc = try await net.enrol(c, name: "承接单位")
        let gs = RunningGateway(try net.gateway(hs)), gc = RunningGateway(try net.gateway(hc))
        var ga: RunningGateway? = RunningGateway(try net.gateway(ha))
        let before = try send(gs.gateway.store, to: a, title: "撤销前的文件")
        try await eventually("A received its document") { try gs.gateway.store.outboxEntry(id: before)?.deliveries.first?.state == "delivered" }
        await ga?.stop()
        ga = nil
        let waiting = try send(gs.gateway.store, to: a, title: "等待中的文件")
        try await eventually("published to A's queue") { try gs.gateway.store.outboxEntry(id: waiting)?.deliveries.first?.state == "published" }

        try await net.approve(.init(kind: "deregister", unit: a.rawValue, transferTo: c.rawValue, reason: "单位撤销"))
        #expect(try net.unitStatus(a) == "deregistered")
        try await eventually("the waiting document delivered to C") { try gs.gateway.store.outboxEntry(id: waiting)?.deliveries.first?.deliveredBy == c.rawValue }
        try await eventually("S's directory shows A deregistered") { await gs.gateway.directory.current?.entry(a.rawValue)?.status == .deregistered }
        let refused = try send(gs.gateway.store, to: a, title: "撤销后的文件")
        try await eventually("the later send refused at the sender") { try gs.gateway.store.outboxEntry(id: refused)?.deliveries.first?.state == "rejected" }
        #expect(try gs.gateway.store.outboxEntry(id: refused)?.deliveries.first?.reason == "unit \(a.rawValue) is deregistered")
        // A's broker user is gone.
        await #expect(throws: AMQPError.self) { _ = try await AMQPConnection.connect(try net.brokerConfig(ha)) }
        // C takes over A's records, once, however often the import runs.
        let summary = try gc.gateway.store.importRecords(fromDatabase: ha.database, fromUnit: a.rawValue)
        #expect(summary.inbox == 1)
        #expect(try gc.gateway.store.importRecords(fromDatabase: ha.database, fromUnit: a.rawValue).inbox == 0)
        let held = try gc.gateway.store.transferred()
        #expect(held.contains { $0.id == before && $0.box == "inbox" && $0.fromUnit == a.rawValue })
        let env = try #require(try gc.gateway.store.transferredEnvelope(id: before))
        #expect(try SignedEnvelope.open(env).0.envelope.document?.title == "撤销前的文件")
        await gs.stop(); await gc.stop()
        }
    }

    /// Revocation reaches a running gateway in under a second, and it then refuses the certificate.
    @Test func revokedCertificateRefusedWithinOneSecond() async throws {
        try await TestNetwork.with { net in
        let a = try randomUnitCode(), b = try randomUnitCode()
        let ha = try await net.enrol(a, name: "甲"), hb = try await net.enrol(b, name: "乙")
        let gb = RunningGateway(try net.gateway(hb))
        // B listens for registry events before the revocation is made.
        let probe = try await AMQPConnection.connect(try TestBroker.guestConfig(vhost: net.vhost))
        try await eventually("B consumes its events queue") { try await probe.declareQueue("yizhan.events.\(b.rawValue)", passive: true).consumers >= 1 }
        await probe.close()
        let (keyA, certA) = try net.key(ha)
        let started = ContinuousClock.now
        _ = try await net.admin.post("/v1/certificates/\(certA.serialHex)/revoke", JSONValue.object(["reason": .string("key-compromise")]))
        try await eventually("B's directory lists the revocation", timeout: .seconds(1)) {
            await gb.gateway.directory.current?.revocation(serial: certA.serialHex) != nil
        }
        let took = ContinuousClock.now - started
        #expect(took < .seconds(1), "took \(took)")
        let conn = try await AMQPConnection.connect(try net.brokerConfig(ha))
        let env = Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()), document: DocumentInfo(title: "吊销后"))
        let signed = try SignedEnvelope.sign(env, key: keyA, certificate: certA)
        _ = try await conn.publish(exchange: "yizhan.documents", routingKey: b.rawValue, message: AMQPMessage(
            body: signed.bytes, contentType: MessageFrame.envelopeContentType, messageID: env.id, userID: try ha.loadConfig().brokerUser))
        try await eventually("refused as revoked") { try gb.gateway.store.quarantined().first?.reason == "revoked-certificate" }
        #expect(try gb.gateway.store.inboxCount() == 0)
        await conn.close()
        await gb.stop()
        }
    }

    /// A receiver signs each group's receipts before storing the group, except while its own
    /// certificate is revoked: then the document is still taken in, and its receipt is stored
    /// unsigned and not sent (nothing goes out under a revoked certificate).
    @Test func receiptsWaitUnsignedWhileTheReceiversCertificateIsRevoked() async throws {
        try await TestNetwork.with { net in
        let a = try randomUnitCode(), b = try randomUnitCode()
        let ha = try await net.enrol(a, name: "甲"), hb = try await net.enrol(b, name: "乙")
        let ga = RunningGateway(try net.gateway(ha)), gb = RunningGateway(try net.gateway(hb))
        func receiptAtB(_ doc: String) throws -> (signed: Bool, state: String)? {
            try DatabaseQueue(path: hb.database).read { db in
                try Row.fetchOne(db, sql: """
                    SELECT o.envelope IS NOT NULL AS signed, d.state FROM outbox o JOIN deliveries d ON d.document_id = o.id
                    WHERE o.kind = 'receipt' AND o.in_reply_to = ?
                    """, arguments: [doc]).map { ($0["signed"], $0["state"]) }
            }
        }
        let before = try send(ga.gateway.store, to: b, title: "吊销前")
        try await eventually("delivered before the revocation") { try ga.gateway.store.outboxEntry(id: before)?.deliveries.first?.state == "delivered" }
        #expect(try receiptAtB(before)?.signed == true)

        _ = try await net.admin.post("/v1/certificates/\(gb.gateway.signingCertificate.serialHex)/revoke", JSONValue.object(["reason": .string("key-compromise")]))
        try await eventually("B paused signing") { gb.gateway.signingPaused }
        let after = try send(ga.gateway.store, to: b, title: "吊销后")
        try await eventually("B took the document in") { try gb.gateway.store.inboxEntry(id: after) != nil }
        let stored = try #require(try receiptAtB(after))
        #expect(!stored.signed && stored.state == "queued", "stored unsigned, waiting: \(stored)")
        // B's send loop looks every 10 ms; in half a second it has had fifty chances to send it.
        try await Task.sleep(for: .milliseconds(500))
        #expect(try receiptAtB(after)?.signed == false)
        #expect(try ga.gateway.store.outboxEntry(id: after)?.deliveries.first?.state == "published", "no receipt reached A")
        await ga.stop(); await gb.stop()
        }
    }

    /// Rename: effective at a set time; former names kept and searchable; the certificate reissued
    /// and installed by the running gateway; new envelopes carry the new name; roster re-confirmation.
    @Test func renameTakesEffectAtItsTime() async throws {
        try await TestNetwork.with { net in
        let a = try randomUnitCode(), b = try randomUnitCode()
        let ha = try await net.enrol(a, name: "武汉市城市建设委员会"), hb = try await net.enrol(b, name: "乙")
        let unitClient = RegistryClient(base: net.url, adminToken: try ha.read(ha.registryTokenFile).trimmingCharacters(in: .whitespacesAndNewlines))
        _ = try await unitClient.put("/v1/units/\(a.rawValue)/roster", try JSONValue.from([RegistryAPI.RosterEntry(account: "zhang.san", name: "张三", role: "收发员")]))
        #expect(try net.registry.store.unit(code: a.rawValue)?.rosterState == "confirmed")
        let ga = RunningGateway(try net.gateway(ha)), gb = RunningGateway(try net.gateway(hb))
        let oldSerial = ga.gateway.signingCertificate.serialHex
        let effective = Date().addingTimeInterval(2)
        try await net.approve(.init(kind: "rename", unit: a.rawValue, name: "武汉市城乡建设委员会", effective: Timestamp.format(effective), reason: "机构更名"))
        #expect(try net.registry.store.unit(code: a.rawValue)?.name == "武汉市城市建设委员会", "not before its time")
        try await eventually("renamed at the effective time", timeout: .seconds(10)) { try net.registry.store.unit(code: a.rawValue)?.name == "武汉市城乡建设委员会" }
        #expect(Date() >= effective.addingTimeInterval(-0.01))
        let names = try net.registry.store.searchNames("城市建设")
        #expect(names.count == 1 && names[0].to != nil)
        #expect(try net.registry.store.unit(code: a.rawValue)?.formerNames == ["武汉市城市建设委员会"])
        #expect(try net.registry.store.unit(code: a.rawValue)?.rosterState == "needs-reconfirmation")
        try await eventually("A's gateway installed the reissued certificate") { ga.gateway.signingCertificate.serialHex != oldSerial && !ga.gateway.signingPaused }
        let cert = ga.gateway.signingCertificate
        #expect(cert.organization == "武汉市城乡建设委员会")
        let id = try send(ga.gateway.store, to: b, title: "更名后的文件")
        try await eventually("delivered under the new name") { try ga.gateway.store.outboxEntry(id: id)?.deliveries.first?.state == "delivered" }
        #expect(try gb.gateway.store.inboxEntry(id: id)?.senderName == "武汉市城乡建设委员会")
        _ = try await unitClient.put("/v1/units/\(a.rawValue)/roster", try JSONValue.from([RegistryAPI.RosterEntry(account: "zhang.san", name: "张三", role: "收发员")]))
        #expect(try net.registry.store.unit(code: a.rawValue)?.rosterState == "confirmed")
        await ga.stop(); await gb.stop()
        }
    }
}

extension BrokerTests {
    /// A gateway set up with --require-tls refuses a registry that announces plain AMQP, before
    /// writing anything; one that requires TLS and gets it works.
    @Test func gatewayCanRefusePlainAMQP() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode()
            let added = try await net.admin.addUnit(.init(code: a.rawValue, name: "只走加密"))
            net.users.append(added.brokerUser)
            let home = net.dir + "/plain"
            let r = try runCLI(["gateway", "init", "--home", home, "--unit", a.rawValue, "--registry", net.url, "--enrol", added.enrolmentToken,
                                "--ca-file", net.dir + "/registry/ca.pem", "--require-tls"])
            #expect(r.status != 0)
            #expect(r.err.contains("requires TLS") && r.err.split(separator: "\n").count == 1, "\(r.err)")
            #expect(!FileManager.default.fileExists(atPath: home + "/gateway.json"))
            #expect(!FileManager.default.fileExists(atPath: home + "/unit-key.pem"))
        }
        try await TestNetwork.with(tls: true) { net in
            let a = try randomUnitCode()
            let added = try await net.admin.addUnit(.init(code: a.rawValue, name: "只走加密"))
            net.users.append(added.brokerUser)
            let home = net.dir + "/tls"
            let r = try runCLI(["gateway", "init", "--home", home, "--unit", a.rawValue, "--registry", net.url, "--enrol", added.enrolmentToken,
                                "--ca-file", net.dir + "/registry/ca.pem", "--broker-ca", TestBroker.tlsCA, "--require-tls"])
            #expect(r.status == 0, "\(r.err)")
            let config = try GatewayHome(home).loadConfig()
            #expect(config.requireTLS == true && config.brokerTLS)
            // The same file edited to a plain broker: the gateway refuses to start.
            var plain = config
            plain.brokerTLS = false
            try GatewayHome(home).write(String(decoding: try JSONValue.from(plain).canonicalBytes(), as: UTF8.self), to: GatewayHome(home).configFile, secret: false)
            #expect(throws: YizhanError.self) { _ = try Gateway(home: GatewayHome(home)) }
        }
    }
}
