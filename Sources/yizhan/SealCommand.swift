import ArgumentParser
import Foundation
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanStore

/// Custodians' passwords: typed at a terminal (not echoed), or one line per custodian on
/// standard input, in the order the custodians are named. Kept as bytes and zeroed after use.
enum CustodianSecrets {
    static func read(_ names: [String]) throws -> [SealVault.Secret] {
        guard !names.isEmpty else { return [] }
        if isatty(0) == 1 {
            return try names.map { n in
                guard let p = getpass("password of custodian \(n): ") else { throw YizhanError(.invalidArgument, "no password for custodian \(n)") }
                let len = strlen(p)
                let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: len))
                memset(p, 0, len)
                return SealVault.Secret(name: n, password: bytes)
            }
        }
        var data = FileHandle.standardInput.readDataToEndOfFile()
        defer { data.resetBytes(in: 0..<data.count) }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0.filter { $0 != UInt8(ascii: "\r") }) }
        defer { for i in lines.indices { for j in lines[i].indices { lines[i][j] = 0 } } }
        return try names.enumerated().map { i, n in
            guard i < lines.count, !lines[i].isEmpty else {
                throw YizhanError(.invalidArgument, "no password for custodian \(n) (give one line per custodian on standard input, in the order named)")
            }
            return SealVault.Secret(name: n, password: lines[i])
        }
    }

    static func wipe(_ s: inout [SealVault.Secret]) { for i in s.indices { s[i].wipe() } }
}

struct WitnessOptions: ParsableArguments {
    @Option(name: .customLong("witness-leadership"), help: "Witness for the leadership group (电子政务领导小组).") var leadership: String
    @Option(name: .customLong("witness-centre"), help: "Witness for the information centre (信息中心).") var centre: String
    @Option(name: .customLong("witness-unit"), help: "Witness for the unit.") var unit: String
    var witnesses: RegistryAPI.Witnesses { .init(leadership: leadership, centre: centre, unit: unit) }
}

struct SealCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seal", abstract: "Electronic seals: apply, approve, make, keep, destroy.",
                                                    subcommands: [Apply.self, Approve.self, Reject.self, Make.self, List.self, Records.self,
                                                                  Custodians.self, Destroy.self])

    static func printRecord(_ r: JSONValue) {
        let s = { (k: String) in r[k]?.stringValue ?? "-" }
        print("seal \(s("id")) of \(s("unit")): \(s("state")) (reason \(s("reason")), head \(s("head")), \(s("algorithm")), image sha256 \(s("imageSha256")))")
        if let c = r["certificateSerial"]?.stringValue { print("  certificate \(c), made \(s("madeAt"))") }
        if let w = r["madeWitnesses"]?.objectValue { print("  made before \(w["leadership"]?.stringValue ?? "?")、\(w["centre"]?.stringValue ?? "?")、\(w["unit"]?.stringValue ?? "?")") }
        if let m = r["remakeRequired"]?.stringValue { print("  remake required: unit \(m)") }
        if let v = r["revokedAt"]?.stringValue { print("  revoked \(v) (\(s("revocationReason")))") }
        if let d = r["destroyedAt"]?.stringValue { print("  destroyed \(d): \(s("destroyReason"))") }
        if let k = r["keyWipedAt"]?.stringValue { print("  key wiped at the unit's gateway \(k)") }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply for a seal for this gateway's unit (the leadership group approves).")
        @OptionGroup var home: HomeOption
        @Option(help: "new, renamed, merged or damaged.") var reason: String
        @Option(help: "The unit head signing the application.") var head: String
        @Option(help: "The seal image: an .svg or .png file.") var image: String
        @Option(help: "ed25519 (default) or sm2.") var algorithm = "ed25519"
        @Option(help: "The seal this one replaces (renamed, damaged).") var replaces: String?
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            guard let alg = KeyAlgorithm(rawValue: algorithm) else { throw YizhanError(.invalidArgument, "--algorithm must be ed25519 or sm2, not \(algorithm)") }
            let r = try await SealKeeper(home: GatewayHome(home.path)).apply(reason: reason, head: head, algorithm: alg, imagePath: image, replaces: replaces)
            if json { try Output.json(r); return }
            print(r["id"]?.stringValue ?? "")
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a seal application (administrators).")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        @Option(help: "A note.") var reason: String?
        func run() async throws {
            printRecord(try await admin.client().post("/v1/seals/\(id)/approve", try JSONValue.from(RegistryAPI.Decision(reason: reason))))
        }
    }

    struct Reject: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Reject a seal application, with the reason (administrators).")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        @Option(help: "Why.") var reason: String
        func run() async throws {
            printRecord(try await admin.client().post("/v1/seals/\(id)/reject", try JSONValue.from(RegistryAPI.Decision(reason: reason))))
        }
    }

    struct Make: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an approved seal on this gateway host, before the three witnesses. Custodians' passwords: one line each on standard input.")
        @OptionGroup var home: HomeOption
        @Argument var id: String
        @Option(help: "A custodian (保管人); repeat, at least two.") var custodian: [String] = []
        @Option(help: "How many custodians must unlock it together (at least 2).") var threshold = 2
        @OptionGroup var witnesses: WitnessOptions
        func run() async throws {
            let keeper = try SealKeeper(home: GatewayHome(home.path))
            guard custodian.count >= 2 else { throw YizhanError(.invalidArgument, "a seal needs at least two custodians (--custodian, repeated)") }
            _ = try witnesses.witnesses.validated()
            var secrets = try CustodianSecrets.read(custodian)
            defer { CustodianSecrets.wipe(&secrets) }
            let cert = try await keeper.make(sealID: id, custodians: secrets, threshold: threshold, witnesses: witnesses.witnesses)
            print("seal \(id) made for \(cert.organization ?? "") (\(cert.commonName ?? "")): certificate \(cert.serialHex), \(threshold) of \(custodian.count) custodians unlock it")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "This gateway's seals and their stampings.")
        @OptionGroup var home: HomeOption
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let store = try GatewayStore(path: GatewayHome(home.path).database)
            _ = try GatewayHome(home.path).loadConfig()
            let seals = try store.seals(), stamps = try store.stamps()
            if json {
                try Output.json(["seals": try JSONValue.from(seals.map { s in
                    var o = s
                    o.vault = s.vault == nil ? nil : "(locked)"
                    return o
                }), "stamps": try JSONValue.from(stamps)])
                return
            }
            for s in seals {
                let cert = s.certificate.flatMap { try? Certificate(der: $0) }
                var line = "\(s.id)  \(Output.pad(s.state, 7))\(s.algorithm)  \(cert?.organization ?? "")"
                if let v = s.vault, let sealed = try? JSONValue.parse(v).decode(SealVault.Sealed.self) {
                    line += "  custodians \(sealed.custodians.map(\.name).joined(separator: "、")) (\(sealed.threshold) needed)"
                }
                if let r = s.revokedAt { line += "  revoked \(Output.time(r)) (\(s.revocationReason ?? "-"))" }
                if let w = s.wipedAt { line += "  key wiped \(Output.time(w))" }
                print(line)
                for st in stamps where st.sealID == s.id {
                    print("  stamped \(st.documentID) at \(Output.time(st.stampedAt)), unlocked by \(st.custodians.joined(separator: "、"))")
                }
            }
        }
    }

    struct Records: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The registry's seal records (administrators).")
        @OptionGroup var admin: AdminOptions
        @Option(help: "Only this unit's seals.") var unit: String?
        @Flag(help: "JSON output.") var json = false
        func run() async throws {
            let c = try admin.client()
            let list = try await c.get(unit.map { "/v1/units/\($0)/seals" } ?? "/v1/seals").arrayValue ?? []
            if json { try Output.json(list); return }
            for r in list { printRecord(r) }
        }
    }

    struct Custodians: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace custodians without exposing the key. Standard input: the passwords of the --custodian names, then of the --add names.")
        @OptionGroup var home: HomeOption
        @Option(help: "The seal (default: the only one in use).") var seal: String?
        @Option(help: "A current custodian authorising the change; repeat (at least the threshold).") var custodian: [String] = []
        @Option(help: "A custodian who gives up the share; repeat.") var remove: [String] = []
        @Option(help: "A new custodian; repeat.") var add: [String] = []
        func run() async throws {
            let keeper = try SealKeeper(home: GatewayHome(home.path))
            guard !remove.isEmpty || !add.isEmpty else { throw YizhanError(.invalidArgument, "give --remove and/or --add") }
            var all = try CustodianSecrets.read(custodian + add)
            defer { CustodianSecrets.wipe(&all) }
            let v = try keeper.replaceCustodians(sealID: seal, secrets: Array(all.prefix(custodian.count)), remove: remove, add: Array(all.dropFirst(custodian.count)))
            print("seal \(v.sealID): custodians now \(v.custodians.map(\.name).joined(separator: "、")) (\(v.threshold) needed)")
        }
    }

    struct Destroy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Destroy a seal before the three witnesses (administrators): its certificate is revoked; the unit's gateway wipes the key.")
        @OptionGroup var admin: AdminOptions
        @Argument var id: String
        @Option(help: "Why.") var reason: String
        @OptionGroup var witnesses: WitnessOptions
        func run() async throws {
            let r = try await admin.client().post("/v1/seals/\(id)/destroy", try JSONValue.from(RegistryAPI.SealDestroy(reason: reason, witnesses: witnesses.witnesses)))
            printRecord(r)
        }
    }
}
