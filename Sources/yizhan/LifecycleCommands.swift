import ArgumentParser
import Foundation
import YizhanCore
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// `unit apply|application|requests|approve|reject|cancel|rename|merge|deregister|names|revoke|roster`.
extension UnitCommand {
    static func printRequest(_ r: JSONValue) {
        let eff = r["effectiveAt"]?.stringValue.map { "  effective \($0)" } ?? ""
        print("\(r["id"]?.stringValue ?? "?")  \(Output.pad(r["kind"]?.stringValue ?? "?", 11))\(Output.pad(r["state"]?.stringValue ?? "?", 10))\(r["subject"]?.stringValue ?? "")\(eff)\(r["reason"]?.stringValue.map { "  reason: \($0)" } ?? "")")
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply to join the network (a unit; no token needed). Prints the application id and secret.")
        @Option(help: "Registry URL.") var registry: String
        @Option(help: "Unit code.") var code: String
        @Option(help: "Unit name.") var name: String
        @Option(help: "Parent unit code.") var parent: String?
        @Option(help: "Contact (person, phone).") var contact: String
        @Option(help: "The unit head's name.") var head: String
        @Option(help: "Why the unit joins.") var reason: String
        func run() async throws {
            _ = try UnitCode(code)
            let r = try await RegistryClient(base: registry).post("/v1/applications", try JSONValue.from(RegistryAPI.Apply(code: code, name: name, parent: parent, contact: contact, head: head, reason: reason)))
            print("application \(r["id"]?.stringValue ?? "?") filed; keep this secret to follow it: \(r["applicantSecret"]?.stringValue ?? "?")")
        }
    }

    struct Application: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read an application's state (and why it was rejected) with its secret.")
        @Option(help: "Registry URL.") var registry: String
        @Option(help: "The applicant secret.") var secret: String
        @Argument var id: String
        @Flag var json = false
        func run() async throws {
            let r = try await RegistryClient(base: registry, adminToken: secret).get("/v1/applications/\(id)")
            if json { try Output.json(r) } else { UnitCommand.printRequest(r) }
        }
    }

    struct Withdraw: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "withdraw", abstract: "Withdraw a pending application (the applicant, with its secret).")
        @Option(help: "Registry URL.") var registry: String
        @Option(help: "The applicant secret.") var secret: String
        @Argument var id: String
        func run() async throws {
            UnitCommand.printRequest(try await RegistryClient(base: registry, adminToken: secret).delete("/v1/applications/\(id)"))
        }
    }

    struct Requests: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List lifecycle requests (applications, renames, mergers, deregistrations).")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Only this state: pending, approved, rejected, cancelled, applied.") var state: String?
        @Flag var json = false
        func run() async throws {
            let r = try await admin.client().get("/v1/requests" + (state.map { "?state=\($0)" } ?? ""))
            if json { try Output.json(r); return }
            for x in r.arrayValue ?? [] { UnitCommand.printRequest(x) }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a request; an application is provisioned and its enrolment token printed.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        @Option var reason: String?
        func run() async throws {
            let r = try await admin.client().post("/v1/requests/\(id)/approve", try JSONValue.from(RegistryAPI.Decision(reason: reason)))
            if let req = r["request"] { UnitCommand.printRequest(req) }
            if let a = r["added"], let token = a["enrolmentToken"]?.stringValue {
                print("unit \(a["code"]?.stringValue ?? "?") admitted; enrolment token (one use, expires \(a["expires"]?.stringValue ?? "?")): \(token)")
            }
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a pending request, with the reason the applicant will read.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        @Option var reason: String
        func run() async throws {
            let r = try await admin.client().post("/v1/requests/\(id)/reject", try JSONValue.from(RegistryAPI.Decision(reason: reason)))
            if let req = r["request"] { UnitCommand.printRequest(req) }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a request before it takes effect.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        @Option var reason: String?
        func run() async throws {
            UnitCommand.printRequest(try await admin.client().post("/v1/requests/\(id)/cancel", try JSONValue.from(RegistryAPI.Decision(reason: reason))))
        }
    }

    static func submit(_ admin: AdminOptions, _ l: RegistryAPI.LifecycleRequest) async throws {
        let r = try await admin.client().post("/v1/requests", try JSONValue.from(l))
        UnitCommand.printRequest(r)
        print("approve with: yizhan unit approve \(r["id"]?.stringValue ?? "ID")")
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Request a name change (名称变更), effective now or at --effective.")
        @OptionGroup var admin: AdminOptions
        @Argument var code: String
        @Option var name: String
        @Option(help: "RFC 3339 time or YYYY-MM-DD (UTC).") var effective: String?
        @Option var reason: String?
        func run() async throws {
            _ = try UnitCode(code)
            try await UnitCommand.submit(admin, .init(kind: "rename", unit: code, name: name, effective: effective, reason: reason))
        }
    }

    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Request a merger (合并) of one or more units into another.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Unit code(s), comma-separated.") var units: String
        @Option var into: String
        @Option(help: "RFC 3339 time or YYYY-MM-DD (UTC).") var effective: String?
        @Option var reason: String?
        func run() async throws {
            let list = units.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for u in list + [into] { _ = try UnitCode(u) }
            try await UnitCommand.submit(admin, .init(kind: "merge", units: list, into: into, effective: effective, reason: reason))
        }
    }

    struct Deregister: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Request a deregistration (撤销), transferring the unit's documents.")
        @OptionGroup var admin: AdminOptions
        @Argument var code: String
        @Option(name: .customLong("transfer-to")) var transferTo: String
        @Option(help: "RFC 3339 time or YYYY-MM-DD (UTC).") var effective: String?
        @Option var reason: String?
        func run() async throws {
            for u in [code, transferTo] { _ = try UnitCode(u) }
            try await UnitCommand.submit(admin, .init(kind: "deregister", unit: code, transferTo: transferTo, effective: effective, reason: reason))
        }
    }

    struct Names: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Search current and former names; shows each name's period.")
        @OptionGroup var admin: AdminOptions
        @Option var search: String
        @Flag var json = false
        func run() async throws {
            let q = search.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? search
            let r = try await admin.client().get("/v1/names?q=\(q)")
            if json { try Output.json(r); return }
            for n in r.arrayValue ?? [] {
                print("\(n["code"]?.stringValue ?? "?")  \(Output.pad(n["name"]?.stringValue ?? "?", 30))\(n["from"]?.stringValue ?? "?") – \(n["to"]?.stringValue ?? "now")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-certificate", abstract: "Revoke a certificate at once (e.g. key-compromise).")
        @OptionGroup var admin: AdminOptions
        @Argument var serial: String
        @Option var reason: String
        func run() async throws {
            _ = try await admin.client().post("/v1/certificates/\(serial)/revoke", try JSONValue.from(RegistryAPI.Decision(reason: reason)))
            print("certificate \(serial) revoked (\(reason)); gateways refuse it as soon as the new directory reaches them")
        }
    }

    struct Roster: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a unit's filed user roster.")
        @OptionGroup var admin: AdminOptions
        @Argument var code: String
        @Flag var json = false
        func run() async throws {
            let r = try await admin.client().get("/v1/units/\(code)/roster")
            if json { try Output.json(r); return }
            for e in r.arrayValue ?? [] {
                print("\(Output.pad(e["account"]?.stringValue ?? "?", 16))\(Output.pad(e["name"]?.stringValue ?? "?", 12))\(e["role"]?.stringValue ?? "")\(e["active"] == .bool(false) ? "  (inactive)" : "")")
            }
        }
    }
}

/// `registry audit verify|list`, read straight from the registry's SQLite file.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "The registry's hash-chained audit log.", subcommands: [Verify.self, List.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the chain; name every entry changed, removed or reordered.")
        @OptionGroup var home: HomeOption
        func run() async throws {
            let h = RegistryHome(home.path)
            guard FileManager.default.fileExists(atPath: h.database) else { throw YizhanError(.configuration, "no registry in \(home.path)") }
            let store = try RegistryStore(path: h.database, digest: YizhanCryptoDigest.sha256Hex)
            let problems = try store.verifyAudit()
            let n = try store.auditLog().count
            if problems.isEmpty { print("audit log intact: \(n) entries, chain verified"); return }
            for p in problems { print(p.description) }
            throw YizhanError(.conflict, "audit log damaged: \(problems.count) problem(s) in \(n) entries")
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var home: HomeOption
        @Flag var json = false
        func run() async throws {
            let store = try RegistryStore(path: RegistryHome(home.path).database, digest: YizhanCryptoDigest.sha256Hex)
            let log = try store.auditLog()
            if json { try Output.json(log); return }
            for e in log { print("\(Output.time(e.at))  \(Output.pad(e.actor, 22))\(Output.pad(e.action, 22))\(e.subject ?? "")  \(e.detail ?? "")") }
        }
    }
}

/// `gateway roster` (the unit files its users) and `gateway import` (take over a deregistered unit's records).
extension GatewayCommand {
    struct RosterFile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "roster", abstract: "File (and so confirm) this unit's user roster: CSV lines account,name,role.")
        @OptionGroup var home: HomeOption
        @Option var file: String
        func run() async throws {
            let h = GatewayHome(home.path)
            let c = try h.loadConfig()
            let text = try String(contentsOfFile: file, encoding: .utf8)
            var entries: [RegistryAPI.RosterEntry] = []
            for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
                let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
                guard f.count == 3, f.allSatisfy({ !$0.isEmpty }) else { throw YizhanError(.invalidArgument, "\(file) line \(n + 1): expected account,name,role") }
                entries.append(.init(account: f[0], name: f[1], role: f[2]))
            }
            let token = try h.read(h.registryTokenFile).trimmingCharacters(in: .whitespacesAndNewlines)
            let r = try await RegistryClient(base: c.registry, adminToken: token).put("/v1/units/\(c.unit)/roster", try JSONValue.from(entries))
            print("roster of \(c.unit) filed and confirmed: \(r.arrayValue?.count ?? 0) account(s)")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take over a deregistered unit's records from its gateway home (or gateway.sqlite).")
        @OptionGroup var home: HomeOption
        @Option(help: "The deregistered unit's gateway home or its gateway.sqlite.") var from: String
        @Option(help: "The deregistered unit's code.") var unit: String
        func run() async throws {
            _ = try UnitCode(unit)
            let h = GatewayHome(home.path)
            _ = try h.loadConfig()
            let path = from.hasSuffix(".sqlite") ? from : GatewayHome(from).database
            let s = try GatewayStore(path: h.database).importRecords(fromDatabase: path, fromUnit: unit)
            print("took over \(s.inbox) inbox and \(s.outbox) outbox record(s) of \(unit)")
        }
    }
}
