/* Crypto wrappers (see crypto.h). OpenSSL 3 provides SM3 and HMAC-SM3;
 * libsodium provides randomness and argon2id. */
#include "base/crypto.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Algorithms are fetched once: an OpenSSL 3 fetch walks the provider tables
 * and was a visible share of the audit writer's time when done per call. */
static EVP_MD *md_sm3, *md_sha256;
static EVP_MAC *mac_hmac;

int crypto_init(void) {
    if (sodium_init() < 0) return -1;
    md_sm3 = EVP_MD_fetch(NULL, "SM3", NULL);
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    return md_sm3 && md_sha256 && mac_hmac ? 0 : -1;
}

void crypto_random(void *buf, size_t n) { randombytes_buf(buf, n); }

void hex_encode(const unsigned char *in, size_t n, char *out) {
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) { out[2 * i] = h[in[i] >> 4]; out[2 * i + 1] = h[in[i] & 15]; }
    out[2 * n] = 0;
}

void crypto_token_hex(char *out, size_t nbytes) {
    unsigned char b[64];
    if (nbytes > sizeof b) nbytes = sizeof b;
    crypto_random(b, nbytes);
    hex_encode(b, nbytes, out);
    sodium_memzero(b, sizeof b);
}

static void digest_hex(EVP_MD *m, const void *data, size_t n, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE]; unsigned int len = 0;
    if (!m || !EVP_Digest(data, n, md, &len, m, NULL)) {
        /* A missing digest is a broken installation, not a user error: stop loudly. */
        fprintf(stderr, "crypto: digest unavailable (crypto_init not called?)\n");
        abort();
    }
    hex_encode(md, len > 32 ? 32 : len, out);
}

void sm3_hex(const void *data, size_t n, char out[65]) { digest_hex(md_sm3, data, n, out); }
void sha256_hex(const void *data, size_t n, char out[65]) { digest_hex(md_sha256, data, n, out); }

void hmac_sm3_hex(const void *key, size_t klen, const void *data, size_t n, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE]; size_t len = 0;
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SM3", 0), OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *c = mac_hmac ? EVP_MAC_CTX_new(mac_hmac) : NULL;
    if (!c || !EVP_MAC_init(c, key, klen, params) || !EVP_MAC_update(c, data, n) || !EVP_MAC_final(c, md, &len, sizeof md)) {
        fprintf(stderr, "crypto: HMAC-SM3 unavailable\n");
        abort();
    }
    EVP_MAC_CTX_free(c);
    hex_encode(md, len > 32 ? 32 : len, out);
}

int password_hash(const char *password, char *out, size_t outcap) {
    if (outcap < crypto_pwhash_STRBYTES) return -1;
    /* Interactive limits: ~64 MiB and a few passes; logins are rare compared to requests. */
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

bool password_verify(const char *stored, const char *password) {
    return crypto_pwhash_str_verify(stored, password, strlen(password)) == 0;
}

bool crypto_streq(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return false;
    return sodium_memcmp(a, b, la) == 0;
}
