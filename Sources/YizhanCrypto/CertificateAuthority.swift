import COpenSSL
import Foundation
import YizhanCore

/// The registry CA: a self-signed Ed25519 root that issues unit certificates.
public struct CertificateAuthority: Sendable {
    public let key: PrivateKey
    public let certificate: Certificate

    public init(key: PrivateKey, certificate: Certificate) {
        self.key = key
        self.certificate = certificate
    }

    public static func create(name: String, validFor years: Int = 20) throws(CryptoError) -> CertificateAuthority {
        let key = try PrivateKey.generateEd25519()
        let now = Date()
        let cert = try build(subjectCN: name, subjectO: name, publicKey: key.pkey, issuer: nil, issuerKey: key.pkey,
                             notBefore: now.addingTimeInterval(-300), notAfter: now.addingTimeInterval(Double(years) * 365.25 * 86400), isCA: true)
        return CertificateAuthority(key: key, certificate: cert)
    }

    /// Issues a unit's signing certificate: CN = unit code, O = the unit's current name.
    public func issue(unitCode: String, unitName: String, publicKey: PublicKey,
                      notBefore: Date = Date().addingTimeInterval(-300),
                      notAfter: Date = Date().addingTimeInterval(2 * 365.25 * 86400)) throws(CryptoError) -> Certificate {
        guard [.ed25519, .sm2].contains(publicKey.keyType) else { throw CryptoError(.unsupported, "unit keys must be Ed25519 or SM2") }
        return try Self.build(subjectCN: unitCode, subjectO: unitName, publicKey: publicKey.pkey, issuer: certificate.x509,
                              issuerKey: key.pkey, notBefore: notBefore, notAfter: notAfter, isCA: false)
    }

    /// Issues a seal certificate (profile "seal"): CN = unit code, O = the unit's name, OU = 电子印章,
    /// serialNumber = the registry's seal id, and the SHA-256 of the seal image in a private
    /// extension (`Certificate.sealImageOID`), so the image shown on a print is the one certified.
    public func issueSeal(unitCode: String, unitName: String, sealID: String, imageSHA256 hex: String, publicKey: PublicKey,
                          notBefore: Date = Date().addingTimeInterval(-300),
                          notAfter: Date = Date().addingTimeInterval(5 * 365.25 * 86400)) throws(CryptoError) -> Certificate {
        guard [.ed25519, .sm2].contains(publicKey.keyType) else { throw CryptoError(.unsupported, "seal keys must be Ed25519 or SM2") }
        guard let digest = Base16.decode(hex), digest.count == 32 else { throw CryptoError(.certificateIssue, "the seal image digest must be 64 hex digits") }
        return try Self.build(subjectCN: unitCode, subjectO: unitName, publicKey: publicKey.pkey, issuer: certificate.x509,
                              issuerKey: key.pkey, notBefore: notBefore, notAfter: notAfter, isCA: false,
                              extraNames: [("OU", Certificate.sealOrganizationalUnit), ("serialNumber", sealID)], sealImage: digest)
    }

    static func build(subjectCN: String, subjectO: String, publicKey: OpaquePointer, issuer: OpaquePointer?, issuerKey: OpaquePointer,
                      notBefore: Date, notAfter: Date, isCA: Bool, extraNames: [(String, String)] = [], sealImage: [UInt8]? = nil) throws(CryptoError) -> Certificate {
        let x = try OpenSSL.nonNil(X509_new(), .certificateIssue, "X509_new")
        var handedOver = false
        defer { if !handedOver { X509_free(x) } }
        try OpenSSL.check(X509_set_version(x, 2), .certificateIssue, "X509_set_version")

        var serial = try OpenSSL.randomBytes(16)
        serial[0] &= 0x7F
        let bn = try OpenSSL.nonNil(BN_bin2bn(serial, Int32(serial.count), nil), .certificateIssue, "BN_bin2bn")
        defer { BN_free(bn) }
        let ai = try OpenSSL.nonNil(BN_to_ASN1_INTEGER(bn, nil), .certificateIssue, "BN_to_ASN1_INTEGER")
        defer { ASN1_INTEGER_free(ai) }
        try OpenSSL.check(X509_set_serialNumber(x, ai), .certificateIssue, "X509_set_serialNumber")

        _ = try OpenSSL.nonNil(ASN1_TIME_set(X509_getm_notBefore(x), time_t(notBefore.timeIntervalSince1970)), .certificateIssue, "notBefore")
        _ = try OpenSSL.nonNil(ASN1_TIME_set(X509_getm_notAfter(x), time_t(notAfter.timeIntervalSince1970)), .certificateIssue, "notAfter")

        let name = try OpenSSL.nonNil(X509_NAME_new(), .certificateIssue, "X509_NAME_new")
        defer { X509_NAME_free(name) }
        for (field, value) in [("CN", subjectCN), ("O", subjectO)] + extraNames {
            let bytes = Array(value.utf8)
            try OpenSSL.check(X509_NAME_add_entry_by_txt(name, field, yz_mbstring_utf8(), bytes, Int32(bytes.count), -1, 0), .certificateIssue, "subject \(field)")
        }
        try OpenSSL.check(X509_set_subject_name(x, name), .certificateIssue, "X509_set_subject_name")
        try OpenSSL.check(X509_set_issuer_name(x, issuer.map { X509_get_subject_name($0) } ?? name), .certificateIssue, "X509_set_issuer_name")
        try OpenSSL.check(X509_set_pubkey(x, publicKey), .certificateIssue, "X509_set_pubkey")

        let exts: [(Int32, String)] = isCA
            ? [(NID_basic_constraints, "critical,CA:TRUE"), (NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"),
               (NID_subject_key_identifier, "hash")]
            : [(NID_basic_constraints, "critical,CA:FALSE"), (NID_key_usage, "critical,digitalSignature,nonRepudiation"),
               (NID_subject_key_identifier, "hash"), (NID_authority_key_identifier, "keyid:always")]
        for (nid, value) in exts {
            let ext = try OpenSSL.nonNil(yz_make_extension(issuer ?? x, x, nid, value), .certificateIssue, "extension \(value)")
            defer { X509_EXTENSION_free(ext) }
            try OpenSSL.check(X509_add_ext(x, ext, -1), .certificateIssue, "X509_add_ext")
        }
        if let sealImage {
            let obj = try OpenSSL.nonNil(OBJ_txt2obj(Certificate.sealImageOID, 1), .certificateIssue, "OBJ_txt2obj")
            defer { ASN1_OBJECT_free(obj) }
            let value = try OpenSSL.nonNil(ASN1_OCTET_STRING_new(), .certificateIssue, "ASN1_OCTET_STRING_new")
            defer { ASN1_OCTET_STRING_free(value) }
            let der: [UInt8] = [0x04, UInt8(sealImage.count)] + sealImage // DER OCTET STRING holding the digest
            try OpenSSL.check(ASN1_OCTET_STRING_set(value, der, Int32(der.count)), .certificateIssue, "ASN1_OCTET_STRING_set")
            let ext = try OpenSSL.nonNil(X509_EXTENSION_create_by_OBJ(nil, obj, 0, value), .certificateIssue, "seal image extension")
            defer { X509_EXTENSION_free(ext) }
            try OpenSSL.check(X509_add_ext(x, ext, -1), .certificateIssue, "X509_add_ext (seal image)")
        }
        guard X509_sign(x, issuerKey, nil) > 0 else {
            throw CryptoError(.certificateIssue, "X509_sign failed: \(OpenSSL.drainErrors())")
        }
        handedOver = true
        return try Certificate(owning: x)
    }
}
