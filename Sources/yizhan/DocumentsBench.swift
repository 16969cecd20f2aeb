import ArgumentParser
import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// Documents end to end through real gateway processes (outbox, sign, publish with confirms,
/// consume, verify, inbox, signed receipt back), and in the same run two raw baselines over
/// rabbitmq-c: (a) the same number of persistent messages of the same size through a quorum
/// queue with confirms in the same window, consumed with acks; (b) the same, each message signed
/// with Ed25519 on publish and verified on consume. A document counts as two broker messages.
/// The latency runs (at half the measured rate, then at half the 1,000/s target: the issue's "half
/// that rate" read both ways) get their floor in the same run: the raw broker's round trip
/// (message and signed reply through two quorum queues) at the first one's rate.
struct DocumentsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "documents", abstract: "End-to-end documents per second and latency, with raw-broker baselines in the same run.")
    @Option(help: "Documents to send.") var count = 10_000
    @Option(help: "Bytes of each document's attachment.") var size = 4096
    @Option(help: "Sending units.") var senders = 1
    @Option(help: "Receiving units.") var receivers = 1
    @Option(help: "Seconds of each latency run.") var paced = 5.0
    @Option(name: .customLong("paced-rate"), help: "Documents per second for a latency run, instead of the two at half the measured rate and at half the 1,000/s target. Repeat it for a run at each rate, then a line of the p99 by rate: the highest rate this machine holds the p99 under 50 ms at.") var pacedRate: [Double] = []
    @Option(name: .customLong("submit-every"), help: "Milliseconds: in the latency run, store what came due in one commit this often (as an office system submitting in batches would) instead of one commit per document.") var submitEvery: Int?
    @Flag(name: .customLong("store-directly"), help: "In the latency run, commit each document into the sender's store from this process (as `doc send` does when no gateway runs) instead of handing it to the running gateway.") var storeDirectly = false
    @Option(help: "Publishes in flight for the baselines (the gateway keeps up to 512, AMQPConfiguration.confirmWindow).") var window = 512
    @Option(name: .customLong("broker-admin")) var brokerAdmin = "http://guest:guest@127.0.0.1:15672"
    @Option var broker = "amqp://guest:guest@127.0.0.1:5672"
    @Option(help: "Work folder (default: a new temporary folder, removed afterwards).") var dir: String?
    @Option(help: "CSV file to write every latency run's documents to, a line each with the time of each step (seconds since 1970).") var timings: String?

    func validate() throws {
        guard count > 0, size >= 0, size <= 1 << 20, senders > 0, receivers > 0, window > 0, paced >= 0, pacedRate.allSatisfy({ $0 > 0 }), (submitEvery ?? 1) > 0 else {
            throw ValidationError("count, senders, receivers, window, paced-rate and submit-every must be positive; size 0 to 1 MiB")
        }
    }

    func run() async throws {
        if let timings {
            guard FileManager.default.createFile(atPath: timings, contents: Data((TimingsFile.header + "\n").utf8)) else {
                throw YizhanError(.invalidArgument, "cannot write the timings file \(timings)")
            }
        }
        let me = self
        try await BenchNetwork.run(dir: dir, brokerAdmin: brokerAdmin, broker: broker) { net in try await me.measure(net) }
    }

    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }

    /// The latency runs to make: at half the measured rate and at half the 1,000/s target, or at
    /// each rate given, with the label each prints (and writes into `--timings`).
    static func latencyRuns(given: [Double], measured: Double) -> [(rate: Double, label: String)] {
        switch given.count {
        case 0: return [(max(1, measured / 2), "half that rate"), (Double(targetRate) / 2, "half the 1,000/s target")]
        case 1: return [(given[0], "the given rate")]
        default: return given.enumerated().map { ($1, "given rate \($0 + 1) of \(given.count)") }
        }
    }

    /// One line for runs at several given rates: each rate's p99, and the highest rate whose p99
    /// was under `limit` ms with every lower rate's under it too (a rate only counts when the load
    /// below it also held).
    static func p99ByRate(_ runs: [(rate: Double, p99: Double)], limit: Double) -> String {
        let sorted = runs.sorted { $0.rate < $1.rate }
        let held = sorted.prefix { $0.p99 < limit }.last
        return "p99 by rate: " + sorted.map { String(format: "%.0f/s %.1f ms", $0.rate, $0.p99) }.joined(separator: ", ")
            + (held.map { String(format: "; under %.0f ms up to %.0f documents/s of the rates run", limit, $0.rate) }
                ?? String(format: "; under %.0f ms at none of the rates run", limit))
    }

    // Swift 6.3.1 crashes splitting this coroutine when optimising it; it only drives the gateways
    // under measurement, so it is left unoptimised.
    @_optimize(none)
    func measure(_ net: BenchNetwork) async throws {
        let sendUnits = (0..<senders).map { (String(format: "11420100A%08d", $0), "发文单位\($0 + 1)") }
        let recvUnits = (0..<receivers).map { (String(format: "11420100B%08d", $0), "收文单位\($0 + 1)") }
        let homes = try await net.enrol(sendUnits + recvUnits)
        let senderHomes = Array(homes.prefix(senders)), receiverHomes = Array(homes.suffix(receivers))
        let recipients = try receiverHomes.map { try UnitCode($0.loadConfig().unit) }
        let stores = try senderHomes.map { try GatewayStore(path: $0.database) }
        print("yizhan bench documents: \(count) documents with a \(size)-byte attachment, \(senders) sender(s) → \(receivers) receiver(s), gateway processes, vhost \(net.vhost)")
        let procs = try await net.startGateways(homes)
        // Stopped at the end; on an early error the processes are terminated when `procs` goes away.
        try await Task.sleep(for: .seconds(1))
        let started = procs.map { $0.memory.rss }
        // What the gateways cost while nothing happens, once their send loops wait for knocks and
        // they have given back their start-up pages (after two quiet seconds, see `WorkingSet`).
        try await Task.sleep(for: .seconds(3))
        let idleStart = procs.map(\.cpuSeconds)
        try await Task.sleep(for: .seconds(4))
        let idleCPU = zip(procs.map(\.cpuSeconds), idleStart).map { ($0 - $1) / 4 }
        let idle = procs.map { $0.memory.rss }
        let idleParts = procs.map(\.composition)
        let cpu0 = procs.map(\.cpuSeconds)
        let part = try SecureRandom.bytes(size)
        let load = Load(stores: stores, recipients: recipients, part: part, partSha: Digest.sha256Hex(part))

        // Throughput: everything stored at once, then the gateways work it off.
        let clock = ContinuousClock()
        let perSender = (count + senders - 1) / senders
        let start = Date()
        let t0 = clock.now
        for (k, s) in stores.enumerated() {
            let n = min(perSender, count - k * perSender)
            var done = 0
            while done < n {
                let batch = min(2000, n - done)
                try s.enqueueMany(load.drafts(batch, offset: k * perSender + done))
                done += batch
            }
        }
        try await load.waitDelivered(count, what: "throughput run")
        let elapsed = BenchNetwork.seconds(clock.now - t0)
        let docsPerSecond = Double(count) / elapsed
        let cpu1 = procs.map(\.cpuSeconds)
        let lat = try stores.flatMap { try $0.deliveryLatencies(since: start) }.map { $0 * 1000 }
        print(String(format: "  end to end: %d documents in %.2f s = %.0f documents/s (%.0f broker messages/s with receipts)", count, elapsed, docsPerSecond, 2 * docsPerSecond))
        print(String(format: "  latency stored → receipt, all at once: p50 %.0f ms, p95 %.0f ms, p99 %.0f ms (queueing included)",
                     Self.percentile(lat, 0.5), Self.percentile(lat, 0.95), Self.percentile(lat, 0.99)))

        // Latency at half that rate, once the burst's after-work is done (see `settle`), then at half
        // the issue's 1,000 documents/s (its "half that rate" read as half of that figure); or at each
        // `--paced-rate` instead. Then the raw broker's round trip at the first rate, settled the
        // same way.
        let runs = Self.latencyRuns(given: pacedRate, measured: docsPerSecond)
        let rate = runs[0].rate
        let watched = procs.map(\.pid) + (Self.localBrokerPID(url: broker).map { [$0] } ?? [])
        let run = PacedContext(load: load, stores: stores, receiverHomes: receiverHomes, procs: procs, watched: watched, clock: clock, folder: net.dir)
        var latencies: [[Double]] = []
        var first = count
        for (i, r) in runs.enumerated() {
            latencies.append(try await pacedRun(run, rate: r.rate, label: r.label, first: first, after: i == 0 ? "the throughput run" : "the run before"))
            first += documents(at: r.rate)
        }
        let pl = latencies[0]
        if pacedRate.count > 1 {
            print("  " + Self.p99ByRate(zip(runs, latencies).map { ($0.rate, Self.percentile($1, 0.99)) }, limit: 50))
        }
        for (i, p) in procs.enumerated() {
            let role = i < senders ? "sender \(i + 1)" : "receiver \(i - senders + 1)"
            print(String(format: "  gateway %@: CPU %.1f s during the throughput run, RSS 1 s after start %.1f MiB, idle %.1f MiB, peak %.1f MiB",
                         role, cpu1[i] - cpu0[i], Double(started[i]) / 1024, Double(idle[i]) / 1024, Double(p.memory.peak) / 1024))
        }
        print(String(format: "  idle gateway RSS (8 s after start, its start-up pages given back): %.1f MiB at most   [target under 30 MiB]; idle CPU over 4 s: %@ of a core",
                     Double(idle.max() ?? 0) / 1024, idleCPU.map { String(format: "%.1f %%", 100 * $0) }.joined(separator: ", ")))
        for (i, c) in idleParts.enumerated() {
            print(String(format: "    of which gateway %d's own pages %.1f MiB, shared library pages %.1f MiB (PSS %.1f MiB)",
                         i + 1, Double(c.privateKiB) / 1024, Double(c.shared) / 1024, Double(c.pss) / 1024))
        }

        // Baselines with the message size the gateway puts on the wire for these documents.
        let wire = try stores[0].envelopeSizeSample() + size + 16
        let conn = try await net.guestConnection()
        let a = try await Self.rawBaseline(conn, net: net, queue: "bench.raw.a", count: 2 * count, size: wire, window: window, crypto: false)
        let b = try await Self.rawBaseline(conn, net: net, queue: "bench.raw.b", count: 2 * count, size: wire, window: window, crypto: true)
        print(String(format: "  baseline (a) raw broker, %d persistent %d-byte messages, confirms (window %d), quorum queue, consumed with acks: %.0f messages/s",
                     2 * count, wire, window, a))
        print(String(format: "  baseline (b) the same, Ed25519 sign on publish and verify on consume: %.0f messages/s", b))
        await conn.close()
        let rawSettled = try await Self.settle(watched)
        // The same shares as beside the latency runs; this process is both client sides here.
        let rawBeside = GatewayProcess.Beside(watched: watched, gateways: procs.count)
        let rawStart = clock.now
        let raw = try await Self.rawRoundTrip(net, rate: rate, seconds: paced, size: wire)
        let rawShares = rawBeside.shares(over: max(1e-3, BenchNetwork.seconds(clock.now - rawStart)))
        print(String(format: "  baseline round trip at the paced rate (%.0f/s, %d messages): raw broker, signed %d-byte message → quorum queue → verified, signed reply → second quorum queue → verified back, confirms, ack after the reply's confirm: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms",
                     rate, raw.count, wire, Self.percentile(raw, 0.5), Self.percentile(raw, 0.95), Self.percentile(raw, 0.99)))
        print(String(format: "    started %.2f s after baseline (b), %@", rawSettled.seconds, rawSettled.quiet ? "once quiet" : "NOT quiet after 30 s"))
        print(String(format: "    while it ran: %@both its clients (this benchmark) %.0f %% of a core",
                     rawShares.broker, rawShares.this))
        for p in procs { p.stop() }
        print(String(format: "  gateway / (a): %.2f   gateway / (b): %.2f   [target ≥ 0.60 of (b)]   documents/s %.0f [target ≥ 1000 for 4 KiB]   p99 at the paced rate, gateway / raw round trip: %.1f",
                     2 * docsPerSecond / a, 2 * docsPerSecond / b, docsPerSecond, Self.percentile(pl, 0.99) / Self.percentile(raw, 0.99)))
    }

    /// Where the paced run's time went, from the senders' stages and the receivers' timestamps
    /// (millisecond resolution; both read once by the run, see `recordedStages`): each stage's
    /// increment, p50 and p99 over the documents. With `--timings`, each document's steps are
    /// appended to the file.
    func printStages(sent: [GatewayStore.SentStages], received got: [String: (received: Double, receiptConfirmed: Double)],
                     run label: String, handedOver: [String: Double]) throws {
        var steps: [[Double]] = Array(repeating: [], count: 5)
        var lines: [String] = []
        for s in sent {
            guard let g = got[s.id] else { continue }
            if timings != nil {
                lines.append(TimingsFile.line(run: label, id: s.id, handedOver: handedOver[s.id], [s.stored, s.signed, s.published, g.received, g.receiptConfirmed, s.delivered]))
            }
            let marks = [s.stored, s.signed, g.received, g.receiptConfirmed, s.delivered]
            for i in 0..<4 { steps[i].append((marks[i + 1] - marks[i]) * 1000) }
            steps[4].append((s.published - s.signed) * 1000)
        }
        let names = ["stored → signed", "signed → stored at the receiver", "→ its receipt confirmed by the broker", "→ receipt stored at the sender",
                     "(signed → the document's own confirm)"]
        print("    where it went (\(steps[0].count) documents, increments, p50 / p99):")
        for (n, xs) in zip(names, steps) {
            print(String(format: "      %@ %.0f / %.0f ms", n, Self.percentile(xs, 0.5), Self.percentile(xs, 0.99)))
        }
        if let timings { try TimingsFile.append(lines, to: timings) }
    }

    /// The p99 of the documents started in each whole second of a latency run (the last second
    /// takes the few started after it): a tail from a few slow seconds reads differently from one
    /// spread over the run.
    static func p99BySecond(_ spans: [(start: Double, end: Double)], from t0: Double, seconds: Int) -> [Double] {
        guard seconds > 0 else { return [] }
        var buckets = [[Double]](repeating: [], count: seconds)
        for s in spans {
            buckets[min(seconds - 1, max(0, Int(s.start - t0)))].append((s.end - s.start) * 1000)
        }
        return buckets.filter { !$0.isEmpty }.map { percentile($0, 0.99) }
    }

    /// Messages per second through a fresh quorum queue: publishing with `window` confirms in
    /// flight while one consumer acks; with `crypto`, each body is signed before publishing and
    /// verified on arrival.
    static func rawBaseline(_ conn: AMQPConnection, net: BenchNetwork, queue: String, count: Int, size: Int, window: Int, crypto: Bool) async throws -> Double {
        try await BrokerAdmin(url: net.brokerAdmin).putQueue(vhost: net.vhost, name: queue, arguments: ["x-queue-type": .string("quorum")])
        let key = try PrivateKey.generateEd25519()
        let pub = try key.publicKey
        let body = try SecureRandom.bytes(max(0, size - 64))
        let got = ArrivalCounter(), bad = ArrivalCounter()
        let clock = ContinuousClock()
        let t0 = clock.now
        let consumer = Task {
            let stream = try await conn.consume(queue: queue, prefetch: 256)
            for try await d in stream {
                if crypto, SignedFrame.open(d.body, key: pub) == nil { bad.add() }
                try conn.ack(d)
                got.add()
                if got.count >= count { return }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { g in
            var next = 0
            func add() throws {
                let i = next
                next += 1
                var payload = body
                payload.append(UInt8(truncatingIfNeeded: i))
                let framed = crypto ? try SignedFrame.make(payload, key: key) : [UInt8](repeating: 0, count: 64) + payload
                let m = AMQPMessage(body: framed, messageID: "raw-\(i)")
                g.addTask {
                    let o = try await conn.publish(exchange: "", routingKey: queue, mandatory: true, message: m)
                    guard o == .confirmed else { throw YizhanError(.remote, "raw publish not confirmed: \(o)") }
                }
            }
            for _ in 0..<min(window, count) { try add() }
            while try await g.next() != nil { if next < count { try add() } }
        }
        while got.count < count {
            guard clock.now - t0 < .seconds(1800) else { throw YizhanError(.remote, "raw consumer stalled") }
            try await Task.sleep(for: .milliseconds(5))
        }
        consumer.cancel()
        guard bad.count == 0 else { throw YizhanError(.remote, "\(bad.count) raw signatures did not verify") }
        return Double(count) / BenchNetwork.seconds(clock.now - t0)
    }

    /// The documents a run stores, and how it waits for their receipts.
    struct Load {
        let stores: [GatewayStore]
        let recipients: [UnitCode]
        let part: [UInt8]
        let partSha: String

        func drafts(_ n: Int, offset: Int) -> [GatewayStore.Draft] {
            (0..<n).map { i in
                GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "基准文件 \(offset + i)", type: "通知"),
                                   recipients: [.init(unit: recipients[(offset + i) % recipients.count], role: .main)],
                                   parts: part.isEmpty ? [] : [.init(name: "正文.pdf", mediaType: "application/pdf", data: part, sha256: partSha)])
            }
        }

        func delivered() throws -> Int { try stores.reduce(0) { $0 + (try $1.deliveredCount()) } }

        func waitDelivered(_ target: Int, what: String) async throws {
            let deadline = ContinuousClock.now + .seconds(1800)
            while try delivered() < target {
                guard ContinuousClock.now < deadline else { throw YizhanError(.remote, "\(what): only \(try delivered()) of \(target) receipts within 30 minutes") }
                // The poller shares the two cores with what it measures: cheap query, modest rate.
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}

/// Reads a hand-over connection's answers on a thread of its own (a blocking read must not hold
/// one of the concurrency pool's two threads).
final class AnswerReader: Sendable {
    let expected: Int
    let result = Shared<(stored: Int, refused: [String], done: Bool)>((0, [], false))

    init(client: HandOver.Client, expected: Int) {
        self.expected = expected
        let t = Thread { [self] in
            var stored = 0, refused: [String] = []
            for _ in 0..<expected {
                do {
                    let a = try client.answer()
                    if let r = a.refusal { refused.append("\(a.id): \(r)") } else { stored += 1 }
                } catch {
                    refused.append("\(error)")
                    break
                }
            }
            result.withLock { $0 = (stored, refused, true) }
        }
        t.start()
    }

    /// Waits (at most 10 minutes) until every answer came.
    func finished() async throws -> (stored: Int, refused: [String]) {
        let deadline = ContinuousClock.now + .seconds(600)
        while !result.withLock({ $0.done }) {
            guard ContinuousClock.now < deadline else { throw YizhanError(.remote, "hand-over: answers still missing after 10 minutes") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return result.withLock { ($0.stored, $0.refused) }
    }
}

/// `--timings`: one CSV line per document of a latency run, so that a tail can be looked at
/// document by document (when the slow ones started, and at which step they waited).
enum TimingsFile {
    static let header = "run,document,handed_over,stored,signed,confirmed,stored_at_receiver,receipt_confirmed,receipt_stored"

    /// `marks`: stored, signed, the document's own confirm, stored at the receiver, its receipt's confirm, receipt stored.
    static func line(run: String, id: String, handedOver: Double?, _ marks: [Double]) -> String {
        ([run.replacingOccurrences(of: ",", with: ";"), id, handedOver.map { String(format: "%.4f", $0) } ?? ""]
            + marks.map { String(format: "%.4f", $0) }).joined(separator: ",")
    }

    static func append(_ lines: [String], to path: String) throws {
        guard let h = FileHandle(forWritingAtPath: path) else { throw YizhanError(.invalidArgument, "cannot write the timings file \(path)") }
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: Data(lines.map { $0 + "\n" }.joined().utf8))
    }
}
