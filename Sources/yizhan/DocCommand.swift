import ArgumentParser
import Foundation
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanStore

struct StampRequest {
    var seal: String?
    var custodians: [String]
}

struct DocCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doc", abstract: "Send, handle and read documents (clerks).",
                                                    subcommands: [Send.self, Report.self, Notice.self, Reply.self, SignFor.self, Return.self, Chase.self,
                                                                  Adopt.self, Attend.self, Attendance.self, Requests.self, List.self, Show.self,
                                                                  Fetch.self, Export.self, Print.self, PaperCommand.self])

    static func store(_ home: HomeOption) throws -> (GatewayStore, GatewayHome.Config) {
        let h = GatewayHome(home.path)
        let c = try h.loadConfig()
        return (try GatewayStore(path: h.database), c)
    }

    static func units(_ list: String?) throws -> [UnitCode] {
        try (list ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { try UnitCode($0) }
    }

    /// Hands a draft to the running gateway, or stores it when none runs (`HandOver`): metadata
    /// checked first, files copied (and hashed) into the store, small ones inline, large ones for a
    /// chunked transfer. Prints the id once the draft is stored.
    static func submit(_ home: HomeOption, kind: Envelope.Kind, to: [UnitCode], cc: [UnitCode] = [], document: DocumentInfo?, files: [String],
                       inReplyTo: String? = nil, extras: GatewayStore.Extras = .init(), wait: Bool = false, stamp: StampRequest? = nil) async throws {
        let (store, config) = try store(home)
        // Custodians' passwords are read first: a missing one fails before anything is copied.
        var secrets = try stamp.map { try CustodianSecrets.read($0.custodians) } ?? []
        defer { CustodianSecrets.wipe(&secrets) }
        if let s = stamp {
            guard document != nil else { throw YizhanError(.invalidArgument, "only a document can be stamped") }
            guard s.custodians.count >= 2 else {
                throw YizhanError(.forbidden, "stamping needs at least two custodians (--custodian, repeated): no one stamps alone; nothing stamped")
            }
        }
        /// Stamps with the parts as they will travel; nil when no stamp was asked for.
        func stamped(_ id: String, _ parts: [Envelope.Part]) async throws -> (Envelope.Stamp, GatewayStore.StampRecord)? {
            guard let s = stamp, let document else { return nil }
            return try await SealKeeper(home: GatewayHome(home.path)).stamp(sealID: s.seal, secrets: secrets, id: id, document: document, parts: parts)
        }
        var recipients: [Envelope.Recipient] = []
        for (list, role) in [(to, Envelope.Recipient.Role.main), (cc, .cc)] {
            for code in list {
                guard !recipients.contains(where: { $0.unit == code }) else { throw YizhanError(.invalidArgument, "\(code) is named twice") }
                guard code.rawValue != config.unit else { throw YizhanError(.invalidArgument, "a unit does not send to itself") }
                recipients.append(.init(unit: code, role: role))
            }
        }
        guard !recipients.isEmpty else { throw YizhanError(.invalidArgument, "--to needs at least one unit code") }
        try document?.validate()
        let id = UUIDv7.make()
        var extras = extras
        var inline: [GatewayStore.PartData] = [], spooled: [GatewayStore.PartFile] = []
        let chunk = config.chunkSize ?? TransferInfo.defaultChunk
        var sizes: [Int] = []
        for f in files {
            guard let s = (try? FileManager.default.attributesOfItem(atPath: f))?[.size] as? Int else { throw YizhanError(.invalidArgument, "cannot read \(f)") }
            sizes.append(s)
        }
        guard sizes.reduce(0, +) <= ReceiveLimits.documentBytes else {
            throw YizhanError(.invalidArgument, "the attachments total \(sizes.reduce(0, +)) bytes; a document carries at most \(ReceiveLimits.documentBytes)")
        }
        if sizes.reduce(0, +) <= chunk {
            for (f, size) in zip(files, sizes) {
                let bytes = try PartSpool.readSmall(f, expected: size)
                inline.append(.init(name: (f as NSString).lastPathComponent, mediaType: MediaType.guess(f), data: bytes, sha256: Digest.sha256Hex(bytes)))
            }
        } else {
            extras.transfer = TransferInfo(chunkSize: chunk)
            let dir = store.outgoingDirectory(id)
            do {
                for (i, f) in files.enumerated() {
                    let bar = ProgressBar(label: "copying \((f as NSString).lastPathComponent)", total: sizes[i])
                    let (size, sha) = try PartSpool.ingest(f, to: (dir as NSString).appendingPathComponent("\(i)"), progress: bar.update)
                    bar.finish()
                    spooled.append(.init(name: (f as NSString).lastPathComponent, mediaType: MediaType.guess(f), size: size, sha256: sha,
                                         file: (dir as NSString).appendingPathComponent("\(i)")))
                }
                let st = try await stamped(id, spooled.map { Envelope.Part(name: $0.name, mediaType: $0.mediaType, size: $0.size, sha256: $0.sha256) })
                extras.stamp = st?.0
                try HandOver.submitOrStore(.init(draft: GatewayStore.Draft(id: id, kind: kind, document: document, inReplyTo: inReplyTo, recipients: recipients,
                                                                           parts: [], files: spooled, extras: extras), stamp: st?.1), store: store)
            } catch {
                // Kept when the gateway may have stored the draft: its parts are these files.
                if (error as? YizhanError)?.code != .outcomeUnknown { try? FileManager.default.removeItem(atPath: dir) }
                throw error
            }
            print(id)
            if wait { try await waitForDelivery(store, id: id, total: sizes.reduce(0, +), chunk: chunk) }
            return
        }
        let st = try await stamped(id, inline.map { Envelope.Part(name: $0.name, mediaType: $0.mediaType, size: $0.data.count, sha256: $0.sha256) })
        extras.stamp = st?.0
        try HandOver.submitOrStore(.init(draft: GatewayStore.Draft(id: id, kind: kind, document: document, inReplyTo: inReplyTo, recipients: recipients,
                                                                   parts: inline, extras: extras), stamp: st?.1), store: store)
        print(id)
        if wait { try await waitForDelivery(store, id: id, total: 0, chunk: chunk) }
    }

    /// `--wait`: follows the running gateway until every recipient has the document (or refused it).
    static func waitForDelivery(_ store: GatewayStore, id: String, total: Int, chunk: Int) async throws {
        let chunks = max(1, (total + chunk - 1) / chunk)
        var bars: [String: ProgressBar] = [:]
        while true {
            guard let o = try store.outboxEntry(id: id) else { throw YizhanError(.notFound, "document \(id) vanished from the outbox") }
            var done = true
            for d in o.deliveries {
                let pos = try store.transferPosition(documentID: id, recipient: d.recipient) ?? 0
                if total > 0 {
                    let bar = bars[d.recipient] ?? ProgressBar(label: "sending to \(d.recipient)", total: chunks)
                    bars[d.recipient] = bar
                    bar.update(d.state == "queued" ? max(0, pos - 1) : chunks)
                }
                if ["queued", "published"].contains(d.state) { done = false }
            }
            if done {
                for b in bars.values { b.finish() }
                for d in o.deliveries { print("\(d.recipient): \(d.state)\(d.reason.map { " (\($0))" } ?? "")") }
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// GB/T 9704 metadata flags shared by every command that writes a document.
    struct DocumentOptions: ParsableArguments {
        @Option(help: "Title (标题).") var title: String
        @Option(help: "Document number (发文字号), e.g. 武建〔2026〕12号.") var number: String?
        @Option(help: "Document type (文种), one of the 15 types.") var type: String?
        @Option(help: "Urgency: 特急 or 加急 (urgent documents get a sign-for deadline: 4 h for 特急, 24 h for 加急, unless --sign-for-by says otherwise).") var urgency: String?
        @Option(help: "Signer (签发人), required for 请示 and 报告.") var signer: String?
        @Option(help: "Classification (密级); only 非涉密 is accepted.") var classification: String?
        @Option(help: "Issuing authority as signed (发文机关署名).") var issuer: String?
        @Option(name: .customLong("date-written"), help: "Date written (成文日期), YYYY-MM-DD.") var dateWritten: String?
        @Option(name: .customLong("attachment-title"), help: "An entry of the attachment list (附件说明); repeat for each.") var attachmentTitles: [String] = []
        @Option(help: "Note (附注).") var note: String?
        @Option(name: .customLong("printed-by"), help: "Printing office (印发机关).") var printedBy: String?
        @Option(name: .customLong("printed-on"), help: "Printing date (印发日期), YYYY-MM-DD.") var printedOn: String?
        @Option(name: .customLong("sign-for-by"), help: "Sign-for deadline (签收时限), RFC 3339 UTC, e.g. 2026-12-01T09:00:00Z.") var signForBy: String?
        @Flag(help: "Wait until every recipient has it, with a progress bar for large attachments.") var wait = false
        @Flag(help: "Stamp it with the unit's seal (签名印章). The custodians' passwords: one line each on standard input.") var stamp = false
        @Option(help: "The seal to stamp with (default: the only one in use).") var seal: String?
        @Option(help: "A custodian unlocking the seal; repeat (at least the seal's threshold).") var custodian: [String] = []

        var stampRequest: StampRequest? { stamp ? StampRequest(seal: seal, custodians: custodian) : nil }

        func document(defaultType: String? = nil) throws -> DocumentInfo {
            guard !title.trimmingCharacters(in: .whitespaces).isEmpty else { throw YizhanError(.invalidArgument, "--title must not be empty") }
            let info = DocumentInfo(title: title, number: number, type: type ?? defaultType, urgency: urgency, signer: signer, classification: classification,
                                    issuer: issuer, dateWritten: dateWritten, attachments: attachmentTitles.isEmpty ? nil : attachmentTitles,
                                    note: note, printedBy: printedBy, printedOn: printedOn)
            try info.validate()
            return info
        }

        /// The deadline given, or the default for the urgency.
        func deadline(now: Date = Date()) throws -> String? {
            if let s = signForBy {
                guard let d = Timestamp.parse(s), s.hasSuffix("Z") else { throw YizhanError(.invalidArgument, "--sign-for-by must be an RFC 3339 UTC time, not \(s)") }
                guard d > now else { throw YizhanError(.invalidArgument, "--sign-for-by \(s) is already past") }
                return Timestamp.format(d)
            }
            switch urgency {
            case "特急": return Timestamp.format(now.addingTimeInterval(4 * 3600))
            case "加急": return Timestamp.format(now.addingTimeInterval(24 * 3600))
            default: return nil
            }
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a document in the outbox; the running gateway signs and sends it.")
        @OptionGroup var home: HomeOption
        @Option(help: "Main recipients (主送), comma-separated unit codes.") var to: String
        @Option(help: "Copy-to recipients (抄送), comma-separated unit codes.") var cc: String?
        @Option(help: "Kind: document, report, request (请示; use doc reply to answer one).") var kind = "document"
        @Option(help: "The returned document this corrects (更正后重发).") var corrects: String?
        @OptionGroup var doc: DocumentOptions
        @Argument(help: "Attachment files.") var files: [String] = []

        func run() async throws {
            _ = try GatewayHome(home.path).loadConfig()
            guard let k = Envelope.Kind(rawValue: kind), [.document, .report, .request].contains(k) else {
                throw YizhanError(.invalidArgument, "--kind must be document, report or request (use doc notice, doc reply for the others), not \(kind)")
            }
            let info = try doc.document(defaultType: k == .request ? "请示" : nil)
            try await DocCommand.submit(home, kind: k, to: try DocCommand.units(to), cc: try DocCommand.units(cc), document: info, files: files,
                                        extras: .init(signForBy: try doc.deadline(), supersedes: corrects), wait: doc.wait, stamp: doc.stampRequest)
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send an information report (信息报送) to a collecting unit.")
        @OptionGroup var home: HomeOption
        @Option(help: "The collecting unit(s), comma-separated.") var to: String
        @OptionGroup var doc: DocumentOptions
        @Argument(help: "Attachment files.") var files: [String] = []
        func run() async throws {
            try await DocCommand.submit(home, kind: .report, to: try DocCommand.units(to), document: try doc.document(), files: files,
                                        extras: .init(signForBy: try doc.deadline()), wait: doc.wait, stamp: doc.stampRequest)
        }
    }

    struct Notice: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a meeting notice (会议通知); units answer with doc attend.")
        @OptionGroup var home: HomeOption
        @Option(help: "Invited units, comma-separated.") var to: String
        @Option(help: "Copy-to units, comma-separated.") var cc: String?
        @Option(name: .customLong("meeting-start"), help: "Start, RFC 3339 UTC.") var start: String
        @Option(name: .customLong("meeting-end"), help: "End, RFC 3339 UTC.") var end: String?
        @Option(help: "Place (地点).") var place: String
        @Option(name: .customLong("reply-by"), help: "Attendance replies wanted by, RFC 3339 UTC.") var replyBy: String?
        @OptionGroup var doc: DocumentOptions
        @Argument(help: "Attachment files.") var files: [String] = []
        func run() async throws {
            for (flag, v) in [("--meeting-start", start), ("--meeting-end", end), ("--reply-by", replyBy)] {
                if let v, !(v.hasSuffix("Z") && Timestamp.parse(v) != nil) { throw YizhanError(.invalidArgument, "\(flag) must be an RFC 3339 UTC time, not \(v)") }
            }
            guard !place.trimmingCharacters(in: .whitespaces).isEmpty else { throw YizhanError(.invalidArgument, "--place must not be empty") }
            let meeting = MeetingInfo(start: Timestamp.format(Timestamp.parse(start) ?? Date()), end: end.flatMap(Timestamp.parse).map(Timestamp.format),
                                      place: place, replyBy: replyBy.flatMap(Timestamp.parse).map(Timestamp.format))
            try await DocCommand.submit(home, kind: .notice, to: try DocCommand.units(to), cc: try DocCommand.units(cc), document: try doc.document(defaultType: "通知"),
                                        files: files, extras: .init(signForBy: try doc.deadline(), meeting: meeting), wait: doc.wait, stamp: doc.stampRequest)
        }
    }

    struct Reply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Answer a received request (批复); it goes to the requesting unit, linked to the request.")
        @OptionGroup var home: HomeOption
        @Option(name: .customLong("to"), help: "The request's id (from doc list --inbox --kind request).") var request: String
        @OptionGroup var doc: DocumentOptions
        @Argument(help: "Attachment files.") var files: [String] = []
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            guard let r = try store.inboxEntry(id: request), r.kind == "request" else {
                throw YizhanError(.notFound, "no request \(request) in this unit's inbox; a reply answers a received request")
            }
            try await DocCommand.submit(home, kind: .reply, to: [try UnitCode(r.sender)], document: try doc.document(defaultType: "批复"), files: files,
                                        inReplyTo: request, extras: .init(signForBy: try doc.deadline()), wait: doc.wait, stamp: doc.stampRequest)
        }
    }

    struct SignFor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "sign-for", abstract: "Sign for (签收) a received document; a signed receipt goes back to the sender.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Option(help: "The clerk signing for it.") var by: String
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            let receipt = try store.act(.signFor, on: id, clerk: by)
            print("signed for \(id) by \(by); receipt \(receipt) queued")
        }
    }

    struct Return: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Return (退回) a misrouted or faulty document with a reason; the sender can send a corrected version.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Option(help: "Why it is returned.") var reason: String?
        @Option(help: "The clerk returning it.") var by: String
        func run() async throws {
            guard let reason, !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw YizhanError(.invalidArgument, "a return (退回) needs a reason (--reason)")
            }
            let (store, _) = try DocCommand.store(home)
            let receipt = try store.act(.giveBack(reason: reason), on: id, clerk: by)
            print("returned \(id) by \(by); receipt \(receipt) queued")
        }
    }

    struct Chase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Chase (催办) recipients that have not signed for a document yet.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Option(help: "Only these recipients, comma-separated.") var unit: String?
        @Option(help: "What the chase says.") var message = "请尽快签收办理。"
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            let units = try DocCommand.units(unit).map(\.rawValue)
            let (cid, to) = try store.chase(documentID: id, units: units.isEmpty ? nil : units, message: message)
            print("chase \(cid) queued to \(to.joined(separator: ","))")
        }
    }

    struct Adopt: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Mark a received information report adopted (采用), or not (--not); the reporter sees it.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Flag(name: .customLong("not"), help: "Not adopted (不采用).") var notAdopted = false
        @Option(help: "A note for the reporting unit.") var note: String?
        @Option(help: "Who decides.") var by: String
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            let receipt = try store.act(notAdopted ? .decline(note: note) : .adopt(note: note), on: id, clerk: by)
            print("\(id) \(notAdopted ? "not adopted" : "adopted"); receipt \(receipt) queued")
        }
    }

    struct Attend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Answer a meeting notice with an attendance reply (参会回执).")
        @OptionGroup var home: HomeOption
        @Argument(help: "The notice's id.") var id: String
        @Option(help: "yes or no.") var attending: String
        @Option(help: "Who attends; repeat for each.") var attendee: [String] = []
        @Option(help: "A note.") var note: String?
        func run() async throws {
            guard ["yes", "no"].contains(attending) else { throw YizhanError(.invalidArgument, "--attending must be yes or no") }
            guard attending == "no" || !attendee.isEmpty else { throw YizhanError(.invalidArgument, "name who attends (--attendee)") }
            let (store, _) = try DocCommand.store(home)
            guard let n = try store.inboxEntry(id: id), n.kind == "notice" else { throw YizhanError(.notFound, "no meeting notice \(id) in this unit's inbox") }
            try await DocCommand.submit(home, kind: .attendance, to: [try UnitCode(n.sender)], document: nil, files: [], inReplyTo: id,
                                        extras: .init(attendance: AttendanceInfo(attending: attending == "yes", attendees: attendee, note: note)))
        }
    }

    struct Attendance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Attendance replies to a meeting notice this unit sent, per invited unit.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            let list = try store.attendance(noticeID: id)
            if json { try Output.json(list); return }
            for a in list {
                let what = !a.replied ? "no reply yet" : (a.attending == true ? "attending: \(a.attendees.joined(separator: "、"))" : "not attending")
                print("\(a.unit)  \(what)\(a.note.map { "  (\($0))" } ?? "")  \(Output.time(a.repliedAt))")
            }
        }
    }

    struct Requests: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Requests (请示) this unit sent: pending ones, and the replies received.")
        @OptionGroup var home: HomeOption
        @Flag(help: "Only requests still waiting for a reply.") var pending = false
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            let requests = try store.outbox().filter { $0.kind == "request" && (!pending || $0.replies.isEmpty) }
            if json { try Output.json(requests); return }
            for r in requests {
                let to = r.deliveries.map { "\($0.recipient):\($0.state)" }.joined(separator: " ")
                print("\(r.id)  \(r.title ?? "")  \(to)  \(r.replies.isEmpty ? "pending" : "replied")")
                for rid in r.replies {
                    if let rep = try store.inboxEntry(id: rid) { print("    reply \(rid) from \(rep.sender)  \(rep.title ?? "")  \(rep.number ?? "")") }
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the inbox or the outbox, filtered.")
        @OptionGroup var home: HomeOption
        @Flag(help: "Received documents.") var inbox = false
        @Flag(help: "Sent documents with each recipient's state (default).") var outbox = false
        @Flag(help: "Chunked transfers still arriving.") var incoming = false
        @Option(help: "Only this kind: document, report, request, reply, notice, chase, attendance.") var kind: String?
        @Option(help: "Only this state: inbox received|signed-for|returned; outbox queued|published|delivered|signed-for|returned|rejected.") var state: String?
        @Flag(help: "Only documents past their sign-for deadline and not signed for.") var overdue = false
        @Option(help: "Only documents from (inbox) or to (outbox) this unit.") var unit: String?
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            if let kind, Envelope.Kind(rawValue: kind) == nil || kind == "receipt" {
                throw YizhanError(.invalidArgument, "--kind must be one of document, report, request, reply, notice, chase, attendance")
            }
            if let unit { _ = try UnitCode(unit) }
            if incoming {
                let items = try store.incomingTransfers()
                if json { try Output.json(items.map { ["id": $0.id, "sender": $0.sender, "stored": "\($0.stored)", "total": "\($0.total)"] }); return }
                for t in items { print("\(t.id)  from \(t.sender)  \(t.stored)/\(t.total) chunks") }
                return
            }
            if inbox {
                if let state, !["received", "signed-for", "returned"].contains(state) {
                    throw YizhanError(.invalidArgument, "--state for the inbox is received, signed-for or returned")
                }
                let items = try store.inbox().filter { i in
                    (kind == nil || i.kind == kind) && (state == nil || i.state == state) && (!overdue || i.overdue) && (unit == nil || i.sender == unit)
                }
                if json { try Output.json(items); return }
                for i in items {
                    let flags = [i.overdue ? "OVERDUE" : nil, i.chases > 0 ? "chased \(i.chases)x" : nil, i.supersededBy.map { "superseded by \($0)" },
                                 i.outcome].compactMap { $0 }
                    print("\(i.id)  \(Output.time(i.receivedAt))  \(i.kind)  from \(i.sender)\(i.onBehalfOf.map { " (for \($0))" } ?? "")  \(i.state)  \(i.title ?? "")  [\(i.parts.count) part(s)]\(flags.isEmpty ? "" : "  " + flags.joined(separator: ", "))")
                }
            } else {
                let states = ["queued", "published", "delivered", "signed-for", "returned", "rejected"]
                if let state, !states.contains(state) { throw YizhanError(.invalidArgument, "--state for the outbox is one of \(states.joined(separator: ", "))") }
                let items = try store.outbox().filter { o in
                    (kind == nil || o.kind == kind)
                        && o.deliveries.contains { d in (state == nil || d.state == state) && (!overdue || d.overdue) && (unit == nil || d.recipient == unit) }
                }
                if json { try Output.json(items); return }
                for o in items {
                    let states = o.deliveries.map { "\($0.recipient):\($0.state)\($0.overdue ? "(OVERDUE)" : "")\($0.outcome.map { "(\($0))" } ?? "")" }.joined(separator: " ")
                    print("\(o.id)  \(Output.time(o.createdAt))  \(o.kind)  \(o.title ?? "")  \(states)")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a document, its recipients' states and its trail.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            let trail = try store.trail(documentID: id)
            let h = GatewayHome(home.path)
            let seal = try SealKeeper.sealStatus(store: store, anchor: try Certificate(pem: try h.read(h.anchorFile)), id: id)
            defer { if !json, let seal { print("seal: \(seal.summary)") } }
            let sealJSON: JSONValue = seal.map { .string($0.summary) } ?? .null
            if let o = try store.outboxEntry(id: id) {
                if json { try Output.json(["outbox": try JSONValue.from(o), "seal": sealJSON, "trail": try JSONValue.from(trail)]); return }
                print("outgoing \(o.kind) \(o.id)\n  title: \(o.title ?? "-")\n  number: \(o.number ?? "-")")
                if let d = o.signForBy { print("  sign for by: \(Output.time(d))") }
                if let s = o.supersedes { print("  corrects: \(s)") }
                if let r = o.inReplyTo { print("  in reply to: \(r)") }
                for r in o.replies { print("  reply: \(r)") }
                for p in o.parts { print("  part: \(p.name) (\(p.mediaType), \(p.size) bytes, sha256 \(p.sha256))") }
                for d in o.deliveries {
                    let by = d.deliveredBy.map { $0 == d.recipient ? "" : " to \($0) (successor of \(d.recipient))" } ?? ""
                    var line = "  \(d.recipient) [\(d.role)]: \(d.state)\(by)  published \(Output.time(d.publishedAt))  delivered \(Output.time(d.deliveredAt))"
                    if let h = d.handledBy { line += "  \(d.state) by \(h) at \(Output.time(d.handledAt))" }
                    if d.overdue { line += "  OVERDUE" }
                    if d.chases > 0 { line += "  chased \(d.chases)x (last \(Output.time(d.lastChasedAt)))" }
                    if let oc = d.outcome { line += "  \(oc)\(d.outcomeNote.map { ": \($0)" } ?? "")" }
                    if let e = d.lastError { line += "  last error: \(e)" }
                    if let r = d.reason { line += "  reason: \(r)" }
                    print(line)
                }
            } else if let i = try store.inboxEntry(id: id) {
                if json { try Output.json(["inbox": try JSONValue.from(i), "seal": sealJSON, "trail": try JSONValue.from(trail)]); return }
                print("incoming \(i.kind) \(i.id)\n  from: \(i.sender) \(i.senderName ?? "")\n  title: \(i.title ?? "-")\n  number: \(i.number ?? "-")\n  received: \(Output.time(i.receivedAt))")
                print("  state: \(i.state)\(i.handledBy.map { " by \($0) at \(Output.time(i.handledAt))" } ?? "")\(i.returnReason.map { " (reason: \($0))" } ?? "")")
                if let d = i.signForBy { print("  sign for by: \(Output.time(d))\(i.overdue ? "  OVERDUE" : "")") }
                if i.chases > 0 { print("  chased \(i.chases)x, last \(Output.time(i.lastChasedAt)): \(i.lastChaseMessage ?? "")") }
                if let o = i.outcome { print("  outcome: \(o)\(i.outcomeNote.map { " (\($0))" } ?? "")") }
                if let r = i.inReplyTo { print("  in reply to: \(r)") }
                if let s = i.supersedes { print("  corrects: \(s)") }
                if let s = i.supersededBy { print("  superseded by: \(s)") }
                if let m = i.extras?.meeting { print("  meeting: \(m.start)\(m.end.map { " – \($0)" } ?? "") at \(m.place)\(m.replyBy.map { "; reply by \($0)" } ?? "")") }
                if let a = i.extras?.attendance { print("  attendance: \(a.attending ? "attending: " + a.attendees.joined(separator: "、") : "not attending")") }
                if let c = i.extras?.chase { print("  chase: \(c.message)") }
                for p in i.parts { print("  part: \(p.name) (\(p.mediaType), \(p.size) bytes, sha256 \(p.sha256))") }
            } else if let t = try store.incoming(id: id) {
                print("incoming transfer \(id) from \(t.sender): \(t.stored)/\(t.total) chunks stored; not shown as a document until complete and verified")
            } else {
                throw YizhanError(.notFound, "no document \(id) in \(home.path)")
            }
            print("trail:")
            for t in trail { print("  \(Output.time(t.at))  \(t.unit.map { "\($0) " } ?? "")\(t.event)\(t.detail.map { ": \($0)" } ?? "")") }
        }
    }

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a document's parts into a folder, each checked against its signed SHA-256.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Option(help: "Folder to write into (created if missing).") var out: String
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            let parts: [Envelope.Part]
            if let i = try store.inboxEntry(id: id) { parts = i.parts }
            else if let o = try store.outboxEntry(id: id) { parts = o.parts }
            else if try store.incoming(id: id) != nil { throw YizhanError(.conflict, "document \(id) is still arriving; its parts are not complete") }
            else { throw YizhanError(.notFound, "no document \(id) in \(home.path)") }
            guard !parts.isEmpty else { throw YizhanError(.notFound, "document \(id) has no parts") }
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            var used = Set<String>()
            for (i, p) in parts.enumerated() {
                var name = PartSpool.safeName(p.name, index: i)
                if !used.insert(name).inserted { name = "\(i)-\(name)"; used.insert(name) }
                let dest = (out as NSString).appendingPathComponent(name)
                guard !FileManager.default.fileExists(atPath: dest) else { throw YizhanError(.conflict, "\(dest) exists; not overwritten") }
                guard let src = try store.partSource(documentID: id, index: i) else { throw YizhanError(.notFound, "part \(i) of \(id) is not stored") }
                let bar = ProgressBar(label: "fetching \(name)", total: p.size)
                try PartSpool.export(src, part: p, to: dest, progress: bar.update)
                bar.finish()
                print("\(dest)  \(p.size) bytes  sha256 \(p.sha256)")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the signed envelope JSON exactly as signed (outbox) or received (inbox).")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            guard let b = try store.envelopeBytes(id: id) else { throw YizhanError(.notFound, "no signed envelope \(id) in \(home.path)") }
            FileHandle.standardOutput.write(Data(b))
            print("")
        }
    }
}

extension DocCommand {
    struct Print: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a stamped document as a certified copy (HTML for A4 paper) with a verification code.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Option(help: "The HTML file to write.") var out: String
        func run() async throws {
            guard !FileManager.default.fileExists(atPath: out) else { throw YizhanError(.conflict, "\(out) exists; not overwritten") }
            let p = try await SealKeeper(home: GatewayHome(home.path)).certifiedPrint(id: id)
            try Data(p.html.utf8).write(to: URL(fileURLWithPath: out), options: .withoutOverwriting)
            print("\(out): certified copy, verification code \(p.verification.code)")
            print("seal: \(p.status.summary)")
        }
    }
}

/// `yizhan verify CODE`: what the registry's record says about a certified print.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check a certified print's verification code against the registry's record.")
    @Argument(help: "The code printed on the copy, e.g. 7KQ2-M9XD-4TPA.") var code: String
    @Option(help: "Registry URL (default: the registry of the gateway in --home).") var registry: String?
    @OptionGroup var home: HomeOption
    @Flag(help: "JSON output.") var json = false
    func run() async throws {
        guard let url = registry ?? (try? GatewayHome(home.path).loadConfig())?.registry else {
            throw YizhanError(.configuration, "give --registry URL (or --home of a gateway)")
        }
        let trimmed = code.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else {
            throw YizhanError(.invalidArgument, "a verification code is letters, digits and dashes, not \(code)")
        }
        let v = try await RegistryClient(base: url).get("/v1/prints/\(trimmed)")
        if json { try Output.json(v); return }
        let s = { (k: String) in v[k]?.stringValue ?? "-" }
        print("verification code \(s("code")): \(s("verdict"))")
        print("  stamped by \(s("unitName")) (\(s("unit"))) with seal \(s("sealId")) [\(s("algorithm"))] at \(s("stamped"))")
        print("  document \(s("title"))\(v["number"]?.stringValue.map { " \($0)" } ?? "") (\(s("documentId")))")
        print("  document digest \(s("documentSha256"))")
        print("  printed \(s("printed")) by \(s("printedBy"))")
    }
}

struct PaperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "paper", abstract: "Register documents sent or received on paper (纸质公文登记).",
                                                    subcommands: [Add.self, List.self])
    struct Add: AsyncParsableCommand {
        @OptionGroup var home: HomeOption
        @Option(help: "sent or received.") var direction: String
        @Option(help: "document, report or request.") var kind: String
        @Option(help: "The other unit's code.") var counterpart: String
        @Option(help: "Title.") var title: String
        @Option(help: "Document number, if any.") var number: String?
        @Option(help: "Date sent or received, YYYY-MM-DD.") var date: String
        @Option(help: "Who registers it.") var by: String
        func run() async throws {
            guard let d = GatewayStore.PaperRecord.Direction(rawValue: direction) else { throw YizhanError(.invalidArgument, "--direction must be sent or received") }
            guard let k = GatewayStore.PaperRecord.Kind(rawValue: kind) else { throw YizhanError(.invalidArgument, "--kind must be document, report or request") }
            let (store, _) = try DocCommand.store(home)
            let id = try store.registerPaper(.init(direction: d, kind: k, counterpart: counterpart, title: title, number: number, date: date, registeredBy: by))
            print(id)
        }
    }
    struct List: AsyncParsableCommand {
        @OptionGroup var home: HomeOption
        @Option(help: "Only this month, YYYY-MM.") var month: String?
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            if let m = month, m.count != 7 || Timestamp.parse(m + "-01T00:00:00Z") == nil { throw YizhanError(.invalidArgument, "--month must be YYYY-MM") }
            let (store, _) = try DocCommand.store(home)
            let list = try store.paperRecords(month: month)
            if json { try Output.json(list); return }
            for p in list { print("\(p.id ?? 0)  \(p.date)  \(p.direction.rawValue)  \(p.kind.rawValue)  \(p.counterpart)  \(p.title)\(p.number.map { "  \($0)" } ?? "")") }
        }
    }
}

struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quarantine", abstract: "Messages the gateway refused, with the reason.",
                                                    subcommands: [List.self])
    struct List: AsyncParsableCommand {
        @OptionGroup var home: HomeOption
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            let q = try store.quarantined()
            if json { try Output.json(q); return }
            for e in q { print("\(e.id)  \(Output.time(e.receivedAt))  \(e.reason)  \(e.claimedSender ?? "-")  \(e.detail)") }
        }
    }
}

enum MediaType {
    static func guess(_ path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "pdf": return "application/pdf"
        case "ofd": return "application/ofd"
        case "txt": return "text/plain; charset=utf-8"
        case "xml": return "application/xml"
        case "json": return "application/json"
        case "doc": return "application/msword"
        case "docx": return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        default: return "application/octet-stream"
        }
    }
}
