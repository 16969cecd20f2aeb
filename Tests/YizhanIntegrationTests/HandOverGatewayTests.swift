import Foundation
import Testing
import YizhanCore
import YizhanCrypto
@testable import YizhanGateway
@testable import YizhanStore

extension BrokerTests {
    func takesDocuments(_ home: GatewayHome) async throws {
        try await eventually("the gateway takes documents over its socket") { try HandOver.Client.connect(database: home.database) != nil }
    }

    /// A bare connection to the gateway's hand-over socket, for frames written by hand.
    func rawHandOver(_ home: GatewayHome) throws -> HandOverSocket {
        let raw = try #require(try HandOverSocket.connected(to: HandOver.name(home.database)))
        raw.setReceiveTimeout(milliseconds: 30_000)
        return raw
    }

    /// A draft handed to a running gateway is answered only once it is stored and signed (one
    /// commit: no look, no second commit), then delivered with its receipt back.
    @Test func aHandedOverDocumentIsStoredSignedAndDelivered() async throws {
        try await TestNetwork.with { net in
            let (ga, gb, ha, b) = try await senderAndReceiver(net)
            try await takesDocuments(ha)
            let client = try #require(try HandOver.Client.connect(database: ha.database))
            let body = Array("交接正文".utf8)
            let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "交给网关的公文"), recipients: [.init(unit: b, role: .main)],
                                           parts: [.init(name: "正文.txt", mediaType: "text/plain", data: body, sha256: Digest.sha256Hex(body))])
            let answer = try client.submit(.init(draft: draft))
            #expect(answer == HandOver.Answer(id: draft.id, refusal: nil))
            let stored = try #require(try ga.gateway.store.outboxEntry(id: draft.id))
            #expect(stored.signed, "answered after the commit that stored and signed it")
            try await eventually("receipt back", timeout: .seconds(30)) {
                try ga.gateway.store.outboxEntry(id: draft.id)?.deliveries.first?.state == "delivered"
            }
            let got = try #require(try gb.gateway.store.inboxEntry(id: draft.id))
            #expect(got.title == "交给网关的公文")
            await ga.stop(); await gb.stop()
        }
    }

    /// Bad input on the socket gets an answer with the reason and nothing stored, and the gateway
    /// goes on taking documents: a frame that is not JSON, a part whose bytes do not match its hash,
    /// a reply to no request, and a length prefix past the limit (which also ends the connection).
    @Test func badHandOversAreRefusedWithAReasonAndTheGatewayGoesOn() async throws {
        try await TestNetwork.with { net in
            let (ga, gb, ha, b) = try await senderAndReceiver(net)
            try await takesDocuments(ha)
            let raw = try rawHandOver(ha)
            func answer() throws -> HandOver.Answer {
                try HandOver.decodeAnswer(try #require(try HandOver.readFrame(raw), "an answer"))
            }
            let junk = Array("{\"id\": \"junk-1\", not json".utf8)
            try raw.write(withUnsafeBytes(of: UInt32(junk.count).bigEndian) { Array($0) } + junk)
            let a1 = try answer()
            #expect(a1.refusal?.code == .malformedJSON, "\(a1)")

            let wrong = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "哈希不符"), recipients: [.init(unit: b, role: .main)],
                                           parts: [.init(name: "a.txt", mediaType: "text/plain", data: Array("甲".utf8), sha256: Digest.sha256Hex(Array("乙".utf8)))])
            try raw.write(try HandOver.encode(HandOver.Submission(draft: wrong)))
            let a2 = try answer()
            #expect(a2.id == wrong.id && a2.refusal?.code == .partMismatch, "\(a2)")

            let orphan = GatewayStore.Draft(kind: .reply, document: DocumentInfo(title: "无请示的批复"), inReplyTo: "no-such-request",
                                            recipients: [.init(unit: b, role: .main)], parts: [])
            try raw.write(try HandOver.encode(HandOver.Submission(draft: orphan)))
            let a3 = try answer()
            #expect(a3.id == orphan.id && a3.refusal?.code == .notFound, "\(a3)")

            let good = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "坏输入之后"), recipients: [.init(unit: b, role: .main)], parts: [])
            try raw.write(try HandOver.encode(HandOver.Submission(draft: good)))
            #expect(try answer() == HandOver.Answer(id: good.id, refusal: nil), "the same connection still works")

            try raw.write([0xFF, 0xFF, 0xFF, 0xFF])
            #expect(try answer().refusal?.code == .oversize)
            #expect(try HandOver.readFrame(raw) == nil, "and the gateway hangs up")

            for id in [wrong.id, orphan.id] { #expect(try ga.gateway.store.outboxEntry(id: id) == nil, "nothing stored of \(id)") }
            let client = try #require(try HandOver.Client.connect(database: ha.database))
            let after = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "再次交接"), recipients: [.init(unit: b, role: .main)], parts: [])
            #expect(try client.submit(.init(draft: after)).refusal == nil)
            try await eventually("both good documents delivered", timeout: .seconds(30)) {
                try [good.id, after.id].allSatisfy { try ga.gateway.store.outboxEntry(id: $0)?.deliveries.first?.state == "delivered" }
            }
            await ga.stop(); await gb.stop()
        }
    }

    /// A submitter that never reads its answers cannot hold up the gateway: once the answers fill
    /// the socket's buffer it is hung up on, what was answered is stored, and documents from
    /// others still go out.
    @Test func aSubmitterThatStopsReadingIsHungUpOn() async throws {
        try await TestNetwork.with { net in
            let (ga, gb, ha, b) = try await senderAndReceiver(net)
            try await takesDocuments(ha)
            let raw = try rawHandOver(ha)
            // Written until the gateway hangs up: how many answers fill its socket's buffer depends on
            // the kernel and on how fast the gateway answers, so no fixed count is assumed.
            var written = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let d = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "不读回执的提交 \(written)"), recipients: [.init(unit: b, role: .main)], parts: [])
                guard (try? raw.write(try HandOver.encode(HandOver.Submission(draft: d)))) != nil else { break }
                written += 1
            }
            // Only now read: what the gateway wrote before hanging up, then the end of the stream.
            var answered: [String] = []
            while let body = try HandOver.readFrame(raw) {
                let a = try HandOver.decodeAnswer(body)
                #expect(a.refusal == nil, "\(a)")
                answered.append(a.id)
            }
            #expect(!answered.isEmpty && answered.count < written, "\(answered.count) answers of \(written) submissions before the hang-up")
            for id in answered { #expect(try ga.gateway.store.outboxEntry(id: id) != nil, "answered \(id) but not stored") }
            let client = try #require(try HandOver.Client.connect(database: ha.database))
            let next = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "挂断之后"), recipients: [.init(unit: b, role: .main)], parts: [])
            #expect(try client.submit(.init(draft: next)).refusal == nil)
            try await eventually("delivered after the hang-up", timeout: .seconds(60)) {
                try ga.gateway.store.outboxEntry(id: next.id)?.deliveries.first?.state == "delivered"
            }
            await ga.stop(); await gb.stop()
        }
    }

    /// With no broker session (the broker unreachable), the intake loop stores and signs what is
    /// handed over, so a clerk is still answered; the copy waits, queued, for the broker.
    @Test func handedOverDocumentsAreStoredWhileTheBrokerIsAway() async throws {
        try await TestNetwork.with { net in
            let home = try await net.enrol(try randomUnitCode(), name: "无代理")
            var c = try home.loadConfig()
            c.brokerPort = 9 // nothing listens there: every connection attempt fails
            try home.saveConfig(c)
            let g = RunningGateway(try net.gateway(home))
            try await takesDocuments(home)
            let sendLoopRuns = g.gateway.sending.load(ordering: .sequentiallyConsistent)
            #expect(!sendLoopRuns, "no send loop runs without a broker")
            let client = try #require(try HandOver.Client.connect(database: home.database))
            let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "代理不在时"), recipients: [.init(unit: try randomUnitCode(), role: .main)], parts: [])
            let started = ContinuousClock.now
            #expect(try client.submit(.init(draft: draft)) == HandOver.Answer(id: draft.id, refusal: nil))
            #expect(ContinuousClock.now - started < .seconds(5), "answered by the intake loop, not after a broker session")
            let e = try #require(try g.gateway.store.outboxEntry(id: draft.id))
            #expect(e.signed && e.deliveries.map(\.state) == ["queued"])
            await g.stop()
        }
    }

    /// A copy leased to a prompt publish by a gateway that ended before publishing it (stored and
    /// signed, its lease an hour long) goes out as soon as a gateway runs again: the session
    /// releases it. And the prompt publishes' outcomes are recorded: the receiver's receipt copy,
    /// published by its receive loop right after its commit, ends up "published".
    @Test func aCopyLeasedByAGatewayThatEndedGoesOutWhenTheNextSessionStarts() async throws {
        try await TestNetwork.with { net in
            let ha = try await net.enrol(try randomUnitCode(), name: "甲"), b = try randomUnitCode()
            let gb = RunningGateway(try net.gateway(try await net.enrol(b, name: "乙")))
            let g = try net.gateway(ha)
            let now = Date()
            let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "租约中的副本"), recipients: [.init(unit: b, role: .main)], parts: [])
            let id = g.identity.withLock { $0 }
            let signed = try SignedEnvelope.sign(draft.unsigned(createdAt: now).envelope(sender: g.unitCode, senderName: id.name), key: g.key, certificate: id.certificate)
            let stored = try g.store.storeHandedOver([.init(submission: .init(draft: draft), receivedAt: now, envelope: signed.bytes, payloadSha256: signed.payloadSha256)],
                                                     lease: now.addingTimeInterval(3600))
            #expect(stored.prompt.map(\.documentID) == [draft.id], "leased, as a send round leases before it publishes")
            #expect(try g.store.due().isEmpty)
            let ga = RunningGateway(g)
            try await eventually("delivered long before the lease ends", timeout: .seconds(30)) {
                try g.store.outboxEntry(id: draft.id)?.deliveries.first?.state == "delivered"
            }
            #expect(try gb.gateway.store.inboxEntry(id: draft.id)?.title == "租约中的副本")
            try await eventually("the receiver's receipt recorded as published", timeout: .seconds(30)) {
                try gb.gateway.store.outbox(includeReceipts: true).flatMap(\.deliveries).map(\.state) == ["published"]
            }
            await ga.stop(); await gb.stop()
        }
    }

    /// `doc send` hands its draft to the running gateway (stored and signed when the command
    /// returns), and stores it itself when no gateway runs (unsigned until one does).
    @Test func docSendHandsOverToARunningGatewayAndStoresItselfWithoutOne() async throws {
        try await TestNetwork.with { net in
            let (ga, gb, ha, b) = try await senderAndReceiver(net)
            try await takesDocuments(ha)
            let file = net.dir + "/交接.txt"
            #expect(FileManager.default.createFile(atPath: file, contents: Data("正文".utf8)))
            let r1 = try runCLI(["doc", "send", "--home", ha.path, "--to", "\(b)", "--title", "网关在时", file])
            #expect(r1.status == 0, "\(r1.err)")
            let id1 = r1.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try ga.gateway.store.outboxEntry(id: id1)?.signed == true, "handed over: signed in the commit that stored it")
            try await eventually("delivered", timeout: .seconds(30)) { try ga.gateway.store.outboxEntry(id: id1)?.deliveries.first?.state == "delivered" }
            await ga.stop()
            #expect(try HandOver.Client.connect(database: ha.database) == nil, "a stopped gateway takes nothing")
            let r2 = try runCLI(["doc", "send", "--home", ha.path, "--to", "\(b)", "--title", "网关不在时", file])
            #expect(r2.status == 0, "\(r2.err)")
            let id2 = r2.out.trimmingCharacters(in: .whitespacesAndNewlines)
            let e2 = try #require(try GatewayStore(path: ha.database).outboxEntry(id: id2))
            #expect(e2.title == "网关不在时" && !e2.signed, "stored by the command itself, for the gateway to sign when it runs")
            await gb.stop()
        }
    }
}
