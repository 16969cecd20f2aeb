/// The one error type of the domain: a stable code for programs and a message for people.
/// Messages never carry secrets (passwords, tokens, key material).
public struct YizhanError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidUnitCode = Code(rawValue: "invalid-unit-code")
        public static let malformedJSON = Code(rawValue: "malformed-json")
        public static let schemaViolation = Code(rawValue: "schema-violation")
        public static let badSignature = Code(rawValue: "bad-signature")
        public static let untrustedCertificate = Code(rawValue: "untrusted-certificate")
        public static let revokedCertificate = Code(rawValue: "revoked-certificate")
        public static let senderMismatch = Code(rawValue: "sender-mismatch")
        public static let unknownSender = Code(rawValue: "unknown-sender")
        public static let wrongUserID = Code(rawValue: "wrong-user-id")
        public static let notAddressed = Code(rawValue: "not-addressed")
        public static let partMismatch = Code(rawValue: "part-mismatch")
        public static let malformedFrame = Code(rawValue: "malformed-frame")
        public static let notFound = Code(rawValue: "not-found")
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        public static let configuration = Code(rawValue: "configuration")
        public static let unauthorized = Code(rawValue: "unauthorized")
        public static let forbidden = Code(rawValue: "forbidden")
        public static let conflict = Code(rawValue: "conflict")
        public static let remote = Code(rawValue: "remote")
        public static let retired = Code(rawValue: "retired")
        public static let invalidDocumentNumber = Code(rawValue: "invalid-document-number")
        public static let classified = Code(rawValue: "classified-document")
        public static let invalidDocument = Code(rawValue: "invalid-document")
        /// A link (reply, chase, attendance, clerk receipt, chunk) to a document this unit does not have.
        public static let unknownDocument = Code(rawValue: "unknown-document")
        /// A chunk whose bytes, size or place do not match.
        public static let chunkMismatch = Code(rawValue: "chunk-mismatch")
        /// Larger than a receiver accepts (message, envelope, or declared parts).
        public static let oversize = Code(rawValue: "oversize")
        /// A stamp that does not verify: bad signature, not a seal certificate, another unit's seal, a time that cannot be.
        public static let badSeal = Code(rawValue: "bad-seal")
        /// A request whose outcome is not known (the other side went away before answering): it may have happened.
        public static let outcomeUnknown = Code(rawValue: "outcome-unknown")
        /// A stamp made after its seal was revoked or destroyed.
        public static let sealRevoked = Code(rawValue: "seal-revoked")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
