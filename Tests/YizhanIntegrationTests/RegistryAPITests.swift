import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import YizhanCore
import YizhanCrypto
import YizhanRegistry

extension BrokerTests {
    /// The HTTP API in-process: nothing changes without an administrator token.
    @Test func registryAPIRequiresAdministratorToken() async throws {
        try await TestBroker.requireRunning()
        let dir = NSTemporaryDirectory() + "yizhan-api-" + UUIDv7.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vhost = "yizhan-api-" + UUIDv7.make().suffix(12)
        let home = RegistryHome(dir)
        let token = try await Registry.initialize(home: home, config: .init(name: "API Test CA", vhost: vhost, amqpHost: "127.0.0.1", amqpPort: 5672, listen: "127.0.0.1:0"),
                                                  brokerAdminURL: TestBroker.adminURL)
        let registry = try Registry.open(home: home, logger: Logger(label: "test"))
        let app = Application(router: registry.router())
        let code = try randomUnitCode()
        let body = ByteBuffer(string: #"{"code":"\#(code.rawValue)","name":"测试单位"}"#)
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/units", method: .post, body: body) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/v1/units", method: .post, headers: [.authorization: "Bearer abc.def"], body: body) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/v1/units", method: .get) { r in #expect(r.status == .unauthorized) }
            try await client.execute(uri: "/v1/units", method: .post, headers: [.authorization: "Bearer \(token)"],
                                     body: ByteBuffer(string: #"{"code":"11420100MB12345670","name":"x"}"#)) { r in
                #expect(r.status == .badRequest)
                #expect(String(buffer: r.body).contains("invalid-unit-code"))
            }
            try await client.execute(uri: "/v1/units", method: .post, headers: [.authorization: "Bearer \(token)"], body: body) { r in
                #expect(r.status == .created)
                let added = try JSONValue.parse(Array(r.body.readableBytesView)).decode(RegistryAPI.AddedUnit.self)
                #expect(added.code == code.rawValue && added.enrolmentToken.count >= 32)
            }
            try await client.execute(uri: "/v1/units", method: .post, headers: [.authorization: "Bearer \(token)"], body: body) { r in #expect(r.status == .conflict) }
            try await client.execute(uri: "/v1/enrol", method: .post, body: ByteBuffer(string: #"{"token":"guess","publicKey":"AAAA"}"#)) { r in
                #expect(r.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/directory", method: .get) { r in
                let d = try SignedDirectory.open(Array(r.body.readableBytesView), anchor: registry.ca.certificate)
                #expect(d.entry(code.rawValue)?.name == "测试单位")
                #expect(d.entry(code.rawValue)?.brokerUser == "unit.\(code.rawValue)")
            }
            try await client.execute(uri: "/v1/ca", method: .get) { r in
                let served = try Certificate(pem: String(buffer: r.body))
                #expect(served.der == registry.ca.certificate.der)
            }
        }
        // The audit log names who added the unit; the store has only the token's scrypt hash.
        let audit = try registry.store.auditLog()
        #expect(audit.contains { $0.action == "apply.approved" && $0.subject == code.rawValue && $0.actor.hasPrefix("admin:") })
        #expect(audit.contains { $0.action == "apply.applied" && $0.subject == code.rawValue })
        #expect(try registry.store.verifyAudit().isEmpty)
        let secret = String(token.split(separator: ".")[1])
        let dbBytes = try Data(contentsOf: URL(fileURLWithPath: home.database))
        #expect(dbBytes.range(of: Data(secret.utf8)) == nil)
        let admin = try TestBroker.admin()
        try? await admin.deleteVhost(vhost)
        try? await admin.deleteUser("unit.\(code.rawValue)")
    }

    @Test func directoryFromAnotherCAIsRefused() async throws {
        let ca = try CertificateAuthority.create(name: "Real"), other = try CertificateAuthority.create(name: "Other")
        let d = Directory(version: 3, issued: Timestamp.format(Date()), units: [], revoked: [])
        let signed = try SignedDirectory.sign(d, ca: other)
        #expect(throws: YizhanError.self) { try SignedDirectory.open(signed, anchor: ca.certificate) }
        #expect(try SignedDirectory.open(try SignedDirectory.sign(d, ca: ca), anchor: ca.certificate).version == 3)
    }
}
