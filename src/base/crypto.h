/* Crypto wrappers: random tokens, hashes (SM3, SHA-256), password hashing
 * (argon2id via libsodium). Everything else calls these, never the libraries. */
#ifndef VETS_BASE_CRYPTO_H
#define VETS_BASE_CRYPTO_H
#include <stdbool.h>
#include <stddef.h>

int  crypto_init(void);                                  /* once at start-up */
void crypto_random(void *buf, size_t n);
void crypto_token_hex(char *out, size_t nbytes);         /* out: 2*nbytes+1 */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* SM3 (GB/T 32905) digest as 64 hex chars. */
void sm3_hex(const void *data, size_t n, char out[65]);
void sha256_hex(const void *data, size_t n, char out[65]);
/* HMAC-SM3 with KEY, as 64 hex chars. */
void hmac_sm3_hex(const void *key, size_t klen, const void *data, size_t n, char out[65]);

/* Password hashing; opslimit/memlimit chosen for ~50 ms on this hardware. */
int  password_hash(const char *password, char *out, size_t outcap);
bool password_verify(const char *stored, const char *password);
/* Constant-time equality of two NUL-terminated strings of the same length. */
bool crypto_streq(const char *a, const char *b);
#endif
