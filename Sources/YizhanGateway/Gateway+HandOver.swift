import Foundation
import YizhanCore
import YizhanCrypto
import YizhanStore

extension Gateway {
    /// A draft read off the hand-over socket, with where its answer goes.
    struct Handed: Sendable {
        var submission: HandOver.Submission
        var receivedAt: Date
        var responder: HandOver.Responder
    }

    /// Called on the hand-over's connection thread: a draft that cannot be stored is answered at
    /// once with the reason; the rest wait for the next commit (the send loop's, or without a broker
    /// session the intake loop's).
    func received(_ s: HandOver.Submission, _ responder: HandOver.Responder) {
        do {
            try check(s.draft)
        } catch {
            responder.answer(.init(id: s.draft.id, refusal: HandOver.reason(error)))
            return
        }
        handedOver.withLock { $0.append(Handed(submission: s, receivedAt: Date(), responder: responder)) }
        // A busy send loop takes it at its next look (every 10 ms; a wake-up per document made rounds
        // smaller and slower, see `sendLoop`); an idle one is woken; without a session the intake loop stores it.
        if sending.load(ordering: .sequentiallyConsistent) {
            if idleLooking.load(ordering: .sequentiallyConsistent) { doorbell.ring() }
        } else {
            intakeBell.ring()
        }
    }

    /// What `doc send` checks before storing, checked again here: the submitter is another process.
    func check(_ d: GatewayStore.Draft) throws {
        try GatewayStore.check(d)
        guard !d.recipients.contains(where: { $0.unit == unitCode }) else { throw YizhanError(.invalidArgument, "a unit does not send to itself") }
        for p in d.parts where Digest.sha256Hex(p.data) != p.sha256 {
            throw YizhanError(.partMismatch, "part \(p.name): its bytes do not match its SHA-256")
        }
        let folder = store.outgoingDirectory(d.id) + "/"
        for f in d.files where !f.file.hasPrefix(folder) || !FileManager.default.fileExists(atPath: f.file) {
            throw YizhanError(.invalidArgument, "part \(f.name): a file part must have been copied into the store's outgoing folder first")
        }
    }

    /// Everything handed over so far; with `olderThan`, only if the oldest has waited that long.
    func takeHandedOver(olderThan: TimeInterval? = nil) -> [Handed] {
        handedOver.withLock { b in
            guard let first = b.first else { return [] }
            if let age = olderThan, Date().timeIntervalSince(first.receivedAt) < age { return [] }
            defer { b.removeAll(keepingCapacity: true) }
            return b
        }
    }

    /// Stores what was handed over while no send loop runs (the broker away, the session starting
    /// again), or what a send loop left waiting: `doc send` is answered without a broker, as when it
    /// stored drafts itself. The send loop, when it runs, takes them sooner (`sendRound`).
    func intakeLoop() async {
        while !Task.isCancelled {
            await intakeBell.wait(timeout: .milliseconds(250))
            let running = sending.load(ordering: .sequentiallyConsistent)
            let batch = takeHandedOver(olderThan: running ? 0.25 : nil)
            guard !batch.isEmpty else { continue }
            if (try? intake(batch))?.stored == true { doorbell.ring() }
        }
    }

    /// Signs and stores handed-over drafts in one commit and answers each submitter; `stored` when
    /// any was stored, and with a lease the copies leased to the caller to publish at once (see
    /// `publishPromptly`). A storage failure is answered to all of them (nothing was stored) and rethrown.
    @discardableResult
    func intake(_ batch: [Handed], lease: Date? = nil) throws -> (stored: Bool, prompt: [GatewayStore.Due]) {
        let stored: GatewayStore.StoredHandOver
        do {
            stored = try storeHandedOver(batch, lease: lease)
        } catch {
            metrics.storageFailures.increment()
            logger.error("cannot store handed-over documents", metadata: ["error": "\(error)", "documents": "\(batch.count)"])
            let why = StorageFailure.isTransient(error) ? "disk full or I/O error" : "\(error)"
            for h in batch {
                h.responder.answer(.init(id: h.submission.draft.id, refusal: YizhanError(.remote, "the gateway could not store it (\(why)); nothing was stored, hand it over again")))
            }
            throw error
        }
        for (h, refusal) in zip(batch, stored.refusals) { h.responder.answer(.init(id: h.submission.draft.id, refusal: refusal)) }
        return (stored.refusals.contains { $0 == nil }, stored.prompt)
    }

    /// Signs each draft (unless the certificate is revoked: then stored unsigned, for the send loop
    /// to sign once a new one is installed) and stores them all in one commit; the refusal per draft,
    /// and with a lease the copies to publish at once.
    func storeHandedOver(_ batch: [Handed], lease: Date?) throws -> GatewayStore.StoredHandOver {
        let id = identity.withLock { $0 }
        var refusals = [YizhanError?](repeating: nil, count: batch.count)
        var items: [GatewayStore.HandedOver] = [], places: [Int] = []
        var chunked = false
        for (i, h) in batch.enumerated() {
            var item = GatewayStore.HandedOver(submission: h.submission, receivedAt: h.receivedAt)
            if !id.revoked {
                let e = h.submission.draft.unsigned(createdAt: h.receivedAt).envelope(sender: unitCode, senderName: id.name)
                do {
                    let signed = try SignedEnvelope.sign(e, key: key, certificate: id.certificate)
                    item.envelope = signed.bytes
                    item.payloadSha256 = signed.payloadSha256
                    chunked = chunked || e.transfer != nil
                } catch {
                    refusals[i] = HandOver.reason(error, context: "cannot sign it")
                    continue
                }
            }
            items.append(item)
            places.append(i)
        }
        let stored = try store.storeHandedOver(items, lease: lease)
        for (i, r) in zip(places, stored.refusals) { refusals[i] = r }
        if chunked { transferBell.ring() }
        return GatewayStore.StoredHandOver(refusals: refusals, prompt: stored.prompt)
    }
}
