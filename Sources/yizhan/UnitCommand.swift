import ArgumentParser
import Foundation
import YizhanCore
import YizhanGateway
import YizhanRegistry

/// Administrator commands, sent to the registry's HTTP API with the administrator token.
struct AdminOptions: ParsableArguments {
    @OptionGroup var home: HomeOption
    @Option(help: "Registry URL (default: the registry in --home's listen address).") var registry: String?
    @Option(help: "Administrator token (default $YIZHAN_ADMIN_TOKEN, else --home's admin.token).") var token: String?

    func client() throws -> RegistryClient {
        let h = RegistryHome(home.path)
        var url = registry
        if url == nil, let d = FileManager.default.contents(atPath: h.configFile) {
            let c = try JSONValue.parse(Array(d)).decode(RegistryHome.Config.self)
            url = "http://\(c.listen)"
        }
        guard let url else { throw YizhanError(.configuration, "no --registry given and no registry in \(home.path)") }
        let t = token ?? ProcessInfo.processInfo.environment["YIZHAN_ADMIN_TOKEN"]
            ?? (try? SecretFile.read(h.adminTokenFile).trimmingCharacters(in: .whitespacesAndNewlines))
        guard let t, !t.isEmpty else { throw YizhanError(.unauthorized, "an administrator token is required (--token, YIZHAN_ADMIN_TOKEN, or --home of the registry)") }
        return RegistryClient(base: url, adminToken: t)
    }
}

import YizhanStore

struct UnitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unit", abstract: "Onboard and inspect units (administrators).",
                                                    subcommands: [Apply.self, Application.self, Withdraw.self, Add.self, List.self, Show.self, Requests.self,
                                                                  Approve.self, Reject.self, Cancel.self, Rename.self, Merge.self, Deregister.self,
                                                                  Names.self, Revoke.self, Roster.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register and provision a unit; prints its one-time enrolment token.")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Unified Social Credit Code (18 characters).") var code: String
        @Option(help: "The unit's name.") var name: String
        @Flag(help: "JSON output.") var json = false

        func run() async throws {
            _ = try UnitCode(code)
            let added = try await admin.client().addUnit(.init(code: code, name: name))
            if json { try Output.json(added); return }
            print("unit \(added.code) \(added.name) added; broker user \(added.brokerUser)")
            print("enrolment token (one use, expires \(added.expires)): \(added.enrolmentToken)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered units.")
        @OptionGroup var admin: AdminOptions
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let units = try await admin.client().units()
            if json { try Output.json(units); return }
            for u in units {
                print("\(u["code"]?.stringValue ?? "?")  \(Output.pad(u["status"]?.stringValue ?? "?", 13))\(u["name"]?.stringValue ?? "")")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one unit.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "Unit code.") var code: String
        func run() async throws {
            let c = try admin.client()
            try Output.json(JSONValue.object(["unit": try await c.unit(code), "names": try await c.get("/v1/units/\(code)/names")]))
        }
    }
}
