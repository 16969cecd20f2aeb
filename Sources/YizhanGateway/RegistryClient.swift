import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import YizhanCore
import YizhanHTTP

/// What a gateway (and the admin command line) asks of the registry over HTTP.
public struct RegistryClient: Sendable {
    public let base: String
    let adminToken: String?

    public init(base: String, adminToken: String? = nil) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.adminToken = adminToken
    }

    func call(_ method: String, _ path: String, body: [UInt8]? = nil) async throws -> [UInt8] {
        guard let url = URL(string: base + path) else { throw YizhanError(.configuration, "bad registry URL \(base)") }
        var req = URLRequest(url: url)
        req.httpMethod = method
        req.timeoutInterval = 30
        if let adminToken { req.setValue("Bearer \(adminToken)", forHTTPHeaderField: "Authorization") }
        if let body { req.httpBody = Data(body); req.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let data: Data, response: URLResponse
        do { (data, response) = try await HTTPClient.data(for: req) } catch {
            throw YizhanError(.remote, "registry \(base) unreachable: \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            if let p = try? JSONValue.parse(Array(data)).decode(RegistryAPI.Problem.self) {
                throw YizhanError(YizhanError.Code(rawValue: p.error), "registry: \(p.message)")
            }
            throw YizhanError(.remote, "registry answered HTTP \(status)")
        }
        return Array(data)
    }

    public func caPEM() async throws -> String { String(decoding: try await call("GET", "/v1/ca"), as: UTF8.self) }
    public func directory() async throws -> [UInt8] { try await call("GET", "/v1/directory") }

    public func enrol(_ req: RegistryAPI.Enrol) async throws -> RegistryAPI.Enrolled {
        try JSONValue.parse(try await call("POST", "/v1/enrol", body: try JSONValue.from(req).canonicalBytes())).decode(RegistryAPI.Enrolled.self)
    }

    public func addUnit(_ req: RegistryAPI.AddUnit) async throws -> RegistryAPI.AddedUnit {
        try JSONValue.parse(try await call("POST", "/v1/units", body: try JSONValue.from(req).canonicalBytes())).decode(RegistryAPI.AddedUnit.self)
    }

    public func units() async throws -> [JSONValue] {
        try JSONValue.parse(try await call("GET", "/v1/units")).arrayValue ?? []
    }

    public func certificatePEM(unit code: String) async throws -> String {
        String(decoding: try await call("GET", "/v1/units/\(code)/certificate"), as: UTF8.self)
    }

    public func post(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        try JSONValue.parse(try await call("POST", path, body: body.canonicalBytes()))
    }

    public func put(_ path: String, _ body: JSONValue) async throws -> JSONValue {
        try JSONValue.parse(try await call("PUT", path, body: body.canonicalBytes()))
    }

    public func get(_ path: String) async throws -> JSONValue {
        try JSONValue.parse(try await call("GET", path))
    }

    public func delete(_ path: String) async throws -> JSONValue {
        try JSONValue.parse(try await call("DELETE", path))
    }

    public func unit(_ code: String) async throws -> JSONValue {
        try JSONValue.parse(try await call("GET", "/v1/units/\(code)"))
    }
}
