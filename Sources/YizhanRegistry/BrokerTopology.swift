import Foundation
import YizhanCore

/// The broker objects of wire contract v1 and the least-privilege rules for unit users.
public struct BrokerTopology: Sendable {
    public static let documentsExchange = "yizhan.documents"
    public static let registryExchange = "yizhan.registry"
    public static let deadLetterExchange = "yizhan.dead-letter"
    /// Redeliveries before a poison message is dead-lettered (quorum queue x-delivery-limit).
    public static let deliveryLimit = 20

    public let vhost: String
    public let admin: BrokerAdmin

    public init(vhost: String, admin: BrokerAdmin) {
        self.vhost = vhost
        self.admin = admin
    }

    public static func unitQueue(_ code: String) -> String { "yizhan.unit.\(code)" }
    public static func deadQueue(_ code: String) -> String { "yizhan.dead.\(code)" }
    public static func eventsQueue(_ code: String) -> String { "yizhan.events.\(code)" }
    public static func brokerUser(_ code: String) -> String { "unit.\(code)" }

    static func escaped(_ s: String) -> String { s.replacingOccurrences(of: ".", with: "\\.") }

    /// Vhost and shared exchanges; idempotent.
    public func ensureBase(adminUser: String?) async throws {
        try await admin.putVhost(vhost)
        if let adminUser {
            try await admin.putPermissions(vhost: vhost, user: adminUser, configure: ".*", write: ".*", read: ".*")
        }
        try await admin.putExchange(vhost: vhost, name: Self.documentsExchange, type: "direct")
        try await admin.putExchange(vhost: vhost, name: Self.registryExchange, type: "fanout")
        try await admin.putExchange(vhost: vhost, name: Self.deadLetterExchange, type: "direct")
    }

    /// A unit's user (no password until enrolment), queues, bindings and permissions; idempotent.
    public func provision(unit code: String) async throws {
        let q = Self.unitQueue(code), dq = Self.deadQueue(code), eq = Self.eventsQueue(code)
        try await admin.putQueue(vhost: vhost, name: dq, arguments: ["x-queue-type": .string("quorum")])
        try await admin.bind(vhost: vhost, exchange: Self.deadLetterExchange, queue: dq, routingKey: code)
        try await admin.putQueue(vhost: vhost, name: q, arguments: [
            "x-queue-type": .string("quorum"),
            "x-delivery-limit": .number(Double(Self.deliveryLimit)),
            "x-dead-letter-exchange": .string(Self.deadLetterExchange),
            "x-dead-letter-routing-key": .string(code),
        ])
        try await admin.bind(vhost: vhost, exchange: Self.documentsExchange, queue: q, routingKey: code)
        try await admin.putQueue(vhost: vhost, name: eq, arguments: ["x-queue-type": .string("quorum")])
        try await admin.bind(vhost: vhost, exchange: Self.registryExchange, queue: eq, routingKey: "")
        let user = Self.brokerUser(code)
        try await admin.putUser(user, password: nil)
        try await admin.putPermissions(vhost: vhost, user: user, configure: "^$",
                                       write: "^\(Self.escaped(Self.documentsExchange))$",
                                       read: "^yizhan\\.(unit|events)\\.\(code)$")
    }

    /// Routes a retiring unit's traffic: its routing key to `successor`'s queue (merger) or
    /// nowhere (deregistration), and whatever waits in its queue to the successor's queue.
    /// Every step is idempotent, so a registry killed half-way finishes on restart.
    public func retire(unit code: String, successor: String, keepRouting: Bool) async throws {
        if keepRouting {
            try await admin.bind(vhost: vhost, exchange: Self.documentsExchange, queue: Self.unitQueue(successor), routingKey: code)
        }
        try await admin.unbind(vhost: vhost, exchange: Self.documentsExchange, queue: Self.unitQueue(code), routingKey: code)
        if try await admin.queue(vhost: vhost, name: Self.unitQueue(code)) != nil {
            try await admin.shovelQueue(vhost: vhost, name: "yizhan-move-\(code)", from: Self.unitQueue(code), to: Self.unitQueue(successor))
        }
    }

    /// A merged unit's user keeps existing but can do nothing; a deregistered unit's is deleted.
    public func disableUser(unit code: String, delete: Bool) async throws {
        let user = Self.brokerUser(code)
        if delete {
            try await admin.deleteUser(user)
        } else {
            try await admin.deletePermissions(vhost: vhost, user: user)
            try await admin.putUser(user, password: nil)
        }
        try await admin.closeConnections(user: user)
    }

    public func publishEvent(_ event: JSONValue) async throws {
        try await admin.publish(vhost: vhost, exchange: Self.registryExchange, routingKey: "", payload: event.canonicalString(), type: "yizhan.registry.event.v1")
    }

    /// Sets a fresh broker password for a unit at enrolment and returns it (shown once).
    public func issuePassword(unit code: String, password: String) async throws {
        try await admin.putUser(Self.brokerUser(code), password: password)
    }
}
