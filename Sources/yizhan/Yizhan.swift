import ArgumentParser
import Foundation
import Logging
import YizhanCore

@main
struct Yizhan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "yizhan",
        abstract: "驿站 — signed official documents between government units over AMQP.",
        subcommands: [RegistryCommand.self, UnitCommand.self, GatewayCommand.self, DocCommand.self, SealCommand.self, VerifyCommand.self, QuarantineCommand.self, MonitorCommand.self, ReportCommand.self, DemoCommand.self, BenchCommand.self])

    /// Errors people can act on print as one line and exit 1; argument errors keep their usage text.
    static func main() async {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = Logger.Level(rawValue: ProcessInfo.processInfo.environment["YIZHAN_LOG_LEVEL"] ?? "") ?? .info
            return h
        }
        do {
            var command = try parseAsRoot()
            if var c = command as? AsyncParsableCommand { try await c.run() } else { try command.run() }
        } catch let e as YizhanError {
            FileHandle.standardError.write(Data("yizhan: \(e.message)\n".utf8))
            Foundation.exit(1)
        } catch let e as CleanExit {
            exit(withError: e)
        } catch let e as ExitCode {
            exit(withError: e)
        } catch {
            if error is ValidationError || String(describing: type(of: error)).contains("CommandError") { exit(withError: error) }
            FileHandle.standardError.write(Data("yizhan: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}

/// `--home DIR`: default `$YIZHAN_HOME`, else `~/.yizhan`.
struct HomeOption: ParsableArguments {
    @Option(name: .long, help: "Home folder (default $YIZHAN_HOME, else ~/.yizhan).")
    var home: String?

    var path: String {
        let p = home ?? ProcessInfo.processInfo.environment["YIZHAN_HOME"] ?? (NSHomeDirectory() + "/.yizhan")
        return (p as NSString).expandingTildeInPath
    }
}

enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .custom { d, e in var c = e.singleValueContainer(); try c.encode(Timestamp.format(d)) }
        print(String(decoding: try enc.encode(value), as: UTF8.self))
    }

    static func time(_ d: Date?) -> String {
        guard let d else { return "-" }
        return Timestamp.format(d)
    }

    /// Pads by display width, counting CJK characters as two columns.
    static func pad(_ s: String, _ width: Int) -> String {
        let w = s.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x1100 && ($1.value <= 0x115F || (0x2E80...0xFFDC).contains($1.value)) ? 2 : 1) }
        return s + String(repeating: " ", count: max(1, width - w))
    }
}

import YizhanCrypto

/// The digest the registry's audit chain uses, for commands that open its store directly.
enum YizhanCryptoDigest {
    static let sha256Hex: @Sendable ([UInt8]) -> String = { Digest.sha256Hex($0) }
}
