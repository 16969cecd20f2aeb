import Foundation
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanStore

/// Writes `megabytes` MiB of random bytes to `path` one MiB at a time; returns the SHA-256.
func writeRandomFile(_ path: String, megabytes: Int) throws -> String {
    FileManager.default.createFile(atPath: path, contents: nil)
    let h = try #require(FileHandle(forWritingAtPath: path))
    defer { try? h.close() }
    let hash = try SHA256Stream()
    for _ in 0..<megabytes {
        let block = try SecureRandom.bytes(1 << 20)
        hash.update(block)
        try h.write(contentsOf: Data(block))
    }
    return hash.finishHex()
}

extension BrokerTests {
    /// A 50 MiB attachment goes in 1 MiB chunks between two gateway processes. The receiver is
    /// killed (SIGKILL) mid-transfer and restarted: it resumes from what it stored, the sender sends
    /// nothing twice, and the part fetched at the end is byte for byte the file that was sent.
    @Test func fiftyMiBAttachmentSurvivesReceiverRestart() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "发文单位"), hb = try await net.enrol(b, name: "收文单位")
            let sa = try GatewayStore(path: ha.database), sb = try GatewayStore(path: hb.database)
            let file = net.dir + "/图纸.pdf"
            let sha = try writeRandomFile(file, megabytes: 50)

            let sent = try runCLI(["doc", "send", "--home", ha.path, "--to", "\(b)", "--title", "施工图审查意见", "--type", "函", file])
            #expect(sent.status == 0, "\(sent.err)")
            #expect(sent.out.split(separator: "\n").count == 1, "no progress bar when stdout is not a terminal: \(sent.out)")
            let id = sent.out.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try sa.outboxEntry(id: id)?.parts.first?.sha256 == sha)

            var pa = try startGatewayProcess(home: ha.path)
            var pb = try startGatewayProcess(home: hb.path)
            defer { pa.terminate(); pb.terminate() }

            try await eventually("part of the transfer stored at the receiver", timeout: .seconds(120)) { (try sb.incoming(id: id)?.stored ?? 0) >= 5 }
            kill(pb.processIdentifier, SIGKILL)
            pb.waitUntilExit()
            let atKill = try #require(try sb.incoming(id: id))
            #expect(atKill.total == 50)
            #expect(atKill.stored < atKill.total, "the receiver was killed mid-transfer")
            #expect(try sb.inboxEntry(id: id) == nil, "an incomplete document is not shown")
            pb = try startGatewayProcess(home: hb.path)

            try await eventually("the whole document arrived", timeout: .seconds(180)) { try sb.inboxEntry(id: id) != nil }
            try await eventually("the sender has the receipt", timeout: .seconds(60)) { try delivery(sa, id, b)?.state == "delivered" }
            let d = try #require(try delivery(sa, id, b))
            #expect(d.attempts == 1, "published in one attempt, never retried")
            let trailA = try sa.trail(documentID: id)
            #expect(!trailA.contains { $0.event == "retry" })
            #expect(trailA.filter { $0.event == "published" }.count == 1)
            let trailB = try sb.trail(documentID: id)
            #expect(trailB.filter { $0.event == "receiving" }.count == 1, "the restarted receiver resumed rather than starting again")
            #expect(try sb.incoming(id: id) == nil)
            #expect(try sb.quarantined().isEmpty)

            let out = net.dir + "/fetched"
            let fetched = try runCLI(["doc", "fetch", "--home", hb.path, id, "--out", out])
            #expect(fetched.status == 0, "\(fetched.err)")
            #expect(try Digest.sha256Hex(fileAt: out + "/图纸.pdf").sha256 == sha)
            pa.terminate(); pb.terminate()
            pa.waitUntilExit(); pb.waitUntilExit()
        }
    }

    /// Chunks published straight to the broker as a real unit: out of order and twice is fine;
    /// unknown document, damaged bytes, a whole part that does not match its signed digest,
    /// another unit's chunk: each refused with its reason, no half document ever shown.
    @Test func badChunksAreRefusedAndNothingHalfIsShown() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode(), c = try randomUnitCode()
            let ha = try await net.enrol(a, name: "甲"), hb = try await net.enrol(b, name: "乙"), hc = try await net.enrol(c, name: "丙")
            let sb = try GatewayStore(path: hb.database)
            let (keyA, certA) = try net.key(ha)
            let connA = try await AMQPConnection.connect(try net.brokerConfig(ha))
            let connC = try await AMQPConnection.connect(try net.brokerConfig(hc))
            let userA = try ha.loadConfig().brokerUser, userC = try hc.loadConfig().brokerUser
            let size = 4096

            func publish(_ body: [UInt8], type: String, id: String, as user: String = userA, on conn: AMQPConnection? = nil) async throws {
                let out = try await (conn ?? connA).publish(exchange: "yizhan.documents", routingKey: b.rawValue,
                                                           message: AMQPMessage(body: body, contentType: type, messageID: id, userID: user))
                #expect(out == .confirmed)
            }
            /// Signs and publishes a chunked envelope whose one part is `signed`; returns its id.
            func begin(_ signed: [UInt8]) async throws -> String {
                let e = Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()),
                                 document: DocumentInfo(title: "分块传输"), parts: [.init(name: "data.bin", mediaType: "application/octet-stream",
                                                                                          size: signed.count, sha256: Digest.sha256Hex(signed))],
                                 transfer: TransferInfo(chunkSize: size))
                try await publish(try SignedEnvelope.sign(e, key: keyA, certificate: certA).bytes, type: MessageFrame.envelopeContentType, id: e.id)
                return e.id
            }
            func chunk(_ id: String, _ data: [UInt8], _ i: Int, digestOf: [UInt8]? = nil) -> [UInt8] {
                let piece = Array(data[(i * size)..<min(data.count, (i + 1) * size)])
                return ChunkFrame(document: id, part: 0, index: i, sha256: Digest.sha256(digestOf ?? piece), data: piece).encoded()
            }
            func send(_ id: String, _ data: [UInt8], _ order: [Int], as user: String = userA, on conn: AMQPConnection? = nil) async throws {
                for i in order { try await publish(chunk(id, data, i), type: ChunkFrame.contentType, id: "\(id)/0/\(i)", as: user, on: conn) }
            }

            try await withGateways(net, [hb]) {
                // Out of order and twice: stored once, complete, exact.
                let data = try SecureRandom.bytes(10_000)
                let ok = try await begin(data)
                try await send(ok, data, [2, 0, 0, 1])
                try await eventually("the reordered transfer completes") { try sb.inboxEntry(id: ok) != nil }
                #expect(try sb.inboxPart(documentID: ok, index: 0) == data)

                // A chunk for a document nobody announced.
                try await publish(ChunkFrame(document: UUIDv7.make(), part: 0, index: 0, sha256: Digest.sha256([1]), data: [1]).encoded(),
                                  type: ChunkFrame.contentType, id: "stray")
                try await eventually("stray chunk quarantined") { try sb.quarantined().contains { $0.messageID == "stray" } }
                #expect(try sb.quarantined().first { $0.messageID == "stray" }?.reason == "unknown-document")

                // Damaged bytes: the chunk's digest is of other bytes. The rest of that transfer is dropped quietly.
                let damaged = try await begin(data)
                try await publish(chunk(damaged, data, 0, digestOf: Array("not these bytes".utf8)), type: ChunkFrame.contentType, id: "\(damaged)/0/0")
                try await send(damaged, data, [1, 2])
                try await eventually("damaged transfer refused") { try sb.quarantined().contains { $0.messageID == damaged } }
                #expect(try sb.quarantined().first { $0.messageID == damaged }?.reason == "chunk-mismatch")

                // Every chunk consistent with itself, but the whole part is not what was signed.
                let other = try SecureRandom.bytes(10_000)
                let swapped = try await begin(data)
                try await send(swapped, other, [0, 1, 2])
                try await eventually("part mismatch refused") { try sb.quarantined().contains { $0.messageID == swapped } }
                #expect(try sb.quarantined().first { $0.messageID == swapped }?.reason == "part-mismatch")

                // The same chunk twice with different bytes.
                let twice = try await begin(data)
                try await send(twice, data, [0])
                try await publish(ChunkFrame(document: twice, part: 0, index: 0, sha256: Digest.sha256(Array(other[0..<size])), data: Array(other[0..<size])).encoded(),
                                  type: ChunkFrame.contentType, id: "\(twice)/0/0")
                try await eventually("conflicting duplicate refused") { try sb.quarantined().contains { $0.messageID == twice } }
                #expect(try sb.quarantined().first { $0.messageID == twice }?.detail.contains("twice") == true)

                // Another unit cannot add chunks to A's transfer; A's own chunks still complete it.
                let guarded = try await begin(data)
                try await send(guarded, other, [0], as: userC, on: connC)
                try await eventually("foreign chunk quarantined") { try sb.quarantined().contains { $0.messageID == "\(guarded)/0/0" } }
                #expect(try sb.quarantined().first { $0.messageID == "\(guarded)/0/0" }?.reason == "wrong-user-id")
                try await send(guarded, data, [0, 1, 2])
                try await eventually("A's transfer completes") { try sb.inboxEntry(id: guarded) != nil }
                #expect(try sb.inboxPart(documentID: guarded, index: 0) == data)

                for refused in [damaged, swapped, twice] {
                    #expect(try sb.inboxEntry(id: refused) == nil)
                    #expect(try sb.incoming(id: refused) == nil)
                    #expect(!FileManager.default.fileExists(atPath: sb.incomingDirectory(refused)))
                }
                #expect(try sb.quarantined().count == 5)
                // A learns of each refusal by a rejected receipt queued at B.
                let rejected = try sb.outbox(includeReceipts: true).filter { $0.kind == "receipt" }.count
                #expect(rejected == 2 + 3, "two delivered and three rejected receipts")
            }
            await connA.close(); await connC.close()
        }
    }

    /// A file that changes while `doc send` reads it is refused and nothing is stored.
    @Test func fileChangingWhileSentIsRefused() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "甲"), _ = try await net.enrol(b, name: "乙")
            let sa = try GatewayStore(path: ha.database)
            for megabytes in [0, 8] {
                let file = net.dir + "/growing-\(megabytes).log"
                _ = try writeRandomFile(file, megabytes: megabytes)
                let writer = try #require(FileHandle(forWritingAtPath: file))
                try writer.seekToEnd()
                let stop = Flag()
                let thread = Thread {
                    // Appended to for as long as `doc send` runs, which must stop reading at the size it
                    // saw rather than follow the file until the disk is full: as fast as it goes up to
                    // 64 MiB more (so that reading the file takes long enough to see it change), then
                    // 4 KiB a millisecond, like a log.
                    var appended = 0
                    while !stop.isSet {
                        try? writer.write(contentsOf: Data(repeating: 0x41, count: 4096))
                        appended += 4096
                        if appended >= 64 << 20 { usleep(1000) }
                    }
                }
                thread.start()
                let r = try runCLI(["doc", "send", "--home", ha.path, "--to", "\(b)", "--title", "日志", file])
                stop.set()
                #expect(r.status != 0)
                #expect(r.err.contains("changed while it was being read"), "\(r.err)")
            }
            #expect(try sa.outbox().isEmpty)
            let spool = sa.partsDirectory + "/out"
            #expect(((try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? []).isEmpty)
        }
    }
}

final class Flag: @unchecked Sendable {
    // @unchecked: the value is only read and written under the lock.
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}
