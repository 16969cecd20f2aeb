import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanStore

extension Gateway {
    /// Takes deliveries in groups (everything that arrived while the last group was being stored,
    /// up to the prefetch window), verifies them side by side on every core, and stores plain
    /// documents and gateway receipts of a group in one transaction; anything else (chunks,
    /// transfers, linked or refused messages) is handled one by one, in order. Every message is
    /// acked only once what it brought is stored.
    func receiveLoop(_ conn: AMQPConnection, _ batches: DeliveryBatches) async throws {
        for try await batch in batches {
            let verdicts = await verifyAll(batch)
            var group: [(AMQPDelivery, InboundVerifier.Accepted)] = []
            // A group's receipts leave at once (see `flush`), and a batch of nothing but the gateway
            // receipts for this unit's own documents gives the send loop nothing to do either: no
            // bell, so no look at the outbox that would find nothing.
            var queuedWork = false
            for (d, v) in zip(batch, verdicts) {
                if case .accepted(let a) = v, Self.joinsGroup(a.signed.envelope) {
                    group.append((d, a))
                    continue
                }
                queuedWork = true
                // Order matters past this point (a chase may name a document of this group): store the group first.
                queuedWork = try await flush(&group, conn) || queuedWork
                var stored = false
                try await holding(d, conn) { stored = try await self.handle(d, v) }
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
            }
            queuedWork = try await flush(&group, conn) || queuedWork
            if queuedWork { doorbell.ring() }
        }
        throw AMQPError(.connectionClosed, "consumer ended")
    }

    /// What one message's checks decided, before anything is stored.
    enum Verdict: Sendable {
        case oversize
        case chunk
        case accepted(InboundVerifier.Accepted)
        case refused(InboundVerifier.Rejected)
    }

    /// Documents without links or chunks, and the gateway's own receipts: stored together.
    static func joinsGroup(_ e: Envelope) -> Bool {
        switch e.kind {
        case .receipt: return e.receipt.map { !$0.status.isClerkAct } ?? false
        case .reply, .chase, .attendance: return false
        default: return e.transfer == nil
        }
    }

    func verifyAll(_ batch: [AMQPDelivery]) async -> [Verdict] {
        if batch.count == 1 { return [await verdict(batch[0])] }
        return await withTaskGroup(of: (Int, Verdict).self) { g in
            for (i, d) in batch.enumerated() { g.addTask { (i, await self.verdict(d)) } }
            var out = [Verdict](repeating: .chunk, count: batch.count)
            for await (i, v) in g { out[i] = v }
            return out
        }
    }

    func verdict(_ d: AMQPDelivery) async -> Verdict {
        // Refused before any parsing: nothing legitimate is this large (see InboundVerifier.Limits).
        if d.body.count > ReceiveLimits.message { return .oversize }
        if d.contentType == ChunkFrame.contentType { return .chunk }
        let dir = directory
        let result = await verifier.verify(d, directory: { refresh in
            refresh ? await dir.refresh(minimumInterval: 0.25) : await dir.current
        }, confirmed: { await dir.lastRefreshSucceeded })
        switch result {
        case .success(let a): return .accepted(a)
        case .failure(let r): return .refused(r)
        }
    }

    /// Storage failing (disk full, I/O error) holds the message unacked and retries it in place:
    /// requeueing would spend the queue's delivery limit and could dead-letter it.
    func holding(_ d: AMQPDelivery?, _ conn: AMQPConnection, _ step: () async throws -> Void) async throws {
        var attempt = 0
        while true {
            do {
                try await step()
                break
            } catch where StorageFailure.isTransient(error) {
                let wait = StorageFailure.delay(attempt: attempt)
                attempt += 1
                metrics.storageFailures.increment()
                logger.error("cannot store incoming messages (disk full or I/O error); holding them and retrying",
                             metadata: ["message": "\(d?.messageID ?? "-")", "error": "\(error)", "in": "\(wait)"])
                try await Task.sleep(for: wait)
                if let f = conn.failure { throw f }
            }
        }
        if attempt > 0 { logger.notice("storage works again; the held messages are stored", metadata: ["message": "\(d?.messageID ?? "-")"]) }
    }

    /// Stores a group in one transaction (held and retried while storage fails), acks every
    /// message, and publishes the group's receipts at once (see `publishPromptly`): a receipt no
    /// longer waits for the send loop's next round. True when something is left for the send loop
    /// (a duplicate's receipt queued again, receipts left unsigned or not leased).
    func flush(_ group: inout [(AMQPDelivery, InboundVerifier.Accepted)], _ conn: AMQPConnection) async throws -> Bool {
        guard !group.isEmpty else { return false }
        let items = group
        group.removeAll(keepingCapacity: true)
        let lease = promptLease()
        var absorbed: GatewayStore.Absorbed?
        try await holding(items.first?.0, conn) { absorbed = try self.absorb(items.map(\.1), lease: lease) }
        try conn.ack(items.map(\.0))
        guard let absorbed else { return false }
        try await publishPromptly(absorbed.prompt, on: conn)
        return absorbed.documents.count > absorbed.prompt.count
    }

    /// Stores verified documents (each with its receipt) and verified receipts in one
    /// transaction: a group, or a single linked message after its link is checked. With a lease,
    /// the receipts stored are leased to the caller to publish (see `publishPromptly`).
    @discardableResult
    func absorb(_ items: [InboundVerifier.Accepted], lease: Date? = nil) throws -> GatewayStore.Absorbed {
        let docs = items.filter { $0.signed.envelope.kind != .receipt }
        let now = Date()
        let receipts = try docs.map { a in
            let e = a.signed.envelope
            return GatewayStore.OutgoingReceipt(to: e.sender.rawValue, receipt: ReceiptInfo(status: .delivered, document: e.id, payloadSha256: a.signed.payloadSha256,
                                                                                          onBehalfOf: try a.onBehalfOf.map { try UnitCode($0) }))
        }
        let incoming = try zip(docs, signedTogether(receipts, created: now)).map { a, r in
            (GatewayStore.Incoming(envelope: a.signed.envelope, bytes: a.signed.bytes, payloadSha256: a.signed.payloadSha256, onBehalfOf: a.onBehalfOf, parts: a.parts), r)
        }
        let arrived = items.compactMap { a -> GatewayStore.ArrivedReceipt? in
            let e = a.signed.envelope
            guard e.kind == .receipt, let r = e.receipt else { return nil }
            return GatewayStore.ArrivedReceipt(id: e.id, from: e.sender.rawValue, receipt: r, envelope: a.signed.bytes, signedAt: Timestamp.parse(e.created))
        }
        let absorbed = try store.absorb(documents: incoming, receipts: arrived, now: now, lease: lease)
        for (a, r) in zip(docs, absorbed.documents) {
            let e = a.signed.envelope
            if case .duplicate = r {
                logger.info("duplicate delivery; receipt sent again", metadata: ["document": "\(e.id)"])
            } else {
                metrics.received.increment()
                logger.info("document received", metadata: ["document": "\(e.id)", "from": "\(e.sender)"])
            }
        }
        for (r, queued) in zip(arrived, absorbed.queuedAt) {
            metrics.receipts.increment()
            if let queued { metrics.deliveryLatency.recordNanoseconds(Int64(max(0, now.timeIntervalSince(queued)) * 1e9)) }
            logger.info("receipt verified", metadata: ["document": "\(r.receipt.document)", "from": "\(r.from)", "status": "\(r.receipt.status.rawValue)"])
        }
        return absorbed
    }

    /// A group's receipts signed with one signature over their hash tree, before the group's
    /// transaction stores them: the receipt then needs no commit of its own before it can go out.
    /// While this unit's certificate is revoked they stay unsigned; the send loop signs them once
    /// a replacement is installed.
    func signedTogether(_ receipts: [GatewayStore.OutgoingReceipt], created: Date) throws -> [GatewayStore.OutgoingReceipt] {
        let id = identity.withLock { $0 }
        guard !id.revoked, !receipts.isEmpty else { return receipts }
        let stamp = Timestamp.format(created)
        let envelopes = try receipts.map {
            receiptEnvelope(id: $0.id, from: unitCode, senderName: id.name, to: try UnitCode($0.to), receipt: $0.receipt, created: stamp)
        }
        let signed = try SignedEnvelope.signBatch(envelopes, key: key, certificate: id.certificate)
        return zip(receipts, signed).map { r, s in
            var r = r
            r.signed = (s.bytes, s.payloadSha256)
            return r
        }
    }

    /// Returns false when the message should be tried again later instead of acked.
    func handle(_ d: AMQPDelivery, _ v: Verdict) async throws -> Bool {
        switch v {
        case .oversize:
            return try refuse(d, .init(code: .oversize, detail: "message of \(d.body.count) bytes exceeds \(ReceiveLimits.message); only its first 64 KiB are kept",
                                       identified: nil, claimedSender: nil), keep: ReceiveLimits.keptOfOversize)
        case .chunk:
            return try await handleChunk(d)
        case .accepted(let a):
            let e = a.signed.envelope
            // A link that points nowhere (a reply to an unknown request, ...) is refused like any bad input.
            let linked = [.reply, .chase, .attendance].contains(e.kind) || e.receipt?.status.isClerkAct == true
            if linked, let problem = try store.linkProblem(e), try !store.isInInbox(e.id) {
                return try refuse(d, .init(code: .unknownDocument, detail: problem, identified: a.signed, claimedSender: e.sender.rawValue))
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
            // The same storage as a group's, for this one message.
            try absorb([a])
            return true
        case .refused(let r) where r.retryLater:
            logger.warning("registry unreachable; message requeued until the directory can be checked", metadata: ["reason": "\(r.code.rawValue)", "detail": "\(r.detail)"])
            return false
        case .refused(let r):
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
