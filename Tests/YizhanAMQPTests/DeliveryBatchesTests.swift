import Synchronization
import Testing
@testable import YizhanAMQP

/// The batch consumer's hand-over, without a broker: what arrived while the consumer was busy is
/// one group, not a queue of small ones (each group costs the gateway one disk commit).
@Suite struct DeliveryBatchesTests {
    static func delivery(_ tag: UInt64) -> AMQPDelivery {
        AMQPDelivery(body: [], contentType: nil, messageID: "m\(tag)", userID: nil, type: nil, exchange: "x", routingKey: "k",
                     redelivered: false, deliveryTag: tag, channel: 2, connectionID: 1)
    }

    struct Boom: Error, Equatable {}

    /// Waits (with a deadline) until the consuming task is parked in `take()`.
    static func untilWaiting(_ sink: DeliveryBatches.Sink) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while sink.state.withLock({ $0.waiter == nil }) {
            guard ContinuousClock.now < deadline else { Issue.record("the consumer never waited"); return }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    @Test func everythingThatArrivedSinceTheLastStepIsOneGroup() async throws {
        let sink = DeliveryBatches.Sink()
        sink.append([Self.delivery(1)])
        sink.append([Self.delivery(2), Self.delivery(3)])
        sink.append([Self.delivery(4)])
        var it = DeliveryBatches(sink: sink).makeAsyncIterator()
        #expect(try await it.next()?.map(\.deliveryTag) == [1, 2, 3, 4])
        sink.append([Self.delivery(5)])
        #expect(try await it.next()?.map(\.deliveryTag) == [5])
    }

    @Test func aWaitingConsumerGetsTheNextArrival() async throws {
        let sink = DeliveryBatches.Sink()
        let taker = Task { try await sink.take()?.map(\.deliveryTag) }
        try await Self.untilWaiting(sink)
        sink.append([Self.delivery(7), Self.delivery(8)])
        #expect(try await taker.value == [7, 8])
    }

    @Test func connectionLossFailsTheSequenceAfterWhatHadArrived() async throws {
        let sink = DeliveryBatches.Sink()
        sink.append([Self.delivery(1)])
        sink.finish(throwing: Boom())
        sink.append([Self.delivery(2)])  // nothing after the failure: it came on a dead connection
        #expect(try await sink.take()?.map(\.deliveryTag) == [1])
        await #expect(throws: Boom.self) { try await sink.take() }

        let waiting = DeliveryBatches.Sink()
        let taker = Task { try await waiting.take() }
        try await Self.untilWaiting(waiting)
        waiting.finish(throwing: Boom())
        await #expect(throws: Boom.self) { try await taker.value }
    }

    @Test func cancellingTheConsumerEndsTheSequenceAndCancelsTheBrokerConsumer() async throws {
        let sink = DeliveryBatches.Sink()
        let cancelled = Atomic<Int>(0)
        sink.setOnCancel { cancelled.add(1, ordering: .relaxed) }
        let taker = Task { try await sink.take() }
        try await Self.untilWaiting(sink)
        taker.cancel()
        #expect(try await taker.value == nil)
        #expect(cancelled.load(ordering: .relaxed) == 1)
        sink.append([Self.delivery(9)])
        #expect(try await sink.take() == nil)
        #expect(cancelled.load(ordering: .relaxed) == 1)
    }
}

extension DeliveryBatchesTests {
    static func delivery(_ tag: UInt64, bytes: Int) -> AMQPDelivery {
        var d = delivery(tag)
        d.body = [UInt8](repeating: 0, count: bytes)
        return d
    }

    /// Large messages come in small groups (a group stays in memory while the broker refills the
    /// window), small ones up to the whole window; one message larger than the budget still goes.
    @Test func aGroupHoldsAtMostTheByteBudget() async throws {
        let mib = 1 << 20, budget = DeliveryBatches.Sink.groupBytes
        let sink = DeliveryBatches.Sink()
        sink.append((1...10).map { Self.delivery($0, bytes: mib) })
        var it = DeliveryBatches(sink: sink).makeAsyncIterator()
        var tags: [UInt64] = []
        while tags.count < 10, let g = try await it.next() {
            #expect(g.reduce(0) { $0 + $1.body.count } <= budget)
            tags += g.map(\.deliveryTag)
        }
        #expect(tags == Array(1...10), "in order, none lost")

        sink.append([Self.delivery(11, bytes: budget + 1), Self.delivery(12, bytes: 10)])
        #expect(try await it.next()?.map(\.deliveryTag) == [11])
        #expect(try await it.next()?.map(\.deliveryTag) == [12])

        let waiting = Task { try await sink.take()?.map(\.deliveryTag) }
        try await Self.untilWaiting(sink)
        sink.append((13...20).map { Self.delivery($0, bytes: mib) })
        #expect(try await waiting.value == [13, 14, 15, 16], "a waiting consumer gets the budget's worth too")
        #expect(try await sink.take()?.map(\.deliveryTag) == [17, 18, 19, 20])
    }
}
