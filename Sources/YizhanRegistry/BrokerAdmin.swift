import Foundation
import YizhanCore

/// RabbitMQ management API calls the registry needs to provision units.
public struct BrokerAdmin: Sendable {
    public let http: HTTPClient

    public init(url: String) throws(YizhanError) { http = try HTTPClient(base: url) }

    func expect(_ r: HTTPClient.Response, _ what: String, ok: Set<Int> = [200, 201, 204]) throws {
        guard ok.contains(r.status) else {
            let text = String(decoding: r.body.prefix(300), as: UTF8.self)
            throw YizhanError(.remote, "broker admin: \(what) answered \(r.status): \(text)")
        }
    }

    public func overview() async throws -> JSONValue {
        let r = try await http.request("GET", "/api/overview")
        try expect(r, "overview", ok: [200])
        return try JSONValue.parse(r.body)
    }

    public func putVhost(_ vhost: String) async throws {
        try expect(try await http.json("PUT", "/api/vhosts/\(vhost.pathSegment)", JSONValue.object([:])), "create vhost \(vhost)")
    }

    public func deleteVhost(_ vhost: String) async throws {
        try expect(try await http.request("DELETE", "/api/vhosts/\(vhost.pathSegment)"), "delete vhost \(vhost)", ok: [200, 204, 404])
    }

    public func putUser(_ user: String, password: String?) async throws {
        // No password at all means the user cannot log in until enrolment sets one.
        let body: JSONValue = password.map { .object(["password": .string($0), "tags": .string("")]) }
            ?? .object(["password_hash": .string(""), "tags": .string("")])
        try expect(try await http.json("PUT", "/api/users/\(user.pathSegment)", body), "put user \(user)")
    }

    public func deleteUser(_ user: String) async throws {
        try expect(try await http.request("DELETE", "/api/users/\(user.pathSegment)"), "delete user \(user)", ok: [200, 204, 404])
    }

    public func putPermissions(vhost: String, user: String, configure: String, write: String, read: String) async throws {
        let body = JSONValue.object(["configure": .string(configure), "write": .string(write), "read": .string(read)])
        try expect(try await http.json("PUT", "/api/permissions/\(vhost.pathSegment)/\(user.pathSegment)", body), "permissions for \(user)")
    }

    public func putExchange(vhost: String, name: String, type: String) async throws {
        let body = JSONValue.object(["type": .string(type), "durable": .bool(true), "auto_delete": .bool(false)])
        try expect(try await http.json("PUT", "/api/exchanges/\(vhost.pathSegment)/\(name.pathSegment)", body), "exchange \(name)")
    }

    public func putQueue(vhost: String, name: String, arguments: [String: JSONValue]) async throws {
        let body = JSONValue.object(["durable": .bool(true), "auto_delete": .bool(false), "arguments": .object(arguments)])
        try expect(try await http.json("PUT", "/api/queues/\(vhost.pathSegment)/\(name.pathSegment)", body), "queue \(name)")
    }

    public func bind(vhost: String, exchange: String, queue: String, routingKey: String) async throws {
        let body = JSONValue.object(["routing_key": .string(routingKey)])
        try expect(try await http.json("POST", "/api/bindings/\(vhost.pathSegment)/e/\(exchange.pathSegment)/q/\(queue.pathSegment)", body), "binding \(exchange)→\(queue)")
    }

    /// Names of the client connections open on a vhost (the management API's view).
    public func connections(vhost: String) async throws -> [String] {
        let r = try await http.request("GET", "/api/vhosts/\(vhost.pathSegment)/connections")
        try expect(r, "connections", ok: [200])
        return (try JSONValue.parse(r.body).arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    /// Queue facts as the management API reports them (messages, consumers, ...).
    public func queue(vhost: String, name: String) async throws -> JSONValue? {
        let r = try await http.request("GET", "/api/queues/\(vhost.pathSegment)/\(name.pathSegment)")
        if r.status == 404 { return nil }
        try expect(r, "queue \(name)", ok: [200])
        return try JSONValue.parse(r.body)
    }
}
