import COpenSSL
import Foundation

/// An X.509 certificate. A unit certificate names the unit code in CN and its name in O.
///
/// `@unchecked Sendable`: the X509 is never modified after parsing or issuing, and OpenSSL's
/// read accessors are safe to call concurrently on a fully built certificate.
public final class Certificate: @unchecked Sendable {
    let x509: OpaquePointer
    public let der: [UInt8]
    /// A seal certificate (profile "seal"): it may stamp documents, never sign envelopes. Worked out
    /// once here: receivers ask it of every envelope's signer.
    public let isSeal: Bool

    public init(der: [UInt8]) throws(CryptoError) {
        var cert: OpaquePointer? = nil
        der.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            cert = d2i_X509(nil, &p, buf.count)
        }
        self.x509 = try OpenSSL.nonNil(cert, .decoding, "d2i_X509")
        self.der = der
        self.isSeal = Self.isSealProfile(x509)
    }

    init(owning x509: OpaquePointer) throws(CryptoError) {
        self.x509 = x509
        let n = i2d_X509(x509, nil)
        guard n > 0 else { X509_free(x509); throw CryptoError(.encoding, "i2d_X509 failed") }
        var out = [UInt8](repeating: 0, count: Int(n))
        out.withUnsafeMutableBufferPointer { buf in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            _ = i2d_X509(x509, &p)
        }
        self.der = out
        self.isSeal = Self.isSealProfile(x509)
    }

    deinit { X509_free(x509) }

    public convenience init(pem: String) throws(CryptoError) {
        let cert: OpaquePointer? = try OpenSSL.withReadBIO(Array(pem.utf8)) { bio in PEM_read_bio_X509(bio, nil, nil, nil) }
        let x = try OpenSSL.nonNil(cert, .decoding, "PEM_read_bio_X509")
        defer { X509_free(x) }
        let n = i2d_X509(x, nil)
        var out = [UInt8](repeating: 0, count: Int(max(n, 0)))
        out.withUnsafeMutableBufferPointer { buf in
            var p: UnsafeMutablePointer<UInt8>? = buf.baseAddress
            _ = i2d_X509(x, &p)
        }
        try self.init(der: out)
    }

    public var pem: String {
        let body = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN CERTIFICATE-----\n\(body)\n-----END CERTIFICATE-----\n"
    }

    public var commonName: String? { nameEntry(NID_commonName) }
    public var organization: String? { nameEntry(NID_organizationName) }

    func nameEntry(_ nid: Int32) -> String? { Self.nameEntry(x509, nid) }

    static func nameEntry(_ x509: OpaquePointer, _ nid: Int32) -> String? {
        guard let name = X509_get_subject_name(x509) else { return nil }
        let idx = X509_NAME_get_index_by_NID(name, nid, -1)
        guard idx >= 0, let entry = X509_NAME_get_entry(name, idx), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var out: UnsafeMutablePointer<UInt8>? = nil
        let n = ASN1_STRING_to_UTF8(&out, data)
        guard n >= 0, let out else { return nil }
        defer { yz_openssl_free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: Int(n)), as: UTF8.self)
    }

    /// Serial number as upper-case hex, the form revocation lists use.
    public var serialHex: String {
        guard let ai = X509_get0_serialNumber(x509), let bn = ASN1_INTEGER_to_BN(ai, nil) else { return "" }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }
        defer { yz_openssl_free(hex) }
        return String(cString: hex)
    }

    public var notBefore: Date? { OpenSSL.asn1TimeToDate(X509_get0_notBefore(x509)) }
    public var notAfter: Date? { OpenSSL.asn1TimeToDate(X509_get0_notAfter(x509)) }

    public var publicKey: PublicKey {
        get throws(CryptoError) {
            let k = try OpenSSL.nonNil(X509_get0_pubkey(x509), .decoding, "X509_get0_pubkey")
            return try PublicKey(retaining: k)
        }
    }

    public var allowsDigitalSignature: Bool {
        let ku = X509_get_key_usage(x509)
        return ku != UInt32.max && (ku & UInt32(yz_ku_digital_signature())) != 0
    }

    /// The private extension holding the SHA-256 of a seal's image (an OCTET STRING). The arc is
    /// a placeholder under an unassigned enterprise number until the registry operator registers one.
    public static let sealImageOID = "1.3.6.1.4.1.59999.1.1"
    public static let sealOrganizationalUnit = "电子印章"

    public var organizationalUnit: String? { nameEntry(NID_organizationalUnitName) }
    /// The registry's seal id (subject serialNumber) of a seal certificate.
    public var sealID: String? { isSeal ? nameEntry(NID_serialNumber) : nil }

    /// SHA-256 (hex) of the seal image bound to this certificate; nil for other profiles.
    public var sealImageSHA256: String? { Self.sealImageDigest(x509) }

    static func sealImageDigest(_ x509: OpaquePointer) -> String? {
        guard let obj = OBJ_txt2obj(Self.sealImageOID, 1) else { return nil }
        defer { ASN1_OBJECT_free(obj) }
        let idx = X509_get_ext_by_OBJ(x509, obj, -1)
        guard idx >= 0, let ext = X509_get_ext(x509, idx), let data = X509_EXTENSION_get_data(ext) else { return nil }
        let n = Int(ASN1_STRING_length(data))
        guard n == 34, let p = ASN1_STRING_get0_data(data) else { return nil }
        let bytes = Array(UnsafeBufferPointer(start: p, count: n))
        guard bytes[0] == 0x04, bytes[1] == 32 else { return nil }
        return Digest.hex(Array(bytes[2...]))
    }

    static func isSealProfile(_ x509: OpaquePointer) -> Bool {
        nameEntry(x509, NID_organizationalUnitName) == sealOrganizationalUnit && sealImageDigest(x509) != nil
    }

    /// SHA-256 of the DER, hex: a stable fingerprint for logs and the directory.
    public var fingerprint: String { Digest.sha256Hex(der) }
}
