import Foundation
import Logging
import Testing
import YizhanCore
import YizhanMonitor
import YizhanRegistry

/// Every route in Schemas/registry.openapi.yaml exists in the server, and every server route is in the spec.
@Suite struct OpenAPICoverageTests {
    func specRoutes(_ file: String = "registry.openapi.yaml") throws -> Set<String> {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let spec = repo.appendingPathComponent("Schemas/\(file)").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", """
        import sys, yaml
        doc = yaml.safe_load(open(sys.argv[1]))
        for path, item in doc["paths"].items():
            for method in item:
                if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                    print(method.upper(), path)
        """, spec]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw TestFailure("could not read \(spec)") }
        return Set(text.split(separator: "\n").map(String.init))
    }

    @Test func specAndServerAgree() async throws {
        let dir = NSTemporaryDirectory() + "yizhan-openapi-" + UUIDv7.make()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // No broker needed to list routes: a registry without broker-admin credentials.
        _ = try await Registry.initialize(home: RegistryHome(dir), config: .init(name: "Spec CA", vhost: "x", amqpHost: "127.0.0.1", amqpPort: 5672, listen: "127.0.0.1:0"),
                                          brokerAdminURL: nil)
        let registry = try Registry.open(home: RegistryHome(dir), logger: Logger(label: "test"))
        let server = Set(registry.router().routes.map { r in
            // Hummingbird writes parameters as :name, OpenAPI as {name}.
            let path = r.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            return "\(r.method.rawValue) /\(path)"
        })
        let spec = try specRoutes()
        #expect(server.count >= 20)
        #expect(server.subtracting(spec).isEmpty, "routes missing from the spec: \(server.subtracting(spec).sorted())")
        #expect(spec.subtracting(server).isEmpty, "spec routes the server lacks: \(spec.subtracting(server).sorted())")
    }

    @Test func monitorSpecAndServerAgree() throws {
        let monitor = try Monitor(config: .init(brokerAdmin: "http://127.0.0.1:9", vhost: "x", registry: nil))
        let server = Set(monitor.router().routes.map { "\($0.method.rawValue) \($0.path.description.hasPrefix("/") ? "" : "/")\($0.path.description)" })
        let spec = try specRoutes("monitor.openapi.yaml")
        #expect(server == spec, "server \(server.sorted()) vs spec \(spec.sorted())")
    }
}
