import Foundation
import Logging
import Synchronization
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanRegistry

extension BrokerTests {
    /// Runs `body` with a scratch vhost and always deletes the vhost afterwards.
    static func withScratch(_ body: (String, String) async throws -> Void) async throws {
        let (vhost, queue) = try await scratch()
        do { try await body(vhost, queue) } catch {
            try? await TestBroker.admin().deleteVhost(vhost)
            throw error
        }
        try? await TestBroker.admin().deleteVhost(vhost)
    }

    /// A scratch vhost with one queue bound to amq.direct under `key`, for transport tests.
    static func scratch() async throws -> (vhost: String, queue: String) {
        try await TestBroker.requireRunning()
        let admin = try TestBroker.admin()
        let vhost = "yizhan-amqp-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        try await admin.putVhost(vhost)
        try await admin.putPermissions(vhost: vhost, user: "guest", configure: ".*", write: ".*", read: ".*")
        try await admin.putQueue(vhost: vhost, name: "q", arguments: ["x-queue-type": .string("quorum")])
        try await admin.bind(vhost: vhost, exchange: "amq.direct", queue: "q", routingKey: "key")
        return (vhost, "q")
    }

    /// A guest connection to the scratch vhost with a small confirm window, so that publishes queue behind it.
    static func connection(_ vhost: String, confirmWindow: Int) async throws -> AMQPConnection {
        var config = try TestBroker.guestConfig(vhost: vhost)
        config.confirmWindow = confirmWindow
        return try await AMQPConnection.connect(config)
    }

    @Test func confirmsInSlidingWindowReturnsAndManualAcks() async throws {
        try await Self.withScratch { vhost, queue in
        let conn = try await Self.connection(vhost, confirmWindow: 64)
        let n = 1000
        // Many publishes in flight at once; each caller waits for its own confirm.
        let outcomes = try await withThrowingTaskGroup(of: PublishOutcome.self) { g in
            for i in 0..<n {
                g.addTask { try await conn.publish(exchange: "amq.direct", routingKey: "key", message: AMQPMessage(body: Array("m\(i)".utf8), messageID: "m\(i)")) }
            }
            var out: [PublishOutcome] = []
            for try await o in g { out.append(o) }
            return out
        }
        #expect(outcomes.count == n && outcomes.allSatisfy { $0 == .confirmed })
        #expect(try await conn.declareQueue(queue, passive: true).messages == n)
        // Unroutable with mandatory: returned, not lost silently.
        let r = try await conn.publish(exchange: "amq.direct", routingKey: "nowhere", message: AMQPMessage(body: [0], messageID: "lost"))
        guard case .returned(let code, _) = r else { Issue.record("expected a return, got \(r)"); return }
        #expect(code == 312)
        // Consume with prefetch; ack everything; the queue ends empty.
        let deliveries = try await conn.consume(queue: queue, prefetch: 50)
        var seen = Set<String>()
        for try await d in deliveries {
            seen.insert(String(decoding: d.body, as: UTF8.self))
            try conn.ack(d)
            if seen.count == n { break }
        }
        #expect(seen.count == n)
        try await eventually("queue drained") { try await conn.declareQueue(queue, passive: true).messages == 0 }
        await conn.close()
        #expect(!conn.isOpen)
        }
    }

    /// Publishing without waiting: each callback gets its own copy's answer (confirmed, or
    /// returned when unroutable), under the same confirm window; on a closed connection the
    /// callback gets the failure at once.
    @Test func publishesWithCallbacksGetTheirOwnAnswers() async throws {
        try await Self.withScratch { vhost, queue in
            let conn = try await Self.connection(vhost, confirmWindow: 16)
            let n = 300
            let answers = Mutex<[String: Result<PublishOutcome, AMQPError>]>([:])
            for i in 0..<n + 1 {
                let id = i == n ? "lost" : "m\(i)"
                conn.publish(exchange: "amq.direct", routingKey: i == n ? "nowhere" : "key", message: AMQPMessage(body: Array(id.utf8), messageID: id)) { r in
                    answers.withLock { $0[id] = r }
                }
            }
            try await eventually("every publish answered", timeout: .seconds(30)) { answers.withLock { $0.count } == n + 1 }
            let got = answers.withLock { $0 }
            #expect((0..<n).allSatisfy { (try? got["m\($0)"]?.get()) == .confirmed })
            guard case .success(.returned(let code, _))? = got["lost"] else { Issue.record("expected a return, got \(String(describing: got["lost"]))"); return }
            #expect(code == 312)
            #expect(try await conn.declareQueue(queue, passive: true).messages == n)
            await conn.close()
            let late = Mutex<Result<PublishOutcome, AMQPError>?>(nil)
            conn.publish(exchange: "amq.direct", routingKey: "key", message: AMQPMessage(body: [1], messageID: "late")) { r in late.withLock { $0 = r } }
            guard case .failure? = late.withLock({ $0 }) else { Issue.record("a closed connection answers at once with a failure"); return }
        }
    }

    /// Acks handed over together go out combined (ConsumerAcks): groups acked at once, the oldest
    /// delivery held back while everything after it is acked, one rejected and redelivered. The
    /// broker's own count shows the held one is the only message still unacked (no combined ack
    /// covered it), then none once it is acked.
    @Test func combinedAcksSettleEveryMessageOnce() async throws {
        try await Self.withScratch { vhost, queue in
        let conn = try await AMQPConnection.connect(try TestBroker.guestConfig(vhost: vhost))
        let n = 300
        for i in 0..<n {
            let r = try await conn.publish(exchange: "amq.direct", routingKey: "key", message: AMQPMessage(body: Array("m\(i)".utf8), messageID: "m\(i)"))
            #expect(r == .confirmed)
        }
        // A prefetch of 20: acks that went missing would stall the consumer, not pass unnoticed.
        let batches = try await conn.consumeBatches(queue: queue, prefetch: 20)
        var acked = Set<String>(), held: AMQPDelivery?, rejectedOnce = false, redeliveredSeen = false
        for try await batch in batches {
            var group: [AMQPDelivery] = []
            for d in batch {
                let body = String(decoding: d.body, as: UTF8.self)
                if d.redelivered, body == "m7" { redeliveredSeen = true }
                if held == nil { held = d; continue }
                if body == "m7", !rejectedOnce { rejectedOnce = true; try conn.reject(d, requeue: true); continue }
                group.append(d)
            }
            try conn.ack(group)
            for d in group { acked.insert(String(decoding: d.body, as: UTF8.self)) }
            if acked.count == n - 1 { break }
        }
        #expect(rejectedOnce && redeliveredSeen)
        guard let held else { Issue.record("nothing was delivered"); return }
        try await eventually("only the held delivery unacked at the broker") {
            try TestBroker.queueCounts(vhost: vhost, queue: queue).map { $0 == (0, 1) } ?? false
        }
        try conn.ack(held)
        acked.insert(String(decoding: held.body, as: UTF8.self))
        #expect(acked.count == n)
        try await eventually("every message settled") {
            try TestBroker.queueCounts(vhost: vhost, queue: queue).map { $0 == (0, 0) } ?? false
        }
        await conn.close()
        }
    }

    /// A consumer's memory is bounded in bytes, not by its prefetch window: with a budget of four
    /// messages and a window of forty, the connection stops reading once four are unacked, keeps
    /// the connection alive on its own heartbeats while it waits (1 s heartbeats: a silent client
    /// is dropped after about 2 s), and reads on as acks make room, until every message came once.
    @Test func consumerBudgetHoldsReadingUntilAcks() async throws {
        try await Self.withScratch { vhost, queue in
        var config = try TestBroker.guestConfig(vhost: vhost, heartbeat: 1)
        let size = 64 << 10, n = 40
        config.consumerBudgetBytes = 4 * size
        let conn = try await AMQPConnection.connect(config)
        for i in 0..<n {
            var body = [UInt8](repeating: 0, count: size)
            body[0] = UInt8(i)
            let r = try await conn.publish(exchange: "amq.direct", routingKey: "key", message: AMQPMessage(body: body, messageID: "m\(i)"))
            #expect(r == .confirmed)
        }
        let received = Mutex<[AMQPDelivery]>([])
        let deliveries = try await conn.consume(queue: queue, prefetch: UInt16(n))
        let reader = Task {
            for try await d in deliveries { received.withLock { $0.append(d) } }
        }
        try await eventually("the first four deliveries") { received.withLock { $0.count } >= 4 }
        try await Task.sleep(for: .seconds(3)) // deliberately holding: the behaviour under test
        #expect(received.withLock { $0.count } == 4, "read past the budget")
        #expect(conn.isOpen, "\(String(describing: conn.failure))")
        var acked = 0, mostHeld = 0
        while acked < n {
            try await eventually("delivery \(acked + 1) of \(n)") { received.withLock { $0.count } > acked }
            let batch = received.withLock { Array($0[acked...]) }
            mostHeld = max(mostHeld, batch.count)
            try conn.ack(batch)
            acked += batch.count
        }
        #expect(mostHeld <= 4)
        let firsts = received.withLock { $0.map { Int($0.body[0]) } }
        #expect(firsts.sorted() == Array(0..<n), "every message exactly once")
        try await eventually("every message settled") {
            try TestBroker.queueCounts(vhost: vhost, queue: queue).map { $0 == (0, 0) } ?? false
        }
        reader.cancel()
        await conn.close()
        }
    }

    @Test func idleConnectionStaysUpOnHeartbeats() async throws {
        try await Self.withScratch { vhost, _ in
        // With a 1 s heartbeat the broker drops a silent client after about 2 s.
        let conn = try await AMQPConnection.connect(try TestBroker.guestConfig(vhost: vhost, heartbeat: 1))
        try await Task.sleep(for: .seconds(4)) // deliberately idle: the behaviour under test
        #expect(conn.isOpen, "\(String(describing: conn.failure))")
        let r = try await conn.publish(exchange: "amq.direct", routingKey: "key", message: AMQPMessage(body: [1], messageID: "after-idle"))
        #expect(r == .confirmed)
        await conn.close()
        }
    }

    @Test func consumerFailsOnConnectionLossAndReconnectionResumes() async throws {
        try await Self.withScratch { vhost, queue in
        let sessions = Atomic<Int>(0)
        var logger = Logger(label: "test.reconnect")
        logger.logLevel = .error
        let config = try TestBroker.guestConfig(vhost: vhost)
        let task = Task {
            try await withReconnection(config, policy: ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(500)), logger: logger) { conn in
                let deliveries = try await conn.consume(queue: queue)
                sessions.add(1, ordering: .relaxed)
                // A consumer is a throwing sequence: it ends by throwing when the connection goes.
                for try await d in deliveries { try conn.ack(d) }
            }
        }
        try await eventually("first session") { sessions.load(ordering: .relaxed) == 1 }
        try TestBroker.rabbitmqctl("close_all_connections", "--vhost", vhost, "yizhan test: reconnect")
        try await eventually("a new session after the broker closed the connection") { sessions.load(ordering: .relaxed) >= 2 }
        // A broker restart: connecting fails while it is down, then the loop gets back in.
        try TestBroker.rabbitmqctl("stop_app")
        do {
            try await Task.sleep(for: .seconds(1))
            #expect(sessions.load(ordering: .relaxed) == 2)
        } catch {}
        try TestBroker.rabbitmqctl("start_app")
        try TestBroker.rabbitmqctl("await_startup")
        try await TestBroker.requireRunning() // the management listener comes back a little after the node
        try await eventually("a new session after the broker restarted", timeout: .seconds(90)) { sessions.load(ordering: .relaxed) >= 3 }
        task.cancel()
        _ = await task.result
        }
    }

    /// amqps:// on the broker's TLS listener (Deploy/setup.sh makes its local CA): the broker's
    /// certificate is verified, hostname included, and a connection under another CA is refused.
    @Test func tlsConnectionVerifiesTheBroker() async throws {
        try await Self.withScratch { vhost, _ in
        let caPath = TestBroker.tlsCA
        let config = try AMQPConfiguration(url: "amqps://guest:guest@localhost:5671/\(vhost)", tls: .init(caCertificatePath: caPath))
        #expect(config.port == 5671 && config.vhost == vhost)
        let conn = try await AMQPConnection.connect(config)
        let r = try await conn.publish(exchange: "amq.direct", routingKey: "key", message: AMQPMessage(body: [1], messageID: "tls"))
        #expect(r == .confirmed)
        await conn.close()

        let otherCA = NSTemporaryDirectory() + "yizhan-other-ca-\(UUIDv7.make()).pem"
        try CertificateAuthority.create(name: "Not the broker's CA").certificate.pem.write(toFile: otherCA, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: otherCA) }
        do {
            _ = try await AMQPConnection.connect(try AMQPConfiguration(url: "amqps://guest:guest@localhost:5671/\(vhost)", tls: .init(caCertificatePath: otherCA)))
            Issue.record("TLS connection under a foreign CA succeeded")
        } catch let e as AMQPError {
            #expect(e.kind == .tls)
        }
        }
    }

    @Test func refusedLoginIsATypedError() async throws {
        try await TestBroker.requireRunning()
        var config = try TestBroker.guestConfig(vhost: "/")
        config.password = "definitely-wrong"
        do {
            _ = try await AMQPConnection.connect(config)
            Issue.record("login with a wrong password succeeded")
        } catch let e as AMQPError {
            #expect(e.kind == .login)
            #expect(!e.description.contains("definitely-wrong"))
        }
    }
}

extension BrokerTests {
    /// A connection the application lets go of without close() is closed by its owner thread
    /// (found when an attack test failed midway: the thread used to read the freed connection).
    @Test func droppedConnectionIsClosedNotCrashed() async throws {
        try await Self.withScratch { vhost, queue in
            let admin = try TestBroker.admin()
            do {
                let conn = try await AMQPConnection.connect(try TestBroker.guestConfig(vhost: vhost))
                _ = try await conn.consume(queue: queue, prefetch: 1)
                _ = try await conn.publish(exchange: "amq.direct", routingKey: "key", message: AMQPMessage(body: [1], messageID: "m1"))
                try await eventually("the connection is seen by the broker") { try await admin.connections(vhost: vhost).count == 1 }
            }
            try await eventually("the dropped connection is closed", timeout: .seconds(30)) { try await admin.connections(vhost: vhost).isEmpty }
        }
    }
}
