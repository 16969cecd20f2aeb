import Foundation
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanStore

/// The real `yizhan` binary built next to the tests, for kill -9 tests.
func yizhanBinary() throws -> String {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let path = repo.appendingPathComponent(".build/debug/yizhan").path
    guard FileManager.default.isExecutableFile(atPath: path) else { throw TestFailure("\(path) not built; run swift build --build-tests") }
    return path
}

/// `yizhan gateway run` for `home`, with its metrics endpoint on `metricsPort` when given.
func startGatewayProcess(home: String, metricsPort: Int? = nil) throws -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try yizhanBinary())
    p.arguments = ["gateway", "run", "--home", home] + (metricsPort.map { ["--metrics", "127.0.0.1:\($0)"] } ?? [])
    var env = ProcessInfo.processInfo.environment
    env["YIZHAN_LOG_LEVEL"] = "error"
    p.environment = env
    try p.run()
    return p
}

extension BrokerTests {
    /// 2,000 documents between two gateway processes. The receiver is killed (SIGKILL) and restarted
    /// mid-stream, then the sender, then every broker connection of the network is closed
    /// mid-stream. Each document lands exactly once and every receipt comes back.
    @Test func twoThousandDocumentsSurviveKillAndConnectionClose() async throws {
        try await TestNetwork.with { net in
        let a = try randomUnitCode(), b = try randomUnitCode()
        let ha = try await net.enrol(a, name: "发文单位"), hb = try await net.enrol(b, name: "收文单位")
        let storeA = try GatewayStore(path: ha.database), storeB = try GatewayStore(path: hb.database)
        // Enough that each fault lands mid-stream although the sender publishes up to 512 copies a
        // round and the receiver stores up to 256 a group (the inbox grows in jumps that large).
        let total = 2000
        var ids: [String] = []
        for i in 0..<total {
            let part = Array("part \(i)".utf8)
            let d = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "文件 \(i)"), recipients: [.init(unit: b, role: .main)],
                                       parts: i % 5 == 0 ? [.init(name: "p.txt", mediaType: "text/plain", data: part, sha256: Digest.sha256Hex(part))] : [])
            try storeA.enqueue(d)
            ids.append(d.id)
        }
        var pa = try startGatewayProcess(home: ha.path)
        var pb = try startGatewayProcess(home: hb.path)
        defer { pa.terminate(); pb.terminate() }

        try await eventually("a first share received", timeout: .seconds(120)) { try storeB.inboxCount() >= 100 }
        kill(pb.processIdentifier, SIGKILL)
        pb.waitUntilExit()
        let atReceiverKill = try storeB.inboxCount()
        pb = try startGatewayProcess(home: hb.path)

        try await eventually("more received after the receiver restarted", timeout: .seconds(120)) { try storeB.inboxCount() >= atReceiverKill + 300 }
        kill(pa.processIdentifier, SIGKILL)
        pa.waitUntilExit()
        let receiptsAtSenderKill = try storeA.deliveryCounts()["delivered"] ?? 0
        pa = try startGatewayProcess(home: ha.path)

        try await eventually("more received after the sender restarted", timeout: .seconds(120)) { try storeB.inboxCount() >= atReceiverKill + 600 }
        let atClose = try storeB.inboxCount()
        let admin = try TestBroker.admin()
        // The management API lists connections a few seconds late; wait until it shows both gateways.
        try await eventually("both gateways' connections listed", timeout: .seconds(30)) { try await admin.connections(vhost: net.vhost).count >= 2 }
        let before = Set(try await admin.connections(vhost: net.vhost))
        try TestBroker.rabbitmqctl("close_all_connections", "--vhost", net.vhost, "yizhan test: connection closed mid-stream")

        try await eventually("all \(total) documents delivered and receipted", timeout: .seconds(240)) {
            try storeA.deliveryCounts()["delivered"] == total
        }
        #expect(atReceiverKill < total, "the receiver's kill must land mid-stream")
        #expect(receiptsAtSenderKill < total, "the sender's kill must land mid-stream")
        #expect(atClose < total, "the connection close must land mid-stream")
        // Every connection open before the close is gone (replaced by reconnections).
        try await eventually("the closed connections disappear", timeout: .seconds(30)) {
            let now = Set(try await admin.connections(vhost: net.vhost))
            return now.isDisjoint(with: before) && !now.isEmpty
        }
        let inbox = try storeB.inbox()
        #expect(inbox.count == total)
        #expect(Set(inbox.map(\.id)) == Set(ids))
        #expect(try storeA.receipts().count == total)
        #expect(Set(try storeA.receipts().map(\.documentID)) == Set(ids))
        #expect(try storeB.quarantined().isEmpty)
        #expect(try storeA.quarantined().isEmpty)
        // Under this load B signed its receipts in batches; each stored receipt still verifies on
        // its own (signature over the tree head, inclusion proof) and fits the published schema.
        let envelopes = try storeA.receiptEnvelopes()
        var batched = 0, largest = 0
        for e in envelopes {
            let (opened, signer) = try SignedEnvelope.open(e)
            #expect(signer.commonName == b.rawValue)
            if let batch = opened.envelope.signature?.batch { batched += 1; largest = max(largest, batch.size) }
        }
        #expect(batched > 0 && largest > 1, "\(batched) batch-signed receipts, largest batch \(largest)")
        #expect(try schemaErrors(envelopes).compactMap { $0 }.isEmpty)
        }
    }
}
