import Foundation
import Logging
import Testing
import YizhanAMQP
import YizhanCore
import YizhanStore
@testable import YizhanGateway

extension BrokerTests {
    /// Two enrolled units, both gateways running: the sender with the idle timings under test, the
    /// receiver with the defaults.
    func senderAndReceiver(_ net: TestNetwork, idleLook: Duration = .milliseconds(250), trimAfter: Duration? = .seconds(2)) async throws
        -> (sender: RunningGateway, receiver: RunningGateway, senderHome: GatewayHome, to: UnitCode) {
        let a = try randomUnitCode(), b = try randomUnitCode()
        let ha = try await net.enrol(a, name: "甲"), hb = try await net.enrol(b, name: "乙")
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .error
        let ga = RunningGateway(try Gateway(home: ha, logger: logger, reconnectPolicy: ReconnectPolicy(initialDelay: .milliseconds(100), maximumDelay: .seconds(1)),
                                            idleLook: idleLook, trimAfter: trimAfter))
        return (ga, RunningGateway(try net.gateway(hb)), ha, b)
    }

    /// An idle gateway hardly looks at its outbox (here once a minute), yet a document stored by
    /// this process goes out at once (the store's commit knocks), and so does one from `doc send` in
    /// another process (handed over, see `HandOver`: the intake rings the send loop).
    @Test func anIdleGatewayIsWokenByTheKnockAfterACommit() async throws {
        try await TestNetwork.with { net in
            let (ga, gb, ha, b) = try await senderAndReceiver(net, idleLook: .seconds(60))
            func whenIdle() async throws {
                try await eventually("the sender idle, waiting for a knock") {
                    ga.gateway.listening.load(ordering: .relaxed) && ga.gateway.idleLooking.load(ordering: .sequentiallyConsistent)
                }
            }
            // Stored in this process: far sooner than the minute an idle look would take.
            try await whenIdle()
            let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "空闲时的来文"), recipients: [.init(unit: b, role: .main)], parts: [])
            try ga.gateway.store.enqueue(draft)
            try await eventually("receipt back after a knock", timeout: .seconds(20)) {
                try ga.gateway.store.outboxEntry(id: draft.id)?.deliveries.first?.state == "delivered"
            }
            // From `doc send`, another process with the home's path spelled another way (the same socket names).
            try await whenIdle()
            let file = net.dir + "/空闲.txt"
            #expect(FileManager.default.createFile(atPath: file, contents: Data("正文".utf8)))
            let r = try runCLI(["doc", "send", "--home", ha.path + "/.", "--to", "\(b)", "--title", "命令行来文", file])
            #expect(r.status == 0, "\(r.err)")
            try await eventually("the CLI's document delivered after its knock", timeout: .seconds(20)) {
                try ga.gateway.store.outbox().contains { $0.title == "命令行来文" && $0.deliveries.first?.state == "delivered" }
            }
            await ga.stop(); await gb.stop()
        }
    }
    /// After two quiet seconds a gateway gives back its clean file pages and free heap (once, not
    /// again within the minute), and then sends and receives as before: the code it runs next maps
    /// itself in again.
    @Test func anIdleGatewayGivesBackItsPagesAndKeepsWorking() async throws {
        try await TestNetwork.with { net in
            let (ga, gb, _, b) = try await senderAndReceiver(net, trimAfter: .milliseconds(300))
            try await eventually("the idle sender gave back its pages") { ga.gateway.lastTrim.withLock { $0 != nil } }
            let first = try #require(ga.gateway.lastTrim.withLock { $0 })
            let draft = GatewayStore.Draft(kind: .document, document: DocumentInfo(title: "整理内存之后"), recipients: [.init(unit: b, role: .main)], parts: [])
            try ga.gateway.store.enqueue(draft)
            try await eventually("receipt back after the trim", timeout: .seconds(20)) {
                try ga.gateway.store.outboxEntry(id: draft.id)?.deliveries.first?.state == "delivered"
            }
            // Quiet again well past `trimAfter`: within the minute it does not trim a second time.
            try await Task.sleep(for: .seconds(1))
            #expect(ga.gateway.lastTrim.withLock { $0 } == first)
            #expect(!ga.gateway.releaseIdleMemory(), "a second trim within the minute is refused")
            #expect(ga.gateway.releaseIdleMemory(minimumInterval: .zero))
            await ga.stop(); await gb.stop()
        }
    }
    /// `idleTrimSeconds` in gateway.json sets the quiet spell; 0 turns the trim off; a negative
    /// value stops the gateway from starting with one configuration error.
    @Test func theIdleTrimFollowsTheConfiguration() async throws {
        try await TestNetwork.with { net in
            let home = try await net.enrol(try randomUnitCode(), name: "丙")
            func with(_ seconds: Int?) throws -> Gateway {
                var c = try home.loadConfig()
                c.idleTrimSeconds = seconds
                try home.saveConfig(c)
                return try net.gateway(home)
            }
            #expect(try with(nil).trimAfter == .seconds(2))
            #expect(try with(30).trimAfter == .seconds(30))
            #expect(try with(0).trimAfter == nil)
            do {
                _ = try with(-1)
                Issue.record("a negative idleTrimSeconds was accepted")
            } catch let e as YizhanError {
                #expect(e.code == .configuration && e.message.contains("idleTrimSeconds"), "\(e)")
            }
        }
    }
}
