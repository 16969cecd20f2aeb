import Foundation
import YizhanCore

/// What one look at the network saw. A source that could not be read is nil, with its error.
public struct Observation: Sendable {
    public var at: Date
    public var queues: [String: QueueStats]?
    public var brokerError: String?
    public var units: [UnitInfo]?
    public var registryError: String?
    /// Per configured gateway (unit code): its figures, or the error reading them.
    public var gateways: [String: Result<GatewayFigures, MonitorError>]

    public init(at: Date, queues: [String: QueueStats]?, brokerError: String? = nil, units: [UnitInfo]?, registryError: String? = nil,
                gateways: [String: Result<GatewayFigures, MonitorError>] = [:]) {
        self.at = at; self.queues = queues; self.brokerError = brokerError; self.units = units; self.registryError = registryError
        self.gateways = gateways
    }
}

public struct MonitorError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One queue as the management API reports it.
public struct QueueStats: Codable, Sendable, Equatable {
    public var name: String
    public var ready: Int
    public var unacked: Int
    public var consumers: Int
    public var publishRate: Double
    public var deliverRate: Double
    public init(name: String, ready: Int, unacked: Int, consumers: Int, publishRate: Double = 0, deliverRate: Double = 0) {
        self.name = name; self.ready = ready; self.unacked = unacked; self.consumers = consumers
        self.publishRate = publishRate; self.deliverRate = deliverRate
    }
}

public struct UnitInfo: Codable, Sendable, Equatable {
    public var code: String
    public var name: String
    public var status: String
    public init(code: String, name: String, status: String) { self.code = code; self.name = name; self.status = status }
}

/// A gateway's own figures, read from its Prometheus endpoint.
public struct GatewayFigures: Codable, Sendable, Equatable {
    public var sent: Double
    public var received: Double
    public var outboxDepth: Double
    public var overdue: Double
    public var directoryAgeSeconds: Double?
    public var certificateExpirySeconds: Double?
    public var quarantined: Double
    public init(sent: Double = 0, received: Double = 0, outboxDepth: Double = 0, overdue: Double = 0, directoryAgeSeconds: Double? = nil,
                certificateExpirySeconds: Double? = nil, quarantined: Double = 0) {
        self.sent = sent; self.received = received; self.outboxDepth = outboxDepth; self.overdue = overdue
        self.directoryAgeSeconds = directoryAgeSeconds; self.certificateExpirySeconds = certificateExpirySeconds; self.quarantined = quarantined
    }
}

public struct Thresholds: Codable, Sendable, Equatable {
    /// A unit queue without a consumer this long means its gateway is down.
    public var noConsumerAfter: TimeInterval = 120
    /// Messages ready in a unit queue.
    public var backlog: Int = 100
    /// Age of the oldest waiting message (estimated as the time since the queue was last seen empty).
    public var oldestAge: TimeInterval = 600
    public var directoryStaleAfter: TimeInterval = 3600
    public var certificateWarning: TimeInterval = 30 * 86400
    public init() {}
}

public struct Alert: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case noConsumer = "no-consumer", backlog, oldestMessage = "oldest-message", deadLetters = "dead-letters", overdue
        case certificateExpiring = "certificate-expiring", directoryStale = "directory-stale", gatewayUnreachable = "gateway-unreachable"
        case brokerUnreachable = "broker-unreachable", registryUnreachable = "registry-unreachable"
    }
    public var kind: Kind
    /// The unit code, or "broker" / "registry".
    public var subject: String
    public var message: String
    public var since: Date
    public var key: String { "\(kind.rawValue)/\(subject)" }
}

/// One row of the picture: a unit with its queue, dead letters and gateway figures.
public struct UnitRow: Codable, Sendable, Equatable {
    public var code: String
    public var name: String
    public var status: String
    public var queue: QueueStats?
    public var deadLetters: Int
    public var oldestWaitingSeconds: Double?
    public var gateway: GatewayFigures?
    public var gatewayError: String?
    public var alerts: [String]
}

public struct Status: Codable, Sendable, Equatable {
    public var at: Date
    public var brokerStale: Bool
    public var brokerError: String?
    public var registryStale: Bool
    public var registryError: String?
    public var lastBrokerUpdate: Date?
    public var lastRegistryUpdate: Date?
    public var units: [UnitRow]
    public var alerts: [Alert]
}

/// The monitor's memory and its alert rules: a pure value, fed one observation at a time. A
/// source that cannot be read keeps its last known figures, marked stale, and raises its own alert.
public struct MonitorState: Sendable {
    public var thresholds: Thresholds
    var queues: [String: QueueStats] = [:]
    var units: [UnitInfo] = []
    var gateways: [String: GatewayFigures] = [:]
    var gatewayErrors: [String: String] = [:]
    var emptySince: [String: Date] = [:]
    var lastEmpty: [String: Date] = [:]
    var noConsumerSince: [String: Date] = [:]
    var lastBroker: Date?
    var lastRegistry: Date?
    var brokerError: String?
    var registryError: String?
    var lastAt = Date(timeIntervalSince1970: 0)
    public private(set) var active: [String: Alert] = [:]

    public init(thresholds: Thresholds) { self.thresholds = thresholds }

    public static func unitQueue(_ code: String) -> String { "yizhan.unit.\(code)" }
    public static func deadQueue(_ code: String) -> String { "yizhan.dead.\(code)" }

    /// Applies an observation; returns the alerts raised and cleared by it.
    public mutating func apply(_ o: Observation) -> (raised: [Alert], cleared: [Alert]) {
        lastAt = o.at
        if let q = o.queues {
            queues = q
            lastBroker = o.at
            brokerError = nil
            for (name, s) in q {
                if s.ready == 0 { lastEmpty[name] = o.at }
                else if lastEmpty[name] == nil { lastEmpty[name] = o.at }
                if s.consumers == 0 { noConsumerSince[name] = noConsumerSince[name] ?? o.at } else { noConsumerSince[name] = nil }
            }
        } else {
            brokerError = o.brokerError ?? "unreachable"
        }
        if let u = o.units {
            units = u
            lastRegistry = o.at
            registryError = nil
        } else {
            registryError = o.registryError ?? "unreachable"
        }
        for (code, r) in o.gateways {
            switch r {
            case .success(let f): gateways[code] = f; gatewayErrors[code] = nil
            case .failure(let e): gatewayErrors[code] = e.message
            }
        }

        var now: [String: (Alert.Kind, String, String)] = [:]
        func raise(_ k: Alert.Kind, _ subject: String, _ message: String) { now["\(k.rawValue)/\(subject)"] = (k, subject, message) }
        if let e = brokerError { raise(.brokerUnreachable, "broker", "management API: \(e); showing figures from \(lastBroker.map { Timestamp.format($0) } ?? "never")") }
        if let e = registryError { raise(.registryUnreachable, "registry", "registry: \(e); showing units from \(lastRegistry.map { Timestamp.format($0) } ?? "never")") }
        for code in watchedCodes() {
            let q = Self.unitQueue(code)
            if let s = queues[q] {
                if s.consumers == 0, let since = noConsumerSince[q], o.at.timeIntervalSince(since) >= thresholds.noConsumerAfter {
                    raise(.noConsumer, code, "no consumer on \(q) for \(Int(o.at.timeIntervalSince(since))) s: its gateway is down")
                }
                if s.ready > thresholds.backlog { raise(.backlog, code, "\(s.ready) messages waiting in \(q) (threshold \(thresholds.backlog))") }
                if s.ready > 0, let e = lastEmpty[q], o.at.timeIntervalSince(e) > thresholds.oldestAge {
                    raise(.oldestMessage, code, "oldest waiting message in \(q) is at least \(Int(o.at.timeIntervalSince(e))) s old")
                }
            }
            if let d = queues[Self.deadQueue(code)], d.ready + d.unacked > 0 {
                raise(.deadLetters, code, "\(d.ready + d.unacked) dead-lettered message(s) in \(Self.deadQueue(code))")
            }
            if let e = gatewayErrors[code] { raise(.gatewayUnreachable, code, "gateway metrics unreachable: \(e)") }
            if let g = gateways[code] {
                if g.overdue > 0 { raise(.overdue, code, "\(Int(g.overdue)) document(s) past their sign-for deadline") }
                if let a = g.directoryAgeSeconds, a > thresholds.directoryStaleAfter { raise(.directoryStale, code, "directory copy is \(Int(a)) s old") }
                if let c = g.certificateExpirySeconds, c < thresholds.certificateWarning {
                    raise(.certificateExpiring, code, c <= 0 ? "certificate expired" : "certificate expires in \(Int(c / 86400)) day(s)")
                }
            }
        }
        var raised: [Alert] = [], cleared: [Alert] = []
        for (key, a) in active where now[key] == nil {
            cleared.append(a)
            active[key] = nil
        }
        for (key, (k, subject, message)) in now {
            if var existing = active[key] {
                existing.message = message
                active[key] = existing
            } else {
                let a = Alert(kind: k, subject: subject, message: message, since: o.at)
                active[key] = a
                raised.append(a)
            }
        }
        return (raised.sorted { $0.key < $1.key }, cleared.sorted { $0.key < $1.key })
    }

    /// Units in the registry (not retired) and any unit queue the broker has.
    func watchedCodes() -> [String] {
        var codes = Set(units.filter { $0.status == "active" }.map(\.code))
        for name in queues.keys where name.hasPrefix("yizhan.unit.") { codes.insert(String(name.dropFirst("yizhan.unit.".count))) }
        codes.formUnion(gateways.keys)
        codes.formUnion(gatewayErrors.keys)
        return codes.sorted()
    }

    public var status: Status {
        let alerts = active.values.sorted { ($0.since, $0.key) < ($1.since, $1.key) }
        let rows = watchedCodes().map { code -> UnitRow in
            let u = units.first { $0.code == code }
            let q = queues[Self.unitQueue(code)]
            let d = queues[Self.deadQueue(code)]
            let oldest: Double? = q.flatMap { s in s.ready > 0 ? lastEmpty[Self.unitQueue(code)].map { lastAt.timeIntervalSince($0) } : nil }
            return UnitRow(code: code, name: u?.name ?? "?", status: u?.status ?? "unknown", queue: q, deadLetters: (d?.ready ?? 0) + (d?.unacked ?? 0),
                           oldestWaitingSeconds: oldest, gateway: gateways[code], gatewayError: gatewayErrors[code],
                           alerts: alerts.filter { $0.subject == code }.map(\.kind.rawValue))
        }
        return Status(at: lastAt, brokerStale: brokerError != nil, brokerError: brokerError, registryStale: registryError != nil, registryError: registryError,
                      lastBrokerUpdate: lastBroker, lastRegistryUpdate: lastRegistry, units: rows, alerts: alerts)
    }
}
