import Foundation
import Hummingbird
import Logging
import NIOCore
import YizhanCore

/// The registry's HTTP API (Schemas/registry.openapi.yaml). Administrator routes need
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
                return try Self.json(.ok, registry.store.units())
            }
        }
        router.get("/v1/units/:code") { req, ctx in
            try await Self.guarded {
                let code = ctx.parameters.get("code") ?? ""
                _ = try registry.authorize(bearer: Self.bearer(req), unit: code)
                guard let u = try registry.store.unit(code: code) else { throw YizhanError(.notFound, "no unit \(code)") }
                return try Self.json(.ok, u)
            }
        }
        router.get("/v1/units/:code/names") { req, ctx in
            try await Self.guarded {
                let code = ctx.parameters.get("code") ?? ""
                _ = try registry.authorize(bearer: Self.bearer(req), unit: code)
                return try Self.json(.ok, registry.store.names(code: code))
            }
        }
        router.get("/v1/units/:code/certificate") { req, ctx in
            try await Self.guarded {
                let code = ctx.parameters.get("code") ?? ""
                _ = try registry.authorize(bearer: Self.bearer(req), unit: code)
                return Response(status: .ok, headers: [.contentType: "application/x-pem-file"],
                                body: .init(byteBuffer: ByteBuffer(string: try registry.currentCertificate(code: code))))
            }
        }
        router.get("/v1/units/:code/roster") { req, ctx in
            try await Self.guarded {
                let code = ctx.parameters.get("code") ?? ""
                _ = try registry.authorize(bearer: Self.bearer(req), unit: code)
                return try Self.json(.ok, registry.store.roster(code: code))
            }
        }
        router.put("/v1/units/:code/roster") { req, ctx in
            try await Self.guarded {
                let code = ctx.parameters.get("code") ?? ""
                let p = try registry.authorize(bearer: Self.bearer(req), unit: code)
                let entries: [RegistryAPI.RosterEntry] = try await Self.decode(req)
                for e in entries where e.account.isEmpty || e.name.isEmpty || e.role.isEmpty {
                    throw YizhanError(.invalidArgument, "every roster entry needs account, name and role")
                }
                try registry.store.fileRoster(code: code, entries: entries.map { .init(account: $0.account, name: $0.name, role: $0.role) }, by: p.actor)
                return try Self.json(.ok, registry.store.roster(code: code))
            }
        }
        router.get("/v1/names") { req, _ in
            try await Self.guarded {
                _ = try registry.authorize(bearer: Self.bearer(req))
                let q = req.uri.queryParameters.get("q") ?? ""
                guard !q.isEmpty else { throw YizhanError(.invalidArgument, "give ?q=part of a name") }
                return try Self.json(.ok, registry.store.searchNames(q))
            }
        }
        router.post("/v1/certificates/:serial/revoke") { req, ctx in
            try await Self.guarded {
                let actor = try registry.authorize(bearer: Self.bearer(req))
                let body: RegistryAPI.Decision = try await Self.decode(req)
                try await registry.revoke(serial: ctx.parameters.get("serial") ?? "", reason: body.reason ?? "", actor: actor)
                return try Self.json(.ok, JSONValue.object(["revoked": .bool(true)]))
            }
        }
        router.get("/v1/audit") { req, _ in
            try await Self.guarded {
                _ = try registry.authorize(bearer: Self.bearer(req))
                return try Self.json(.ok, registry.store.auditLog())
            }
        }
        router.get("/v1/audit/verify") { req, _ in
            try await Self.guarded {
                _ = try registry.authorize(bearer: Self.bearer(req))
                return try Self.json(.ok, registry.store.verifyAudit().map(\.description))
            }
        }
        router.post("/v1/enrol") { req, _ in
            try await Self.guarded {
                let body: RegistryAPI.Enrol = try await Self.decode(req)
                return Self.json(.ok, try JSONValue.from(try await registry.enrol(body)).canonicalBytes())
            }
        }
        router.post("/v1/applications") { req, _ in
            try await Self.guarded {
                let body: RegistryAPI.Apply = try await Self.decode(req)
                let (r, secret) = try registry.apply(body)
                return try Self.json(.created, RegistryAPI.Applied(id: r.id, applicantSecret: secret))
            }
        }
        router.get("/v1/applications/:id") { req, ctx in
            try await Self.guarded {
                let id = ctx.parameters.get("id") ?? ""
                if let p = try? registry.principal(bearer: Self.bearer(req)), case .admin = p {
                    guard let r = try registry.store.request(id: id) else { throw YizhanError(.notFound, "no application \(id)") }
                    return try Self.json(.ok, r)
                }
                return try Self.json(.ok, registry.application(id: id, secret: Self.bearer(req) ?? ""))
            }
        }
        router.delete("/v1/applications/:id") { req, ctx in
            try await Self.guarded {
                let id = ctx.parameters.get("id") ?? ""
                var actor = "applicant"
                if let p = try? registry.principal(bearer: Self.bearer(req)), case .admin = p { actor = p.actor } else {
                    _ = try registry.application(id: id, secret: Self.bearer(req) ?? "")
                }
                try registry.store.cancel(id: id, by: actor, reason: "cancelled by the \(actor == "applicant" ? "applicant" : "administrator")")
                return try Self.json(.ok, registry.store.request(id: id))
            }
        }
        router.get("/v1/requests") { req, _ in
            try await Self.guarded {
                _ = try registry.authorize(bearer: Self.bearer(req))
                return try Self.json(.ok, registry.store.requests(state: req.uri.queryParameters.get("state").map { String($0) }))
            }
        }
        router.post("/v1/requests") { req, _ in
            try await Self.guarded {
                let actor = try registry.authorize(bearer: Self.bearer(req))
                let body: RegistryAPI.LifecycleRequest = try await Self.decode(req)
                return try Self.json(.created, registry.request(body, actor: actor))
            }
        }
        router.post("/v1/requests/:id/approve") { req, ctx in
            try await Self.guarded {
                let actor = try registry.authorize(bearer: Self.bearer(req))
                let body: RegistryAPI.Decision = (try? await Self.decode(req)) ?? RegistryAPI.Decision(reason: nil)
                let (r, added) = try await registry.decide(id: ctx.parameters.get("id") ?? "", approve: true, actor: actor, reason: body.reason)
                return try Self.json(.ok, RegistryAPI.Decided(request: try JSONValue.from(r), added: added))
            }
        }
        router.post("/v1/requests/:id/reject") { req, ctx in
            try await Self.guarded {
                let actor = try registry.authorize(bearer: Self.bearer(req))
                let body: RegistryAPI.Decision = try await Self.decode(req)
                let (r, _) = try await registry.decide(id: ctx.parameters.get("id") ?? "", approve: false, actor: actor, reason: body.reason)
                return try Self.json(.ok, RegistryAPI.Decided(request: try JSONValue.from(r), added: nil))
            }
        }
        router.post("/v1/requests/:id/cancel") { req, ctx in
            try await Self.guarded {
                let actor = try registry.authorize(bearer: Self.bearer(req))
                let body: RegistryAPI.Decision = (try? await Self.decode(req)) ?? RegistryAPI.Decision(reason: nil)
                let id = ctx.parameters.get("id") ?? ""
                try registry.store.cancel(id: id, by: actor, reason: body.reason)
                return try Self.json(.ok, registry.store.request(id: id))
            }
        }
        addSealRoutes(router)
        return router
    }

    func addSealRoutes(_ router: Router<BasicRequestContext>) {
        let registry = self
        router.post("/v1/units/:code/seals") { req, ctx in
            try await Self.guarded {
                let code = ctx.parameters.get("code") ?? ""
                let p = try registry.authorize(bearer: Self.bearer(req), unit: code)
                let body: RegistryAPI.SealApply = try await Self.decode(req)
                return try Self.json(.created, registry.applySeal(unit: code, body, actor: p.actor))
            }
        }
        router.get("/v1/units/:code/seals") { req, ctx in
            try await Self.guarded {
                let code = ctx.parameters.get("code") ?? ""
                _ = try registry.authorize(bearer: Self.bearer(req), unit: code)
                return try Self.json(.ok, registry.store.seals(unit: code))
            }
        }
        router.get("/v1/seals") { req, _ in
            try await Self.guarded {
                _ = try registry.authorize(bearer: Self.bearer(req))
                return try Self.json(.ok, registry.store.seals())
            }
        }
        router.get("/v1/seals/:id") { req, ctx in
            try await Self.guarded {
                let id = ctx.parameters.get("id") ?? ""
                guard let r = try registry.store.seal(id: id) else { throw YizhanError(.notFound, "no seal \(id)") }
                _ = try registry.authorize(bearer: Self.bearer(req), unit: r.unit)
                return try Self.json(.ok, r)
            }
        }
        router.get("/v1/seals/:id/image") { _, ctx in
            try await Self.guarded {
                let id = ctx.parameters.get("id") ?? ""
                guard let img = try registry.store.sealImage(id: id) else { throw YizhanError(.notFound, "no seal \(id)") }
                return Response(status: .ok, headers: [.contentType: img.mediaType], body: .init(byteBuffer: ByteBuffer(bytes: img.bytes)))
            }
        }
        for (verb, approve) in [("approve", true), ("reject", false)] {
            router.post("/v1/seals/:id/\(verb)") { req, ctx in
                try await Self.guarded {
                    let actor = try registry.authorize(bearer: Self.bearer(req))
                    let body: RegistryAPI.Decision = (try? await Self.decode(req)) ?? RegistryAPI.Decision(reason: nil)
                    return try Self.json(.ok, registry.store.decideSeal(id: ctx.parameters.get("id") ?? "", approve: approve, by: actor, reason: body.reason))
                }
            }
        }
        router.post("/v1/seals/:id/make") { req, ctx in
            try await Self.guarded {
                let p = try registry.principal(bearer: Self.bearer(req))
                let body: RegistryAPI.SealMake = try await Self.decode(req)
                return try Self.json(.ok, try await registry.makeSeal(id: ctx.parameters.get("id") ?? "", body, principal: p))
            }
        }
        router.post("/v1/seals/:id/destroy") { req, ctx in
            try await Self.guarded {
                let actor = try registry.authorize(bearer: Self.bearer(req))
                let body: RegistryAPI.SealDestroy = try await Self.decode(req)
                return try Self.json(.ok, try await registry.destroySeal(id: ctx.parameters.get("id") ?? "", body, actor: actor))
            }
        }
        router.post("/v1/seals/:id/wiped") { req, ctx in
            try await Self.guarded {
                let id = ctx.parameters.get("id") ?? ""
                guard case .unit(let code) = try registry.principal(bearer: Self.bearer(req)) else {
                    throw YizhanError(.forbidden, "only the seal's own gateway reports its key wiped")
                }
                return try Self.json(.ok, registry.store.sealKeyWiped(id: id, unit: code))
            }
        }
        router.post("/v1/prints") { req, _ in
            try await Self.guarded {
                let p = try registry.principal(bearer: Self.bearer(req))
                let body: RegistryAPI.PrintRequest = try await Self.decode(req)
                return try Self.json(.created, registry.certifyPrint(body, principal: p))
            }
        }
        router.get("/v1/prints/:code") { _, ctx in
            try await Self.guarded { try Self.json(.ok, registry.verifyPrint(code: ctx.parameters.get("code") ?? "")) }
        }
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

    static func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) throws -> Response {
        json(status, try JSONValue.from(value).canonicalBytes())
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
            case .forbidden: status = .forbidden
            case .notFound: status = .notFound
            case .conflict: status = .conflict
            case .invalidArgument, .invalidUnitCode, .malformedJSON, .badSeal, .sealRevoked: status = .badRequest
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
