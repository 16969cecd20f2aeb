/// The signed unit of exchange (wire contract v1). See Schemas/envelope.schema.json.
public struct Envelope: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// 公文 exchange; 信息报送; 请示; 批复 (inReplyTo the request); 会议通知 (with `meeting`);
        /// receipts (delivered, rejected, signed for, returned, adopted); 催办; 参会回执.
        case document, report, request, reply, notice, receipt, chase, attendance

        /// Kinds that carry GB/T 9704 `document` metadata.
        public var carriesDocument: Bool {
            switch self {
            case .document, .report, .request, .reply, .notice: true
            case .receipt, .chase, .attendance: false
            }
        }

        /// Kinds that answer an earlier envelope and so need `inReplyTo`.
        public var answers: Bool {
            switch self {
            case .receipt, .reply, .chase, .attendance: true
            case .document, .report, .request, .notice: false
            }
        }
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
    /// Sign-for deadline (签收时限), RFC 3339 UTC; urgent documents always carry one.
    public var signForBy: String?
    /// The returned document this one corrects (更正后重发).
    public var supersedes: String?
    public var meeting: MeetingInfo?
    public var chase: ChaseInfo?
    public var attendance: AttendanceInfo?
    /// Present when the parts travel as chunk messages after the envelope instead of in its frame.
    public var transfer: TransferInfo?
    /// The unit's electronic seal over the document (签名印章), beside the transport signature.
    public var stamp: Stamp?
    public var signature: Signature?

    public init(id: String = UUIDv7.make(), kind: Kind, sender: UnitCode, senderName: String? = nil,
                recipients: [Recipient], created: String, inReplyTo: String? = nil,
                document: DocumentInfo? = nil, receipt: ReceiptInfo? = nil, parts: [Part] = [], signForBy: String? = nil,
                supersedes: String? = nil, meeting: MeetingInfo? = nil, chase: ChaseInfo? = nil, attendance: AttendanceInfo? = nil,
                transfer: TransferInfo? = nil, stamp: Stamp? = nil) {
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
        self.signForBy = signForBy
        self.supersedes = supersedes
        self.meeting = meeting
        self.chase = chase
        self.attendance = attendance
        self.transfer = transfer
        self.stamp = stamp
        self.signature = nil
    }

    /// A seal's stamp: a JWS (typ `yizhan-seal+jws`, x5c = the seal certificate) with a detached
    /// payload, `Envelope.stampPayload`: the document's id, sender, seal, time, metadata and part
    /// digests. The transport signature covers the stamp too.
    public struct Stamp: Codable, Sendable, Equatable {
        /// The registry's seal id.
        public var seal: String
        /// When it was stamped, RFC 3339 UTC (signed: it is inside the payload).
        public var stamped: String
        public var protected: String
        public var signature: String
        public init(seal: String, stamped: String, protected: String, signature: String) {
            self.seal = seal; self.stamped = stamped; self.protected = protected; self.signature = signature
        }
    }

    /// The bytes a seal signs (RFC 8785): what makes the document the document, and nothing of
    /// its transport (recipients, deadlines) so a print can show exactly what was stamped.
    public static func stampPayload(id: String, sender: String, seal: String, stamped: String, document: JSONValue, parts: JSONValue) -> [UInt8] {
        JSONValue.object([
            "spec": .number(1), "id": .string(id), "unit": .string(sender), "seal": .string(seal), "stamped": .string(stamped),
            "document": document, "parts": parts,
        ]).canonicalBytes()
    }

    /// The flattened JWS with a detached payload.
    public struct Signature: Codable, Sendable, Equatable {
        public var protected: String
        public var signature: String
        /// Receipts signed in a batch: one JWS over the root of a hash tree of their payloads,
        /// this receipt's place in it and the path to the root (README "Batched receipt signatures").
        public var batch: BatchProof?
        public init(protected: String, signature: String, batch: BatchProof? = nil) {
            self.protected = protected; self.signature = signature; self.batch = batch
        }
    }

    /// An RFC 9162 inclusion proof: leaf `index` of a tree of `size` leaves, sibling hashes
    /// (base64url, 32 bytes each) from the leaf up.
    public struct BatchProof: Codable, Sendable, Equatable {
        public var index: Int
        public var size: Int
        public var path: [String]
        public init(index: Int, size: Int, path: [String]) { self.index = index; self.size = size; self.path = path }
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

/// What a `receipt` envelope says about the document it answers. `delivered` and `rejected`
/// come from the receiving gateway; the others are a clerk's act and name the clerk.
public struct ReceiptInfo: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case delivered, rejected
        /// 签收 and 退回 (退回 needs a reason).
        case signedFor = "signed-for", returned
        /// 采用 / 不采用 of an information report.
        case adopted, notAdopted = "not-adopted"

        public var isClerkAct: Bool { ![.delivered, .rejected].contains(self) }
    }
    public var status: Status
    /// The document (envelope id) this receipt answers; equals the envelope's `inReplyTo`.
    public var document: String
    /// SHA-256 (hex) of the signing payload the receiver verified, empty when it could not verify.
    public var payloadSha256: String
    public var reason: String?
    public var detail: String?
    /// Set when the receiver took delivery as the successor of an addressed unit.
    public var onBehalfOf: UnitCode?
    /// The named user who signed for, returned or judged the document.
    public var clerk: String?
    public init(status: Status, document: String, payloadSha256: String, reason: String? = nil, detail: String? = nil, onBehalfOf: UnitCode? = nil,
                clerk: String? = nil) {
        self.status = status; self.document = document; self.payloadSha256 = payloadSha256
        self.reason = reason; self.detail = detail; self.onBehalfOf = onBehalfOf; self.clerk = clerk
    }
}

/// 会议通知: when and where; attendance replies are wanted by `replyBy`.
public struct MeetingInfo: Codable, Sendable, Equatable {
    public var start: String
    public var end: String?
    public var place: String
    public var replyBy: String?
    public init(start: String, end: String? = nil, place: String, replyBy: String? = nil) {
        self.start = start; self.end = end; self.place = place; self.replyBy = replyBy
    }
}

/// 催办 of the document named by the envelope's `inReplyTo`.
public struct ChaseInfo: Codable, Sendable, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
}

/// 参会回执 to the meeting notice named by `inReplyTo`; a later reply replaces an earlier one.
public struct AttendanceInfo: Codable, Sendable, Equatable {
    public var attending: Bool
    public var attendees: [String]
    public var note: String?
    public init(attending: Bool, attendees: [String], note: String? = nil) { self.attending = attending; self.attendees = attendees; self.note = note }
}

/// Chunked transfer: every part is cut into `chunkSize`-byte chunks (the last may be shorter),
/// sent as chunk messages after the envelope. See `ChunkFrame`.
public struct TransferInfo: Codable, Sendable, Equatable {
    public var chunkSize: Int
    public init(chunkSize: Int) { self.chunkSize = chunkSize }
    public static let minimumChunk = 4096
    public static let maximumChunk = 16 << 20
    public static let defaultChunk = 1 << 20

    public func chunks(of size: Int) -> Int { size == 0 ? 0 : (size + chunkSize - 1) / chunkSize }
}
