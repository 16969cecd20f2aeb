import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import YizhanCore

/// Minimal JSON-over-HTTP calls for the registry's outward traffic (the RabbitMQ management API).
/// Credentials travel in the Authorization header and never appear in errors.
public struct HTTPClient: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    public let baseURL: URL
    let authorization: String?

    /// `base` may carry `user:password@`; they are moved into a Basic Authorization header.
    public init(base: String) throws(YizhanError) {
        guard var c = URLComponents(string: base), c.scheme == "http" || c.scheme == "https", c.host != nil else {
            throw YizhanError(.configuration, "not an http(s) URL: \(Self.redact(base))")
        }
        if let u = c.user {
            let p = c.password ?? ""
            authorization = "Basic " + Data("\(u.removingPercentEncoding ?? u):\(p.removingPercentEncoding ?? p)".utf8).base64EncodedString()
        } else {
            authorization = nil
        }
        c.user = nil
        c.password = nil
        guard let url = c.url else { throw YizhanError(.configuration, "bad URL \(Self.redact(base))") }
        baseURL = url
    }

    public init(baseURL: URL, bearer: String?) {
        self.baseURL = baseURL
        self.authorization = bearer.map { "Bearer \($0)" }
    }

    static func redact(_ s: String) -> String {
        guard var c = URLComponents(string: s) else { return "<url>" }
        if c.password != nil { c.password = "***" }
        return c.string ?? "<url>"
    }

    public func request(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json") async throws -> Response {
        guard let url = URL(string: baseURL.absoluteString.trimmingSuffix("/") + path) else {
            throw YizhanError(.invalidArgument, "bad request path \(path)")
        }
        var req = URLRequest(url: url)
        req.httpMethod = method
        req.timeoutInterval = 30
        if let authorization { req.setValue(authorization, forHTTPHeaderField: "Authorization") }
        if let body {
            req.httpBody = Data(body)
            req.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        do {
            let (data, resp) = try await HTTPClient.data(for: req)
            return Response(status: (resp as? HTTPURLResponse)?.statusCode ?? 0, body: Array(data))
        } catch {
            throw YizhanError(.remote, "\(method) \(baseURL.host ?? "")\(path): \(error.localizedDescription)")
        }
    }

    /// Every HTTP exchange of Yizhan goes through here. It runs in a detached task so that
    /// cancelling the caller (a service shutting down) does not cancel the URLSession task in
    /// flight: swift-corelibs-foundation can abort the process ("a behaviour for a task that is
    /// not in the registry") when a request is cancelled while it completes. Requests time out
    /// after 30 s, so a shutdown waits at most that long.
    public static func data(for request: URLRequest) async throws -> (Data, URLResponse) {
        let r = request
        return try await Task.detached { try await URLSession.shared.data(for: r) }.value
    }

    public func json<T: Encodable>(_ method: String, _ path: String, _ value: T) async throws -> Response {
        try await request(method, path, body: JSONValue.from(value).canonicalBytes())
    }
}

extension String {
    public func trimmingSuffix(_ s: String) -> String { hasSuffix(s) ? String(dropLast(s.count)) : self }

    /// One path segment for the management API (vhost "/" becomes %2F).
    public var pathSegment: String {
        addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~")) ?? self
    }
}
