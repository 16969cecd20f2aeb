import ArgumentParser
import Foundation
import YizhanCore
import YizhanGateway
import YizhanMonitor
import YizhanStore

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Figures for the leadership group's assessment (考核评比).",
                                                    subcommands: [UnitReport.self, AssessmentReport.self])

    static func statistics(home: String, period: String) throws -> UnitStatistics {
        let h = GatewayHome(home)
        let c = try h.loadConfig()
        return try GatewayStore(path: h.database).statistics(period: period, unit: c.unit, name: c.name)
    }

    struct UnitReport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unit", abstract: "This unit's figures for a month, as JSON (hand them to the leadership group).")
        @OptionGroup var home: HomeOption
        @Option(help: "The month, YYYY-MM.") var period: String
        func run() async throws {
            try Output.json(try ReportCommand.statistics(home: home.path, period: period))
        }
    }

    struct AssessmentReport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "assessment", abstract: "Rank the units for a month; writes CSV, JSON and a printable HTML report with a bar chart.")
        @Option(help: "The month, YYYY-MM.") var period: String
        @Option(help: "A unit's gateway home to read; repeat per unit.") var gateway: [String] = []
        @Option(help: "A unit's figures from `yizhan report unit`; repeat per file.") var input: [String] = []
        @Option(help: "Folder for assessment-PERIOD.csv, .json and .html.") var out = "."
        @Flag(help: "Print the JSON instead of the table.") var json = false
        func run() async throws {
            _ = try UnitStatistics.period(period)
            guard !gateway.isEmpty || !input.isEmpty else { throw YizhanError(.invalidArgument, "name at least one --gateway home or --input file") }
            var units = try gateway.map { try ReportCommand.statistics(home: $0, period: period) }
            for f in input {
                guard let d = FileManager.default.contents(atPath: f) else { throw YizhanError(.invalidArgument, "cannot read \(f)") }
                do { units.append(try StatusCoding.decoder.decode(UnitStatistics.self, from: d)) } catch {
                    throw YizhanError(.invalidArgument, "\(f) is not a unit report (yizhan report unit): \(error)")
                }
            }
            let a = try Assessment.compute(period: period, units)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let base = (out as NSString).appendingPathComponent("assessment-\(period)")
            try Data(a.csv().utf8).write(to: URL(fileURLWithPath: base + ".csv"))
            try StatusCoding.encoder.encode(a).write(to: URL(fileURLWithPath: base + ".json"))
            try Data(a.html().utf8).write(to: URL(fileURLWithPath: base + ".html"))
            if json { try Output.json(a); return }
            print("考核评比 \(period)   targets: exchange 80%, reporting 100%, requests 80%")
            let pct = { (v: Double?) in v.map { String(format: "%.1f%%", $0 * 100) } ?? "n/a" }
            for r in a.rows {
                print("\(r.rank). \(Output.pad(r.name, 28))\(r.unit)  exchange \(pct(r.exchange))  reporting \(pct(r.reporting))  requests \(pct(r.requests))  score \(pct(r.score))  \(r.meetsTargets ? "meets targets" : "BELOW TARGET")  in time \(pct(r.withinDeadline))  returned \(r.returned)  overdue \(r.overdue)")
            }
            print("wrote \(base).csv, .json, .html")
        }
    }
}
