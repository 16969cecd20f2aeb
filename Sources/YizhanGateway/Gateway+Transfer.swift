import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanStore

/// Chunked transfers of large parts. The signed envelope goes first; then each part in chunks of
/// `transfer.chunkSize` bytes, read from the part file one window at a time so that no part is
/// ever held whole in memory. The broker's confirms advance a stored position per recipient, so
/// a restarted sender resumes where it was, and a restarted receiver finds the chunks it had not
/// acknowledged still in its queue: nothing already stored is sent again.
extension Gateway {
    func transferLoop(_ conn: AMQPConnection) async throws {
        var storageAttempt = 0
        while !Task.isCancelled {
            do {
                let due = try await withoutRetired(try store.due(limit: 16, chunked: true))
                if due.isEmpty {
                    await transferBell.wait(timeout: .milliseconds(250))
                    continue
                }
                for d in due {
                    try await transfer(d, on: conn)
                    if let f = conn.failure { throw f }
                }
                storageAttempt = 0
            } catch {
                try await waitOut(error, attempt: &storageAttempt, "cannot update a chunked transfer")
            }
        }
    }

    /// Sends what is left of one copy. Throws only on connection loss (the position is kept).
    func transfer(_ d: GatewayStore.Due, on conn: AMQPConnection) async throws {
        guard let t = d.transfer else { return }
        var position = d.position
        func retry(_ why: String) throws {
            try store.recordPublish(documentID: d.documentID, recipient: d.recipient,
                                    result: .retry(error: why, after: Self.backoff(attempts: d.attempts)))
        }
        if position == 0 {
            let m = AMQPMessage(body: d.envelope, contentType: MessageFrame.envelopeContentType, messageID: d.documentID, userID: config.brokerUser,
                                type: "yizhan.envelope.v1", timestamp: UInt64(Date().timeIntervalSince1970))
            switch try await publishOne(m, to: d.recipient, on: conn) {
            case .confirmed: position = 1
            case .returned(let code, let text): return try retry("no such recipient: the broker has no queue for \(d.recipient) (\(code) \(text))")
            case .nacked: return try retry("broker nacked the envelope")
            }
            try store.recordTransferProgress(documentID: d.documentID, recipient: d.recipient, position: position)
        }
        let files = try store.outgoingFiles(documentID: d.documentID)
        // Every chunk in order: (part, chunk index). Position p means chunks 0..<p-1 are confirmed.
        var plan: [(part: GatewayStore.OutgoingFile, index: Int)] = []
        for f in files {
            let size = (try? FileManager.default.attributesOfItem(atPath: f.file)[.size] as? Int) ?? -1
            guard size == f.size else {
                try store.refuse(documentID: d.documentID, recipient: d.recipient,
                                 reason: "the stored file of part \(f.index) is \(size) bytes, not the \(f.size) that were signed; send the document again")
                return
            }
            for i in 0..<t.chunks(of: f.size) { plan.append((f, i)) }
        }
        var next = position - 1
        while next < plan.count {
            let batch = plan[next..<min(plan.count, next + chunkWindow)]
            var messages: [AMQPMessage] = []
            for (f, i) in batch {
                let data = try readChunk(f.file, offset: i * t.chunkSize, count: min(t.chunkSize, f.size - i * t.chunkSize))
                let frame = ChunkFrame(document: d.documentID, part: f.index, index: i, sha256: Digest.sha256(data), data: data)
                messages.append(AMQPMessage(body: frame.encoded(), contentType: ChunkFrame.contentType, messageID: frame.messageID,
                                            userID: config.brokerUser, type: "yizhan.chunk.v1"))
            }
            let outcomes = try await withThrowingTaskGroup(of: (Int, PublishOutcome).self) { g in
                for (k, m) in messages.enumerated() {
                    g.addTask { (k, try await self.publishOne(m, to: d.recipient, on: conn)) }
                }
                var out = [PublishOutcome](repeating: .nacked, count: messages.count)
                for try await (k, o) in g { out[k] = o }
                return out
            }
            messages.removeAll()
            if let bad = outcomes.first(where: { $0 != .confirmed }) {
                return try retry("chunk not confirmed by the broker (\(bad)); resuming from chunk \(next)")
            }
            next += batch.count
            try store.recordTransferProgress(documentID: d.documentID, recipient: d.recipient, position: next + 1)
        }
        try store.recordPublish(documentID: d.documentID, recipient: d.recipient, result: .confirmed)
        metrics.sent.increment()
        logger.info("transfer published", metadata: ["document": "\(d.documentID)", "recipient": "\(d.recipient)", "chunks": "\(plan.count)"])
    }

    /// Publishes one message; a lost connection surfaces as the connection's error.
    func publishOne(_ m: AMQPMessage, to recipient: String, on conn: AMQPConnection) async throws -> PublishOutcome {
        do {
            return try await conn.publish(exchange: "yizhan.documents", routingKey: recipient, mandatory: true, message: m)
        } catch let e as AMQPError where e.isConnectionLoss {
            throw e
        }
    }

    func readChunk(_ file: String, offset: Int, count: Int) throws -> [UInt8] {
        guard let h = FileHandle(forReadingAtPath: file) else { throw YizhanError(.notFound, "cannot read part file \(file)") }
        defer { try? h.close() }
        try h.seek(toOffset: UInt64(offset))
        let d = try h.read(upToCount: count) ?? Data()
        guard d.count == count else { throw YizhanError(.partMismatch, "part file \(file) ended early") }
        return Array(d)
    }

    // MARK: receiving

    /// One chunk message. Returns true when it may be acked (stored, a harmless duplicate, or
    /// quarantined with its reason).
    func handleChunk(_ d: AMQPDelivery) async throws -> Bool {
        let frame: ChunkFrame
        do { frame = try ChunkFrame.decode(d.body) } catch {
            return try quarantineChunk(d, reason: error.code.rawValue, detail: error.message, claimed: nil)
        }
        guard let t = try store.incoming(id: frame.document) else {
            // Late copies of a completed transfer, or the rest of a refused one, carry nothing new.
            if try store.isInInbox(frame.document) || store.wasRefused(documentID: frame.document) { return true }
            return try quarantineChunk(d, reason: YizhanError.Code.unknownDocument.rawValue,
                                       detail: "chunk \(frame.index) of part \(frame.part) for document \(frame.document), which this gateway has not accepted",
                                       claimed: nil)
        }
        // Only the unit that sent the envelope may add chunks to it.
        guard d.userID == t.userID else {
            return try quarantineChunk(d, reason: YizhanError.Code.wrongUserID.rawValue,
                                       detail: "chunk for \(frame.document) published by \(d.userID ?? "nobody"), the document came from \(t.userID)", claimed: t.sender)
        }
        guard frame.part < t.parts.count, frame.index < t.parts[frame.part].chunks else {
            return try failTransfer(t, reason: YizhanError.Code.chunkMismatch.rawValue, detail: "chunk \(frame.index) of part \(frame.part) is outside the signed parts", body: d.body)
        }
        let p = t.parts[frame.part]
        let expected = min(t.chunkSize, p.size - frame.index * t.chunkSize)
        let digest = Digest.sha256(frame.data)
        guard frame.data.count == expected, digest == frame.sha256 else {
            return try failTransfer(t, reason: YizhanError.Code.chunkMismatch.rawValue,
                                    detail: "chunk \(frame.index) of part \(frame.part): \(frame.data.count) bytes (expected \(expected)), digest \(digest == frame.sha256 ? "matches" : "does not match")",
                                    body: d.body)
        }
        let hex = Digest.hex(digest)
        if let prior = try store.storedChunk(documentID: frame.document, part: frame.part, index: frame.index) {
            if prior == hex { return true }
            return try failTransfer(t, reason: YizhanError.Code.chunkMismatch.rawValue, detail: "chunk \(frame.index) of part \(frame.part) arrived twice with different bytes", body: d.body)
        }
        try GatewayStore.writeChunk(frame.data, to: p.file, at: frame.index * t.chunkSize)
        let missing = try store.recordChunk(documentID: frame.document, part: frame.part, index: frame.index, sha256: hex)
        if missing == 0 { try completeTransfer(t) }
        return true
    }

    /// Every chunk is stored: each whole part is read back through SHA-256 and compared with the
    /// signed digest before the document becomes visible.
    func completeTransfer(_ t: GatewayStore.IncomingState) throws {
        let (e, payload) = try incomingEnvelope(t)
        for (i, p) in t.parts.enumerated() {
            if p.size == 0, !FileManager.default.fileExists(atPath: p.file) { try GatewayStore.writeChunk([], to: p.file, at: 0) }
            let (sha, size) = try Digest.sha256Hex(fileAt: p.file)
            guard sha == p.sha256, size == p.size else {
                _ = try failTransfer(t, reason: YizhanError.Code.partMismatch.rawValue,
                                     detail: "part \(i) (\(e.parts[i].name)) does not match its signed size and SHA-256", body: [])
                return
            }
        }
        let receipt = try makeReceipt(to: e.sender, receipt: ReceiptInfo(status: .delivered, document: e.id, payloadSha256: payload,
                                                                          onBehalfOf: try store.incomingOnBehalfOf(t.id).map { try UnitCode($0) }))
        try store.completeIncoming(id: t.id, envelope: e, receipt: receipt)
        metrics.received.increment()
        logger.info("document received", metadata: ["document": "\(e.id)", "from": "\(e.sender)", "chunks": "\(t.total)"])
    }

    func incomingEnvelope(_ t: GatewayStore.IncomingState) throws -> (Envelope, String) {
        guard let (bytes, payload) = try store.incomingEnvelope(t.id) else { throw YizhanError(.notFound, "no incoming transfer \(t.id)") }
        return (try Envelope.parse(bytes).0, payload)
    }

    /// The transfer cannot complete: the envelope is quarantined with the reason, and the sender
    /// gets a rejected receipt so the clerk there knows to send it again.
    func failTransfer(_ t: GatewayStore.IncomingState, reason: String, detail: String, body: [UInt8]) throws -> Bool {
        let (e, payload) = try incomingEnvelope(t)
        let receipt = try makeReceipt(to: e.sender, receipt: ReceiptInfo(status: .rejected, document: e.id, payloadSha256: payload, reason: reason,
                                                                          detail: String(detail.prefix(1000))))
        let id = try store.failIncoming(id: t.id, .init(reason: reason, detail: detail, messageID: t.id, userID: t.userID, routingKey: config.unit,
                                                        contentType: ChunkFrame.contentType, claimedSender: t.sender, body: body), receipt: receipt)
        metrics.rejected(reason)
        logger.warning("transfer refused", metadata: ["document": "\(t.id)", "quarantine": "\(id)", "reason": "\(reason)", "detail": "\(detail)"])
        return true
    }

    func quarantineChunk(_ d: AMQPDelivery, reason: String, detail: String, claimed: String?) throws -> Bool {
        let id = try store.quarantine(.init(reason: reason, detail: detail, messageID: d.messageID, userID: d.userID, routingKey: d.routingKey,
                                            contentType: d.contentType, claimedSender: claimed, body: d.body), receipt: nil)
        metrics.rejected(reason)
        logger.warning("chunk quarantined", metadata: ["quarantine": "\(id)", "reason": "\(reason)", "detail": "\(detail)"])
        return true
    }
}
