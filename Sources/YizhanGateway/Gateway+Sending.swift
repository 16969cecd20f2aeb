import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanStore

extension Gateway {
    /// Signs stored drafts (once: the signed bytes are stored, so a restart republishes the same
    /// envelope), then publishes every due copy with confirms, many in flight at once.
    ///
    /// Rounds: a round publishes what is due and records the outcomes in one transaction. Pipelined
    /// loops over the whole outbox (new copies out while earlier ones wait for the broker, with an
    /// in-flight set kept out of the outbox query) were measured in three rounds of work (see the article
    /// <doc:PerformanceRounds>): no better, more commits competing for the store's write lock with `doc send`.
    ///
    /// Drafts handed over by `doc send` (see `HandOver`) are taken at the next look, stored and
    /// signed in one commit, and published at once without waiting for their confirms (stored
    /// leased, so no round takes them too, see `publishPromptly`); the next look is then 10 ms after
    /// this one. Other processes write into the store directly (bulk imports, clerks' acts, `doc
    /// send` while no gateway ran), so the loop looks again 10 ms after a round that found nothing
    /// (the wait is part of every document's latency); a wake-up per handed-over document while
    /// busy was not kept for the reason knocks are not (smaller rounds). After a quiet
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
            let began = ContinuousClock.now
            do {
                switch try await sendRound(conn) {
                case .waited:
                    lastWork = .now
                    trimmed = false
                case .prompt:
                    // Nothing waited for confirms: the next look is 10 ms after this one began, so
                    // that rounds keep their size (one per arrival would cost a commit each).
                    lastWork = .now
                    trimmed = false
                    let next = began + .milliseconds(10)
                    if ContinuousClock.now < next { await doorbell.wait(timeout: next - ContinuousClock.now) }
                case .nothing:
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

    /// What a round did: nothing, only prompt publishes (see `publishPromptly`), or a round that
    /// waited for its copies' confirms.
    enum Round { case nothing, prompt, waited }

    /// One round: store and sign what was handed over (one commit) and publish it at once, sign what
    /// `doc send` stored itself, publish what is due, record the outcomes.
    func sendRound(_ conn: AMQPConnection) async throws -> Round {
        let handed = takeHandedOver()
        let look = try store.look(limit: 512)
        let lease = handed.isEmpty ? nil : promptLease()
        let (took, prompt) = try handed.isEmpty ? (false, []) : intake(handed, lease: lease)
        try await publishPromptly(prompt, on: conn)
        // Newly signed copies are due at once: read again (one read, only when something was signed
        // and not leased to a prompt publish). The look's own due copies are then read twice; kept so
        // because beside a round of new drafts they are few (receipts queued meanwhile, retries come
        // due), while the look that finds no draft is the one made a hundred times a second.
        let signed = try sign(look.unsigned)
        let due = try await withoutRetired(signed || (took && lease == nil) ? try store.due(limit: 512) : look.due)
        if due.isEmpty { return took ? .prompt : .nothing }
        let results = await withTaskGroup(of: (GatewayStore.Due, GatewayStore.PublishResult?).self) { g in
            for d in due {
                g.addTask { (d, await self.publish(d, on: conn)) }
            }
            var out: [(GatewayStore.Due, GatewayStore.PublishResult?)] = []
            for await r in g { out.append(r) }
            return out
        }
        let now = Date()
        try record(results.compactMap { d, r in r.map { (d, $0, now) } })
        return .waited
    }

    /// Writes what the broker said about published copies (one relaxed transaction, see
    /// `recordPublishes`) and counts it: the send round's outcomes and the record loop's alike.
    func record(_ outcomes: [(due: GatewayStore.Due, result: GatewayStore.PublishResult, at: Date)]) throws {
        guard !outcomes.isEmpty else { return }
        try store.recordPublishes(outcomes.map { ($0.due.documentID, $0.due.recipient, $0.result, $0.at) },
                                  untrailed: Set(outcomes.lazy.filter { $0.due.kind == .receipt }.map(\.due.documentID)))
        for o in outcomes {
            switch o.result {
            case .confirmed: if o.due.kind != .receipt { metrics.sent.increment() }
            case .retry: metrics.retries.increment()
            case .unknown: break
            }
        }
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
        let started = DispatchTime.now()
        let r: Result<PublishOutcome, AMQPError>
        do {
            r = .success(try await conn.publish(exchange: "yizhan.documents", routingKey: d.recipient, mandatory: true, message: message(for: d)))
        } catch let e as AMQPError {
            r = .failure(e)
        } catch {
            return .retry(error: "\(error)", after: Self.backoff(attempts: d.attempts))
        }
        return outcome(r, for: d, started: started)
    }

    /// A copy as it goes on the wire: the envelope alone, or framed with its inline parts.
    func message(for d: GatewayStore.Due) -> AMQPMessage {
        let body = d.hasParts ? MessageFrame.encode(envelope: d.envelope, parts: d.parts) : d.envelope
        return AMQPMessage(body: body, contentType: d.hasParts ? MessageFrame.framedContentType : MessageFrame.envelopeContentType,
                           messageID: d.documentID, userID: config.brokerUser, type: "yizhan.envelope.v1",
                           timestamp: UInt64(Date().timeIntervalSince1970))
    }

    /// What the broker's answer means for the copy; nil when the connection went before it answered.
    func outcome(_ r: Result<PublishOutcome, AMQPError>, for d: GatewayStore.Due, started: DispatchTime) -> GatewayStore.PublishResult? {
        let backoff = Self.backoff(attempts: d.attempts)
        switch r {
        case .success(.confirmed):
            metrics.confirmLatency.recordInterval(since: started)
            return .confirmed
        case .success(.returned(let code, let text)):
            logger.warning("copy returned by the broker", metadata: ["document": "\(d.documentID)", "recipient": "\(d.recipient)", "reply": "\(code) \(text)"])
            return .retry(error: "no such recipient: the broker has no queue for \(d.recipient) (\(code) \(text))", after: backoff)
        case .success(.nacked):
            return .retry(error: "broker nacked the copy", after: backoff)
        case .failure(let e) where e.isConnectionLoss:
            return nil
        case .failure(let e):
            return .retry(error: "\(e)", after: backoff)
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
