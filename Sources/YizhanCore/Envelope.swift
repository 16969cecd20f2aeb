/// The signed unit of exchange (wire contract v1). See Schemas/envelope.schema.json.
public struct Envelope: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case document, report, request, reply, notice, receipt
    }

    public struct Recipient: Codable, Sendable, Equatable, Hashable {
        public enum Role: String, Codable, Sendable { case main, cc }
        public var unit: UnitCode
        public var role: Role
        public init(unit: UnitCode, role: Role) { self.unit = unit; self.role = role }
    }

    public struct Part: Codable, Sendable, Equatable {
        public var name: String
        public var mediaType: String
        public var size: Int
        public var sha256: String
        public init(name: String, mediaType: String, size: Int, sha256: String) {
            self.name = name; self.mediaType = mediaType; self.size = size; self.sha256 = sha256
        }
    }

    public var spec: Int
    public var id: String
    public var kind: Kind
    public var sender: UnitCode
    public var senderName: String?
    public var recipients: [Recipient]
    public var created: String
    public var inReplyTo: String?
    public var document: DocumentInfo?
    public var receipt: ReceiptInfo?
    public var parts: [Part]
    public var signature: Signature?

    public init(id: String = UUIDv7.make(), kind: Kind, sender: UnitCode, senderName: String? = nil,
                recipients: [Recipient], created: String, inReplyTo: String? = nil,
                document: DocumentInfo? = nil, receipt: ReceiptInfo? = nil, parts: [Part] = []) {
        self.spec = 1
        self.id = id
        self.kind = kind
        self.sender = sender
        self.senderName = senderName
        self.recipients = recipients
        self.created = created
        self.inReplyTo = inReplyTo
        self.document = document
        self.receipt = receipt
        self.parts = parts
        self.signature = nil
    }

    /// The flattened JWS with a detached payload.
    public struct Signature: Codable, Sendable, Equatable {
        public var protected: String
        public var signature: String
        public init(protected: String, signature: String) { self.protected = protected; self.signature = signature }
    }
}

/// GB/T 9704-2012 metadata carried in `document`. Recipients (主送/抄送) are the envelope's
/// `recipients` with role main/cc; the seal arrives with the seals issue.
public struct DocumentInfo: Codable, Sendable, Equatable {
    public var title: String
    /// 发文字号, validated by `DocumentNumber`.
    public var number: String?
    /// 文种: one of the 15 types.
    public var type: String?
    /// 紧急程度: 特急, 加急, or absent.
    public var urgency: String?
    /// 签发人: required on upward documents (请示, 报告).
    public var signer: String?
    /// 密级: only 非涉密 (or absent) is accepted; a classified document is refused everywhere.
    public var classification: String?
    /// 发文机关署名.
    public var issuer: String?
    /// 成文日期, YYYY-MM-DD.
    public var dateWritten: String?
    /// 附件说明: the attachment list as printed.
    public var attachments: [String]?
    /// 附注.
    public var note: String?
    /// 印发机关 and 印发日期 (YYYY-MM-DD).
    public var printedBy: String?
    public var printedOn: String?

    public init(title: String, number: String? = nil, type: String? = nil, urgency: String? = nil, signer: String? = nil,
                classification: String? = nil, issuer: String? = nil, dateWritten: String? = nil, attachments: [String]? = nil,
                note: String? = nil, printedBy: String? = nil, printedOn: String? = nil) {
        self.title = title; self.number = number; self.type = type; self.urgency = urgency; self.signer = signer
        self.classification = classification; self.issuer = issuer; self.dateWritten = dateWritten; self.attachments = attachments
        self.note = note; self.printedBy = printedBy; self.printedOn = printedOn
    }

    public static let documentTypes = ["决议", "决定", "命令", "公报", "公告", "通告", "意见", "通知", "通报", "报告", "请示", "批复", "议案", "函", "纪要"]
    public static let urgencies = ["特急", "加急"]
    public static let upwardTypes: Set<String> = ["请示", "报告"]
    public static let nonClassified = "非涉密"
    public static let classifiedLevels = ["绝密", "机密", "秘密"]
}

/// What a `receipt` envelope says about the document it answers.
public struct ReceiptInfo: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case delivered, rejected }
    public var status: Status
    /// The document (envelope id) this receipt answers; equals the envelope's `inReplyTo`.
    public var document: String
    /// SHA-256 (hex) of the signing payload the receiver verified, empty when it could not verify.
    public var payloadSha256: String
    public var reason: String?
    public var detail: String?
    /// Set when the receiver took delivery as the successor of an addressed unit.
    public var onBehalfOf: UnitCode?
    public init(status: Status, document: String, payloadSha256: String, reason: String? = nil, detail: String? = nil, onBehalfOf: UnitCode? = nil) {
        self.status = status; self.document = document; self.payloadSha256 = payloadSha256
        self.reason = reason; self.detail = detail; self.onBehalfOf = onBehalfOf
    }
}
