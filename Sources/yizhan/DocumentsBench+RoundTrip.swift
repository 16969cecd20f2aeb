import Foundation
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanRegistry

extension DocumentsBench {
    /// The floor under the paced run's latency: the same round trip over the raw broker at the same
    /// rate. A message is signed and published with a confirm into one quorum queue; a responder on
    /// its own connection verifies it, publishes a signed reply into a second quorum queue and acks
    /// the first after the reply's confirm (as a receiver acks after storing); the originator
    /// verifies the reply. Send to reply is what a document's send to receipt is, minus the two
    /// stores, the envelopes and the gateways' batching.
    static func rawRoundTrip(_ net: BenchNetwork, rate: Double, seconds: Double, size: Int) async throws -> [Double] {
        let admin = try BrokerAdmin(url: net.brokerAdmin)
        for q in ["bench.raw.ping", "bench.raw.pong"] {
            try await admin.putQueue(vhost: net.vhost, name: q, arguments: ["x-queue-type": .string("quorum")])
        }
        let origin = try await net.guestConnection(), responder = try await net.guestConnection()
        do {
            let rtt = try await rawRoundTrip(origin: origin, responder: responder, rate: rate, seconds: seconds, size: size)
            await origin.close(); await responder.close()
            return rtt
        } catch {
            await origin.close(); await responder.close()
            throw error
        }
    }

    static func rawRoundTrip(origin: AMQPConnection, responder: AMQPConnection, rate: Double, seconds: Double, size: Int) async throws -> [Double] {
        let key = try PrivateKey.generateEd25519()
        let pub = try key.publicKey
        let body = try SecureRandom.bytes(max(0, size - 72))
        let count = max(1, Int(rate * seconds))
        let clock = ContinuousClock()
        let sentAt = Shared([ContinuousClock.Instant?](repeating: nil, count: count))
        let rtt = Shared([Double]())

        // Each payload starts with the message's index (8 bytes, big-endian).
        func signed(_ i: Int) throws -> [UInt8] {
            try SignedFrame.make(withUnsafeBytes(of: UInt64(i).bigEndian) { Array($0) } + body, key: key)
        }
        func index(_ d: AMQPDelivery) -> Int? {
            guard let payload = SignedFrame.open(d.body, key: pub), payload.count >= 8 else { return nil }
            return payload.prefix(8).reduce(0) { $0 << 8 | Int($1) }
        }

        let reply = Task {
            let stream = try await responder.consume(queue: "bench.raw.ping", prefetch: 256)
            try await withThrowingTaskGroup(of: Void.self) { g in
                var n = 0
                for try await d in stream {
                    guard let i = index(d) else { throw YizhanError(.remote, "raw round trip: a ping did not verify") }
                    let m = AMQPMessage(body: try signed(i), messageID: "pong-\(i)")
                    g.addTask {
                        let o = try await responder.publish(exchange: "", routingKey: "bench.raw.pong", message: m)
                        guard o == .confirmed else { throw YizhanError(.remote, "raw pong not confirmed: \(o)") }
                        try responder.ack(d)
                    }
                    n += 1
                    if n == count { break }
                }
                try await g.waitForAll()
            }
        }
        let back = Task {
            let stream = try await origin.consume(queue: "bench.raw.pong", prefetch: 256)
            var n = 0
            for try await d in stream {
                let now = clock.now
                guard let i = index(d), i < count, let t = sentAt.withLock({ $0[i] }) else {
                    throw YizhanError(.remote, "raw round trip: a pong did not verify")
                }
                rtt.withLock { $0.append(BenchNetwork.seconds(now - t) * 1000) }
                try origin.ack(d)
                n += 1
                if n == count { return }
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { g in
            let t0 = clock.now
            for i in 0..<count {
                let due = t0 + .microseconds(Int(Double(i) * 1_000_000 / rate))
                if clock.now < due { try await Task.sleep(until: due, clock: clock) }
                let m = AMQPMessage(body: try signed(i), messageID: "ping-\(i)")
                sentAt.withLock { $0[i] = clock.now }
                g.addTask {
                    let o = try await origin.publish(exchange: "", routingKey: "bench.raw.ping", message: m)
                    guard o == .confirmed else { throw YizhanError(.remote, "raw ping not confirmed: \(o)") }
                }
            }
            try await g.waitForAll()
        }
        let deadline = clock.now + .seconds(120)
        while rtt.withLock({ $0.count }) < count {
            guard clock.now < deadline else {
                reply.cancel(); back.cancel()
                throw YizhanError(.remote, "raw round trip: \(rtt.withLock { $0.count }) of \(count) replies within 120 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await reply.value
        try await back.value
        return rtt.withLock { $0 }
    }
}

