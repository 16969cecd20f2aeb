import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanStore

extension Gateway {
    func receiveLoop(_ conn: AMQPConnection, _ deliveries: AMQPConnection.Deliveries) async throws {
        for try await d in deliveries {
            // Storage failing (disk full, I/O error) holds the message unacked and retries it in
            // place: requeueing would spend the queue's delivery limit and could dead-letter it.
            var attempt = 0
            var stored: Bool
            while true {
                do {
                    stored = try await handle(d)
                    break
                } catch where StorageFailure.isTransient(error) {
                    let wait = StorageFailure.delay(attempt: attempt)
                    attempt += 1
                    metrics.storageFailures.increment()
                    logger.error("cannot store an incoming message (disk full or I/O error); holding it and retrying", metadata: ["message": "\(d.messageID ?? "-")", "error": "\(error)", "in": "\(wait)"])
                    try await Task.sleep(for: wait)
                    if let f = conn.failure { throw f }
                }
            }
            if attempt > 0 { logger.notice("storage works again; the held message is stored", metadata: ["message": "\(d.messageID ?? "-")"]) }
            if stored {
                // Stored (or quarantined) first, then acked: a crash in between means a redelivery,
                // which the inbox's primary key turns into a duplicate, never a second document.
                try conn.ack(d)
            } else {
                // The registry could not be asked: back to the queue, tried again shortly (the queue's
                // delivery limit dead-letters it if this never resolves; nothing is dropped).
                try await Task.sleep(for: .seconds(1))
                try conn.reject(d, requeue: true)
            }
            doorbell.ring()
        }
        throw AMQPError(.connectionClosed, "consumer ended")
    }

    /// Returns false when the message should be tried again later instead of acked.
    func handle(_ d: AMQPDelivery) async throws -> Bool {
        // Refused before any parsing: nothing legitimate is this large (see InboundVerifier.Limits).
        if d.body.count > ReceiveLimits.message {
            return try refuse(d, .init(code: .oversize, detail: "message of \(d.body.count) bytes exceeds \(ReceiveLimits.message); only its first 64 KiB are kept",
                                       identified: nil, claimedSender: nil), keep: ReceiveLimits.keptOfOversize)
        }
        if d.contentType == ChunkFrame.contentType { return try await handleChunk(d) }
        let dir = directory
        let result = await verifier.verify(d, directory: { refresh in
            refresh ? await dir.refresh(minimumInterval: 0.25) : await dir.current
        }, confirmed: { await dir.lastRefreshSucceeded })
        switch result {
        case .success(let a):
            let e = a.signed.envelope
            // A link that points nowhere (a reply to an unknown request, ...) is refused like any bad input.
            let linked = [.reply, .chase, .attendance].contains(e.kind) || e.receipt?.status.isClerkAct == true
            if linked, let problem = try store.linkProblem(e), try !store.isInInbox(e.id) {
                return try refuse(d, .init(code: .unknownDocument, detail: problem, identified: a.signed, claimedSender: e.sender.rawValue))
            }
            if e.kind == .receipt, let r = e.receipt {
                try store.applyReceipt(id: e.id, from: e.sender.rawValue, receipt: r, envelope: a.signed.bytes, signedAt: Timestamp.parse(e.created))
                metrics.receipts.increment()
                if r.status == .delivered, let queued = try store.outboxCreatedAt(r.document) {
                    metrics.deliveryLatency.recordNanoseconds(Int64(max(0, Date().timeIntervalSince(queued)) * 1e9))
                }
                logger.info("receipt verified", metadata: ["document": "\(r.document)", "from": "\(e.sender)", "status": "\(r.status.rawValue)"])
                return true
            }
            let payload = a.signed.payloadSha256
            if e.transfer != nil {
                switch try store.beginIncoming(e, bytes: a.signed.bytes, payloadSha256: payload, onBehalfOf: a.onBehalfOf, userID: d.userID ?? "") {
                case .started: logger.info("transfer started", metadata: ["document": "\(e.id)", "from": "\(e.sender)", "parts": "\(e.parts.count)"])
                case .resumed: break
                case .duplicate: logger.info("duplicate delivery; receipt sent again", metadata: ["document": "\(e.id)"])
                }
                // A document whose parts are all empty has no chunks to wait for.
                if let t = try store.incoming(id: e.id), t.total == 0 { try completeTransfer(t) }
                return true
            }
            let receipt = try makeReceipt(to: e.sender, receipt: ReceiptInfo(status: .delivered, document: e.id, payloadSha256: payload,
                                                                              onBehalfOf: try a.onBehalfOf.map { try UnitCode($0) }))
            let r = try store.receive(.init(envelope: e, bytes: a.signed.bytes, payloadSha256: payload, onBehalfOf: a.onBehalfOf, parts: a.parts), receipt: receipt)
            if case .duplicate = r {
                logger.info("duplicate delivery; receipt sent again", metadata: ["document": "\(e.id)"])
            } else {
                metrics.received.increment()
                logger.info("document received", metadata: ["document": "\(e.id)", "from": "\(e.sender)"])
            }
            return true
        case .failure(let r) where r.retryLater:
            logger.warning("registry unreachable; message requeued until the directory can be checked", metadata: ["reason": "\(r.code.rawValue)", "detail": "\(r.detail)"])
            return false
        case .failure(let r):
            return try refuse(d, r)
        }
    }

    /// Quarantines a refused message with its reason; the identified sender of a non-receipt gets a rejected receipt.
    func refuse(_ d: AMQPDelivery, _ r: InboundVerifier.Rejected, keep: Int = .max) throws -> Bool {
        var receipt: GatewayStore.SignedReceipt? = nil
        if let s = r.identified, s.envelope.kind != .receipt {
            receipt = try makeReceipt(to: s.envelope.sender, receipt: ReceiptInfo(
                status: .rejected, document: s.envelope.id, payloadSha256: s.payloadSha256, reason: r.code.rawValue, detail: String(r.detail.prefix(1000))))
        }
        let id = try store.quarantine(.init(reason: r.code.rawValue, detail: r.detail, messageID: d.messageID, userID: d.userID, routingKey: d.routingKey,
                                            contentType: d.contentType, claimedSender: r.claimedSender, body: Array(d.body.prefix(keep))), receipt: receipt)
        metrics.rejected(r.code.rawValue)
        logger.warning("message quarantined", metadata: ["quarantine": "\(id)", "reason": "\(r.code.rawValue)", "detail": "\(r.detail)",
                                                         "rejectedReceipt": "\(receipt != nil)"])
        return true
    }
}
