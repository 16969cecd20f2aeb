import Foundation
import Hummingbird
import Logging
import NIOCore
import YizhanCore

/// The registry's HTTP API (Schemas/registry-api.yaml). Administrator routes need
/// `Authorization: Bearer <token>`; nothing changes without one.
extension Registry {
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let registry = self
        router.get("/v1/health") { _, _ in Self.json(.ok, JSONValue.object(["status": .string("ok")]).canonicalBytes()) }
        router.get("/v1/ca") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-pem-file"],
                     body: .init(byteBuffer: ByteBuffer(string: registry.ca.certificate.pem)))
        }
        router.get("/v1/directory") { _, _ in
            try await Self.guarded { Self.json(.ok, try registry.directoryBytes()) }
        }
        router.post("/v1/units") { req, _ in
            try await Self.guarded {
                let actor = try registry.authorize(bearer: Self.bearer(req))
                let body: RegistryAPI.AddUnit = try await Self.decode(req)
                let added = try await registry.addUnit(body, actor: actor)
                return Self.json(.created, try JSONValue.from(added).canonicalBytes())
            }
        }
        router.get("/v1/units") { req, _ in
            try await Self.guarded {
                _ = try registry.authorize(bearer: Self.bearer(req))
                return Self.json(.ok, try JSONValue.from(try registry.store.units()).canonicalBytes())
            }
        }
        router.get("/v1/units/:code") { req, ctx in
            try await Self.guarded {
                _ = try registry.authorize(bearer: Self.bearer(req))
                let code = ctx.parameters.get("code") ?? ""
                guard let u = try registry.store.unit(code: code) else { throw YizhanError(.notFound, "no unit \(code)") }
                return Self.json(.ok, try JSONValue.from(u).canonicalBytes())
            }
        }
        router.get("/v1/audit") { req, _ in
            try await Self.guarded {
                _ = try registry.authorize(bearer: Self.bearer(req))
                return Self.json(.ok, try JSONValue.from(try registry.store.auditLog()).canonicalBytes())
            }
        }
        router.post("/v1/enrol") { req, _ in
            try await Self.guarded {
                let body: RegistryAPI.Enrol = try await Self.decode(req)
                return Self.json(.ok, try JSONValue.from(try await registry.enrol(body)).canonicalBytes())
            }
        }
        return router
    }

    static func bearer(_ req: Request) -> String? {
        guard let h = req.headers[.authorization], h.hasPrefix("Bearer ") else { return nil }
        return String(h.dropFirst(7))
    }

    static func decode<T: Decodable>(_ req: Request) async throws -> T {
        let buffer = try await req.body.collect(upTo: 1 << 20)
        let bytes = Array(buffer.readableBytesView)
        do { return try JSONValue.parse(bytes).decode(T.self) } catch let e as YizhanError { throw e } catch {
            throw YizhanError(.invalidArgument, "request body: \(error)")
        }
    }

    static func json(_ status: HTTPResponse.Status, _ bytes: [UInt8]) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Maps typed errors to statuses with a `{"error","message"}` body.
    static func guarded(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let e as YizhanError {
            let status: HTTPResponse.Status
            switch e.code {
            case .unauthorized: status = .unauthorized
            case .notFound: status = .notFound
            case .conflict: status = .conflict
            case .invalidArgument, .invalidUnitCode, .malformedJSON: status = .badRequest
            case .remote: status = .badGateway
            default: status = .internalServerError
            }
            return json(status, (try? JSONValue.from(RegistryAPI.Problem(error: e.code.rawValue, message: e.message)).canonicalBytes()) ?? [])
        } catch {
            return json(.badRequest, (try? JSONValue.from(RegistryAPI.Problem(error: "invalid", message: "\(error)")).canonicalBytes()) ?? [])
        }
    }

    /// The HTTP server as a service for a `ServiceGroup`; `onListening` reports the bound port.
    public func application(host: String, port: Int, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "yizhan-registry"),
                    onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }
}
