import Foundation
import YizhanCore
import YizhanHTTP

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
        return try JSONValue.parseLenient(r.body)
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

    public func unbind(vhost: String, exchange: String, queue: String, routingKey: String) async throws {
        // Without arguments a binding's properties key is its routing key.
        try expect(try await http.request("DELETE", "/api/bindings/\(vhost.pathSegment)/e/\(exchange.pathSegment)/q/\(queue.pathSegment)/\(routingKey.pathSegment)"),
                   "unbind \(queue)", ok: [200, 204, 404])
    }

    public func deletePermissions(vhost: String, user: String) async throws {
        try expect(try await http.request("DELETE", "/api/permissions/\(vhost.pathSegment)/\(user.pathSegment)"), "delete permissions of \(user)", ok: [200, 204, 404])
    }

    /// Moves everything waiting in `from` to `to` once, then the shovel deletes itself.
    public func shovelQueue(vhost: String, name: String, from: String, to: String) async throws {
        let uri = "amqp:///" + vhost.pathSegment
        let value = JSONValue.object([
            "src-protocol": .string("amqp091"), "src-uri": .string(uri), "src-queue": .string(from),
            "dest-protocol": .string("amqp091"), "dest-uri": .string(uri), "dest-queue": .string(to),
            "ack-mode": .string("on-confirm"), "src-delete-after": .string("queue-length"),
        ])
        try expect(try await http.json("PUT", "/api/parameters/shovel/\(vhost.pathSegment)/\(name.pathSegment)", JSONValue.object(["value": value])), "shovel \(from)→\(to)")
    }

    public func shovels(vhost: String) async throws -> [JSONValue] {
        let r = try await http.request("GET", "/api/shovels/\(vhost.pathSegment)")
        try expect(r, "shovels", ok: [200])
        return try JSONValue.parseLenient(r.body).arrayValue ?? []
    }

    /// Publishes one message through the management API (used for registry events).
    public func publish(vhost: String, exchange: String, routingKey: String, payload: String, type: String) async throws {
        let body = JSONValue.object([
            "properties": .object(["delivery_mode": .number(2), "content_type": .string("application/json"), "type": .string(type)]),
            "routing_key": .string(routingKey), "payload": .string(payload), "payload_encoding": .string("string"),
        ])
        try expect(try await http.json("POST", "/api/exchanges/\(vhost.pathSegment)/\(exchange.pathSegment)/publish", body), "publish to \(exchange)", ok: [200])
    }

    /// Closes every connection of `user` (a retired unit's gateway must not keep one).
    public func closeConnections(user: String) async throws {
        let r = try await http.request("GET", "/api/connections")
        try expect(r, "connections", ok: [200])
        for c in try JSONValue.parseLenient(r.body).arrayValue ?? [] where c["user"]?.stringValue == user {
            if let name = c["name"]?.stringValue {
                _ = try await http.request("DELETE", "/api/connections/\(name.pathSegment)")
            }
        }
    }

    /// Names of the client connections open on a vhost (the management API's view).
    public func connections(vhost: String) async throws -> [String] {
        let r = try await http.request("GET", "/api/vhosts/\(vhost.pathSegment)/connections")
        try expect(r, "connections", ok: [200])
        return (try JSONValue.parseLenient(r.body).arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    /// Queue facts as the management API reports them (messages, consumers, ...).
    public func queue(vhost: String, name: String) async throws -> JSONValue? {
        let r = try await http.request("GET", "/api/queues/\(vhost.pathSegment)/\(name.pathSegment)")
        if r.status == 404 { return nil }
        try expect(r, "queue \(name)", ok: [200])
        return try JSONValue.parseLenient(r.body)
    }
}
