import Testing
@testable import YizhanAMQP

@Suite struct ConsumerAcksTests {
    typealias F = ConsumerAcks.Frame

    /// A stored group is the oldest unsettled deliveries: one frame with `multiple`.
    @Test func aGroupInOrderIsOneFrame() {
        var a = ConsumerAcks()
        for t in UInt64(1)...10 { a.delivered(t) }
        #expect(a.ack([3, 1, 2, 4]) == [F(tag: 4, multiple: true)])
        #expect(a.count == 6)
        #expect(a.ack([5]) == [F(tag: 5, multiple: false)])
        #expect(a.ack(Array(6...10)) == [F(tag: 10, multiple: true)])
        #expect(a.count == 0)
    }

    /// An older delivery still held (handled one by one, or waiting) is never covered by a
    /// multiple ack: what comes after it goes out tag by tag until it is settled.
    @Test func aHeldDeliveryBreaksTheRun() {
        var a = ConsumerAcks()
        for t in UInt64(1)...6 { a.delivered(t) }
        #expect(a.ack([2, 3, 5]) == [F(tag: 2, multiple: false), F(tag: 3, multiple: false), F(tag: 5, multiple: false)])
        #expect(a.ack([1]) == [F(tag: 1, multiple: false)])
        // 4 and 6 are left; acked together they are the oldest again.
        #expect(a.ack([6, 4]) == [F(tag: 6, multiple: true)])
    }

    @Test func runThenStragglers() {
        var a = ConsumerAcks()
        for t in UInt64(1)...8 { a.delivered(t) }
        #expect(a.ack([1, 2, 3, 7, 8]) == [F(tag: 3, multiple: true), F(tag: 7, multiple: false), F(tag: 8, multiple: false)])
        #expect(a.count == 3)
    }

    /// A rejected delivery leaves the unsettled ones; the run continues past its place.
    @Test func rejectedDeliveriesLeaveTheRun() {
        var a = ConsumerAcks()
        for t in UInt64(1)...5 { a.delivered(t) }
        a.rejected(2)
        #expect(a.ack([1, 3, 4]) == [F(tag: 4, multiple: true)])
        #expect(a.count == 1)
    }

    /// Unknown or repeated tags go out alone, once, as they did before acks were combined.
    @Test func unknownAndRepeatedTagsGoAlone() {
        var a = ConsumerAcks()
        a.delivered(7)
        #expect(a.ack([7, 7, 3]) == [F(tag: 7, multiple: false), F(tag: 3, multiple: false)])
        #expect(a.ack([]) == [])
        #expect(a.count == 0)
    }

    /// The bytes still held follow every way a delivery is settled: a combined ack, an ack of one
    /// out of order, a reject, and an ack of a tag already settled (which frees nothing twice).
    @Test func heldBytesFollowAcksAndRejects() {
        var a = ConsumerAcks()
        for t in UInt64(1)...5 { a.delivered(t, bytes: Int(t) * 100) }
        #expect(a.bytes == 1500)
        _ = a.ack([1, 2])
        #expect(a.bytes == 1200)
        _ = a.ack([4])
        #expect(a.bytes == 800)
        a.rejected(3)
        #expect(a.bytes == 500)
        _ = a.ack([4, 2])
        #expect(a.bytes == 500)
        _ = a.ack([5])
        #expect(a.bytes == 0 && a.count == 0)
    }
}
