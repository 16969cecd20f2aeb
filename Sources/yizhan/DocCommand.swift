import ArgumentParser
import Foundation
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanStore

struct DocCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doc", abstract: "Send and read documents (clerks).",
                                                    subcommands: [Send.self, List.self, Show.self, Export.self])

    static func store(_ home: HomeOption) throws -> (GatewayStore, GatewayHome.Config) {
        let h = GatewayHome(home.path)
        let c = try h.loadConfig()
        return (try GatewayStore(path: h.database), c)
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a document in the outbox; the running gateway signs and sends it.")
        @OptionGroup var home: HomeOption
        @Option(help: "Main recipients, comma-separated unit codes.") var to: String
        @Option(help: "Copy-to recipients, comma-separated unit codes.") var cc: String?
        @Option(help: "Title (标题).") var title: String
        @Option(help: "Document number (发文字号), e.g. 武建〔2026〕12号.") var number: String?
        @Option(help: "Document type (文种), one of the 15 types.") var type: String?
        @Option(help: "Urgency: 特急 or 加急.") var urgency: String?
        @Option(help: "Kind: document, report, request, reply, notice.") var kind = "document"
        @Option(help: "Signer (签发人), required for 请示 and 报告.") var signer: String?
        @Option(help: "Classification (密级); only 非涉密 is accepted.") var classification: String?
        @Option(help: "Issuing authority as signed (发文机关署名).") var issuer: String?
        @Option(name: .customLong("date-written"), help: "Date written (成文日期), YYYY-MM-DD.") var dateWritten: String?
        @Option(name: .customLong("attachment-title"), help: "An entry of the attachment list (附件说明); repeat for each.") var attachmentTitles: [String] = []
        @Option(help: "Note (附注).") var note: String?
        @Option(name: .customLong("printed-by"), help: "Printing office (印发机关).") var printedBy: String?
        @Option(name: .customLong("printed-on"), help: "Printing date (印发日期), YYYY-MM-DD.") var printedOn: String?
        @Argument(help: "Attachment files.") var files: [String] = []

        func run() async throws {
            let (store, config) = try DocCommand.store(home)
            guard let k = Envelope.Kind(rawValue: kind), k != .receipt else { throw YizhanError(.invalidArgument, "unknown kind \(kind)") }
            var recipients: [Envelope.Recipient] = []
            for (list, role) in [(to, Envelope.Recipient.Role.main), (cc ?? "", .cc)] {
                for c in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !c.isEmpty {
                    let code = try UnitCode(c)
                    guard !recipients.contains(where: { $0.unit == code }) else { throw YizhanError(.invalidArgument, "\(c) is named twice") }
                    guard code.rawValue != config.unit else { throw YizhanError(.invalidArgument, "a unit does not send to itself") }
                    recipients.append(.init(unit: code, role: role))
                }
            }
            guard !recipients.isEmpty else { throw YizhanError(.invalidArgument, "--to needs at least one unit code") }
            guard !title.trimmingCharacters(in: .whitespaces).isEmpty else { throw YizhanError(.invalidArgument, "--title must not be empty") }
            let info = DocumentInfo(title: title, number: number, type: type, urgency: urgency, signer: signer, classification: classification,
                                    issuer: issuer, dateWritten: dateWritten, attachments: attachmentTitles.isEmpty ? nil : attachmentTitles,
                                    note: note, printedBy: printedBy, printedOn: printedOn)
            try info.validate()
            var parts: [GatewayStore.PartData] = []
            for f in files {
                guard let d = FileManager.default.contents(atPath: f) else { throw YizhanError(.invalidArgument, "cannot read \(f)") }
                let bytes = Array(d)
                parts.append(.init(name: (f as NSString).lastPathComponent, mediaType: MediaType.guess(f), data: bytes, sha256: Digest.sha256Hex(bytes)))
            }
            let draft = GatewayStore.Draft(kind: k, document: info, recipients: recipients, parts: parts)
            try store.enqueue(draft)
            print(draft.id)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the inbox or the outbox.")
        @OptionGroup var home: HomeOption
        @Flag(help: "Received documents.") var inbox = false
        @Flag(help: "Sent documents with each recipient's state (default).") var outbox = false
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            let (store, _) = try DocCommand.store(home)
            if inbox {
                let items = try store.inbox()
                if json { try Output.json(items); return }
                for i in items {
                    print("\(i.id)  \(Output.time(i.receivedAt))  from \(i.sender)\(i.onBehalfOf.map { " (for \($0))" } ?? "")  \(i.title ?? "")  [\(i.parts.count) part(s)]")
                }
            } else {
                let items = try store.outbox()
                if json { try Output.json(items); return }
                for o in items {
                    let states = o.deliveries.map { "\($0.recipient):\($0.state)" }.joined(separator: " ")
                    print("\(o.id)  \(Output.time(o.createdAt))  \(o.title ?? "")  \(states)")
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
            if let o = try store.outboxEntry(id: id) {
                if json { try Output.json(["outbox": try JSONValue.from(o), "trail": try JSONValue.from(trail)]); return }
                print("outgoing \(o.kind) \(o.id)\n  title: \(o.title ?? "-")\n  number: \(o.number ?? "-")")
                for d in o.deliveries {
                    let by = d.deliveredBy.map { $0 == d.recipient ? "" : " to \($0) (successor of \(d.recipient))" } ?? ""
                    print("  \(d.recipient) [\(d.role)]: \(d.state)\(by)  published \(Output.time(d.publishedAt))  delivered \(Output.time(d.deliveredAt))\(d.lastError.map { "  last error: \($0)" } ?? "")\(d.reason.map { "  reason: \($0)" } ?? "")")
                }
            } else if let i = try store.inboxEntry(id: id) {
                if json { try Output.json(["inbox": try JSONValue.from(i), "trail": try JSONValue.from(trail)]); return }
                print("incoming \(i.kind) \(i.id)\n  from: \(i.sender) \(i.senderName ?? "")\n  title: \(i.title ?? "-")\n  number: \(i.number ?? "-")\n  received: \(Output.time(i.receivedAt))")
                for p in i.parts { print("  part: \(p.name) (\(p.mediaType), \(p.size) bytes, sha256 \(p.sha256))") }
            } else {
                throw YizhanError(.notFound, "no document \(id) in \(home.path)")
            }
            print("trail:")
            for t in trail { print("  \(Output.time(t.at))  \(t.unit.map { "\($0) " } ?? "")\(t.event)\(t.detail.map { ": \($0)" } ?? "")") }
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
