import Foundation
import YizhanCore

/// Validates envelopes against Schemas/envelope.schema.json with an independent JSON Schema
/// 2020-12 validator (python3-jsonschema, installed by Deploy/setup.sh). One result per envelope:
/// nil when valid, else the validator's message.
func schemaErrors(_ envelopes: [[UInt8]]) throws -> [String?] {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let schema = repo.appendingPathComponent("Schemas/envelope.schema.json").path
    let script = """
    import json, sys
    from jsonschema import Draft202012Validator, FormatChecker
    schema = json.load(open(sys.argv[1]))
    Draft202012Validator.check_schema(schema)
    v = Draft202012Validator(schema, format_checker=FormatChecker())
    for line in sys.stdin:
        errs = sorted(v.iter_errors(json.loads(line)), key=lambda e: list(e.path))
        print("ok" if not errs else "; ".join(e.message for e in errs)[:500])
    """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "/usr/bin/env")
    p.arguments = (p.executableURL?.path == "/usr/bin/env" ? ["python3"] : []) + ["-c", script, schema]
    let input = Pipe(), output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    try p.run()
    var data = Data()
    for e in envelopes { data.append(contentsOf: e); data.append(0x0A) }
    input.fileHandleForWriting.write(data)
    try input.fileHandleForWriting.close()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw TestFailure("schema validator exited \(p.terminationStatus)") }
    let lines = String(decoding: out, as: UTF8.self).split(separator: "\n").map(String.init)
    guard lines.count == envelopes.count else { throw TestFailure("validator answered \(lines.count) lines for \(envelopes.count) envelopes") }
    return lines.map { $0 == "ok" ? nil : $0 }
}
