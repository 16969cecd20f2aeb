import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanStore

extension Gateway {
    /// Signs stored drafts (once: the signed bytes are stored, so a restart republishes the same
    /// envelope), then publishes every due copy with confirms, many in flight at once.
    ///
    /// Rounds, not a pipeline: a round publishes what is due and records the outcomes in one
    /// transaction. Pipelined loops (new copies out while earlier ones wait for the broker, the
    /// outcomes recorded as they come or a round later) were measured in three rounds of work (see
    /// README, "Performance"): no better latency or throughput, more commits competing for the
    /// store's write lock with `doc send`, more CPU spent looking at the outbox.
    ///
    /// Drafts handed over by `doc send` (see `HandOver`) are taken at the next look and stored and
    /// signed in one commit; other processes write into the store directly (bulk imports, clerks'
    /// acts, `doc send` while no gateway ran), so the loop looks again 10 ms after a round that found
    /// nothing (the wait is part of every document's latency); a wake-up per handed-over document
    /// while busy was not kept for the reason knocks are not (smaller rounds). After a quiet
    /// second it looks every `idleLook` (four times a second) instead, and a knock (see `Knock`) or
    /// the receive loop's bell wakes it at once: a hundred looks a second cost an idle gateway 5 %
    /// of a core. After `trimAfter` without work the gateway gives back its idle memory (see
    /// `WorkingSet`), once per quiet spell and at most once a minute.
    func sendLoop(_ conn: AMQPConnection) async throws {
        var storageAttempt = 0
        var lastWork = ContinuousClock.now
        var trimmed = false
        sending.store(true, ordering: .sequentiallyConsistent)
        defer { sending.store(false, ordering: .sequentiallyConsistent) }
        while !Task.isCancelled {
            let idle = listening.load(ordering: .relaxed) && ContinuousClock.now - lastWork > .seconds(1)
            // Set before the look: a knock from now on rings the bell, and whatever was stored before
            // such a knock is found by this look.
            if idle { idleLooking.store(true, ordering: .sequentiallyConsistent) }
            do {
                if try await sendRound(conn) {
                    lastWork = .now
                    trimmed = false
                } else {
                    if !trimmed, let after = trimAfter, ContinuousClock.now - lastWork > after, releaseIdleMemory() {
                        trimmed = true
                    }
                    await doorbell.wait(timeout: idle ? idleLook : .milliseconds(10))
                }
                storageAttempt = 0
            } catch {
                // Disk full or I/O error: nothing is lost (what was not recorded is sent again and
                // the receiver treats it as a duplicate); wait and go on.
                try await waitOut(error, attempt: &storageAttempt, "cannot update the outbox")
            }
            idleLooking.store(false, ordering: .sequentiallyConsistent)
            if let f = conn.failure { throw f }
        }
    }

    /// One round: store and sign what was handed over (one commit), sign what `doc send` stored
    /// itself, publish what is due, record the outcomes. False when nothing was due.
    func sendRound(_ conn: AMQPConnection) async throws -> Bool {
        let handed = takeHandedOver()
        let look = try store.look(limit: 512)
        let took = try handed.isEmpty ? false : intake(handed)
        // Newly signed copies are due at once: read again (one read, only when something was signed).
        // The look's own due copies are then read twice; kept so because beside a round of new drafts
        // they are few (receipts queued meanwhile, retries come due), while the look that finds no
        // draft is the one made a hundred times a second.
        let signed = try sign(look.unsigned)
        let due = try await withoutRetired(took || signed ? try store.due(limit: 512) : look.due)
        if due.isEmpty { return false }
        let results = await withTaskGroup(of: (GatewayStore.Due, GatewayStore.PublishResult?).self) { g in
            for d in due {
                g.addTask { (d, await self.publish(d, on: conn)) }
            }
            var out: [(GatewayStore.Due, GatewayStore.PublishResult?)] = []
            for await r in g { out.append(r) }
            return out
        }
        try store.recordPublishes(results.compactMap { d, r in r.map { (d.documentID, d.recipient, $0) } },
                                  untrailed: Set(results.lazy.filter { $0.0.kind == .receipt }.map(\.0.documentID)))
        for (d, r) in results {
            guard let r else { continue }
            switch r {
            case .confirmed: if d.kind != .receipt { metrics.sent.increment() }
            case .retry: metrics.retries.increment()
            }
        }
        return true
    }

    /// A deregistered unit gets nothing: refused at the sender, with the reason, never dropped.
    func withoutRetired(_ due: [GatewayStore.Due]) async throws -> [GatewayStore.Due] {
        guard let dir = await directory.current else { return due }
        var keep: [GatewayStore.Due] = []
        for d in due {
            if dir.entry(d.recipient)?.status == .deregistered {
                try store.refuse(documentID: d.documentID, recipient: d.recipient, reason: "unit \(d.recipient) is deregistered")
            } else {
                keep.append(d)
            }
        }
        return keep
    }

    /// nil: the connection dropped before the broker answered; the copy stays due as it was.
    func publish(_ d: GatewayStore.Due, on conn: AMQPConnection) async -> GatewayStore.PublishResult? {
        let backoff = Self.backoff(attempts: d.attempts)
        do {
            let body = d.hasParts ? MessageFrame.encode(envelope: d.envelope, parts: d.parts) : d.envelope
            let message = AMQPMessage(body: body, contentType: d.hasParts ? MessageFrame.framedContentType : MessageFrame.envelopeContentType,
                                      messageID: d.documentID, userID: config.brokerUser, type: "yizhan.envelope.v1",
                                      timestamp: UInt64(Date().timeIntervalSince1970))
            let started = DispatchTime.now()
            switch try await conn.publish(exchange: "yizhan.documents", routingKey: d.recipient, mandatory: true, message: message) {
            case .confirmed:
                metrics.confirmLatency.recordInterval(since: started)
                return .confirmed
            case .returned(let code, let text):
                logger.warning("copy returned by the broker", metadata: ["document": "\(d.documentID)", "recipient": "\(d.recipient)", "reply": "\(code) \(text)"])
                return .retry(error: "no such recipient: the broker has no queue for \(d.recipient) (\(code) \(text))", after: backoff)
            case .nacked:
                return .retry(error: "broker nacked the copy", after: backoff)
            }
        } catch let e as AMQPError where e.isConnectionLoss {
            return nil
        } catch {
            return .retry(error: "\(error)", after: backoff)
        }
    }

    /// Logs, counts and waits out a transient storage failure (disk full, I/O error); rethrows anything else.
    func waitOut(_ error: any Error, attempt: inout Int, _ what: String) async throws {
        guard StorageFailure.isTransient(error) else { throw error }
        let wait = StorageFailure.delay(attempt: attempt)
        attempt += 1
        metrics.storageFailures.increment()
        logger.error("\(what) (disk full or I/O error); retrying", metadata: ["error": "\(error)", "in": "\(wait)"])
        try await Task.sleep(for: wait)
    }

    static func backoff(attempts: Int) -> TimeInterval { min(300.0, pow(2.0, Double(min(attempts, 10)))) }

    /// Signs drafts the send loop found and stores the signatures; true when any were signed.
    func sign(_ unsigned: [GatewayStore.Unsigned]) throws -> Bool {
        guard !unsigned.isEmpty else { return false }
        let id = identity.withLock { $0 }
        if id.revoked {
            logger.warning("signing paused: this unit's certificate is revoked and no replacement is installed yet")
            return false
        }
        var batch: [(id: String, envelope: [UInt8], payloadSha256: String)] = []
        var receipts: [Envelope] = []
        var chunked = false
        for u in unsigned {
            let e = u.envelope(sender: unitCode, senderName: id.name)
            // Receipts left unsigned (stored while the certificate was revoked) are signed together.
            if e.kind == .receipt { receipts.append(e); continue }
            let signed = try SignedEnvelope.sign(e, key: key, certificate: id.certificate)
            batch.append((u.id, signed.bytes, signed.payloadSha256))
            chunked = chunked || e.transfer != nil
        }
        let signedReceipts = try SignedEnvelope.signBatch(receipts, key: key, certificate: id.certificate)
        batch += signedReceipts.map { ($0.envelope.id, $0.bytes, $0.payloadSha256) }
        try store.markSigned(batch)
        if chunked { transferBell.ring() }
        return true
    }

    func makeReceipt(to unit: UnitCode, receipt: ReceiptInfo) throws -> GatewayStore.SignedReceipt {
        let id = identity.withLock { $0 }
        let e = receiptEnvelope(id: UUIDv7.make(), from: unitCode, senderName: id.name, to: unit, receipt: receipt,
                                created: Timestamp.format(Date()))
        let s = try SignedEnvelope.sign(e, key: key, certificate: id.certificate)
        return GatewayStore.SignedReceipt(id: e.id, to: unit.rawValue, receipt: receipt, envelope: s.bytes, payloadSha256: s.payloadSha256)
    }

    /// A receipt as this unit sends it; the same fields the send loop reads back for a receipt stored
    /// unsigned. The sender and time come in ready-made: a group's receipts share them.
    func receiptEnvelope(id: String, from sender: UnitCode, senderName: String, to unit: UnitCode, receipt: ReceiptInfo, created: String) -> Envelope {
        Envelope(id: id, kind: .receipt, sender: sender, senderName: senderName, recipients: [.init(unit: unit, role: .main)],
                 created: created, inReplyTo: receipt.document, receipt: receipt)
    }
}
