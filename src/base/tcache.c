/* Per-thread caches (see tcache.h): an open-addressing hash table of
 * malloc'd key/value pairs per slot, freed with the thread. */
#include "base/tcache.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry { char *key; void *val; size_t len; uint64_t hash; };
struct tcache {
    struct entry *tab;
    size_t cap, used;             /* cap is a power of two; used ≤ cap / 2 */
    uint64_t gen;
    int64_t filled_ms;
};
struct tslots { struct tcache c[TCACHE_SLOTS]; };

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void empty_out(struct tcache *c) {
    for (size_t i = 0; i < c->cap; i++) { free(c->tab[i].key); free(c->tab[i].val); }
    free(c->tab);
    c->tab = NULL; c->cap = c->used = 0;
}

static void free_slots(void *p) {
    struct tslots *t = p;
    for (int i = 0; i < TCACHE_SLOTS; i++) empty_out(&t->c[i]);
    free(t);
}

static void make_key(void) { pthread_key_create(&key, free_slots); }

tcache *tcache_get(enum tcache_slot slot, uint64_t gen, int ttl_ms, bool *empty) {
    pthread_once(&once, make_key);
    struct tslots *t = pthread_getspecific(key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) abort();
        pthread_setspecific(key, t);
    }
    struct tcache *c = &t->c[slot];
    int64_t now = mono_ms();
    if (c->used && (c->gen != gen || now - c->filled_ms > ttl_ms)) empty_out(c);
    if (!c->used) { c->gen = gen; c->filled_ms = now; }
    *empty = c->used == 0;
    return c;
}

static uint64_t hash_of(const char *s) {   /* FNV-1a */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ull; }
    return h;
}

static struct entry *slot_of(struct entry *tab, size_t cap, const char *k, uint64_t h) {
    for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!tab[i].key || (tab[i].hash == h && strcmp(tab[i].key, k) == 0)) return &tab[i];
}

bool tcache_find(tcache *c, const char *k, const void **val, size_t *len) {
    if (!c->cap) return false;
    struct entry *e = slot_of(c->tab, c->cap, k, hash_of(k));
    if (!e->key) return false;
    *val = e->val;
    if (len) *len = e->len;
    return true;
}

void tcache_put(tcache *c, const char *k, const void *val, size_t len) {
    if ((c->used + 1) * 2 > c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 64;
        struct entry *nt = calloc(ncap, sizeof *nt);
        if (!nt) abort();
        for (size_t i = 0; i < c->cap; i++)
            if (c->tab[i].key) *slot_of(nt, ncap, c->tab[i].key, c->tab[i].hash) = c->tab[i];
        free(c->tab);
        c->tab = nt; c->cap = ncap;
    }
    uint64_t h = hash_of(k);
    struct entry *e = slot_of(c->tab, c->cap, k, h);
    if (e->key) { free(e->val); }
    else { e->key = strdup(k); e->hash = h; c->used++; if (!e->key) abort(); }
    e->val = NULL; e->len = len;
    if (val) {
        e->val = malloc(len ? len : 1);
        if (!e->val) abort();
        memcpy(e->val, val, len);
    }
}
