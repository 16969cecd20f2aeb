#ifndef YIZHAN_COPENSSL_SHIM_H
#define YIZHAN_COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/rand.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

/* Macros that Swift cannot import, as functions. */
static inline void yz_openssl_free(void *p) { OPENSSL_free(p); }
static inline long yz_bio_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }
static inline int yz_mbstring_utf8(void) { return MBSTRING_UTF8; }
static inline int yz_ku_digital_signature(void) { return KU_DIGITAL_SIGNATURE; }
static inline int yz_ku_key_cert_sign(void) { return KU_KEY_CERT_SIGN; }
static inline int yz_xku_none(void) { return 0; }

/* X509V3_CTX is a plain struct; a helper keeps its layout out of Swift. */
static inline X509_EXTENSION *yz_make_extension(X509 *issuer, X509 *subject, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, subject, NULL, NULL, 0);
    return X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
}
#endif
