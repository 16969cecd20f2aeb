// Envelope ⇄ JSONValue written out member by member. Every document and receipt is built into
// JSON once on the sending side and read back from JSON once on the receiving side; through
// `Codable` each of those cost 25–30 µs (containers, coding keys, generic metadata lookups),
// about as much as everything else a gateway does to the envelope apart from the signature.
// The output is the same as `JSONValue.from(envelope)` and `json.decode(Envelope.self)` give
// (absent optionals left out); EnvelopeCodecTests holds the two paths to each other.

extension Envelope {
    /// The envelope as JSON, signature included when set.
    public var jsonValue: JSONValue { .object(jsonObject) }

    public var jsonObject: [String: JSONValue] {
        var o: [String: JSONValue] = [:]
        o.reserveCapacity(16)
        o["spec"] = .number(Double(spec))
        o["id"] = .string(id)
        o["kind"] = .string(kind.rawValue)
        o["sender"] = .string(sender.rawValue)
        if let senderName { o["senderName"] = .string(senderName) }
        o["recipients"] = .array(recipients.map { .object(["unit": .string($0.unit.rawValue), "role": .string($0.role.rawValue)]) })
        o["created"] = .string(created)
        if let inReplyTo { o["inReplyTo"] = .string(inReplyTo) }
        if let document { o["document"] = document.jsonValue }
        if let receipt { o["receipt"] = receipt.jsonValue }
        o["parts"] = .array(parts.map { p in
            .object(["name": .string(p.name), "mediaType": .string(p.mediaType), "size": .number(Double(p.size)), "sha256": .string(p.sha256)])
        })
        if let signForBy { o["signForBy"] = .string(signForBy) }
        if let supersedes { o["supersedes"] = .string(supersedes) }
        if let m = meeting {
            var mo: [String: JSONValue] = ["start": .string(m.start), "place": .string(m.place)]
            if let end = m.end { mo["end"] = .string(end) }
            if let r = m.replyBy { mo["replyBy"] = .string(r) }
            o["meeting"] = .object(mo)
        }
        if let c = chase { o["chase"] = .object(["message": .string(c.message)]) }
        if let a = attendance {
            var ao: [String: JSONValue] = ["attending": .bool(a.attending), "attendees": .array(a.attendees.map { .string($0) })]
            if let n = a.note { ao["note"] = .string(n) }
            o["attendance"] = .object(ao)
        }
        if let t = transfer { o["transfer"] = .object(["chunkSize": .number(Double(t.chunkSize))]) }
        if let s = stamp {
            o["stamp"] = .object(["seal": .string(s.seal), "stamped": .string(s.stamped), "protected": .string(s.protected), "signature": .string(s.signature)])
        }
        if let signature { o["signature"] = signature.jsonValue }
        return o
    }

    /// Reads an envelope from JSON that `validate` accepted; a member of the wrong type still
    /// throws rather than trapping, though validation has already refused it.
    static func decodeValidated(_ json: JSONValue) throws(YizhanError) -> Envelope {
        let o = try Members(json, "")
        guard let kind = Kind(rawValue: try o.string("kind")) else { throw o.wrong("kind") }
        var e = Envelope(id: try o.string("id"), kind: kind, sender: try UnitCode(try o.string("sender")), senderName: try o.optionalString("senderName"),
                         recipients: try o.array("recipients").enumerated().map { (i, r) throws(YizhanError) in
                             let ro = try Members(r, "/recipients/\(i)")
                             guard let role = Recipient.Role(rawValue: try ro.string("role")) else { throw ro.wrong("role") }
                             return Recipient(unit: try UnitCode(try ro.string("unit")), role: role)
                         },
                         created: try o.string("created"), inReplyTo: try o.optionalString("inReplyTo"),
                         document: try o.optional("document").map { v throws(YizhanError) in try DocumentInfo(json: v) },
                         receipt: try o.optional("receipt").map { v throws(YizhanError) in try ReceiptInfo(json: v) },
                         parts: try o.array("parts").enumerated().map { (i, p) throws(YizhanError) in
                             let po = try Members(p, "/parts/\(i)")
                             return Part(name: try po.string("name"), mediaType: try po.string("mediaType"), size: try po.int("size"), sha256: try po.string("sha256"))
                         },
                         signForBy: try o.optionalString("signForBy"), supersedes: try o.optionalString("supersedes"))
        e.spec = try o.int("spec")
        if let m = try o.optional("meeting") {
            let mo = try Members(m, "/meeting")
            e.meeting = MeetingInfo(start: try mo.string("start"), end: try mo.optionalString("end"), place: try mo.string("place"), replyBy: try mo.optionalString("replyBy"))
        }
        if let c = try o.optional("chase") { e.chase = ChaseInfo(message: try Members(c, "/chase").string("message")) }
        if let a = try o.optional("attendance") {
            let ao = try Members(a, "/attendance")
            guard case .bool(let attending)? = ao.o["attending"] else { throw ao.wrong("attending") }
            e.attendance = AttendanceInfo(attending: attending, attendees: try ao.array("attendees").enumerated().map { (i, n) throws(YizhanError) in
                guard case .string(let s) = n else { throw ao.wrong("attendees/\(i)") }
                return s
            }, note: try ao.optionalString("note"))
        }
        if let t = try o.optional("transfer") { e.transfer = TransferInfo(chunkSize: try Members(t, "/transfer").int("chunkSize")) }
        if let s = try o.optional("stamp") {
            let so = try Members(s, "/stamp")
            e.stamp = Stamp(seal: try so.string("seal"), stamped: try so.string("stamped"), protected: try so.string("protected"), signature: try so.string("signature"))
        }
        if let s = try o.optional("signature") { e.signature = try Signature(json: s) }
        return e
    }

    /// One object's members, read with the path for errors.
    struct Members {
        let o: [String: JSONValue]
        let path: String

        init(_ v: JSONValue, _ path: String) throws(YizhanError) {
            guard case .object(let o) = v else { throw YizhanError(.schemaViolation, "envelope does not decode: \(path.isEmpty ? "/" : path) is not an object") }
            self.o = o; self.path = path
        }

        func wrong(_ key: String) -> YizhanError { YizhanError(.schemaViolation, "envelope does not decode: \(path)/\(key) has the wrong type") }

        func optional(_ key: String) throws(YizhanError) -> JSONValue? {
            guard let v = o[key] else { return nil }
            // As `decodeIfPresent` reads it: null is absent.
            if case .null = v { return nil }
            return v
        }

        func string(_ key: String) throws(YizhanError) -> String {
            guard case .string(let s)? = o[key] else { throw wrong(key) }
            return s
        }

        func optionalString(_ key: String) throws(YizhanError) -> String? {
            guard let v = try optional(key) else { return nil }
            guard case .string(let s) = v else { throw wrong(key) }
            return s
        }

        func int(_ key: String) throws(YizhanError) -> Int {
            guard case .number(let d)? = o[key], let n = Int(exactly: d) else { throw wrong(key) }
            return n
        }

        func array(_ key: String) throws(YizhanError) -> [JSONValue] {
            guard case .array(let a)? = o[key] else { throw wrong(key) }
            return a
        }

        func optionalStrings(_ key: String) throws(YizhanError) -> [String]? {
            guard let v = try optional(key) else { return nil }
            guard case .array(let a) = v else { throw wrong(key) }
            return try a.map { x throws(YizhanError) in
                guard case .string(let s) = x else { throw wrong(key) }
                return s
            }
        }
    }
}

extension Envelope.Signature {
    public var jsonValue: JSONValue {
        var so: [String: JSONValue] = ["protected": .string(protected), "signature": .string(signature)]
        if let b = batch {
            so["batch"] = .object(["index": .number(Double(b.index)), "size": .number(Double(b.size)), "path": .array(b.path.map { .string($0) })])
        }
        return .object(so)
    }

    init(json: JSONValue) throws(YizhanError) {
        let so = try Envelope.Members(json, "/signature")
        self.init(protected: try so.string("protected"), signature: try so.string("signature"))
        if let b = try so.optional("batch") {
            let bo = try Envelope.Members(b, "/signature/batch")
            batch = Envelope.BatchProof(index: try bo.int("index"), size: try bo.int("size"), path: try bo.array("path").map { p throws(YizhanError) in
                guard case .string(let s) = p else { throw bo.wrong("path") }
                return s
            })
        }
    }
}

extension DocumentInfo {
    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["title": .string(title)]
        func put(_ key: String, _ v: String?) { if let v { o[key] = .string(v) } }
        put("number", number); put("type", type); put("urgency", urgency); put("signer", signer)
        put("classification", classification); put("issuer", issuer); put("dateWritten", dateWritten)
        if let attachments { o["attachments"] = .array(attachments.map { .string($0) }) }
        put("note", note); put("printedBy", printedBy); put("printedOn", printedOn)
        return .object(o)
    }

    /// Reads the members this type has (others are ignored, as `Codable` ignores them; the
    /// envelope's validation refuses unknown ones before this runs).
    public init(json: JSONValue) throws(YizhanError) {
        let o = try Envelope.Members(json, "/document")
        self.init(title: try o.string("title"), number: try o.optionalString("number"), type: try o.optionalString("type"),
                  urgency: try o.optionalString("urgency"), signer: try o.optionalString("signer"),
                  classification: try o.optionalString("classification"), issuer: try o.optionalString("issuer"),
                  dateWritten: try o.optionalString("dateWritten"), attachments: try o.optionalStrings("attachments"),
                  note: try o.optionalString("note"), printedBy: try o.optionalString("printedBy"), printedOn: try o.optionalString("printedOn"))
    }
}

extension ReceiptInfo {
    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = ["status": .string(status.rawValue), "document": .string(document), "payloadSha256": .string(payloadSha256)]
        if let reason { o["reason"] = .string(reason) }
        if let detail { o["detail"] = .string(detail) }
        if let onBehalfOf { o["onBehalfOf"] = .string(onBehalfOf.rawValue) }
        if let clerk { o["clerk"] = .string(clerk) }
        return .object(o)
    }

    public init(json: JSONValue) throws(YizhanError) {
        let o = try Envelope.Members(json, "/receipt")
        guard let status = Status(rawValue: try o.string("status")) else { throw o.wrong("status") }
        self.init(status: status, document: try o.string("document"), payloadSha256: try o.string("payloadSha256"),
                  reason: try o.optionalString("reason"), detail: try o.optionalString("detail"),
                  onBehalfOf: try o.optionalString("onBehalfOf").map { s throws(YizhanError) in try UnitCode(s) }, clerk: try o.optionalString("clerk"))
    }
}
