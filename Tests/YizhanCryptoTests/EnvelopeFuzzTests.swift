import Foundation
import Testing
import YizhanCore
@testable import YizhanCrypto

/// A deterministic generator, so that a failing input can be reproduced from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Hostile input for the envelope parser, the signature check and the two binary frames: a seeded
/// mutator runs for a fixed budget (YIZHAN_FUZZ_ITERATIONS, default 4000 per target in CI). Every
/// input must be accepted or refused with a typed error that gives a reason, quickly; a crash fails
/// the run. The seed is printed with any failure.
@Suite struct EnvelopeFuzzTests {
    static var iterations: Int { Int(ProcessInfo.processInfo.environment["YIZHAN_FUZZ_ITERATIONS"] ?? "") ?? 4000 }
    static var seed: UInt64 { UInt64(ProcessInfo.processInfo.environment["YIZHAN_FUZZ_SEED"] ?? "") ?? 20261130 }

    let signed: [UInt8]
    /// An SM2-signed document stamped with an SM2 seal.
    let stamped: [UInt8]
    /// Receipts signed in one batch (shared signature, each with its inclusion proof).
    let batched: [[UInt8]]

    init() throws {
        let ca = try CertificateAuthority.create(name: "Fuzz CA")
        let key = try PrivateKey.generateEd25519()
        let a = try UnitCode.completing("11420100MB1234567"), b = try UnitCode.completing("11420100MB7654321")
        let cert = try ca.issue(unitCode: a.rawValue, unitName: "市建委", publicKey: key.publicKey)
        let env = Envelope(kind: .notice, sender: a, senderName: "市建委", recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()),
                           document: DocumentInfo(title: "关于召开会议的通知", number: "武建〔2026〕3号", type: "通知", urgency: "特急"),
                           parts: [.init(name: "议程.pdf", mediaType: "application/pdf", size: 5_000_000, sha256: String(repeating: "a", count: 64))],
                           signForBy: Timestamp.format(Date().addingTimeInterval(3600)),
                           meeting: MeetingInfo(start: Timestamp.format(Date().addingTimeInterval(86400)), place: "三楼会议室"),
                           transfer: TransferInfo(chunkSize: 1 << 20))
        signed = try SignedEnvelope.sign(env, key: key, certificate: cert).bytes
        let sm2 = try PrivateKey.generate(.sm2), sealKey = try PrivateKey.generate(.sm2)
        let sm2Cert = try ca.issue(unitCode: a.rawValue, unitName: "市建委", publicKey: sm2.publicKey)
        let seal = try ca.issueSeal(unitCode: a.rawValue, unitName: "市建委", sealID: "seal-f", imageSHA256: String(repeating: "b", count: 64), publicKey: sealKey.publicKey)
        let doc = DocumentInfo(title: "关于盖章的通知", number: "武建〔2026〕4号", type: "通知")
        let parts = [Envelope.Part(name: "正文.txt", mediaType: "text/plain", size: 12, sha256: String(repeating: "c", count: 64))]
        var s = Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()), document: doc, parts: parts)
        s.stamp = try Stamping.stamp(id: s.id, sender: a.rawValue, document: doc, parts: parts, sealID: "seal-f", key: sealKey, certificate: seal)
        stamped = try SignedEnvelope.sign(s, key: sm2, certificate: sm2Cert).bytes
        let receipts = (0..<7).map { i in
            Envelope(kind: .receipt, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()), inReplyTo: UUIDv7.make(),
                     receipt: ReceiptInfo(status: i == 3 ? .rejected : .delivered, document: UUIDv7.make(), payloadSha256: String(repeating: "d", count: 64),
                                          reason: i == 3 ? "bad-signature" : nil))
        }
        batched = try SignedEnvelope.signBatch(receipts, key: key, certificate: cert).map(\.bytes)
    }

    static let tokens: [[UInt8]] = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u0000", "\\ud800", "null", "true", "1e999", "-0", "1.5", "9007199254740993",
        String(repeating: "[", count: 200), String(repeating: "{\"a\":", count: 100), "\"kind\":\"receipt\"", "\"spec\":2", "\"parts\":[]",
        "\"recipients\":[" + String(repeating: "{\"unit\":\"11420100MB12345671\",\"role\":\"main\"},", count: 50) + "]",
    ].map { Array($0.utf8) } + [[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x00], [0xE2, 0x80]]

    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !b.isEmpty else { b = tokens.randomElement(using: &rng) ?? []; continue }
            let i = Int.random(in: 0..<b.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: b[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            case 1: b.removeSubrange(i..<min(b.count, i + Int.random(in: 1...64, using: &rng)))
            case 2: b.insert(contentsOf: tokens.randomElement(using: &rng) ?? [], at: i)
            case 3: let j = min(b.count, i + Int.random(in: 1...256, using: &rng)); b.insert(contentsOf: b[i..<j], at: j)
            case 4: b = Array(b.prefix(i))
            case 5: b[i] = UInt8.random(in: 0...255, using: &rng)
            default: if let k = b[i...].firstIndex(of: UInt8(ascii: "\"")) { b.insert(contentsOf: tokens.randomElement(using: &rng) ?? [], at: k) }
            }
        }
        return b
    }

    /// Runs `body` on every mutant; returns how many were accepted.
    func run(_ name: String, corpus: [[UInt8]], _ body: ([UInt8]) throws(YizhanError) -> Void) -> Int {
        var rng = SplitMix64(state: Self.seed)
        var accepted = 0
        var slowest = Duration.zero
        let clock = ContinuousClock()
        for n in 0..<Self.iterations {
            let input = Self.mutate(corpus[n % corpus.count], &rng)
            let t0 = clock.now
            do throws(YizhanError) {
                try body(input)
                accepted += 1
            } catch {
                #expect(!error.message.isEmpty, "\(name) #\(n) (seed \(Self.seed)): refused without a reason")
            }
            slowest = max(slowest, clock.now - t0)
        }
        #expect(slowest < .seconds(1), "\(name): one input took \(slowest) (seed \(Self.seed))")
        return accepted
    }

    @Test func envelopeParserAndSignatureCheck() {
        let accepted = run("envelope", corpus: [signed]) { b throws(YizhanError) in _ = try SignedEnvelope.open(b) }
        // A changed byte almost never keeps a valid signature; far fewer than all may pass.
        #expect(accepted < Self.iterations / 10)
        _ = run("parse", corpus: [signed]) { b throws(YizhanError) in _ = try Envelope.parse(b) }
    }

    @Test func stampedEnvelopesAndStamps() throws {
        let (e, json) = try Envelope.parse(stamped)
        _ = try Stamping.verify(json: json, stamp: try #require(e.stamp))
        let accepted = run("stamp", corpus: [stamped]) { b throws(YizhanError) in
            let (e, json) = try Envelope.parse(b)
            if let s = e.stamp { _ = try Stamping.verify(json: json, stamp: s) }
            _ = try SignedEnvelope.open(b)
        }
        #expect(accepted < Self.iterations / 10)
    }

    /// The batch path: index, size and path are attacker-controlled numbers and hashes.
    @Test func batchSignedReceipts() throws {
        for b in batched { _ = try SignedEnvelope.open(b) }
        let accepted = run("batch", corpus: batched) { b throws(YizhanError) in _ = try SignedEnvelope.open(b) }
        #expect(accepted < Self.iterations / 10)
    }

    @Test func binaryFrames() {
        let framed = MessageFrame.encode(envelope: signed, parts: [Array("hello".utf8), []])
        _ = run("frame", corpus: [framed]) { b throws(YizhanError) in _ = try MessageFrame.decode(b) }
        let chunk = ChunkFrame(document: UUIDv7.make(), part: 1, index: 7, sha256: Array(repeating: 9, count: 32), data: Array(repeating: 1, count: 300)).encoded()
        _ = run("chunk", corpus: [chunk]) { b throws(YizhanError) in _ = try ChunkFrame.decode(b) }
    }
}
