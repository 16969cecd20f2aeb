import Foundation

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
    /// Revoked certificates, with when and why.
    public var revoked: [Revocation]
    public var signature: Envelope.Signature?

    /// A certificate revoked from `at`. For `superseded` (rename), `merged` and `deregistered`,
    /// signatures made before `at` stay valid; for any other reason the certificate is refused outright.
    public struct Revocation: Codable, Sendable, Equatable {
        public var serial: String
        public var at: String
        public var reason: String
        public init(serial: String, at: String, reason: String) { self.serial = serial; self.at = at; self.reason = reason }

        /// `destroyed` is a seal's witnessed destruction: stamps made before it stay valid.
        public static let orderlyReasons: Set<String> = ["superseded", "merged", "deregistered", "destroyed"]

        /// Whether a signature dated `signedAt` by this certificate is refused.
        public func refuses(signedAt: Date?) -> Bool {
            guard Self.orderlyReasons.contains(reason), let signedAt, let at = Timestamp.parse(at) else { return true }
            return signedAt >= at
        }
    }

    public func revocation(serial: String) -> Revocation? { revoked.first { $0.serial == serial } }

    public init(version: Int, issued: String, units: [Entry], revoked: [Revocation]) {
        self.spec = 1; self.version = version; self.issued = issued; self.units = units; self.revoked = revoked
    }

    public func entry(_ code: String) -> Entry? { units.first { $0.code.rawValue == code } }

    /// The JSON value without `signature`, built directly: the registry signs this at every
    /// change, and at 10,000 units a round trip through JSONEncoder costs more than the signature.
    public var unsignedJSON: JSONValue {
        .object([
            "spec": .number(Double(spec)),
            "version": .number(Double(version)),
            "issued": .string(issued),
            "units": .array(units.map { u in
                var o: [String: JSONValue] = [
                    "code": .string(u.code.rawValue), "name": .string(u.name), "formerNames": .array(u.formerNames.map(JSONValue.string)),
                    "status": .string(u.status.rawValue), "brokerUser": .string(u.brokerUser), "certificates": .array(u.certificates.map(JSONValue.string)),
                ]
                if let s = u.successor { o["successor"] = .string(s.rawValue) }
                return .object(o)
            }),
            "revoked": .array(revoked.map { .object(["serial": .string($0.serial), "at": .string($0.at), "reason": .string($0.reason)]) }),
        ])
    }

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

/// Registry HTTP API bodies (see Schemas/registry.openapi.yaml).
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
        /// The unit's own credential for the registry API (`<id>.<secret>`): reads its records, files its roster.
        public var registryToken: String
        public init(code: String, name: String, certificate: String, caCertificate: String, broker: Broker, registryToken: String) {
            self.code = code; self.name = name; self.certificate = certificate; self.caCertificate = caCertificate; self.broker = broker
            self.registryToken = registryToken
        }
    }

    /// A unit's application to join (`yizhan unit apply`).
    public struct Apply: Codable, Sendable {
        public var code: String
        public var name: String
        public var parent: String?
        public var contact: String
        public var head: String
        public var reason: String
        public init(code: String, name: String, parent: String?, contact: String, head: String, reason: String) {
            self.code = code; self.name = name; self.parent = parent; self.contact = contact; self.head = head; self.reason = reason
        }
    }

    public struct Applied: Codable, Sendable {
        public var id: String
        /// Lets the applicant read the decision (and its reason) and cancel while pending.
        public var applicantSecret: String
        public init(id: String, applicantSecret: String) { self.id = id; self.applicantSecret = applicantSecret }
    }

    /// A lifecycle request: rename (`name`, `effective`), merge (`units` into `into`), deregister (`transferTo`).
    public struct LifecycleRequest: Codable, Sendable {
        public var kind: String
        public var unit: String?
        public var units: [String]?
        public var name: String?
        public var into: String?
        public var transferTo: String?
        public var effective: String?
        public var reason: String?
        public init(kind: String, unit: String? = nil, units: [String]? = nil, name: String? = nil, into: String? = nil, transferTo: String? = nil, effective: String? = nil, reason: String? = nil) {
            self.kind = kind; self.unit = unit; self.units = units; self.name = name; self.into = into; self.transferTo = transferTo; self.effective = effective; self.reason = reason
        }
    }

    public struct Decision: Codable, Sendable {
        public var reason: String?
        public init(reason: String?) { self.reason = reason }
    }

    /// The answer to approve: the request, and for an application the enrolment token (shown once).
    public struct Decided: Codable, Sendable {
        public var request: JSONValue
        public var added: AddedUnit?
        public init(request: JSONValue, added: AddedUnit?) { self.request = request; self.added = added }
    }

    public struct RosterEntry: Codable, Sendable {
        public var account: String
        public var name: String
        public var role: String
        public init(account: String, name: String, role: String) { self.account = account; self.name = name; self.role = role }
    }

    public struct Witnesses: Codable, Sendable, Equatable {
        /// 电子政务领导小组, 信息中心, and the unit itself: all present when a seal is made or destroyed.
        public var leadership: String
        public var centre: String
        public var unit: String
        public init(leadership: String, centre: String, unit: String) { self.leadership = leadership; self.centre = centre; self.unit = unit }

        public func validated() throws -> Witnesses {
            let all = [leadership, centre, unit].map { $0.trimmingCharacters(in: .whitespaces) }
            guard !all.contains(where: \.isEmpty) else {
                throw YizhanError(.invalidArgument, "the leadership group, the information centre and the unit must each name a witness")
            }
            guard Set(all).count == 3 else { throw YizhanError(.invalidArgument, "the three witnesses must be three different people") }
            return Witnesses(leadership: all[0], centre: all[1], unit: all[2])
        }
    }

    /// `seal apply`: a unit (or an administrator for it) applies; the image is base64 SVG or PNG.
    public struct SealApply: Codable, Sendable {
        public var reason: String
        public var head: String
        public var algorithm: String
        public var image: String
        public var mediaType: String
        public var replaces: String?
        public init(reason: String, head: String, algorithm: String, image: String, mediaType: String, replaces: String?) {
            self.reason = reason; self.head = head; self.algorithm = algorithm; self.image = image; self.mediaType = mediaType; self.replaces = replaces
        }
    }

    /// `seal make`: the public key generated on the unit's gateway host, and the three witnesses.
    public struct SealMake: Codable, Sendable {
        public var publicKey: String
        public var witnesses: Witnesses
        public init(publicKey: String, witnesses: Witnesses) { self.publicKey = publicKey; self.witnesses = witnesses }
    }

    public struct SealMade: Codable, Sendable {
        public var seal: JSONValue
        public var certificate: String
        public init(seal: JSONValue, certificate: String) { self.seal = seal; self.certificate = certificate }
    }

    public struct SealDestroy: Codable, Sendable {
        public var reason: String
        public var witnesses: Witnesses
        public init(reason: String, witnesses: Witnesses) { self.reason = reason; self.witnesses = witnesses }
    }

    /// A gateway asks for a verification code for a certified print of a stamped document.
    public struct PrintRequest: Codable, Sendable {
        public var documentId: String
        public var sender: String
        public var document: JSONValue
        public var parts: JSONValue
        public var stamp: Envelope.Stamp
        public init(documentId: String, sender: String, document: JSONValue, parts: JSONValue, stamp: Envelope.Stamp) {
            self.documentId = documentId; self.sender = sender; self.document = document; self.parts = parts; self.stamp = stamp
        }
    }

    /// What the registry confirms for a code: the record, the seal's status now, and the verdict.
    public struct PrintVerification: Codable, Sendable {
        public var code: String
        public var valid: Bool
        public var verdict: String
        public var unit: String
        public var unitName: String
        public var sealId: String
        public var certificateSerial: String
        public var algorithm: String
        public var documentId: String
        public var title: String
        public var number: String?
        public var documentSha256: String
        public var stamped: String
        public var printed: String
        public var printedBy: String
        public var revoked: String?
        public var revocationReason: String?
        /// base64 of the seal image, and its media type (only in the answer to the print request).
        public var image: String?
        public var imageMediaType: String?
        public init(code: String, valid: Bool, verdict: String, unit: String, unitName: String, sealId: String, certificateSerial: String, algorithm: String,
                    documentId: String, title: String, number: String?, documentSha256: String, stamped: String, printed: String, printedBy: String,
                    revoked: String?, revocationReason: String?, image: String?, imageMediaType: String?) {
            self.code = code; self.valid = valid; self.verdict = verdict; self.unit = unit; self.unitName = unitName; self.sealId = sealId
            self.certificateSerial = certificateSerial; self.algorithm = algorithm; self.documentId = documentId; self.title = title; self.number = number
            self.documentSha256 = documentSha256; self.stamped = stamped; self.printed = printed; self.printedBy = printedBy; self.revoked = revoked
            self.revocationReason = revocationReason; self.image = image; self.imageMediaType = imageMediaType
        }
    }

    public struct Problem: Codable, Sendable {
        public var error: String
        public var message: String
        public init(error: String, message: String) { self.error = error; self.message = message }
    }
}
