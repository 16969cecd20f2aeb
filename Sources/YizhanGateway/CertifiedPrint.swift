import Foundation
import YizhanCore
import YizhanCrypto
import YizhanStore

/// A certified print (复印件) of a stamped document: HTML made for A4 paper with the metadata,
/// the body, the seal image, the verification result and the registry's verification code.
/// Only a document whose stored envelope, parts and stamp all verify is printed.
public struct CertifiedPrint: Sendable {
    public let html: String
    public let verification: RegistryAPI.PrintVerification
    public let status: SealStatus
}

extension SealKeeper {
    /// Checks everything again from the stored bytes, asks the registry's verification seal for a
    /// code, then renders. Every refusal names its reason; nothing is printed then.
    public func certifiedPrint(id: String) async throws -> CertifiedPrint {
        guard let bytes = try store.envelopeBytes(id: id) else {
            throw YizhanError(.notFound, "no signed document \(id) in \(home.path)")
        }
        let signed: SignedEnvelope
        do { (signed, _) = try SignedEnvelope.open(bytes) } catch {
            throw YizhanError(.badSeal, "cannot print a certified copy of \(id): the stored envelope no longer verifies (\(error.message))")
        }
        let e = signed.envelope
        guard let stamp = e.stamp else {
            throw YizhanError(.badSeal, "document \(id) is not stamped; only a stamped document is printed as a certified copy")
        }
        let status = SealCheck.evaluate(json: signed.json, envelope: e, anchor: CertificateVerifier(anchor: anchor), directory: await freshDirectory())
        guard let info = status.info else {
            throw YizhanError(.badSeal, "cannot print a certified copy of \(id): the stamp is \(status.summary)")
        }
        var bodies: [(String, String)] = []
        for (i, p) in e.parts.enumerated() {
            guard let src = try store.partSource(documentID: id, index: i) else {
                throw YizhanError(.badSeal, "cannot print a certified copy of \(id): part \(i) (\(p.name)) is not stored")
            }
            let (sha, size): (String, Int)
            switch src {
            case .bytes(let b):
                (sha, size) = (Digest.sha256Hex(b), b.count)
                if p.mediaType.hasPrefix("text/plain"), b.count <= 1 << 20 { bodies.append((p.name, String(decoding: b, as: UTF8.self))) }
            case .file(let f): (sha, size) = try Digest.sha256Hex(fileAt: f)
            }
            guard sha == p.sha256, size == p.size else {
                throw YizhanError(.badSeal, "cannot print a certified copy of \(id): part \(i) (\(p.name)) no longer matches its stamped SHA-256")
            }
        }
        let request = RegistryAPI.PrintRequest(documentId: e.id, sender: e.sender.rawValue, document: signed.json["document"] ?? .null,
                                               parts: signed.json["parts"] ?? .array([]), stamp: stamp)
        let v = try JSONValue.parse(try await registry.call("POST", "/v1/prints", body: try JSONValue.from(request).canonicalBytes()))
            .decode(RegistryAPI.PrintVerification.self)
        guard let b64 = v.image, let img = Data(base64Encoded: b64), Digest.sha256Hex(Array(img)) == info.imageSha256, let mt = v.imageMediaType else {
            throw YizhanError(.badSeal, "the registry's seal image does not match the one bound to the seal certificate")
        }
        let html = Self.render(envelope: e, info: info, status: status, verification: v, image: Array(img), imageMediaType: mt, bodies: bodies,
                               registry: config.registry)
        return CertifiedPrint(html: html, verification: v, status: status)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func render(envelope e: Envelope, info: StampInfo, status: SealStatus, verification v: RegistryAPI.PrintVerification,
                       image: [UInt8], imageMediaType: String, bodies: [(String, String)], registry: String) -> String {
        let d = e.document ?? DocumentInfo(title: v.title)
        func row(_ k: String, _ val: String?) -> String {
            guard let val, !val.isEmpty else { return "" }
            return "<tr><th>\(escape(k))</th><td>\(escape(val))</td></tr>\n"
        }
        let main = e.recipients.filter { $0.role == .main }.map(\.unit.rawValue).joined(separator: "、")
        let cc = e.recipients.filter { $0.role == .cc }.map(\.unit.rawValue).joined(separator: "、")
        var meta = row("发文字号 Number", d.number) + row("标题 Title", d.title) + row("文种 Type", d.type) + row("紧急程度 Urgency", d.urgency)
        meta += row("发文机关 Issuer", d.issuer ?? info.unitName) + row("签发人 Signer", d.signer) + row("成文日期 Date written", d.dateWritten)
        meta += row("主送 To", main) + row("抄送 Cc", cc) + row("附注 Note", d.note) + row("附件说明 Attachments", d.attachments?.joined(separator: "；"))
        meta += row("印发 Printed by", [d.printedBy, d.printedOn].compactMap { $0 }.joined(separator: " "))
        let body = bodies.isEmpty ? "<p class=\"muted\">（正文不是纯文本；见下列附件及其摘要）</p>"
            : bodies.map { "<div class=\"body\"><div class=\"muted\">\(escape($0.0))</div><pre>\(escape($0.1))</pre></div>" }.joined()
        let parts = e.parts.map { "<li>\(escape($0.name)) — \($0.size) bytes, SHA-256 <code>\($0.sha256)</code></li>" }.joined()
        let sealStatus: String
        switch status {
        case .valid: sealStatus = "有效 valid; seal in use"
        case .revokedSince(_, let at, let reason): sealStatus = "盖章时有效 valid at stamping; seal revoked since \(at) (\(reason))"
        case .invalid: sealStatus = "invalid"
        }
        return """
        <!DOCTYPE html>
        <html lang="zh-CN">
        <head>
        <meta charset="utf-8">
        <title>\(escape(d.title)) — 核验件 certified copy \(escape(v.code))</title>
        <style>
        @page { size: A4; margin: 25mm 20mm; }
        body { font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", serif; color: #000; }
        h1 { text-align: center; font-size: 20pt; margin: 0 0 6mm; }
        .banner { text-align: center; color: #b00; letter-spacing: 0.3em; font-size: 11pt; }
        table.meta { border-collapse: collapse; width: 100%; font-size: 10.5pt; }
        table.meta th { text-align: left; width: 32%; font-weight: normal; color: #444; padding: 1mm 2mm; }
        table.meta td { padding: 1mm 2mm; }
        .body pre { white-space: pre-wrap; font-family: inherit; font-size: 12pt; line-height: 1.7; }
        .seal { float: right; width: 42mm; height: 42mm; margin: 0 0 4mm 4mm; }
        .seal img { width: 100%; height: 100%; object-fit: contain; }
        .verify { clear: both; border: 0.4mm solid #000; padding: 3mm 4mm; margin-top: 8mm; font-size: 9.5pt; page-break-inside: avoid; }
        .code { font-family: monospace; font-size: 16pt; letter-spacing: 0.15em; }
        .muted { color: #555; font-size: 9pt; }
        code { font-size: 8pt; word-break: break-all; }
        </style>
        </head>
        <body>
        <div class="banner">经验证印章核验的复印件 · CERTIFIED COPY</div>
        <h1>\(escape(d.title))</h1>
        <table class="meta">
        \(meta)</table>
        \(body)
        <div class="seal"><img alt="\(escape(info.unitName)) 电子印章" src="data:\(imageMediaType);base64,\(Data(image).base64EncodedString())"></div>
        <p class="muted">\(escape(info.unitName))（盖章）</p>
        \(parts.isEmpty ? "" : "<h3>附件 Parts</h3><ul>\(parts)</ul>")
        <div class="verify">
        <div>核验码 Verification code: <span class="code" id="verification-code">\(escape(v.code))</span></div>
        <div>盖章单位 Stamped by: \(escape(info.unitName)) (\(escape(info.unit))), seal <code>\(escape(info.sealID))</code>, \(escape(info.algorithm))</div>
        <div>盖章时间 Stamped at: \(escape(info.stamped))</div>
        <div>证书 Certificate: serial <code>\(escape(info.certificateSerial))</code> — <span id="seal-status">\(escape(sealStatus))</span></div>
        <div>文档摘要 Document digest (SHA-256 of the stamped metadata and parts): <code id="document-digest">\(info.documentSha256)</code></div>
        <div>文档标识 Document id: <code>\(escape(e.id))</code>; printed \(escape(v.printed)) by \(escape(v.printedBy))</div>
        <div class="muted">Check this copy: <code>yizhan verify \(escape(v.code)) --registry \(escape(registry))</code> or GET \(escape(registry))/v1/prints/\(escape(v.code))</div>
        </div>
        </body>
        </html>
        """
    }
}
