import Foundation
import YizhanAMQP
import YizhanCore
import YizhanStore

extension Gateway {
    /// How long a copy stays leased to the loop that stored it (see `publishPromptly`) before the
    /// send loop takes it as due: long enough for any confirm, short enough that a copy whose
    /// outcome was never recorded (the record failed on a full disk) goes again within a minute.
    static let leaseSeconds: TimeInterval = 60
    /// Prompt publishes in flight at most: beyond it, what is stored waits for the send loop's
    /// rounds, which wait for their confirms, so a broker that falls behind slows intake down.
    static let promptLimit = 2048

    /// A prompt publish's outcome, waiting for the record loop.
    struct PromptOutcome: Sendable {
        var due: GatewayStore.Due
        var result: GatewayStore.PublishResult
        var at: Date
    }

    /// The lease for copies about to be stored, or nil when the send loop should take them (too
    /// many prompt publishes in flight).
    func promptLease() -> Date? {
        promptInFlight.load(ordering: .relaxed) < Self.promptLimit ? Date().addingTimeInterval(Self.leaseSeconds) : nil
    }

    /// Publishes copies the caller has just stored durably and leased (so the send loop leaves them
    /// alone), without waiting for their confirms: the send loop goes on taking documents while the
    /// broker confirms, and a receiver's receipts leave as soon as their group is stored instead of
    /// at the send loop's next round. The record loop writes the outcomes (as the send loop's round
    /// would); a copy whose outcome is never written is released when the next broker session
    /// starts (`GatewayStore.releaseLeases`) or when its lease ends.
    func publishPromptly(_ copies: [GatewayStore.Due], on conn: AMQPConnection) async throws {
        guard !copies.isEmpty else { return }
        let copies = try await withoutRetired(copies)
        promptInFlight.add(copies.count, ordering: .relaxed)
        for d in copies {
            let started = DispatchTime.now()
            conn.publish(exchange: "yizhan.documents", routingKey: d.recipient, mandatory: true, message: message(for: d)) { [self] r in
                // On the connection's thread: hand the outcome on, nothing more.
                promptInFlight.subtract(1, ordering: .relaxed)
                let result = outcome(r, for: d, started: started) ?? .unknown
                let at = Date()
                promptOutcomes.withLock { $0.append(PromptOutcome(due: d, result: result, at: at)) }
                promptBell.ring()
            }
        }
    }

    /// Writes prompt publishes' outcomes in one relaxed transaction (see `recordPublishes`) at most
    /// every 50 ms: nothing waits for these records (a receipt that arrives first is applied all
    /// the same), and each commit beside the busy loops' own is a wait for the store's write lock.
    /// Runs for the gateway's life, across broker sessions.
    func recordLoop() async {
        while !Task.isCancelled {
            await promptBell.wait(timeout: .seconds(1))
            try? await Task.sleep(for: .milliseconds(50))
            recordPromptOutcomes()
        }
        recordPromptOutcomes()
    }

    func recordPromptOutcomes() {
        let done = promptOutcomes.withLock { b -> [PromptOutcome] in
            defer { b.removeAll(keepingCapacity: true) }
            return b
        }
        do {
            try record(done.map { ($0.due, $0.result, $0.at) })
        } catch {
            // Nothing is lost: the copies stay queued and leased, and go again when their lease ends.
            metrics.storageFailures.increment()
            logger.error("cannot record what the broker said about copies just published; they go again within a minute",
                         metadata: ["error": "\(error)", "copies": "\(done.count)"])
        }
    }
}
