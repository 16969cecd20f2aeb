import Foundation
import YizhanCore
import YizhanGateway
import YizhanStore

extension DocumentsBench {
    /// The documents-per-second target; a second paced run goes at half of it.
    static let targetRate = 1000

    /// What a paced run needs from the benchmark around it.
    struct PacedContext {
        var load: Load
        var stores: [GatewayStore]
        var receiverHomes: [GatewayHome]
        var procs: [GatewayProcess]
        /// Processes that must be quiet before the run starts (see `settle`).
        var watched: [Int32]
        var clock: ContinuousClock
        /// The work folder, on the stores' file system (see `DiskProbe`).
        var folder: String
    }

    /// How many documents a latency run at `rate` hands over: `paced` seconds' worth, at least one.
    func documents(at rate: Double) -> Int { max(1, Int(rate * paced)) }

    /// The run's steps, at the senders and at the receivers, once every document of it has them (at
    /// most 10 s after its last receipt). Each gateway records the broker's confirm of a copy a
    /// moment after the copy went out (`recordPublishes`), so the last receipt can be back before
    /// the confirm of its document, or of the receipt itself, is written; read at once, the last
    /// few documents would be left out of the latencies and the steps.
    func recordedStages(_ ctx: PacedContext, since start: Date, count: Int) async throws
        -> (sent: [GatewayStore.SentStages], received: [String: (received: Double, receiptConfirmed: Double)]) {
        let receivers = try ctx.receiverHomes.map { try GatewayStore(path: $0.database) }
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let sent = try ctx.stores.flatMap { try $0.sentStages(since: start) }
            var got: [String: (received: Double, receiptConfirmed: Double)] = [:]
            for r in receivers { got.merge(try r.receivedStages(sent.map(\.id))) { a, _ in a } }
            if (sent.count >= count && sent.allSatisfy { got[$0.id] != nil }) || ContinuousClock.now >= deadline { return (sent, got) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Sends `rate` documents a second for `paced` seconds, once everything is quiet, waits for
    /// every receipt, and prints the latency, the gateways' CPU and where the time went. `first`
    /// numbers the run's documents after those sent before it (and counts the receipts already
    /// back). Returns the latencies in milliseconds.
    func pacedRun(_ ctx: PacedContext, rate: Double, label: String, first: Int, after: String) async throws -> [Double] {
        let (load, stores, procs, clock) = (ctx.load, ctx.stores, ctx.procs, ctx.clock)
        let pacedCount = documents(at: rate)
        // Handed-over documents are encoded before the clock starts: this process shares the two
        // cores with what it measures, and encoding them on the way cost it about a tenth of a core.
        let frames: [(id: String, bytes: [UInt8])] = submitEvery != nil || storeDirectly ? [] : try (0..<pacedCount).map { i in
            let d = load.drafts(1, offset: first + i)[0]
            return (id: d.id, bytes: try HandOver.encode(HandOver.Submission(draft: d)))
        }
        let settled = try await Self.settle(ctx.watched)
        let pacedStart = Date()
        let pacedCPU0 = procs.map(\.cpuSeconds)
        let beside = GatewayProcess.Beside(watched: ctx.watched, gateways: procs.count)
        let probe = try DiskProbe(folder: ctx.folder)
        defer { probe.cancel() }
        let p0 = clock.now
        var waitedInBatches = 0.0
        var submittedAt: [String: Double] = [:]
        if let every = submitEvery {
            // Whatever came due since the last commit, stored in one commit per sender every `every` ms.
            var next = 0
            var tick = p0
            while next < pacedCount {
                tick = tick + .milliseconds(every)
                try await Task.sleep(until: tick, clock: clock)
                let upTo = min(pacedCount, Int(BenchNetwork.seconds(clock.now - p0) * rate) + 1)
                guard upTo > next else { continue }
                for (k, s) in stores.enumerated() {
                    let mine = (next..<upTo).filter { $0 % stores.count == k }
                    guard !mine.isEmpty else { continue }
                    try s.enqueueMany(mine.map { load.drafts(1, offset: first + $0)[0] })
                }
                waitedInBatches += (next..<upTo).reduce(0.0) { sum, i in
                    sum + max(0, BenchNetwork.seconds(clock.now - (p0 + .microseconds(Int(Double(i) * 1_000_000 / rate)))))
                }
                next = upTo
            }
        } else if storeDirectly {
            for i in 0..<pacedCount {
                let due = p0 + .milliseconds(Int(Double(i) * 1000 / rate))
                if clock.now < due { try await Task.sleep(until: due, clock: clock) }
                try stores[i % stores.count].enqueue(load.drafts(1, offset: first + i)[0])
            }
        } else {
            // Handed to each running sender over its socket, as `doc send` does; the answers (each
            // after the gateway's commit) are read on threads of their own.
            let clients = try stores.map { s in
                guard let c = try HandOver.Client.connect(database: s.path) else { throw YizhanError(.remote, "no gateway takes documents for \(s.path)") }
                return c
            }
            let readers = clients.enumerated().map { k, c in
                AnswerReader(client: c, expected: (0..<pacedCount).lazy.filter { $0 % clients.count == k }.count)
            }
            for i in 0..<pacedCount {
                let due = p0 + .microseconds(Int(Double(i) * 1_000_000 / rate))
                if clock.now < due { try await Task.sleep(until: due, clock: clock) }
                submittedAt[frames[i].id] = Date().timeIntervalSince1970
                try clients[i % clients.count].send(encoded: frames[i].bytes)
            }
            for r in readers {
                let (stored, refused) = try await r.finished()
                guard refused.isEmpty, stored == r.expected else {
                    throw YizhanError(.remote, "hand-over: \(stored) of \(r.expected) stored; refused: \(refused.prefix(3).joined(separator: "; "))")
                }
            }
        }
        // What the benchmark managed to store per second: each commit is durable and competes with
        // the sending gateway for the database's write lock, so one commit per document can fall
        // behind the rate asked.
        let achieved = Double(pacedCount) / BenchNetwork.seconds(clock.now - p0)
        try await load.waitDelivered(first + pacedCount, what: "paced run")
        let pacedSeconds = BenchNetwork.seconds(clock.now - p0)
        let flushes = try await probe.stop()
        let pacedCPU = zip(procs.map(\.cpuSeconds), pacedCPU0).map { $0 - $1 }
        let besideShares = beside.shares(over: pacedSeconds)
        // Handed over, from the moment this process wrote the document to the socket (the gateway's
        // own clock starts when it reads it); stored directly, from the commit.
        // Read once: the latencies, the disk probe's overlap and the stages below all use them.
        let (sent, got) = try await recordedStages(ctx, since: pacedStart, count: pacedCount)
        let spans = sent.compactMap { st -> (start: Double, end: Double)? in
            (submittedAt.isEmpty ? st.stored : submittedAt[st.id]).map { ($0, st.delivered) }
        }
        let pl = submittedAt.isEmpty ? try stores.flatMap { try $0.deliveryLatencies(since: pacedStart) }.map { $0 * 1000 }
                                     : spans.map { ($0.end - $0.start) * 1000 }
        print(String(format: "  latency at %@ (%.0f documents/s asked, %.0f stored%@, %d documents): p50 %.1f ms, p95 %.1f ms, p99 %.1f ms   [target p99 under 50 ms at half the rate]",
                     label, rate, achieved, submittedAt.isEmpty ? "" : ", handed over", pacedCount, Self.percentile(pl, 0.5), Self.percentile(pl, 0.95), Self.percentile(pl, 0.99)))
        print(String(format: "    started %.2f s after %@, once %@ (gateways%@ under 5 %% of a core over 250 ms)",
                     settled.seconds, after, settled.quiet ? "quiet" : "NOT quiet after 30 s, anyway", ctx.watched.count > procs.count ? " and the local broker" : ""))
        if let every = submitEvery {
            print(String(format: "    stored in one commit every %d ms: a document waited %.1f ms on average for its commit, before the figures above start",
                         every, 1000 * waitedInBatches / Double(pacedCount)))
        }
        print(String(format: "    gateway CPU during the latency run: %@ of a core (%@ ms per document)",
                     pacedCPU.map { String(format: "%.0f %%", 100 * $0 / pacedSeconds) }.joined(separator: ", "),
                     pacedCPU.map { String(format: "%.2f", 1000 * $0 / Double(pacedCount)) }.joined(separator: ", ")))
        print(String(format: "    beside them on this machine's %d cores: %@this benchmark %.0f %% of a core",
                     ProcessInfo.processInfo.activeProcessorCount,
                     besideShares.broker, besideShares.this))
        print(String(format: "    the disk beside them: a 4 KiB write flushed (fdatasync) every %.0f ms in the work folder took p50 %.1f ms, p99 %.1f ms, at most %.1f (%d flushes)",
                     1000 * DiskProbe.interval, Self.percentile(flushes.map(\.millis), 0.5), Self.percentile(flushes.map(\.millis), 0.99),
                     flushes.map(\.millis).max() ?? .nan, flushes.count))
        let (late, stalled) = DiskProbe.overlapping(spans, slow: 50, flushes: flushes, stall: 10)
        print("      documents over 50 ms: \(late); of them under way while one of those flushes took over 10 ms: \(stalled)")
        let bySecond = Self.p99BySecond(spans, from: submittedAt.isEmpty ? pacedStart.timeIntervalSince1970 : (submittedAt.values.min() ?? 0),
                                        seconds: max(1, Int((Double(pacedCount) / rate).rounded())))
        print(String(format: "    p99 second by second: %@ ms; over 50 ms in %d of %d seconds",
                     bySecond.map { String(format: "%.0f", $0) }.joined(separator: ", "), bySecond.filter { $0 > 50 }.count, bySecond.count))
        try printStages(sent: sent, received: got, run: label, handedOver: submittedAt)
        return pl
    }
}
