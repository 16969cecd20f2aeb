import Foundation
import GRDB
import Testing
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

extension BrokerTests {
    func expectError(_ code: YizhanError.Code, _ what: String, _ op: () async throws -> Void) async {
        do {
            try await op()
            Issue.record("\(what) was accepted")
        } catch let e as YizhanError {
            #expect(e.code == code, "\(what): \(e)")
        } catch {
            Issue.record("\(what): \(error)")
        }
    }

    /// Apply → reject (the applicant reads why) → apply again → approve → enrol; withdraw a pending one.
    @Test func applicationsAreDecidedByAdministrators() async throws {
        try await TestNetwork.with { net in
        let code = try randomUnitCode(), parent = try randomUnitCode()
        let form = RegistryAPI.Apply(code: code.rawValue, name: "武汉市某区建设局", parent: parent.rawValue, contact: "李四 027-12345678", head: "王五", reason: "接入公文交换")
        let anyone = RegistryClient(base: net.url)
        let applied = try await anyone.post("/v1/applications", try JSONValue.from(form))
        let id = try #require(applied["id"]?.stringValue), secret = try #require(applied["applicantSecret"]?.stringValue)
        #expect(try net.registry.store.unit(code: code.rawValue) == nil, "nothing provisioned before approval")
        #expect(try await TestBroker.admin().queue(vhost: net.vhost, name: "yizhan.unit.\(code.rawValue)") == nil)
        _ = try await net.admin.post("/v1/requests/\(id)/reject", JSONValue.object(["reason": .string("材料不全：缺单位负责人签字")]))
        let seen = try await RegistryClient(base: net.url, adminToken: secret).get("/v1/applications/\(id)")
        #expect(seen["state"] == .string("rejected") && seen["reason"] == .string("材料不全：缺单位负责人签字"))
        await expectError(.unauthorized, "reading with a wrong secret") { _ = try await RegistryClient(base: net.url, adminToken: "nope").get("/v1/applications/\(id)") }
        await expectError(.conflict, "approving a rejected application") { _ = try await net.admin.post("/v1/requests/\(id)/approve", JSONValue.object([:])) }

        // A second application can be withdrawn while pending, and then not approved.
        let second = try await anyone.post("/v1/applications", try JSONValue.from(form))
        let id2 = try #require(second["id"]?.stringValue), secret2 = try #require(second["applicantSecret"]?.stringValue)
        _ = try await RegistryClient(base: net.url, adminToken: secret2).delete("/v1/applications/\(id2)")
        await expectError(.conflict, "approving a cancelled request") { _ = try await net.admin.post("/v1/requests/\(id2)/approve", JSONValue.object([:])) }

        let third = try await anyone.post("/v1/applications", try JSONValue.from(form))
        let id3 = try #require(third["id"]?.stringValue)
        let decided = try await net.admin.post("/v1/requests/\(id3)/approve", JSONValue.object([:]))
        let token = try #require(decided["added"]?["enrolmentToken"]?.stringValue)
        await expectError(.conflict, "approving twice") { _ = try await net.admin.post("/v1/requests/\(id3)/approve", JSONValue.object([:])) }
        let unit = try #require(try net.registry.store.unit(code: code.rawValue))
        #expect(unit.parent == parent.rawValue && unit.head == "王五" && unit.status == "active")
        #expect(try await TestBroker.admin().queue(vhost: net.vhost, name: "yizhan.unit.\(code.rawValue)") != nil)
        let home = GatewayHome(net.dir + "/" + code.rawValue)
        _ = try await Gateway.initialize(home: home, unit: code.rawValue, registry: net.url, token: token, caPEM: net.registry.ca.certificate.pem)
        net.users.append("unit.\(code.rawValue)")
        let actions = try net.registry.store.auditLog().filter { $0.subject == code.rawValue }.map(\.action)
        #expect(actions.starts(with: ["apply.requested", "apply.rejected", "apply.requested", "apply.cancelled", "apply.requested", "apply.approved", "apply.applied", "unit.enrolled"]))
        }
    }

    /// Each of these is a clear error and changes nothing.
    @Test func badLifecycleRequestsChangeNothing() async throws {
        try await TestNetwork.with { net in
        let a = try randomUnitCode(), b = try randomUnitCode(), c = try randomUnitCode(), gone = try randomUnitCode()
        let ha = try await net.enrol(a, name: "甲"); _ = try await net.enrol(b, name: "乙"); _ = try await net.enrol(c, name: "丙"); _ = try await net.enrol(gone, name: "已撤销")
        try await net.approve(.init(kind: "deregister", unit: gone.rawValue, transferTo: c.rawValue))
        let versionBefore = try net.registry.store.latestDirectory()?.version
        let requestsBefore = try net.registry.store.requests().count
        func req(_ l: RegistryAPI.LifecycleRequest) async throws { _ = try await net.admin.post("/v1/requests", try JSONValue.from(l)) }

        await expectError(.invalidUnitCode, "a bad check character") { try await req(.init(kind: "rename", unit: String(a.rawValue.dropLast()) + (a.rawValue.last == "0" ? "1" : "0"), name: "x")) }
        await expectError(.notFound, "an unknown unit") { try await req(.init(kind: "rename", unit: try randomUnitCode().rawValue, name: "x")) }
        await expectError(.invalidArgument, "merging a unit into itself") { try await req(.init(kind: "merge", units: [a.rawValue], into: a.rawValue)) }
        await expectError(.conflict, "merging into a deregistered unit") { try await req(.init(kind: "merge", units: [a.rawValue], into: gone.rawValue)) }
        await expectError(.conflict, "renaming a deregistered unit") { try await req(.init(kind: "rename", unit: gone.rawValue, name: "新名")) }
        await expectError(.conflict, "merging a deregistered unit") { try await req(.init(kind: "merge", units: [gone.rawValue], into: b.rawValue)) }
        // A cycle: A into B is pending, so B into A is refused.
        try await req(.init(kind: "merge", units: [a.rawValue], into: b.rawValue))
        await expectError(.conflict, "a merger cycle") { try await req(.init(kind: "merge", units: [b.rawValue], into: a.rawValue)) }
        await expectError(.invalidArgument, "an unknown kind") { try await req(.init(kind: "split", unit: a.rawValue)) }
        // Unauthenticated and under-privileged calls.
        await expectError(.unauthorized, "no token") { _ = try await RegistryClient(base: net.url).post("/v1/requests", try JSONValue.from(RegistryAPI.LifecycleRequest(kind: "rename", unit: b.rawValue, name: "x"))) }
        let unitA = RegistryClient(base: net.url, adminToken: try ha.read(ha.registryTokenFile).trimmingCharacters(in: .whitespacesAndNewlines))
        await expectError(.forbidden, "a unit filing a request") { _ = try await unitA.post("/v1/requests", try JSONValue.from(RegistryAPI.LifecycleRequest(kind: "rename", unit: a.rawValue, name: "x"))) }
        await expectError(.forbidden, "a unit reading another unit") { _ = try await unitA.get("/v1/units/\(b.rawValue)") }
        await expectError(.forbidden, "a unit listing units") { _ = try await unitA.get("/v1/units") }
        await expectError(.forbidden, "a unit filing another unit's roster") { _ = try await unitA.put("/v1/units/\(b.rawValue)/roster", .array([])) }
        // What a unit may do: read the directory and its own records.
        #expect(try await unitA.get("/v1/units/\(a.rawValue)")["code"] == .string(a.rawValue))
        #expect(try await unitA.directory().isEmpty == false)

        #expect(try net.registry.store.latestDirectory()?.version == versionBefore)
        #expect(try net.registry.store.requests().count == requestsBefore + 1)

        // An approved request can still be cancelled before it takes effect; then it never applies.
        let later = try await net.admin.post("/v1/requests", try JSONValue.from(RegistryAPI.LifecycleRequest(kind: "rename", unit: c.rawValue, name: "丙（新）",
                                                                                                             effective: Timestamp.format(Date().addingTimeInterval(3600)))))
        let laterID = try #require(later["id"]?.stringValue)
        _ = try await net.admin.post("/v1/requests/\(laterID)/approve", JSONValue.object([:]))
        #expect(try net.registry.store.request(id: laterID)?.state == "approved")
        _ = try await net.admin.post("/v1/requests/\(laterID)/cancel", JSONValue.object(["reason": .string("撤回")]))
        #expect(try net.registry.store.request(id: laterID)?.state == "cancelled")
        #expect(try net.registry.store.dueRequests(now: Date().addingTimeInterval(7200)).isEmpty)
        await expectError(.conflict, "cancelling twice") { _ = try await net.admin.post("/v1/requests/\(laterID)/cancel", JSONValue.object([:])) }
        #expect(try net.registry.store.unit(code: c.rawValue)?.name == "丙")
        #expect(try net.registry.store.units().filter { $0.status == "active" }.count == 3)
        }
    }

    /// Editing, removing or reordering a row of the audit log in the SQLite file is detected and named.
    @Test func auditChainDetectsTampering() async throws {
        try await TestNetwork.with { net in
        for _ in 0..<3 { _ = try await net.enrol(try randomUnitCode(), name: "单位") }
        #expect(try net.registry.store.verifyAudit().isEmpty)
        let path = net.registry.home.database
        let db = try DatabaseQueue(path: path)
        let ids = try await db.read { try Int64.fetchAll($0, sql: "SELECT id FROM audit_log ORDER BY id") }
        #expect(ids.count >= 10)
        try await db.write { try $0.execute(sql: "UPDATE audit_log SET detail = '改过' WHERE id = ?", arguments: [ids[4]]) }
        var problems = try net.registry.store.verifyAudit()
        #expect(problems.map(\.entry) == [ids[4]] && problems[0].problem.contains("changed"))
        // The command line says the same and exits non-zero.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try yizhanBinary())
        p.arguments = ["registry", "audit", "verify", "--home", net.registry.home.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus != 0 && text.contains("entry \(ids[4]): was changed"))
        // Remove the changed row: now the entry after it has lost its predecessor.
        try await db.write { try $0.execute(sql: "DELETE FROM audit_log WHERE id = ?", arguments: [ids[4]]) }
        problems = try net.registry.store.verifyAudit()
        #expect(problems.contains { $0.entry == ids[5] && $0.problem.contains("missing") })
        // Reorder: swap the contents of two later rows.
        try await db.write { db in
            try db.execute(sql: "UPDATE audit_log SET id = -1 WHERE id = ?", arguments: [ids[7]])
            try db.execute(sql: "UPDATE audit_log SET id = ? WHERE id = ?", arguments: [ids[7], ids[8]])
            try db.execute(sql: "UPDATE audit_log SET id = ? WHERE id = -1", arguments: [ids[8]])
        }
        problems = try net.registry.store.verifyAudit()
        #expect(problems.contains { $0.entry == ids[7] || $0.entry == ids[8] })
        }
    }
}
