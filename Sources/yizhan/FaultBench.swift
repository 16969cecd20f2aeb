import ArgumentParser
import Foundation
import Synchronization
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// Fault injection (issue 7): a stream of documents from A to B through gateway processes while
/// the broker restarts, both gateways are SIGKILLed five times each, the broker closes every
/// connection and B's disk fills up for a while. Afterwards every document must be in B's inbox
/// exactly once, every receipt back at A, nothing left in an outbox and nothing dead-lettered.
/// Fails (exit 1) when any of that does not hold. Needs root: rabbitmqctl and a small tmpfs.
struct FaultBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "faults", abstract: "Fault injection under a stream of documents; checks exactly-once delivery afterwards.")
    @Option(help: "Documents in the stream.") var documents = 10_000
    @Option(help: "Documents offered per second.") var rate = 250
    @Option(help: "Body bytes per document.") var size = 4096
    @Option(help: "Seed for where the faults fall.") var seed: UInt64 = 1
    @Option(help: "Seconds B's disk stays full.") var diskFullSeconds = 4.0
    @Option(name: .customLong("broker-admin")) var brokerAdmin = "http://guest:guest@127.0.0.1:15672"
    @Option var broker = "amqp://guest:guest@127.0.0.1:5672"
    @Option(help: "Keep the run's folder here (default: a temporary one, removed).") var dir: String?
    @Option(help: "Only these faults, comma-separated (kill-sender, kill-receiver, broker-restart, close-all, disk-full, stop-node, stop-leader); default: the full schedule.") var only: String?
    @Flag(help: "Run against the three-node cluster of Deploy/cluster.sh (AMQP 5681-5683): gateways fail over between nodes; instead of a broker restart, one node is stopped, then the node leading the receiver's queue.") var cluster = false

    func validate() throws {
        guard documents >= 100, rate > 0, size >= 0, diskFullSeconds > 0 else { throw ValidationError("--documents ≥ 100, --rate > 0, --disk-full-seconds > 0") }
    }

    func run() async throws {
        guard getuid() == 0 else {
            throw YizhanError(.configuration, "bench faults runs as root: it restarts the broker with rabbitmqctl and fills a small tmpfs as the receiver's disk")
        }
        var options = self
        if cluster {
            guard (try? FaultRun.sh("/usr/sbin/rabbitmq-diagnostics", ["-q", "-n", "yz1@localhost", "check_running"])) != nil else {
                throw YizhanError(.configuration, "no cluster running: start it with bash Deploy/cluster.sh start")
            }
            options.brokerAdmin = "http://guest:guest@127.0.0.1:15681"
            options.broker = "amqp://guest:guest@127.0.0.1:5681"
        }
        let o = options
        try await BenchNetwork.run(dir: dir, brokerAdmin: o.brokerAdmin, broker: o.broker, amqpPort: cluster ? 5681 : 5672) { net in
            try await FaultRun(net: net, options: o).go()
        }
    }
}

/// xorshift64*: the fault schedule is reproducible from --seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

final class FaultRun: @unchecked Sendable {
    // @unchecked: driven by one task; the producer task only touches `enqueued` and `holding` (atomics) and the store.
    enum Fault: String {
        case killSender = "SIGKILL sender", killReceiver = "SIGKILL receiver", brokerRestart = "broker restart", closeAll = "broker closes all connections"
        case diskFull = "receiver's disk full", stopNode = "cluster node stopped", stopLeader = "node leading the receiver's queue stopped"
    }

    let net: BenchNetwork
    let o: FaultBench
    let enqueued = Atomic<Int>(0)
    /// The stream pauses while a fault is being made (a kill, a restart), so that it cannot run
    /// ahead of the schedule and leave the later faults hitting an idle network; a full disk is
    /// held while documents keep coming, which is what the receiver has to meet.
    let holding = Atomic<Bool>(false)
    var sender: Process?
    var receiver: Process?
    var homes: [GatewayHome] = []
    var log: [String] = []
    /// Gateways that exited on their own (not killed here): each is restarted, as systemd would, and counted.
    var unexpectedExits: [String] = []

    /// Restarts a gateway process that died by itself; the run fails if any did.
    func supervise() throws {
        if let s = sender, !s.isRunning { unexpectedExits.append("sender exited \(s.terminationStatus)"); sender = try start(homes[0]) }
        if let r = receiver, !r.isRunning { unexpectedExits.append("receiver exited \(r.terminationStatus)"); receiver = try start(homes[1]) }
    }

    init(net: BenchNetwork, options: FaultBench) { self.net = net; o = options }

    static func sh(_ path: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw YizhanError(.configuration, "\(path) \(args.joined(separator: " ")) exited \(p.terminationStatus)") }
    }

    func start(_ h: GatewayHome) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path)
        p.arguments = ["gateway", "run", "--home", h.path]
        var env = ProcessInfo.processInfo.environment
        env["YIZHAN_LOG_LEVEL"] = env["YIZHAN_FAULT_LOG_LEVEL"] ?? "error"
        p.environment = env
        let logFile = net.dir + "/" + (h.path as NSString).lastPathComponent + ".log"
        if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
        if let fh = FileHandle(forWritingAtPath: logFile) { fh.seekToEndOfFile(); p.standardError = fh }
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        return p
    }

    static func kill9(_ p: Process?) {
        guard let p, p.isRunning else { return }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    /// How often B has logged a storage failure it is waiting out (its log, at level error).
    func receiverStorageFailures() async -> Int {
        let file = net.dir + "/" + (homes[1].path as NSString).lastPathComponent + ".log"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return 0 }
        return text.components(separatedBy: "disk full or I/O error").count - 1
    }

    func go() async throws {
        var rng = SeededRandom(seed: o.seed)
        func randomPrefix() -> String { "11420100" + String((0..<9).map { _ in UnitCode.alphabet[Int.random(in: 0..<UnitCode.alphabet.count, using: &rng)] }) }
        let aPrefix = randomPrefix(), bPrefix = randomPrefix()
        // B's home on its own small filesystem, so that its disk can be filled.
        let bHome = net.dir + "/" + (try UnitCode.completing(bPrefix)).rawValue
        try FileManager.default.createDirectory(atPath: bHome, withIntermediateDirectories: true)
        let dataBytes = max(64, o.documents * (o.size + 12_000) / (1 << 20) * 3)
        try Self.sh("/bin/mount", ["-t", "tmpfs", "-o", "size=\(dataBytes)m,mode=0700", "tmpfs", bHome])
        defer { try? Self.sh("/bin/umount", ["-l", bHome]) }
        homes = try await net.enrol([(aPrefix, "故障演练发文单位"), (bPrefix, "故障演练收文单位")],
                                    brokerAlternates: o.cluster ? ["127.0.0.1:5682", "127.0.0.1:5683"] : [])
        let (ha, hb) = (homes[0], homes[1])
        let sa = try GatewayStore(path: ha.database), sb = try GatewayStore(path: hb.database)
        let b = try UnitCode(try hb.loadConfig().unit)
        sender = try start(ha)
        receiver = try start(hb)
        defer { Self.kill9(sender); Self.kill9(receiver) }
        let conn = try await net.guestConnection()
        for h in homes {
            let q = "yizhan.unit.\(try h.loadConfig().unit)"
            let deadline = ContinuousClock.now + .seconds(60)
            while try await conn.declareQueue(q, passive: true).consumers < 1 {
                guard ContinuousClock.now < deadline else { throw YizhanError(.remote, "gateway for \(q) did not connect") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        await conn.close()

        // The schedule: 13 faults at shuffled, jittered points of the stream.
        var faults: [Fault] = Array(repeating: .killSender, count: 5) + Array(repeating: .killReceiver, count: 5) + [.closeAll, .diskFull]
        faults += o.cluster ? [.stopNode] : [.brokerRestart]
        faults.shuffle(using: &rng)
        if let only = o.only {
            let names: [String: Fault] = ["kill-sender": .killSender, "kill-receiver": .killReceiver, "broker-restart": .brokerRestart, "close-all": .closeAll,
                                          "disk-full": .diskFull, "stop-node": .stopNode, "stop-leader": .stopLeader]
            faults = try only.split(separator: ",").map { n in
                guard let f = names[String(n)] else { throw YizhanError(.invalidArgument, "unknown fault \(n)") }
                return f
            }
        }
        // In a cluster, the queue's leader goes down after the first node has come back.
        if o.cluster, o.only == nil, let i = faults.firstIndex(of: .stopNode) { faults.insert(.stopLeader, at: min(faults.count, i + 2)) }
        let points = faults.indices.map { i in 0.05 + 0.88 * (Double(i) + Double.random(in: 0.2...0.8, using: &rng)) / Double(faults.count) }

        let body = Array(String(repeating: "安全检查要点。", count: max(1, o.size / 21)).utf8.prefix(o.size))
        let total = o.documents, perTick = max(1, o.rate / 20)
        let started = ContinuousClock.now
        let producer = Task { [self, body] in
            var n = 0
            while n < total {
                while self.holding.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(20)) }
                let k = min(perTick, total - n)
                let drafts = (0..<k).map { i in
                    GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "故障演练第\(n + i + 1)号", type: "通知"),
                                       recipients: [.init(unit: b, role: .main)],
                                       parts: [.init(name: "正文.txt", mediaType: "text/plain", data: body, sha256: Digest.sha256Hex(body))])
                }
                try sa.enqueueMany(drafts)
                n += k
                self.enqueued.store(n, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        print("fault injection\(o.cluster ? " on the three-node cluster" : ""): \(total) documents of \(o.size) bytes from \(try ha.loadConfig().unit) to \(b), offered at \(o.rate)/s, seed \(o.seed)")
        var note = ""
        for (fault, point) in zip(faults, points) {
            while Double(enqueued.load(ordering: .relaxed)) / Double(total) < point {
                if producer.isCancelled { break }
                try supervise()
                try await Task.sleep(for: .milliseconds(20))
            }
            let at = String(format: "%.0f %%", point * 100)
            note = ""
            holding.store(fault != .diskFull, ordering: .relaxed)
            defer { holding.store(false, ordering: .relaxed) }
            switch fault {
            case .killSender:
                Self.kill9(sender)
                try await Task.sleep(for: .milliseconds(Int.random(in: 100...800, using: &rng)))
                sender = try start(ha)
            case .killReceiver:
                Self.kill9(receiver)
                try await Task.sleep(for: .milliseconds(Int.random(in: 100...800, using: &rng)))
                receiver = try start(hb)
            case .brokerRestart:
                try Self.sh("/usr/sbin/rabbitmqctl", ["stop_app"])
                try await Task.sleep(for: .seconds(1))
                try Self.sh("/usr/sbin/rabbitmqctl", ["start_app"])
                try Self.sh("/usr/sbin/rabbitmq-diagnostics", ["-q", "check_running"])
            case .stopNode, .stopLeader:
                let queue = try await BrokerAdmin(url: o.brokerAdmin).queue(vhost: net.vhost, name: "yizhan.unit.\(b.rawValue)")
                let leader = queue?["leader"]?.stringValue ?? "yz1@localhost"
                let nodes = ["yz1@localhost", "yz2@localhost", "yz3@localhost"]
                // The first node is where the gateways connect first: stopping it (unless it leads
                // the queue, which is the next fault) makes them fail over.
                let victim = fault == .stopLeader ? leader : (leader != nodes[0] ? nodes[0] : nodes[Int.random(in: 1...2, using: &rng)])
                let index = (nodes.firstIndex(of: victim) ?? 0) + 1
                try Self.sh("/usr/sbin/rabbitmqctl", ["-n", victim, "stop_app"])
                // Where the gateways are now, by a surviving node's management API (connection names end in the node's port).
                let survivor = (1...3).first { $0 != index } ?? 2
                let deadline = ContinuousClock.now + .seconds(30)
                var ports: [String] = []
                while ContinuousClock.now < deadline {
                    let names = (try? await BrokerAdmin(url: "http://guest:guest@127.0.0.1:1568\(survivor)").connections(vhost: net.vhost)) ?? []
                    ports = names.compactMap { $0.split(separator: ":").last.map(String.init) }.filter { $0.hasPrefix("568") }
                    if ports.count >= 4, !ports.contains("568\(index)") { break }  // two per gateway (documents, events)
                    try await Task.sleep(for: .milliseconds(200))
                }
                try await Task.sleep(for: .seconds(3))
                try Self.sh("/usr/sbin/rabbitmqctl", ["-n", victim, "start_app"])
                try Self.sh("/usr/sbin/rabbitmq-diagnostics", ["-q", "-n", victim, "check_running"])
                let on = Set(ports.map { "yz\($0.suffix(1))" }).sorted().joined(separator: ", ")
                note = (fault == .stopLeader ? " (\(victim), leader of yizhan.unit.\(b.rawValue)" : " (\(victim)") + "; gateways connected to \(on.isEmpty ? "?" : on) meanwhile)"
            case .closeAll:
                try Self.sh("/usr/sbin/rabbitmqctl", ["close_all_connections", "--vhost", net.vhost, "fault injection"])
            case .diskFull:
                let before = max(0, await receiverStorageFailures())
                // An empty write-ahead log first: B's next write needs fresh space, which is gone.
                try? sb.checkpointTruncating()
                let filler = hb.path + "/filler"
                _ = FileManager.default.createFile(atPath: filler, contents: nil)
                if let fh = FileHandle(forWritingAtPath: filler) {
                    var chunk = Data(count: 1 << 20)
                    while chunk.count >= 512 {
                        if (try? fh.write(contentsOf: chunk)) == nil { chunk = Data(count: chunk.count / 2) }
                    }
                    try? fh.close()
                }
                // Full for at least the given time, and until B has met it (at most 30 s).
                let fullSince = ContinuousClock.now
                while true {
                    let held = ContinuousClock.now - fullSince
                    if held >= .seconds(30) { break }
                    if held >= .seconds(o.diskFullSeconds), await receiverStorageFailures() > before { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                try FileManager.default.removeItem(atPath: filler)
                let after = await receiverStorageFailures()
                note = String(format: " for %.1f s", BenchNetwork.seconds(ContinuousClock.now - fullSince)) + " (B met it \(max(0, after - before)) times and waited)"
            }
            log.append("\(fault.rawValue) at \(at)\(note)")
            print("  \(log.last ?? "")")
        }
        try await producer.value

        // Drain: everything delivered and every receipt back, with a generous deadline.
        let deadline = ContinuousClock.now + .seconds(max(300, total / 20))
        while true {
            let counts = try sa.deliveryCounts()
            if counts["delivered", default: 0] + counts["rejected", default: 0] >= total, try sb.inboxCount() >= total { break }
            guard ContinuousClock.now < deadline else { break }
            try supervise()
            try await Task.sleep(for: .milliseconds(500))
        }
        let elapsed = BenchNetwork.seconds(ContinuousClock.now - started)
        let counts = try sa.deliveryCounts()
        let sent = Set(try sa.outbox().map(\.id))
        let inbox = try sb.inbox()
        let inboxIDs = Set(inbox.map(\.id))
        let receipts = Set(try sa.receipts().filter { $0.status == "delivered" }.map(\.documentID))
        let quarantined = try sb.quarantined().count
        let duplicates = try sb.trailCount(event: "duplicate")
        let check = try await net.guestConnection()
        let dead = try await check.declareQueue(BrokerTopology.deadQueue(b.rawValue), passive: true).messages
        let waiting = try await check.declareQueue(BrokerTopology.unitQueue(b.rawValue), passive: true).messages
        await check.close()
        let stuck = counts.filter { ["queued", "published"].contains($0.key) }.values.reduce(0, +)

        print("after \(String(format: "%.1f", elapsed)) s:")
        print("  documents in A's outbox:            \(sent.count) (of \(total))")
        print("  in B's inbox:                       \(inbox.count) rows, \(inboxIDs.count) distinct, \(inboxIDs.intersection(sent).count) of those sent; exactly once: \(inbox.count == total && inboxIDs == sent ? "yes" : "NO")")
        print("  receipts back at A (delivered):     \(receipts.count); states \(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
        print("  stuck in an outbox:                 \(stuck)")
        print("  redeliveries B recognised as duplicates: \(duplicates)")
        print("  gateways that exited on their own:  \(unexpectedExits.count)\(unexpectedExits.isEmpty ? "" : " (" + unexpectedExits.joined(separator: "; ") + ")")")
        print("  quarantined at B:                   \(quarantined); dead-lettered: \(dead); left in B's queue: \(waiting)")
        guard sent.count == total, inbox.count == total, inboxIDs == sent, receipts == sent, stuck == 0, quarantined == 0, dead == 0, waiting == 0, unexpectedExits.isEmpty else {
            throw YizhanError(.remote, "fault injection FAILED: a document was lost, duplicated, refused or is stuck (see the counts above; logs in \(net.dir))")
        }
        print("result: every document delivered exactly once and every receipt back, through \(log.count) faults")
    }
}
