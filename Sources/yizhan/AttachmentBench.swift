import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// One large attachment between two gateway processes, end to end (copy into the outbox, sign,
/// chunked publish with confirms, chunk checks and writes, whole-part digest, receipt back), with
/// each gateway's peak RSS above its idle RSS. In the same run: the raw broker carrying the same
/// bytes in messages of the same size (persistent, confirms, quorum queue, consumed with acks).
struct AttachmentBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "attachment", abstract: "Throughput and gateway memory for one large attachment, with the raw-broker baseline.")
    @Option(name: .customLong("size-mb"), help: "Attachment size in MiB.") var sizeMB = 1024
    @Option(name: .customLong("broker-admin")) var brokerAdmin = "http://guest:guest@127.0.0.1:15672"
    @Option var broker = "amqp://guest:guest@127.0.0.1:5672"
    @Option(help: "Work folder (default: a new temporary folder, removed afterwards).") var dir: String?

    func run() async throws {
        let size = sizeMB
        try await BenchNetwork.run(dir: dir, brokerAdmin: brokerAdmin, broker: broker) { net in try await AttachmentBench.measure(net, sizeMB: size) }
    }

    static func measure(_ net: BenchNetwork, sizeMB: Int) async throws {
        let homes = try await net.enrol([("11420100MB1234567", "发文单位"), ("11420102MB7654321", "收文单位")])
        let dir = net.dir, vhost = net.vhost
        let (ha, hb) = (homes[0], homes[1])
        let sa = try GatewayStore(path: ha.database), sb = try GatewayStore(path: hb.database)
        let chunk = try ha.loadConfig().chunkSize ?? TransferInfo.defaultChunk
        print("yizhan bench attachment: \(sizeMB) MiB in \(chunk >> 10) KiB chunks, two gateway processes, vhost \(vhost)")
        let procs = try await net.startGateways(homes)
        // Stopped at the end; on an early error the processes are terminated when `procs` goes away.
        let conn = try await net.guestConnection()
        try await Task.sleep(for: .seconds(1))
        let idle = procs.map { $0.memory.rss }

        // The file, written once; its digest is what the receiver must end up with.
        let file = dir + "/attachment.bin"
        _ = FileManager.default.createFile(atPath: file, contents: nil)
        let fh = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        let block = try SecureRandom.bytes(1 << 20)
        for i in 0..<sizeMB {
            var b = block
            b[0] = UInt8(truncatingIfNeeded: i); b[1] = UInt8(truncatingIfNeeded: i >> 8)
            try fh.write(contentsOf: Data(b))
        }
        try fh.close()

        let clock = ContinuousClock()
        let t0 = clock.now
        let id = UUIDv7.make()
        let spooled = sa.outgoingDirectory(id) + "/0"
        let (size, sha) = try PartSpool.ingest(file, to: spooled)
        try sa.enqueue(.init(id: id, kind: .document, document: DocumentInfo(title: "大附件基准"), recipients: [.init(unit: try UnitCode(hb.loadConfig().unit), role: .main)],
                             parts: [], files: [.init(name: "attachment.bin", mediaType: "application/octet-stream", size: size, sha256: sha, file: spooled)],
                             extras: .init(transfer: TransferInfo(chunkSize: chunk))))
        let t1 = clock.now
        var peaks = idle
        while try sa.outboxEntry(id: id)?.deliveries.first?.state != "delivered" {
            if let s = try sa.outboxEntry(id: id)?.deliveries.first?.state, s == "rejected" { throw YizhanError(.remote, "the receiver rejected the transfer") }
            guard clock.now - t1 < .seconds(1800) else { throw YizhanError(.remote, "no receipt within 30 minutes") }
            for (i, p) in procs.enumerated() { peaks[i] = max(peaks[i], p.memory.rss) }
            try await Task.sleep(for: .milliseconds(100))
        }
        let t2 = clock.now
        let hwm = procs.map { $0.memory.peak }
        guard case .file(let received)? = try sb.partSource(documentID: id, index: 0) else { throw YizhanError(.notFound, "the receiver has no part file") }
        let (rsha, rsize) = try Digest.sha256Hex(fileAt: received)
        guard rsha == sha, rsize == size else { throw YizhanError(.partMismatch, "the received part does not match") }
        let mib = Double(size) / 1_048_576
        print(String(format: "  copy into the outbox (read, hash, write): %.1f s, %.0f MiB/s", BenchNetwork.seconds(t1 - t0), mib / BenchNetwork.seconds(t1 - t0)))
        print(String(format: "  gateway to gateway, enqueue to delivered receipt: %.1f s, %.0f MiB/s (%d chunks; part verified at the receiver: %@)",
                     BenchNetwork.seconds(t2 - t1), mib / BenchNetwork.seconds(t2 - t1), (size + chunk - 1) / chunk, rsha == sha ? "yes" : "no"))
        for (i, name) in ["sender", "receiver"].enumerated() {
            let above = max(hwm[i], peaks[i]) - idle[i]
            print(String(format: "  %@ gateway RSS: idle %.1f MiB, peak %.1f MiB, peak above idle %.1f MiB   [target: under 64 MiB above idle]",
                         name, Double(idle[i]) / 1024, Double(max(hwm[i], peaks[i])) / 1024, Double(above) / 1024))
        }

        // Raw baseline: the same bytes in chunk-sized persistent messages through a quorum queue,
        // 8 publishes in flight (the gateway's window), consumed with acks.
        let count = (size + chunk - 1) / chunk
        let perSecond = try await DocumentsBench.rawBaseline(conn, net: net, queue: "bench.raw", count: count, size: chunk, window: 8, crypto: false)
        await conn.close()
        for p in procs { p.stop() }
        let rawSeconds = Double(count) / perSecond
        print(String(format: "  raw broker, same bytes in %d KiB persistent messages (confirms, quorum queue, consumed with acks): %.1f s, %.0f MiB/s",
                     chunk >> 10, rawSeconds, mib / rawSeconds))
        print(String(format: "  ratio gateway/raw throughput: %.2f", (mib / BenchNetwork.seconds(t2 - t1)) / (mib / rawSeconds)))
    }
}
