import Foundation
import Synchronization
import YizhanCore

/// Documents handed to a running gateway instead of written into its store by another process.
///
/// `doc send` used to commit each draft into the gateway's database itself; the gateway then found
/// it at its next look (every 10 ms) and signed it in a second commit, and the two processes queued
/// for the database's one write lock. Handed over, the gateway stores and signs whatever has
/// arrived in one commit of its own and answers each submitter only after that commit is on the
/// disk, so "stored" means what it meant before. When no gateway runs, `doc send` stores the draft
/// itself as before (`submitOrStore`).
///
/// A Unix stream socket in Linux's abstract namespace, named after the store's path like the knock;
/// the kernel's `SO_PEERCRED` tells the gateway who connected, and only the gateway's own user (or
/// root) may hand over, the same people who can write its database. Frames are a 4-byte big-endian
/// length and a JSON object: a submission one way, an answer naming the draft's id the other.
public enum HandOver {
    /// The largest frame either side reads: inline parts travel in base64url and stay under the
    /// largest chunk size, so this only stops a runaway peer.
    public static let maximumFrame = 48 << 20

    static func name(_ database: String) -> [UInt8] { Knock.name(database, prefix: "yizhan-handover-") }

    /// The refusal an answer carries for `error`: itself when it is one, otherwise its text (after `context`).
    public static func reason(_ error: any Error, context: String? = nil) -> YizhanError {
        error as? YizhanError ?? YizhanError(.invalidArgument, context.map { "\($0): \(error)" } ?? "\(error)")
    }

    /// A draft and, when it was stamped, who unlocked the seal (stored in the same transaction).
    public struct Submission: Sendable {
        public var draft: GatewayStore.Draft
        public var stamp: GatewayStore.StampRecord?
        public init(draft: GatewayStore.Draft, stamp: GatewayStore.StampRecord? = nil) { self.draft = draft; self.stamp = stamp }
    }

    /// The gateway's answer for one draft: stored (durably), or refused with the reason and nothing stored.
    public struct Answer: Sendable, Equatable {
        public var id: String
        public var refusal: YizhanError?
        public init(id: String, refusal: YizhanError?) { self.id = id; self.refusal = refusal }
    }

    // MARK: wire format

    struct WirePart: Codable { var name: String, mediaType: String, data: String, sha256: String }
    struct WireFile: Codable { var name: String, mediaType: String, size: Int, sha256: String, file: String }
    struct WireStamp: Codable { var sealID: String, custodians: [String], stampedAt: Double }
    struct WireSubmission: Codable {
        var id: String
        var kind: Envelope.Kind
        var document: DocumentInfo?
        var inReplyTo: String?
        var recipients: [Envelope.Recipient]
        var parts: [WirePart]
        var files: [WireFile]
        var extras: GatewayStore.Extras?
        var stamp: WireStamp?
    }
    struct WireAnswer: Codable { var id: String, stored: Bool, code: String?, message: String? }

    static func frame(_ value: some Encodable) throws -> [UInt8] {
        let body = try JSONValue.from(value).canonicalBytes()
        return withUnsafeBytes(of: UInt32(body.count).bigEndian) { Array($0) } + body
    }

    public static func encode(_ s: Submission) throws -> [UInt8] {
        let d = s.draft
        return try frame(WireSubmission(
            id: d.id, kind: d.kind, document: d.document, inReplyTo: d.inReplyTo, recipients: d.recipients,
            parts: d.parts.map { WirePart(name: $0.name, mediaType: $0.mediaType, data: Base64URL.encode($0.data), sha256: $0.sha256) },
            files: d.files.map { WireFile(name: $0.name, mediaType: $0.mediaType, size: $0.size, sha256: $0.sha256, file: $0.file) },
            extras: d.extras.isEmpty ? nil : d.extras,
            stamp: s.stamp.map { WireStamp(sealID: $0.sealID, custodians: $0.custodians, stampedAt: $0.stampedAt.timeIntervalSince1970) }))
    }

    /// A submission from its frame's body; any fault is one `YizhanError` with the reason.
    public static func decodeSubmission(_ body: [UInt8]) throws(YizhanError) -> Submission {
        let w: WireSubmission
        do { w = try JSONValue.parse(body).decode(WireSubmission.self) } catch let e as YizhanError { throw e } catch {
            throw YizhanError(.schemaViolation, "not a submission: \(error)")
        }
        guard !w.id.isEmpty, w.id.utf8.count <= 64, w.id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw YizhanError(.invalidArgument, "a submission's id must be 1 to 64 printable ASCII characters")
        }
        guard w.kind != .receipt else { throw YizhanError(.invalidArgument, "receipts are made by the gateway, not handed to it") }
        var parts: [GatewayStore.PartData] = []
        for p in w.parts {
            guard let data = Base64URL.decode(p.data) else { throw YizhanError(.schemaViolation, "part \(p.name): data is not base64url") }
            parts.append(.init(name: p.name, mediaType: p.mediaType, data: data, sha256: p.sha256))
        }
        let draft = GatewayStore.Draft(id: w.id, kind: w.kind, document: w.document, inReplyTo: w.inReplyTo, recipients: w.recipients, parts: parts,
                                       files: w.files.map { .init(name: $0.name, mediaType: $0.mediaType, size: $0.size, sha256: $0.sha256, file: $0.file) },
                                       extras: w.extras ?? .init())
        return Submission(draft: draft, stamp: w.stamp.map { .init(sealID: $0.sealID, custodians: $0.custodians, stampedAt: Date(timeIntervalSince1970: $0.stampedAt)) })
    }

    static func encode(_ a: Answer) throws -> [UInt8] {
        try frame(WireAnswer(id: a.id, stored: a.refusal == nil, code: a.refusal?.code.rawValue, message: a.refusal?.message))
    }

    static func decodeAnswer(_ body: [UInt8]) throws(YizhanError) -> Answer {
        let w: WireAnswer
        do { w = try JSONValue.parse(body).decode(WireAnswer.self) } catch let e as YizhanError { throw e } catch {
            throw YizhanError(.remote, "the gateway's answer is not one: \(error)")
        }
        return Answer(id: w.id, refusal: w.stored ? nil : YizhanError(.init(rawValue: w.code ?? "remote"), w.message ?? "refused"))
    }

    /// One frame's body from `socket`; nil when the peer closed the connection between frames.
    static func readFrame(_ socket: HandOverSocket) throws(YizhanError) -> [UInt8]? {
        guard let head = socket.read(exactly: 4) else { return nil }
        let length = head.reduce(0) { $0 << 8 | Int($1) }
        guard length <= maximumFrame else { throw YizhanError(.oversize, "a hand-over frame of \(length) bytes; at most \(maximumFrame)") }
        guard let body = socket.read(exactly: length) else { throw YizhanError(.remote, "the hand-over connection closed inside a frame") }
        return body
    }
}

extension HandOver {
    /// A connection to a running gateway. Submissions may be written ahead of their answers
    /// (one thread writing, another reading); answers come back in the order the gateway stores.
    public final class Client: Sendable {
        let socket: HandOverSocket

        init(socket: HandOverSocket) { self.socket = socket }

        /// nil when no gateway runs for this store.
        /// nil when no gateway runs for this store. An answer that takes more than `timeout`
        /// seconds (a gateway stuck on its disk) counts as none.
        public static func connect(database: String, timeout: Int = 60) throws(YizhanError) -> Client? {
            guard let s = try HandOverSocket.connected(to: HandOver.name(database)) else { return nil }
            s.setReceiveTimeout(milliseconds: timeout * 1000)
            return Client(socket: s)
        }

        public func send(_ s: Submission) throws {
            try socket.write(try HandOver.encode(s))
        }

        /// Sends a submission encoded beforehand with `HandOver.encode` (a load generator prepares
        /// its frames before it starts the clock).
        public func send(encoded frame: [UInt8]) throws {
            try socket.write(frame)
        }

        /// The next answer; throws when the gateway went away before giving it.
        public func answer() throws(YizhanError) -> Answer {
            guard let body = try HandOver.readFrame(socket) else {
                throw YizhanError(.remote, "the gateway closed the connection or did not answer in time")
            }
            return try HandOver.decodeAnswer(body)
        }

        /// Hands over one draft and waits until the gateway has stored it or refused it (the answer
        /// says which); throws only when the connection failed, and then nobody knows which.
        public func submit(_ s: Submission) throws -> Answer {
            try send(s)
            return try answer()
        }
    }

    /// Hands `submission` to the gateway running on `store`, or stores it directly when none runs.
    /// True when the gateway took it. A gateway that goes away before answering leaves the clerk
    /// an error naming the id (it may or may not have been stored: `doc show` tells).
    @discardableResult
    public static func submitOrStore(_ submission: Submission, store: GatewayStore) throws -> Bool {
        guard let client = try Client.connect(database: store.path) else {
            try store.enqueue(submission.draft, stamped: submission.stamp)
            return false
        }
        let answer: Answer
        do {
            answer = try client.submit(submission)
        } catch {
            throw YizhanError(.outcomeUnknown, "\((error as? YizhanError)?.message ?? "\(error)"); whether \(submission.draft.id) was stored, `yizhan doc show` tells")
        }
        if let refusal = answer.refusal { throw refusal }
        guard answer.id == submission.draft.id else { throw YizhanError(.remote, "the gateway answered for \(answer.id), not \(submission.draft.id)") }
        return true
    }
}

extension HandOver {
    /// Where the gateway answers a connection's submissions; safe from any thread.
    public final class Responder: Sendable {
        let socket: HandOverSocket
        let writing = Mutex(())

        init(socket: HandOverSocket) { self.socket = socket }

        /// Never waits: the send loop answers, and a submitter that stopped reading must not hold up
        /// the unit's documents. One that let its answers pile up past the socket's buffer is hung
        /// up on (what it handed over is stored all the same); one that went away misses its answer.
        public func answer(_ a: Answer) {
            guard let bytes = try? HandOver.encode(a) else { return }
            writing.withLock { _ in
                if !socket.writeWithoutWaiting(bytes) { socket.shutdownBoth() }
            }
        }
    }

    /// The gateway's side: a thread accepting connections and one thread per connection reading
    /// its submissions; each decoded submission goes to `received` with the connection's responder,
    /// each undecodable one is answered with the reason at once (the frame boundary keeps the
    /// connection usable). At most 64 connections at a time.
    public final class Listener: Sendable {
        /// Held here only until `stop()`: the accepting thread keeps its own reference, so the
        /// name is free (and `doc send` stores by itself) as soon as that thread ends.
        let listening: Mutex<HandOverSocket?>
        let name: [UInt8]
        let stopped = Atomic<Bool>(false)
        let open = Mutex<[ObjectIdentifier: HandOverSocket]>([:])
        let ended = DispatchSemaphore(value: 0)

        public init(database: String, received: @escaping @Sendable (Submission, Responder) -> Void) throws {
            name = HandOver.name(database)
            listening = Mutex(try HandOverSocket.listening(on: name))
            let t = Thread { [self] in
                // The listening socket is borrowed for one wait at a time, so that once `stop()` has
                // taken it away, it closes (and the name is free) as this iteration ends.
                while !stopped.load(ordering: .acquiring) {
                    guard let s = listening.withLock({ $0 }) else { break }
                    if let c = s.accept(timeoutMilliseconds: 1000), !stopped.load(ordering: .acquiring) { serve(c, received) }
                }
                ended.signal()
            }
            t.name = "yizhan-handover"
            t.start()
        }

        func serve(_ c: HandOverSocket, _ received: @escaping @Sendable (Submission, Responder) -> Void) {
            let responder = Responder(socket: c)
            guard let uid = c.peerUID, uid == HandOverSocket.ownUID || uid == 0 else {
                responder.answer(Answer(id: "", refusal: YizhanError(.forbidden, "only the gateway's own user may hand it documents")))
                return
            }
            let admitted = open.withLock { o in
                guard o.count < 64 else { return false }
                o[ObjectIdentifier(c)] = c
                return true
            }
            guard admitted else {
                responder.answer(Answer(id: "", refusal: YizhanError(.conflict, "too many hand-over connections; try again")))
                return
            }
            let t = Thread { [self] in
                defer { _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(c)) } }
                while !stopped.load(ordering: .acquiring) {
                    let body: [UInt8]
                    do {
                        guard let b = try HandOver.readFrame(c) else { return }
                        body = b
                    } catch {
                        // Out of step with the peer (oversize, cut off): say why and hang up.
                        responder.answer(Answer(id: "", refusal: HandOver.reason(error)))
                        return
                    }
                    do {
                        received(try HandOver.decodeSubmission(body), responder)
                    } catch {
                        responder.answer(Answer(id: Self.id(in: body) ?? "", refusal: HandOver.reason(error)))
                    }
                }
            }
            t.name = "yizhan-handover-conn"
            t.start()
        }

        /// The id of an undecodable submission, when it has one, so that the answer names it.
        static func id(in body: [UInt8]) -> String? {
            (try? JSONValue.parse(body))?.objectValue?["id"]?.stringValue
        }

        /// Stops taking connections and hangs up the open ones (their threads end with them).
        /// Blocks for at most a moment, while the accepting thread lets go of the socket.
        public func stop() {
            stopped.store(true, ordering: .releasing)
            _ = listening.withLock { $0.take() }
            _ = try? HandOverSocket.connected(to: name)
            for c in open.withLock({ Array($0.values) }) { c.shutdownBoth() }
            // Returns once the name is free: a `doc send` right after then stores by itself.
            _ = ended.wait(timeout: .now() + 3)
        }
    }
}
