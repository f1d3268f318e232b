/* Crypto wrappers (see crypto.h). OpenSSL 3 provides SM3 and HMAC-SM3;
 * libsodium provides randomness and argon2id. */
#include "base/crypto.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

/* HMAC contexts keyed once per thread and key: the blind indexes and the
 * seals' MACs use two or three keys millions of times (an import, a view),
 * and keying a context parses its parameters and fetches SM3 each time.
 * OpenSSL 3 re-initialises an HMAC context with its previous key when
 * EVP_MAC_init is given none. */
#define HMAC_SLOTS 8
struct hmac_slot { unsigned char key[64]; size_t klen; EVP_MAC_CTX *c; };
static pthread_key_t hmac_key;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_free(void *p) {
    struct hmac_slot *t = p;
    for (int i = 0; i < HMAC_SLOTS; i++) { EVP_MAC_CTX_free(t[i].c); sodium_memzero(t[i].key, sizeof t[i].key); }
    free(t);
}
static void hmac_make_key(void) { pthread_key_create(&hmac_key, hmac_free); }

static EVP_MAC_CTX *hmac_ctx(const void *key, size_t klen) {
    if (klen > 64 || !mac_hmac) return NULL;
    pthread_once(&hmac_once, hmac_make_key);
    struct hmac_slot *t = pthread_getspecific(hmac_key);
    if (!t) {
        if (!(t = calloc(HMAC_SLOTS, sizeof *t))) return NULL;
        pthread_setspecific(hmac_key, t);
    }
    int free_slot = -1;
    for (int i = 0; i < HMAC_SLOTS; i++) {
        if (t[i].c && t[i].klen == klen && memcmp(t[i].key, key, klen) == 0)
            return EVP_MAC_init(t[i].c, NULL, 0, NULL) ? t[i].c : NULL;
        if (!t[i].c && free_slot < 0) free_slot = i;
    }
    if (free_slot < 0) {   /* all taken (keys rotated many times): start over */
        for (int i = 0; i < HMAC_SLOTS; i++) { EVP_MAC_CTX_free(t[i].c); t[i].c = NULL; }
        free_slot = 0;
    }
    struct hmac_slot *sl = &t[free_slot];
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SM3", 0), OSSL_PARAM_construct_end()};
    sl->c = EVP_MAC_CTX_new(mac_hmac);
    if (!sl->c || !EVP_MAC_init(sl->c, key, klen, params)) { EVP_MAC_CTX_free(sl->c); sl->c = NULL; return NULL; }
    memcpy(sl->key, key, klen);
    sl->klen = klen;
    return sl->c;
}

void hmac_sm3_hex(const void *key, size_t klen, const void *data, size_t n, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE]; size_t len = 0;
    EVP_MAC_CTX *c = hmac_ctx(key, klen);
    if (!c || !EVP_MAC_update(c, data, n) || !EVP_MAC_final(c, md, &len, sizeof md)) {
        fprintf(stderr, "crypto: HMAC-SM3 unavailable\n");
        abort();
    }
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
