import Foundation
import Testing

/// Bad input on the command line: one clear line on stderr and a non-zero exit.
@Suite struct CommandLineTests {
    func run(_ args: [String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try yizhanBinary())
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "YIZHAN_ADMIN_TOKEN")
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(arguments: [
        (["doc", "list", "--home", "/nonexistent/yizhan"], "no gateway in"),
        (["doc", "send", "--home", "/nonexistent/yizhan", "--to", "X", "--title", "t"], "no gateway in"),
        (["unit", "add", "--home", "/nonexistent/yizhan", "--code", "11420100MB12345670", "--name", "x"], "check character"),
        (["unit", "list", "--home", "/nonexistent/yizhan", "--registry", "http://127.0.0.1:9"], "administrator token is required"),
        (["registry", "init", "--home", "/tmp/yizhan-never", "--broker", "amqp://user:pw@host/x"], "without credentials"),
        (["registry", "ca", "--home", "/nonexistent/yizhan"], "no registry in"),
        (["gateway", "init", "--home", "/tmp/yizhan-never", "--unit", "11420100MB12345671", "--registry", "http://127.0.0.1:9", "--enrol", "t",
          "--chunk-size", "10"], "chunk size must be"),
        (["doc", "fetch", "--home", "/nonexistent/yizhan", "x", "--out", "/tmp"], "no gateway in"),
    ])
    func badInputIsOneLineAndNonZero(args: [String], says: String) throws {
        let r = try run(args)
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains(says), "\(r.stderr)")
    }
}
