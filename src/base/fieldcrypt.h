/* Encryption of sensitive columns at rest (GB/T 39786: SM4 + HMAC-SM3).
 * A value is sealed as "v1:<kid>:<iv>:<ciphertext>:<mac>" (hex): SM4-CTR with
 * a random IV, then HMAC-SM3 over the key id, a context naming the table,
 * column and row, the IV and the ciphertext (encrypt-then-MAC), so a sealed
 * value copied to another row or column fails to open. Exact search and
 * duplicate checks use blind indexes: HMAC-SM3 of the value under a separate
 * index key. Keys live in a file outside the database (mode 0400), one line
 * per key id; the last line seals, every line opens, `vets rekey` rotates. */
#ifndef VETS_BASE_FIELDCRYPT_H
#define VETS_BASE_FIELDCRYPT_H
#include "base/arena.h"
#include <stdbool.h>
#include <stddef.h>

/* Loads the key file, creating it with a fresh key when CREATE and missing. */
int  fc_init(const char *path, bool create, char *err, size_t errcap);
bool fc_ready(void);
/* Seals PLAIN for CONTEXT (e.g. "persons.id_number|<row key>"); NULL stays NULL. */
char *fc_seal(arena *a, const char *plain, const char *context);
/* Opens a sealed value; NULL when absent, tampered or bound to another context. */
char *fc_open(arena *a, const char *sealed, const char *context);
/* Blind index of VALUE in DOMAIN ("id", "t4"…): 32 hex chars. */
void fc_index(const char *domain, const char *value, char out[33]);
/* Appends a new current key to the key file (keeps the old ones for opening). */
int  fc_add_key(char *err, size_t errcap);
/* The current key id, and whether a sealed value uses an older key. */
const char *fc_current_kid(void);
bool fc_is_current(const char *sealed);
/* Removes keys no longer used (caller guarantees no value is sealed with them). */
int  fc_prune_keys(char *err, size_t errcap);
#endif
