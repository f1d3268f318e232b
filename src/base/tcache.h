/* Per-thread caches of rarely written shared data that is read on every
 * request: code and region names, a few settings, the user behind a session.
 * Each thread keeps its own copy (no lock on the hot path, nothing shared to
 * invalidate). A cache is emptied when the caller's generation number has
 * moved on (the data was written on this node: see db_cache_gen) or when its
 * time to live has passed (the data may have been written on another node).
 * Keys are strings; values are byte strings, or a remembered absence. */
#ifndef VETS_BASE_TCACHE_H
#define VETS_BASE_TCACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The caches there are; one slot each per thread. */
enum tcache_slot { TCACHE_REFNAMES, TCACHE_SETTINGS, TCACHE_USERS, TCACHE_SLOTS };

typedef struct tcache tcache;

/* This thread's cache SLOT, emptied first if it was filled under another GEN
 * or more than TTL_MS milliseconds ago; *EMPTY says whether it holds nothing
 * (the caller may then fill it in one go). */
tcache *tcache_get(enum tcache_slot slot, uint64_t gen, int ttl_ms, bool *empty);
/* True when KEY is cached; *VAL is then its value (NULL: known absent) and
 * *LEN its length. */
bool tcache_find(tcache *c, const char *key, const void **val, size_t *len);
/* Stores a copy of VAL (LEN bytes; NULL: remember that KEY has no value). */
void tcache_put(tcache *c, const char *key, const void *val, size_t len);
/* Strings: stored with their terminating NUL. */
static inline void tcache_put_str(tcache *c, const char *key, const char *val) {
    tcache_put(c, key, val, val ? __builtin_strlen(val) + 1 : 0);
}
/* Milliseconds of a monotonic clock (not the injectable test clock). */
int64_t mono_ms(void);
#endif
