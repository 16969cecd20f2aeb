/// The registry's signed snapshot of the network: who exists, under which name, with which
/// broker user and certificates, and which certificates are revoked.
public struct Directory: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public enum Status: String, Codable, Sendable { case active, merged, deregistered }
        public var code: UnitCode
        public var name: String
        public var formerNames: [String]
        public var status: Status
        public var successor: UnitCode?
        public var brokerUser: String
        /// SHA-256 fingerprints (hex) of the unit's current certificates.
        public var certificates: [String]
        public init(code: UnitCode, name: String, formerNames: [String], status: Status, successor: UnitCode?, brokerUser: String, certificates: [String]) {
            self.code = code; self.name = name; self.formerNames = formerNames; self.status = status
            self.successor = successor; self.brokerUser = brokerUser; self.certificates = certificates
        }
    }

    public var spec: Int
    public var version: Int
    public var issued: String
    public var units: [Entry]
    /// Serial numbers (upper-case hex) of revoked certificates.
    public var revoked: [String]
    public var signature: Envelope.Signature?

    public init(version: Int, issued: String, units: [Entry], revoked: [String]) {
        self.spec = 1; self.version = version; self.issued = issued; self.units = units; self.revoked = revoked
    }

    public func entry(_ code: String) -> Entry? { units.first { $0.code.rawValue == code } }

    /// Follows successors from `code` (merged or deregistered with a transfer) to the unit that answers for it now.
    public func chainOfSuccessors(from code: String) -> [String] {
        var out: [String] = []
        var cur = code
        while let e = entry(cur), let s = e.successor, !out.contains(s.rawValue), out.count < 16 {
            out.append(s.rawValue)
            cur = s.rawValue
        }
        return out
    }
}

/// Registry HTTP API bodies (see Schemas/registry-api.yaml).
public enum RegistryAPI {
    public struct AddUnit: Codable, Sendable {
        public var code: String
        public var name: String
        public init(code: String, name: String) { self.code = code; self.name = name }
    }

    public struct AddedUnit: Codable, Sendable {
        public var code: String
        public var name: String
        public var brokerUser: String
        public var enrolmentToken: String
        public var expires: String
        public init(code: String, name: String, brokerUser: String, enrolmentToken: String, expires: String) {
            self.code = code; self.name = name; self.brokerUser = brokerUser; self.enrolmentToken = enrolmentToken; self.expires = expires
        }
    }

    public struct Enrol: Codable, Sendable {
        public var token: String
        /// The unit's Ed25519 public key, SubjectPublicKeyInfo DER in base64.
        public var publicKey: String
        public init(token: String, publicKey: String) { self.token = token; self.publicKey = publicKey }
    }

    public struct Broker: Codable, Sendable {
        public var host: String
        public var port: Int
        public var vhost: String
        public var user: String
        public var password: String
        /// The broker listener speaks TLS (amqps); the gateway must be given the broker's CA.
        public var tls: Bool
        public init(host: String, port: Int, vhost: String, user: String, password: String, tls: Bool) {
            self.host = host; self.port = port; self.vhost = vhost; self.user = user; self.password = password; self.tls = tls
        }
    }

    public struct Enrolled: Codable, Sendable {
        public var code: String
        public var name: String
        public var certificate: String
        public var caCertificate: String
        public var broker: Broker
        public init(code: String, name: String, certificate: String, caCertificate: String, broker: Broker) {
            self.code = code; self.name = name; self.certificate = certificate; self.caCertificate = caCertificate; self.broker = broker
        }
    }

    public struct Problem: Codable, Sendable {
        public var error: String
        public var message: String
        public init(error: String, message: String) { self.error = error; self.message = message }
    }
}
