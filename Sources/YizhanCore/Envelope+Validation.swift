/// Structural checks mirroring Schemas/envelope.schema.json, run on the raw JSON before any
/// field is trusted. The schema file is the contract; the tests check both agree on what we emit.
extension Envelope {
    static let topMembers: Set<String> = ["spec", "id", "kind", "sender", "senderName", "recipients", "created", "inReplyTo", "document", "receipt", "parts", "signature",
                                          "signForBy", "supersedes", "meeting", "chase", "attendance", "transfer", "stamp"]

    public static func validate(_ json: JSONValue) throws(YizhanError) {
        guard let o = json.objectValue else { throw violation("", "envelope must be an object") }
        for k in o.keys where !topMembers.contains(k) { throw violation("/\(k)", "unknown member") }
        for k in ["spec", "id", "kind", "sender", "recipients", "created", "parts", "signature"] where o[k] == nil {
            throw violation("/\(k)", "required member missing")
        }
        guard o["spec"] == .number(1) else { throw violation("/spec", "must be 1") }
        guard let id = o["id"]?.stringValue, UUIDv7.isValid(id) else { throw violation("/id", "must be a lower-case UUIDv7") }
        guard let kind = o["kind"]?.stringValue, let k = Kind(rawValue: kind) else { throw violation("/kind", "unknown kind") }
        guard let sender = o["sender"]?.stringValue, (try? UnitCode(sender)) != nil else { throw violation("/sender", "must be a valid unit code") }
        if let n = o["senderName"] { try nonEmptyString(n, "/senderName", max: 200) }
        guard let recips = o["recipients"]?.arrayValue, !recips.isEmpty, recips.count <= 500 else {
            throw violation("/recipients", "must be a non-empty array")
        }
        var seen = Set<String>()
        for (i, r) in recips.enumerated() {
            guard let ro = r.objectValue, exactly(ro, "unit", "role") else { throw violation("/recipients/\(i)", "must have exactly unit and role") }
            guard let u = ro["unit"]?.stringValue, (try? UnitCode(u)) != nil else { throw violation("/recipients/\(i)/unit", "must be a valid unit code") }
            guard let role = ro["role"]?.stringValue, role == "main" || role == "cc" else { throw violation("/recipients/\(i)/role", "must be main or cc") }
            guard seen.insert(u).inserted else { throw violation("/recipients/\(i)/unit", "duplicate recipient") }
        }
        guard let created = o["created"]?.stringValue, created.hasSuffix("Z"), Timestamp.parse(created) != nil else {
            throw violation("/created", "must be an RFC 3339 UTC timestamp")
        }
        if let r = o["inReplyTo"] { guard let s = r.stringValue, UUIDv7.isValid(s) else { throw violation("/inReplyTo", "must be a UUIDv7") } }
        // Which members each kind carries, and which it must not.
        for (member, owner) in Self.kindMembers {
            if owner == k, o[member] == nil { throw violation("/\(member)", "required for kind \(kind)") }
            if owner != k, o[member] != nil { throw violation("/\(member)", "not allowed for kind \(kind)") }
        }
        if k.carriesDocument {
            guard o["document"] != nil else { throw violation("/document", "required for kind \(kind)") }
        } else {
            guard o["document"] == nil else { throw violation("/document", "a \(kind) carries no document") }
            for m in ["signForBy", "supersedes"] where o[m] != nil { throw violation("/\(m)", "not allowed for kind \(kind)") }
        }
        if k.answers, o["inReplyTo"] == nil {
            throw violation("/inReplyTo", "a \(kind) needs inReplyTo")
        }
        if let v = o["signForBy"] { try timestamp(v, "/signForBy") }
        if let r = o["supersedes"] { guard let s = r.stringValue, UUIDv7.isValid(s) else { throw violation("/supersedes", "must be a UUIDv7") } }
        if let m = o["meeting"] { try validateMeeting(m) }
        if let c = o["chase"] {
            guard let co = c.objectValue, exactly(co, "message"), let msg = co["message"] else { throw violation("/chase", "must be {message}") }
            try nonEmptyString(msg, "/chase/message", max: 1000)
        }
        if let a = o["attendance"] { try validateAttendance(a) }
        if let t = o["transfer"] {
            guard let to = t.objectValue, exactly(to, "chunkSize"), let n = to["chunkSize"]?.numberValue, n == n.rounded(),
                  n >= Double(TransferInfo.minimumChunk), n <= Double(TransferInfo.maximumChunk) else {
                throw violation("/transfer", "must be {chunkSize} with \(TransferInfo.minimumChunk)...\(TransferInfo.maximumChunk) bytes")
            }
            guard let p = o["parts"]?.arrayValue, !p.isEmpty else { throw violation("/transfer", "only an envelope with parts is transferred in chunks") }
        }
        if let st = o["stamp"] {
            guard k.carriesDocument else { throw violation("/stamp", "a \(kind) carries no document to stamp") }
            guard let so = st.objectValue, exactly(so, "seal", "stamped", "protected", "signature") else {
                throw violation("/stamp", "must have exactly seal, stamped, protected, signature")
            }
            try nonEmptyString(so["seal"]!, "/stamp/seal", max: 100) // keys checked above
            try timestamp(so["stamped"]!, "/stamp/stamped")
            guard let p = so["protected"]?.stringValue, Base64URL.isValid(p),
                  let s = so["signature"]?.stringValue, Base64URL.isValid(s) else {
                throw violation("/stamp", "protected and signature must be base64url")
            }
        }
        if let d = o["document"] { try validateDocument(d) }
        if let r = o["receipt"] { try validateReceipt(r) }
        guard let parts = o["parts"]?.arrayValue, parts.count <= 1000 else { throw violation("/parts", "must be an array") }
        for (i, p) in parts.enumerated() {
            guard let po = p.objectValue, exactly(po, "name", "mediaType", "size", "sha256") else {
                throw violation("/parts/\(i)", "must have exactly name, mediaType, size, sha256")
            }
            try nonEmptyString(po["name"]!, "/parts/\(i)/name", max: 255) // keys checked above
            try nonEmptyString(po["mediaType"]!, "/parts/\(i)/mediaType", max: 255)
            guard let size = po["size"]?.numberValue, size >= 0, size == size.rounded(), size <= 9_007_199_254_740_991 else {
                throw violation("/parts/\(i)/size", "must be a non-negative integer")
            }
            guard let h = po["sha256"]?.stringValue, isHex(h, count: 64) else { throw violation("/parts/\(i)/sha256", "must be 64 lower-case hex digits") }
        }
        guard let sig = o["signature"]?.objectValue, sig.count == (sig["batch"] == nil ? 2 : 3),
              let p = sig["protected"]?.stringValue, Base64URL.isValid(p),
              let s = sig["signature"]?.stringValue, Base64URL.isValid(s) else {
            throw violation("/signature", "must be {protected, signature} in base64url")
        }
        if let b = sig["batch"] {
            guard k == .receipt else { throw violation("/signature/batch", "only receipts are signed in batches") }
            try validateBatch(b)
        }
    }

    /// A tree of at most 2^20 receipts, so a path has at most 20 hashes.
    static func validateBatch(_ b: JSONValue) throws(YizhanError) {
        guard let bo = b.objectValue, exactly(bo, "index", "size", "path") else {
            throw violation("/signature/batch", "must have exactly index, size, path")
        }
        guard case .number(let size)? = bo["size"], size >= 1, size <= 1_048_576, size == size.rounded(),
              case .number(let index)? = bo["index"], index >= 0, index < size, index == index.rounded() else {
            throw violation("/signature/batch", "index and size must be integers with 0 ≤ index < size ≤ 2^20")
        }
        guard let path = bo["path"]?.arrayValue, path.count <= 20,
              path.allSatisfy({ $0.stringValue.map { $0.utf8.count == 43 && Base64URL.isValid($0) } == true }) else { // 43 characters = 32 bytes
            throw violation("/signature/batch/path", "must be at most 20 base64url SHA-256 hashes")
        }
    }

    /// Members that exactly one kind carries (and must).
    static let kindMembers: [(String, Kind)] = [("receipt", .receipt), ("chase", .chase), ("attendance", .attendance), ("meeting", .notice)]

    /// Whether `o` has exactly these members.
    static func exactly(_ o: [String: JSONValue], _ keys: String...) -> Bool {
        o.count == keys.count && keys.allSatisfy { o[$0] != nil }
    }

    static let documentMembers: Set<String> = ["title", "number", "type", "urgency", "signer", "classification", "issuer", "dateWritten",
                                               "attachments", "note", "printedBy", "printedOn"]

    static func validateDocument(_ d: JSONValue) throws(YizhanError) {
        guard let o = d.objectValue else { throw violation("/document", "must be an object") }
        for key in o.keys where !documentMembers.contains(key) {
            throw violation("/document/\(key)", "unknown member")
        }
        guard let t = o["title"] else { throw violation("/document/title", "required") }
        try nonEmptyString(t, "/document/title", max: 500)
        for k in ["number", "type", "urgency", "signer", "classification", "issuer", "dateWritten", "note", "printedBy", "printedOn"] {
            if let v = o[k] { try nonEmptyString(v, "/document/\(k)", max: k == "note" ? 2000 : 200) }
        }
        if let t = o["type"] { guard let s = t.stringValue, DocumentInfo.documentTypes.contains(s) else { throw violation("/document/type", "not one of the 15 document types") } }
        if let u = o["urgency"] { guard let s = u.stringValue, DocumentInfo.urgencies.contains(s) else { throw violation("/document/urgency", "must be 特急 or 加急") } }
        if let a = o["attachments"] {
            guard let list = a.arrayValue, list.count <= 1000 else { throw violation("/document/attachments", "must be an array") }
            for (i, x) in list.enumerated() { try nonEmptyString(x, "/document/attachments/\(i)", max: 500) }
        }
        // The model carries the semantic rules (number format, signer, classification, dates).
        let info: DocumentInfo
        do { info = try DocumentInfo(json: d) } catch { throw violation("/document", "does not decode") }
        try info.validate()
    }

    static func timestamp(_ v: JSONValue, _ path: String) throws(YizhanError) {
        guard let s = v.stringValue, s.hasSuffix("Z"), Timestamp.parse(s) != nil else { throw violation(path, "must be an RFC 3339 UTC timestamp") }
    }

    static func validateMeeting(_ m: JSONValue) throws(YizhanError) {
        guard let o = m.objectValue else { throw violation("/meeting", "must be an object") }
        for key in o.keys where !["start", "end", "place", "replyBy"].contains(key) { throw violation("/meeting/\(key)", "unknown member") }
        guard let start = o["start"], let place = o["place"] else { throw violation("/meeting", "needs start and place") }
        try timestamp(start, "/meeting/start")
        try nonEmptyString(place, "/meeting/place", max: 500)
        if let e = o["end"] { try timestamp(e, "/meeting/end") }
        if let r = o["replyBy"] { try timestamp(r, "/meeting/replyBy") }
    }

    static func validateAttendance(_ a: JSONValue) throws(YizhanError) {
        guard let o = a.objectValue else { throw violation("/attendance", "must be an object") }
        for key in o.keys where !["attending", "attendees", "note"].contains(key) { throw violation("/attendance/\(key)", "unknown member") }
        guard case .bool(let attending)? = o["attending"] else { throw violation("/attendance/attending", "must be true or false") }
        guard let list = o["attendees"]?.arrayValue, list.count <= 100 else { throw violation("/attendance/attendees", "must be an array of at most 100 names") }
        for (i, n) in list.enumerated() { try nonEmptyString(n, "/attendance/attendees/\(i)", max: 100) }
        if attending, list.isEmpty { throw violation("/attendance/attendees", "name who attends") }
        if let n = o["note"] { try nonEmptyString(n, "/attendance/note", max: 1000) }
    }

    static func validateReceipt(_ r: JSONValue) throws(YizhanError) {
        guard let o = r.objectValue else { throw violation("/receipt", "must be an object") }
        for key in o.keys where !["status", "document", "payloadSha256", "reason", "detail", "onBehalfOf", "clerk"].contains(key) {
            throw violation("/receipt/\(key)", "unknown member")
        }
        guard let s = o["status"]?.stringValue, let status = ReceiptInfo.Status(rawValue: s) else {
            throw violation("/receipt/status", "must be one of \(ReceiptInfo.Status.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if status.isClerkAct, o["clerk"] == nil { throw violation("/receipt/clerk", "a \(s) receipt names the clerk") }
        if status == .returned || status == .rejected, o["reason"] == nil { throw violation("/receipt/reason", "a \(s) receipt gives a reason") }
        if let c = o["clerk"] { try nonEmptyString(c, "/receipt/clerk", max: 100) }
        guard let doc = o["document"]?.stringValue, UUIDv7.isValid(doc) else { throw violation("/receipt/document", "must be a UUIDv7") }
        guard let h = o["payloadSha256"]?.stringValue, h.isEmpty || isHex(h, count: 64) else { throw violation("/receipt/payloadSha256", "must be hex SHA-256 or empty") }
        if let x = o["reason"] { try nonEmptyString(x, "/receipt/reason", max: 1000) }
        if let x = o["detail"] { try nonEmptyString(x, "/receipt/detail", max: 1000) }
        if let x = o["onBehalfOf"] { guard let s = x.stringValue, (try? UnitCode(s)) != nil else { throw violation("/receipt/onBehalfOf", "must be a unit code") } }
    }

    static func nonEmptyString(_ v: JSONValue, _ path: String, max: Int) throws(YizhanError) {
        // Characters are never more than UTF-8 bytes: most strings are settled without counting them.
        guard let s = v.stringValue, !s.isEmpty, s.utf8.count <= max || s.count <= max else { throw violation(path, "must be a string of 1 to \(max) characters") }
    }

    static func isHex(_ s: String, count: Int) -> Bool {
        s.utf8.count == count && s.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func violation(_ path: String, _ why: String) -> YizhanError {
        YizhanError(.schemaViolation, "envelope\(path.isEmpty ? "" : " at \(path)"): \(why)")
    }

    /// Parses and validates raw envelope bytes, returning the decoded envelope and its JSON.
    public static func parse(_ bytes: [UInt8]) throws(YizhanError) -> (Envelope, JSONValue) {
        let json = try JSONValue.parse(bytes)
        try validate(json)
        return (try decodeValidated(json), json)
    }

    /// RFC 8785 form of the envelope without its `signature` member: the JWS payload.
    public static func signingPayload(of json: JSONValue) -> [UInt8] {
        json.canonicalSplice(omitting: "signature")?.payload ?? json.canonicalBytes()
    }
}
