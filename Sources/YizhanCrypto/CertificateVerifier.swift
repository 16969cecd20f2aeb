import COpenSSL
import Foundation

/// Verifies a unit certificate against the pinned registry CA: chain, validity period, key usage.
public struct CertificateVerifier: Sendable {
    public let anchor: Certificate

    public init(anchor: Certificate) { self.anchor = anchor }

    public func verify(_ cert: Certificate, at time: Date = Date()) throws(CryptoError) {
        let store = try OpenSSL.nonNil(X509_STORE_new(), .certificateInvalid, "X509_STORE_new")
        defer { X509_STORE_free(store) }
        try OpenSSL.check(X509_STORE_add_cert(store, anchor.x509), .certificateInvalid, "X509_STORE_add_cert")
        let ctx = try OpenSSL.nonNil(X509_STORE_CTX_new(), .certificateInvalid, "X509_STORE_CTX_new")
        defer { X509_STORE_CTX_free(ctx) }
        try OpenSSL.check(X509_STORE_CTX_init(ctx, store, cert.x509, nil), .certificateInvalid, "X509_STORE_CTX_init")
        X509_STORE_CTX_set_time(ctx, 0, time_t(time.timeIntervalSince1970))
        guard X509_verify_cert(ctx) == 1 else {
            let err = X509_STORE_CTX_get_error(ctx)
            _ = OpenSSL.drainErrors()
            throw CryptoError(.certificateInvalid, String(cString: X509_verify_cert_error_string(Int(err))))
        }
        guard cert.allowsDigitalSignature else {
            throw CryptoError(.certificateInvalid, "certificate does not allow digitalSignature")
        }
    }
}
