import Foundation
import Testing

/// The deployment files (systemd units, RabbitMQ definitions and configuration, compose file)
/// checked as far as this machine can: Deploy/check-deploy.sh, which loads the definitions into
/// the real broker under a throw-away vhost. In the serialized broker suite: the fault test restarts the broker.
extension BrokerTests {
    @Test func deploymentFilesCheck() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [repo.appendingPathComponent("Deploy/check-deploy.sh").path]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(o)\(e)")
        #expect(o.contains("all checks passed"))
        #expect(o.components(separatedBy: "verifies").count - 1 == 3)
    }
}

extension BrokerTests {
    /// Deploy/tls.sh makes a CA and a broker certificate that openssl verifies for the host names
    /// given, and the listener configuration; a second run changes nothing.
    @Test func tlsScriptMakesAVerifiableBrokerCertificate() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = NSTemporaryDirectory() + "yizhan-tls-" + UUID().uuidString.lowercased()
        defer { try? FileManager.default.removeItem(atPath: dir); try? FileManager.default.removeItem(atPath: dir + ".conf") }
        func run(_ exe: String, _ args: [String], env: [String: String] = [:]) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = args
            p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
            let out = Pipe()
            p.standardOutput = out
            p.standardError = out
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, text)
        }
        let env = ["YIZHAN_TLS_DIR": dir, "YIZHAN_RABBITMQ_CONF": dir + ".conf", "YIZHAN_TLS_NO_RESTART": "1", "YIZHAN_TLS_HOSTS": "DNS:mq1.example,DNS:localhost"]
        let first = try run("/bin/bash", [repo.appendingPathComponent("Deploy/tls.sh").path], env: env)
        #expect(first.0 == 0, "\(first.1)")
        #expect(try run("/usr/bin/openssl", ["verify", "-CAfile", dir + "/ca.pem", dir + "/server.pem"]).1.contains("OK"))
        #expect(try run("/usr/bin/openssl", ["verify", "-CAfile", dir + "/ca.pem", "-verify_hostname", "mq1.example", dir + "/server.pem"]).0 == 0)
        #expect(try run("/usr/bin/openssl", ["verify", "-CAfile", dir + "/ca.pem", "-verify_hostname", "evil.example", dir + "/server.pem"]).0 != 0)
        let conf = try String(contentsOfFile: dir + ".conf", encoding: .utf8)
        #expect(conf.contains("listeners.ssl.default = 5671") && conf.contains("ssl_options.certfile = \(dir)/server.pem"))
        let second = try run("/bin/bash", [repo.appendingPathComponent("Deploy/tls.sh").path], env: env)
        #expect(second.0 == 0 && second.1.isEmpty, "a second run changes nothing: \(second.1)")
        #expect(try String(contentsOfFile: dir + ".conf", encoding: .utf8) == conf)
    }
}
