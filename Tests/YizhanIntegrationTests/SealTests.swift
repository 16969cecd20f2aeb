import Foundation
import GRDB
import Testing
import YizhanAMQP
import YizhanCore
import YizhanCrypto
import YizhanGateway
import YizhanRegistry
import YizhanStore

/// Runs the `yizhan` binary with `input` on standard input (custodians' passwords).
@discardableResult
func runCLI(_ args: [String], input: String) throws -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try yizhanBinary())
    p.arguments = args
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    inp.fileHandleForWriting.write(Data(input.utf8))
    try inp.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func expectRefused(_ args: [String], input: String, says: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try runCLI(args, input: input)
    #expect(r.status != 0, "\(args) succeeded", sourceLocation: sourceLocation)
    #expect(r.err.split(separator: "\n").count == 1, "\(r.err)", sourceLocation: sourceLocation)
    #expect(r.err.contains(says), "\(args): \(r.err)", sourceLocation: sourceLocation)
}

/// A seal image in SVG, the unit's name around a star, as a seal maker would draw it.
func sealSVG(_ name: String) -> String {
    """
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200"><circle cx="100" cy="100" r="92" fill="none" stroke="#d00" stroke-width="8"/>\
    <text x="100" y="60" text-anchor="middle" fill="#d00" font-size="18">\(name)</text><text x="100" y="118" text-anchor="middle" fill="#d00" font-size="56">★</text></svg>
    """
}

/// Applies, approves and makes a seal for the unit at `home` through the command line, with
/// custodians 张三, 李四, 王五 (2 of 3). Returns the seal id.
func makeSeal(_ net: TestNetwork, _ home: GatewayHome, name: String, algorithm: String = "ed25519") throws -> String {
    let image = home.path + "/seal.svg"
    try sealSVG(name).write(toFile: image, atomically: true, encoding: .utf8)
    let applied = try runCLI(["seal", "apply", "--home", home.path, "--reason", "new", "--head", "周局长", "--image", image, "--algorithm", algorithm])
    #expect(applied.status == 0, "\(applied.err)")
    let id = applied.out.trimmingCharacters(in: .whitespacesAndNewlines)
    let admin = ["--registry", net.url, "--home", net.dir + "/registry"]
    let approved = try runCLI(["seal", "approve", id] + admin)
    #expect(approved.status == 0, "\(approved.err)")
    let made = try runCLI(["seal", "make", id, "--home", home.path, "--custodian", "张三", "--custodian", "李四", "--custodian", "王五",
                           "--witness-leadership", "赵组长", "--witness-centre", "钱主任", "--witness-unit", "孙科长"], input: "zhang-pass-1\nli-pass-22\nwang-pass-333\n")
    #expect(made.status == 0, "\(made.err)")
    return id
}

extension BrokerTests {
    /// A's Ed25519 seal: applied, approved, made before witnesses with three custodians; a
    /// document stamped by two of them verified at B; bad stampings refused; B prints it as a
    /// certified copy and the code checks out; custodians replaced; the seal destroyed after the
    /// stamp (valid at stamping, revoked since; A's key wiped) and a stamp made after it refused.
    @Test func stampedDocumentFromAVerifiedPrintedAndOutlivingItsSeal() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "市住房和城乡建设局"), hb = try await net.enrol(b, name: "区建设局")
            let sa = try GatewayStore(path: ha.database), sb = try GatewayStore(path: hb.database)
            let sealID = try makeSeal(net, ha, name: "市住房和城乡建设局")
            let rec = try #require(try net.registry.store.seal(id: sealID))
            #expect(rec.state == "in-use")
            #expect(rec.madeWitnesses == .init(leadership: "赵组长", centre: "钱主任", unit: "孙科长"))
            let actions = try net.registry.store.auditLog().filter { $0.subject == sealID || $0.detail?.contains(sealID) == true }.map(\.action)
            #expect(actions == ["seal.applied", "seal.approved", "seal.made"])
            // The key never left A's host: the registry holds a certificate; A holds the key locked for its custodians.
            let local = try #require(try sa.seal(id: sealID))
            #expect(local.state == "in-use")
            let vault = try JSONValue.parse(try #require(local.vault)).decode(SealVault.Sealed.self)
            #expect(vault.custodians.map(\.name) == ["张三", "李四", "王五"])
            #expect(vault.threshold == 2)

            let body = ha.path + "/正文.txt"
            try "各区建设局：\n现将有关事项通知如下。\n".write(toFile: body, atomically: true, encoding: .utf8)
            let send = ["doc", "send", "--home", ha.path, "--to", b.rawValue, "--title", "关于开展建筑工地安全检查的通知", "--type", "通知",
                        "--number", "市建〔2026〕18号", "--stamp", body]
            // Bad stampings first: each one clear line, nothing stored.
            try expectRefused(send + ["--custodian", "张三"], input: "zhang-pass-1\n", says: "no one stamps alone")
            try expectRefused(send + ["--custodian", "张三", "--custodian", "李四"], input: "zhang-pass-1\nnot-his-password\n", says: "password of custodian 李四 is not accepted")
            try expectRefused(send + ["--custodian", "张三", "--custodian", "路人甲"], input: "zhang-pass-1\nwhatever-pass\n", says: "路人甲 is not a custodian")
            try expectRefused(send + ["--custodian", "张三", "--custodian", "李四", "--seal", UUIDv7.make()], input: "zhang-pass-1\nli-pass-22\n", says: "holds no seal")
            #expect(try sa.outbox().isEmpty)
            #expect(try sa.stamps().isEmpty)

            try await withGateways(net, [ha, hb]) {
                let sent = try runCLI(send + ["--custodian", "张三", "--custodian", "王五"], input: "zhang-pass-1\nwang-pass-333\n")
                #expect(sent.status == 0, "\(sent.err)")
                let id = sent.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("B has the stamped document") { try sb.inboxEntry(id: id) != nil }
                #expect(try sa.stamps().map(\.custodians) == [["张三", "王五"]])
                let shown = try runCLI(["doc", "show", id, "--home", hb.path])
                #expect(shown.out.contains("seal: valid — stamped by 市住房和城乡建设局 (\(a.rawValue)) with seal \(sealID)"), "\(shown.out)")
                #expect(try sb.quarantined().isEmpty)

                // A certified print at B, and its code at the registry.
                let html = hb.path + "/copy.html"
                let printed = try runCLI(["doc", "print", id, "--home", hb.path, "--out", html])
                #expect(printed.status == 0, "\(printed.err)")
                let page = try String(contentsOfFile: html, encoding: .utf8)
                let code = String(try #require(page.firstMatch(of: /id="verification-code">([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})</)).output.1)
                #expect(printed.out.contains(code))
                #expect(page.contains("关于开展建筑工地安全检查的通知") && page.contains("现将有关事项通知如下") && page.contains("市建〔2026〕18号"))
                #expect(page.contains("data:image/svg+xml;base64,\(Data(sealSVG("市住房和城乡建设局").utf8).base64EncodedString())"))
                #expect(page.contains("有效 valid; seal in use"))
                let verified = try runCLI(["verify", code, "--registry", net.url])
                #expect(verified.status == 0, "\(verified.err)")
                #expect(verified.out.contains("valid; seal in use") && verified.out.contains(sealID) && verified.out.contains("市建〔2026〕18号"), "\(verified.out)")
                let digest = String(try #require(page.firstMatch(of: /id="document-digest">([0-9a-f]{64})</)).output.1)
                #expect(verified.out.contains(digest))
                try expectRefused(["verify", "ZZZZ-ZZZZ-ZZZZ", "--registry", net.url], says: "no certified print has the verification code ZZZZ-ZZZZ-ZZZZ")
                // The same print rendered to PDF by a browser: the copy really prints.
                try renderPDF(html: html, pdf: hb.path + "/copy.pdf")

                // An unstamped document is not printed as a certified copy.
                let plain = try runCLI(["doc", "send", "--home", ha.path, "--to", b.rawValue, "--title", "无章的函", "--type", "函"])
                let plainID = plain.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("B has the unstamped one") { try sb.inboxEntry(id: plainID) != nil }
                try expectRefused(["doc", "print", plainID, "--home", hb.path, "--out", hb.path + "/plain.html"], says: "is not stamped")

                // Custodians: 王五 hands over to 赵六, authorised by 张三 and 李四; the key is not re-encrypted.
                let swapped = try runCLI(["seal", "custodians", "--home", ha.path, "--custodian", "张三", "--custodian", "李四", "--remove", "王五", "--add", "赵六"],
                                         input: "zhang-pass-1\nli-pass-22\nzhao-pass-4444\n")
                #expect(swapped.status == 0, "\(swapped.err)")
                let after = try JSONValue.parse(try #require(try sa.seal(id: sealID)?.vault)).decode(SealVault.Sealed.self)
                #expect(after.encryptedKey == vault.encryptedKey)
                #expect(after.custodians.map(\.name) == ["张三", "李四", "赵六"])
                try expectRefused(send + ["--custodian", "王五", "--custodian", "张三"], input: "wang-pass-333\nzhang-pass-1\n", says: "王五 is not a custodian")
                let second = try runCLI(send + ["--custodian", "赵六", "--custodian", "李四"], input: "zhao-pass-4444\nli-pass-22\n")
                #expect(second.status == 0, "\(second.err)")
                let secondID = second.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("B has the second stamped document") { try sb.inboxEntry(id: secondID) != nil }

                // The key, unlocked here only to forge a late stamp below (as a gateway that missed the revocation would).
                let key = try SealVault.unlock(after, secrets: [.init(name: "张三", password: Array("zhang-pass-1".utf8)), .init(name: "李四", password: Array("li-pass-22".utf8))]).key
                let sealCert = try Certificate(der: try #require(try sa.seal(id: sealID)?.certificate))

                // Destroyed before the three witnesses: revoked now; A's gateway wipes the key and says so.
                let destroyed = try runCLI(["seal", "destroy", sealID, "--registry", net.url, "--home", net.dir + "/registry", "--reason", "机构调整，印章停用",
                                            "--witness-leadership", "赵组长", "--witness-centre", "钱主任", "--witness-unit", "孙科长"])
                #expect(destroyed.status == 0, "\(destroyed.err)")
                try await eventually("A's gateway wiped the seal's key and told the registry") {
                    try sa.seal(id: sealID)?.state == "wiped" && net.registry.store.seal(id: sealID)?.keyWipedAt != nil
                }
                #expect(try sa.seal(id: sealID)?.vault == nil)
                try await eventually("B shows the first stamp valid at stamping, revoked since") {
                    try runCLI(["doc", "show", id, "--home", hb.path]).out.contains("seal: valid at stamping")
                }
                let later = try runCLI(["verify", code, "--registry", net.url])
                #expect(later.out.contains("valid at stamping; seal revoked since") && later.out.contains("destroyed"), "\(later.out)")
                try expectRefused(send + ["--custodian", "张三", "--custodian", "李四"], input: "zhang-pass-1\nli-pass-22\n", says: "revoked")

                // A stamp made after the revocation (by a host that kept the key) is refused at B.
                let (keyA, certA) = try net.key(ha)
                let doc = DocumentInfo(title: "撤销后加盖的文件", type: "函")
                var late = Envelope(kind: .document, sender: a, recipients: [.init(unit: b, role: .main)], created: Timestamp.format(Date()), document: doc)
                late.stamp = try Stamping.stamp(id: late.id, sender: a.rawValue, document: doc, parts: [], sealID: sealID, key: key, certificate: sealCert)
                let conn = try await AMQPConnection.connect(try net.brokerConfig(ha))
                let signed = try SignedEnvelope.sign(late, key: keyA, certificate: certA)
                _ = try await conn.publish(exchange: "yizhan.documents", routingKey: b.rawValue,
                                           message: AMQPMessage(body: signed.bytes, contentType: MessageFrame.envelopeContentType, messageID: late.id, userID: try ha.loadConfig().brokerUser))
                try await eventually("the late stamp quarantined as seal-revoked") { try sb.quarantined().contains { $0.reason == "seal-revoked" } }
                #expect(try sb.inboxEntry(id: late.id) == nil)
                await conn.close()
            }

            // A tampered stored copy is not printed: B's inbox row edited behind the gateway's back.
            let queue = try DatabaseQueue(path: hb.database)
            let firstID = try #require(try sb.inbox().first { $0.title == "关于开展建筑工地安全检查的通知" }?.id)
            try await queue.write { db in
                try db.execute(sql: "UPDATE inbox SET envelope = CAST(REPLACE(CAST(envelope AS TEXT), '安全检查', '安全抽查') AS BLOB) WHERE id = ?", arguments: [firstID])
            }
            try expectRefused(["doc", "print", firstID, "--home", hb.path, "--out", hb.path + "/tampered.html"], says: "no longer verifies")
        }
    }

    /// SM2 with SM3 beside Ed25519: C's gateway key and seal are SM2, A's are Ed25519. C's stamped
    /// document verifies at A and prints; A answers C; a stamp altered in transit and another
    /// unit's seal on A's envelope are refused at C.
    @Test func sm2UnitsAndSealsWorkBesideEd25519() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), c = try randomUnitCode()
            let ha = try await net.enrol(a, name: "市财政局"), hc = try await net.enrol(c, name: "市审计局", algorithm: .sm2)
            let sa = try GatewayStore(path: ha.database), sc = try GatewayStore(path: hc.database)
            let (keyC, certC) = try net.key(hc)
            #expect(keyC.algorithm == .sm2)
            #expect(try certC.publicKey.keyType == .sm2)
            let sealC = try makeSeal(net, hc, name: "市审计局", algorithm: "sm2")
            let sealA = try makeSeal(net, ha, name: "市财政局")
            let certSealC = try Certificate(der: try #require(try sc.seal(id: sealC)?.certificate))
            #expect(try certSealC.publicKey.keyType == .sm2)

            try await withGateways(net, [ha, hc]) {
                let sent = try runCLI(["doc", "send", "--home", hc.path, "--to", a.rawValue, "--title", "关于审计整改情况的通报", "--type", "通报", "--stamp",
                                       "--custodian", "李四", "--custodian", "张三"], input: "li-pass-22\nzhang-pass-1\n")
                #expect(sent.status == 0, "\(sent.err)")
                let id = sent.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("A has C's SM2-stamped document") { try sa.inboxEntry(id: id) != nil }
                let exported = try JSONValue.parse(Array(try #require(try sa.envelopeBytes(id: id))))
                let header = try JSONValue.parse(Base64URL.decode(try #require(exported["stamp"]?["protected"]?.stringValue)) ?? [])
                #expect(header["alg"]?.stringValue == "SM2-SM3")
                let transport = try JSONValue.parse(Base64URL.decode(try #require(exported["signature"]?["protected"]?.stringValue)) ?? [])
                #expect(transport["alg"]?.stringValue == "SM2-SM3")
                #expect(try runCLI(["doc", "show", id, "--home", ha.path]).out.contains("seal: valid — stamped by 市审计局"))
                let printed = try runCLI(["doc", "print", id, "--home", ha.path, "--out", ha.path + "/sm2.html"])
                #expect(printed.status == 0, "\(printed.err)")
                let code = String(try #require(printed.out.firstMatch(of: /code ([2-9A-Z-]{14})/)).output.1)
                let v = try runCLI(["verify", code, "--home", ha.path])
                #expect(v.out.contains("[sm2]") && v.out.contains("valid; seal in use"), "\(v.out)")

                // A (Ed25519) answers C (SM2), stamped with A's Ed25519 seal.
                let back = try runCLI(["doc", "send", "--home", ha.path, "--to", c.rawValue, "--title", "关于整改情况的复函", "--type", "函", "--stamp",
                                       "--custodian", "王五", "--custodian", "李四"], input: "wang-pass-333\nli-pass-22\n")
                #expect(back.status == 0, "\(back.err)")
                let backID = back.out.trimmingCharacters(in: .whitespacesAndNewlines)
                try await eventually("C has A's answer") { try sc.inboxEntry(id: backID) != nil }
                #expect(try runCLI(["doc", "show", backID, "--home", hc.path]).out.contains("seal: valid — stamped by 市财政局"))
                // Stamped envelopes (both algorithms) as emitted satisfy the published schema.
                let emitted = try emittedEnvelopes([sa, sc])
                #expect(emitted.contains { (try? JSONValue.parse($0))?["stamp"] != nil })
                let errors = try schemaErrors(emitted)
                #expect(errors.allSatisfy { $0 == nil }, "\(errors.compactMap { $0 })")

                // Crafted by A's own host: a stamp altered after stamping, and C's seal on A's envelope.
                let sealKeyC = try SealVault.unlock(try JSONValue.parse(try #require(try sc.seal(id: sealC)?.vault)).decode(SealVault.Sealed.self),
                                                    secrets: [.init(name: "张三", password: Array("zhang-pass-1".utf8)), .init(name: "王五", password: Array("wang-pass-333".utf8))]).key
                let sealKeyA = try SealVault.unlock(try JSONValue.parse(try #require(try sa.seal(id: sealA)?.vault)).decode(SealVault.Sealed.self),
                                                    secrets: [.init(name: "张三", password: Array("zhang-pass-1".utf8)), .init(name: "王五", password: Array("wang-pass-333".utf8))]).key
                let certSealA = try Certificate(der: try #require(try sa.seal(id: sealA)?.certificate))
                let (keyA, certA) = try net.key(ha)
                let conn = try await AMQPConnection.connect(try net.brokerConfig(ha))
                func publish(_ e: Envelope) async throws {
                    let s = try SignedEnvelope.sign(e, key: keyA, certificate: certA)
                    _ = try await conn.publish(exchange: "yizhan.documents", routingKey: c.rawValue,
                                               message: AMQPMessage(body: s.bytes, contentType: MessageFrame.envelopeContentType, messageID: e.id, userID: try ha.loadConfig().brokerUser))
                }
                let doc = DocumentInfo(title: "篡改的盖章文件", type: "函")
                var altered = Envelope(kind: .document, sender: a, recipients: [.init(unit: c, role: .main)], created: Timestamp.format(Date()), document: doc)
                altered.stamp = try Stamping.stamp(id: altered.id, sender: a.rawValue, document: doc, parts: [], sealID: sealA, key: sealKeyA, certificate: certSealA)
                altered.document?.title = "篡改后的标题"  // the transport signature is redone; the stamp no longer fits
                try await publish(altered)
                try await eventually("the altered stamp quarantined as bad-seal") { try sc.quarantined().contains { $0.reason == "bad-seal" && $0.detail.contains("does not verify") } }
                // C's seal on A's document: built by hand, since Stamping.stamp refuses another unit's seal.
                var foreign = Envelope(kind: .document, sender: a, recipients: [.init(unit: c, role: .main)], created: Timestamp.format(Date()), document: doc)
                let stamped = Timestamp.format(Date())
                let payload = Envelope.stampPayload(id: foreign.id, sender: a.rawValue, seal: sealC, stamped: stamped, document: try JSONValue.from(doc), parts: .array([]))
                let jws = try JWS.sign(payload: payload, type: JWS.sealType, key: sealKeyC, certificate: certSealC)
                foreign.stamp = Envelope.Stamp(seal: sealC, stamped: stamped, protected: jws.protected, signature: jws.signature)
                try await publish(foreign)
                try await eventually("another unit's seal quarantined as bad-seal") { try sc.quarantined().contains { $0.reason == "bad-seal" && $0.detail.contains("belongs to unit \(c.rawValue)") } }
                // A seal certificate cannot sign envelopes either.
                let asTransport = try SignedEnvelope.sign(Envelope(kind: .document, sender: c, recipients: [.init(unit: a, role: .main)], created: Timestamp.format(Date()),
                                                                   document: doc), key: sealKeyC, certificate: certSealC)
                let connC = try await AMQPConnection.connect(try net.brokerConfig(hc))
                _ = try await connC.publish(exchange: "yizhan.documents", routingKey: a.rawValue,
                                            message: AMQPMessage(body: asTransport.bytes, contentType: MessageFrame.envelopeContentType, messageID: asTransport.envelope.id,
                                                                 userID: try hc.loadConfig().brokerUser))
                try await eventually("a seal used as a transport key is refused") { try sa.quarantined().contains { $0.detail.contains("seal certificate cannot sign envelopes") } }
                #expect(try sc.inboxEntry(id: altered.id) == nil && sc.inboxEntry(id: foreign.id) == nil)
                await conn.close()
                await connC.close()
            }
        }
    }

    /// The registry's side: bad applications refused with nothing stored; a rename asks for a
    /// remake; a remade seal retires the old one; a merger retires the absorbed unit's seal.
    @Test func sealRecordsFollowTheUnitsLife() async throws {
        try await TestNetwork.with { net in
            let a = try randomUnitCode(), b = try randomUnitCode()
            let ha = try await net.enrol(a, name: "甲局"), _ = try await net.enrol(b, name: "乙局")
            let svg = Data(sealSVG("甲局").utf8).base64EncodedString()
            func refused(_ body: RegistryAPI.SealApply, _ says: String, sourceLocation: SourceLocation = #_sourceLocation) async {
                do { _ = try await net.admin.post("/v1/units/\(a.rawValue)/seals", try JSONValue.from(body)); Issue.record("accepted", sourceLocation: sourceLocation) } catch {
                    #expect("\(error)".contains(says), "\(error)", sourceLocation: sourceLocation)
                }
            }
            await refused(.init(reason: "lost", head: "周", algorithm: "ed25519", image: svg, mediaType: "image/svg+xml", replaces: nil), "reason must be")
            await refused(.init(reason: "new", head: " ", algorithm: "ed25519", image: svg, mediaType: "image/svg+xml", replaces: nil), "head")
            await refused(.init(reason: "new", head: "周", algorithm: "rsa", image: svg, mediaType: "image/svg+xml", replaces: nil), "algorithm")
            await refused(.init(reason: "new", head: "周", algorithm: "ed25519", image: svg, mediaType: "image/png", replaces: nil), "not a PNG")
            await refused(.init(reason: "new", head: "周", algorithm: "ed25519", image: "!!", mediaType: "image/svg+xml", replaces: nil), "base64")
            await refused(.init(reason: "renamed", head: "周", algorithm: "ed25519", image: svg, mediaType: "image/svg+xml", replaces: nil), "names the seal it replaces")
            #expect(try net.registry.store.seals().isEmpty)

            let first = try makeSeal(net, ha, name: "甲局")
            // Making twice, by an administrator, or with two witnesses the same person: refused.
            let keeper = try SealKeeper(home: ha)
            do { _ = try await keeper.make(sealID: first, custodians: [], threshold: 2, witnesses: .init(leadership: "a", centre: "b", unit: "c")); Issue.record("made twice") } catch {
                #expect("\(error)".contains("in-use"), "\(error)")
            }
            do {
                _ = try await net.admin.post("/v1/seals/\(first)/make", try JSONValue.from(RegistryAPI.SealMake(publicKey: "", witnesses: .init(leadership: "a", centre: "b", unit: "c"))))
                Issue.record("an administrator made a seal")
            } catch { #expect("\(error)".contains("made by its own unit's gateway"), "\(error)") }

            // Rename: the seal must be remade; the remake (reason renamed) retires the old one.
            try await net.approve(.init(kind: "rename", unit: a.rawValue, name: "甲市局"))
            #expect(try net.registry.store.seal(id: first)?.remakeRequired == "renamed")
            let image = ha.path + "/seal2.svg"
            try sealSVG("甲市局").write(toFile: image, atomically: true, encoding: .utf8)
            let applied = try runCLI(["seal", "apply", "--home", ha.path, "--reason", "renamed", "--head", "周局长", "--image", image, "--replaces", first])
            #expect(applied.status == 0, "\(applied.err)")
            let second = applied.out.trimmingCharacters(in: .whitespacesAndNewlines)
            try expectRefused(["seal", "approve", second, "--registry", net.url], says: "administrator token is required")
            #expect(try runCLI(["seal", "approve", second, "--registry", net.url, "--home", net.dir + "/registry"]).status == 0)
            let made = try runCLI(["seal", "make", second, "--home", ha.path, "--custodian", "张三", "--custodian", "李四",
                                   "--witness-leadership", "赵组长", "--witness-centre", "赵组长", "--witness-unit", "孙科长"], input: "zhang-pass-1\nli-pass-22\n")
            #expect(made.status != 0 && made.err.contains("three different people"), "\(made.err)")
            #expect(try SealKeeper(home: ha).store.seal(id: second) == nil)
            let remade = try runCLI(["seal", "make", second, "--home", ha.path, "--custodian", "张三", "--custodian", "李四",
                                     "--witness-leadership", "赵组长", "--witness-centre", "钱主任", "--witness-unit", "孙科长"], input: "zhang-pass-1\nli-pass-22\n")
            #expect(remade.status == 0, "\(remade.err)")
            let old = try #require(try net.registry.store.seal(id: first))
            #expect(old.state == "retiring" && old.revocationReason == "superseded")
            let cert = try Certificate(der: try #require(try net.registry.store.sealCertificate(id: second)))
            #expect(cert.organization == "甲市局" && cert.sealID == second)

            // Merger: A's seal is revoked with it and waits for witnessed destruction.
            try await net.approve(.init(kind: "merge", units: [a.rawValue], into: b.rawValue))
            let merged = try #require(try net.registry.store.seal(id: second))
            #expect(merged.state == "retiring" && merged.revocationReason == "merged")
            let dir = try SignedDirectory.open(try net.registry.directoryBytes(), anchor: net.registry.ca.certificate)
            #expect(dir.revocation(serial: cert.serialHex)?.reason == "merged")
            let records = try runCLI(["seal", "records", "--unit", a.rawValue, "--registry", net.url, "--home", net.dir + "/registry"])
            #expect(records.out.contains("retiring") && records.out.contains("remake required: unit renamed"), "\(records.out)")
            _ = try await net.admin.post("/v1/seals/\(second)/destroy", try JSONValue.from(RegistryAPI.SealDestroy(reason: "单位合并", witnesses: .init(leadership: "赵组长", centre: "钱主任", unit: "孙科长"))))
            #expect(try net.registry.store.seal(id: second)?.state == "destroyed")
            #expect(try net.registry.store.verifyAudit().isEmpty)
        }
    }
}

/// Prints `html` to PDF with headless Chromium (installed by Deploy/setup.sh --tests) and checks a PDF came out.
func renderPDF(html: String, pdf: String) throws {
    let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
    guard let browser = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw TestFailure("no Chromium to print with; run the tests with Deploy/test.sh")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: browser)
    p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", "--print-to-pdf=\(pdf)", "file://\(html)"]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    let bytes = FileManager.default.contents(atPath: pdf) ?? Data()
    guard bytes.starts(with: Array("%PDF".utf8)), bytes.count > 1000 else { throw TestFailure("Chromium did not print \(html) to a PDF") }
}
