import Testing
@testable import YizhanAMQP

@Suite struct PublisherConfirmsTests {
    @Test func multipleAckResolvesEverythingUpToTheTag() {
        var c = PublisherConfirms<Int>()
        for i in 1...5 { _ = c.published(messageID: "m\(i)", routingKey: "k", token: i) }
        let r = c.ack(deliveryTag: 3, multiple: true)
        #expect(r.map(\.0) == [1, 2, 3])
        #expect(r.allSatisfy { $0.1 == .confirmed })
        #expect(c.outstanding == 2)
        #expect(c.ack(deliveryTag: 5, multiple: false).map(\.0) == [5])
        #expect(c.ack(deliveryTag: 5, multiple: false).isEmpty)
        #expect(c.outstanding == 1)
    }

    @Test func returnBeforeAckMakesThatPublishReturned() {
        var c = PublisherConfirms<String>()
        _ = c.published(messageID: "doc", routingKey: "A", token: "toA")
        _ = c.published(messageID: "doc", routingKey: "B", token: "toB")
        c.returnReceived(messageID: "doc", routingKey: "B", replyCode: 312, replyText: "NO_ROUTE")
        let r = c.ack(deliveryTag: 2, multiple: true)
        #expect(r.count == 2)
        #expect(r[0].0 == "toA" && r[0].1 == .confirmed)
        #expect(r[1].0 == "toB" && r[1].1 == .returned(replyCode: 312, replyText: "NO_ROUTE"))
    }

    @Test func nackAndFailAll() {
        var c = PublisherConfirms<Int>()
        for i in 1...3 { _ = c.published(messageID: nil, routingKey: "k", token: i) }
        #expect(c.nack(deliveryTag: 2, multiple: false).map(\.1) == [.nacked])
        #expect(c.failAll() == [1, 3])
        #expect(c.outstanding == 0)
        #expect(c.nextSequence == 1)
    }

    @Test func backoffGrowsAndIsCapped() {
        let p = ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(2))
        #expect(p.delay(attempt: 0) <= .milliseconds(120))
        #expect(p.delay(attempt: 3) >= .milliseconds(640))
        #expect(p.delay(attempt: 50) <= .milliseconds(2400))
    }
}
